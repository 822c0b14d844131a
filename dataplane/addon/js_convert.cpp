#include "addon/js_convert.h"

#include <set>
#include <rte_lcore.h>
#include "addon/js_defense.h"
#include "addon/js_reader.h"
#include "bench/bench_bridge.h"

namespace pc_addon {

namespace {

bool read_port_spec(JsReader& r, const Napi::Value& v, const std::string& path, pc::PortSpec* out) {
  Napi::Object o;
  if (!r.object(v, path, &o)) return false;
  if (!r.string(o.Get("name"), path + ".name", &out->name)) return false;
  if (out->name.empty()) return r.fail(path + ".name", "a non-empty string", o.Get("name"));
  if (!r.string(o.Get("device"), path + ".device", &out->device)) return false;
  if (out->device.empty())
    return r.fail(path + ".device", "a DPDK device string or \"ring\"", o.Get("device"));
  Napi::Value mac = o.Get("mac");
  if (!mac.IsUndefined()) {
    if (!r.mac(mac, path + ".mac", out->mac)) return false;
    out->has_mac = true;
  }
  Napi::Value mtu = o.Get("mtu");
  if (!mtu.IsUndefined()) {
    uint64_t m;
    if (!r.integer(mtu, path + ".mtu", 68, 9600, &m)) return false;
    out->mtu = static_cast<uint16_t>(m);
  }
  Napi::Value exception_path = o.Get("exceptionPath");
  if (!exception_path.IsUndefined()) {
    if (!exception_path.IsBoolean()) return r.fail(path + ".exceptionPath", "a boolean", exception_path);
    out->exception_path = exception_path.As<Napi::Boolean>().Value();
  }
  return true;
}

bool read_timeouts(JsReader& r, const Napi::Value& v, const std::string& path, pc::Timeouts* t) {
  if (v.IsUndefined()) return true;  // defaults of config.h
  Napi::Object o;
  if (!r.object(v, path, &o)) return false;
  struct Field {
    const char* name;
    uint32_t* slot;
  } fields[] = {
      {"tcpEstablished", &t->tcp_established}, {"tcpSynSent", &t->tcp_syn_sent}, {"tcpSynRecv", &t->tcp_syn_recv},
      {"tcpFinWait", &t->tcp_fin_wait},        {"tcpTimeWait", &t->tcp_time_wait}, {"tcpClose", &t->tcp_close},
      {"tcpCloseWait", &t->tcp_close_wait},    {"tcpLastAck", &t->tcp_last_ack}, {"udp", &t->udp},
      {"udpOnePacket", &t->udp_one_packet},
  };
  for (const auto& f : fields) {
    Napi::Value fv = o.Get(f.name);
    if (fv.IsUndefined()) continue;
    uint64_t seconds;
    if (!r.integer(fv, path + "." + f.name, 1, 31 * 24 * 3600, &seconds)) return false;
    *f.slot = static_cast<uint32_t>(seconds);
  }
  return true;
}

bool read_server(JsReader& r, const Napi::Value& v, const std::string& path, pc::RealServerConfig* out) {
  Napi::Object o;
  if (!r.object(v, path, &o)) return false;
  uint64_t n;
  if (!r.integer(o.Get("id"), path + ".id", 1, pc::kMaxServerId, &n)) return false;
  out->id = static_cast<uint32_t>(n);
  if (!r.address(o.Get("address"), path + ".address", &out->addr)) return false;
  if (!r.integer(o.Get("port"), path + ".port", 1, 65535, &n)) return false;
  out->port = static_cast<uint16_t>(n);
  if (!r.integer(o.Get("weight"), path + ".weight", 0, 65535, &n)) return false;
  out->weight = static_cast<uint32_t>(n);
  // Thresholds: absent = 0 = none (ipvsadm -x/-y range 0..65535).
  Napi::Value upper = o.Get("upperThreshold"), lower = o.Get("lowerThreshold");
  if (!upper.IsUndefined() && !r.integer(upper, path + ".upperThreshold", 0, 65535, &n)) return false;
  out->upper_threshold = upper.IsUndefined() ? 0 : static_cast<uint32_t>(n);
  if (!lower.IsUndefined() && !r.integer(lower, path + ".lowerThreshold", 0, 65535, &n)) return false;
  out->lower_threshold = lower.IsUndefined() ? 0 : static_cast<uint32_t>(n);
  Napi::Value forward = o.Get("forward");
  if (!forward.IsUndefined()) {  // absent = fullnat
    size_t which;
    if (!r.choice(forward, path + ".forward", {"fullnat", "nat", "dr", "tun"}, &which)) return false;
    out->forward = static_cast<pc::ForwardMethod>(which);  // same order as the enum
  }
  Napi::Value quic_id = o.Get("quicId");
  if (!quic_id.IsUndefined()) {  // absent = 0 = no QUIC server id
    if (!r.integer(quic_id, path + ".quicId", 0, 65535, &n)) return false;
    out->quic_id = static_cast<uint16_t>(n);
  }
  return true;
}

// Scheduler, -b flags and persistence (-p/-M) of a service; absent optional fields = off.
bool read_scheduling(JsReader& r, const Napi::Object& o, const std::string& path, pc::ServiceConfig* out) {
  size_t which;
  if (!r.choice(o.Get("scheduler"), path + ".scheduler",
                {"rr", "wrr", "lc", "wlc", "sed", "nq", "dh", "sh", "lblc", "lblcr", "mh", "fo", "ovf", "twos"}, &which))
    return false;
  out->scheduler = static_cast<pc::SchedulerKind>(which);  // same order as the enum
  Napi::Value flags = o.Get("schedFlags");
  if (!flags.IsUndefined()) {
    Napi::Array list;
    if (!r.array(flags, path + ".schedFlags", &list)) return false;
    for (uint32_t i = 0; i < list.Length(); i++) {
      if (!r.choice(list.Get(i), element_path(path + ".schedFlags", i), {"sh-fallback", "sh-port", "mh-fallback", "mh-port"}, &which))
        return false;
      out->sched_flags |= which % 2 == 0 ? pc::kSchedFallback : pc::kSchedPort;
    }
  }
  uint64_t n;
  Napi::Value timeout = o.Get("persistenceTimeout");
  if (!timeout.IsUndefined()) {
    if (!r.integer(timeout, path + ".persistenceTimeout", 0, 86400ull * 31, &n)) return false;
    out->persistence_timeout = static_cast<uint32_t>(n);
  }
  Napi::Value netmask = o.Get("persistenceNetmask");
  if (!netmask.IsUndefined()) {  // ipvsadm -M: an IPv4 netmask (IPv6 clients: persistence_prefix_v6)
    pc::IpAddr mask;
    if (!r.address(netmask, path + ".persistenceNetmask", &mask)) return false;
    if (!pc::ip_is_v4(mask)) return r.fail(path + ".persistenceNetmask", "an IPv4 netmask a.b.c.d", netmask);
    out->persistence_netmask = pc::ip_v4(mask);
  }
  Napi::Value prefix = o.Get("persistencePrefixLength");
  if (!prefix.IsUndefined()) {  // ipvsadm -M for an IPv6 VIP: clients grouped by this prefix length
    if (!r.integer(prefix, path + ".persistencePrefixLength", 1, 128, &n)) return false;
    out->persistence_prefix_v6 = static_cast<uint8_t>(n);
  }
  return true;
}

bool read_service(JsReader& r, const Napi::Value& v, const std::string& path, pc::ServiceConfig* out) {
  Napi::Object o;
  if (!r.object(v, path, &o)) return false;
  uint64_t n;
  size_t which;
  if (!r.integer(o.Get("id"), path + ".id", 1, pc::kMaxServiceId, &n)) return false;
  out->id = static_cast<uint32_t>(n);
  if (!r.choice(o.Get("protocol"), path + ".protocol", {"tcp", "udp"}, &which)) return false;
  out->protocol = which == 0 ? 6 : 17;
  if (!r.address(o.Get("vip"), path + ".vip", &out->vip)) return false;
  if (!r.integer(o.Get("port"), path + ".port", 1, 65535, &n)) return false;
  out->vport = static_cast<uint16_t>(n);
  if (!read_scheduling(r, o, path, out)) return false;
  Napi::Array lips;
  if (!r.array(o.Get("localAddresses"), path + ".localAddresses", &lips)) return false;
  for (uint32_t i = 0; i < lips.Length(); i++) {
    pc::IpAddr a;
    if (!r.address(lips.Get(i), element_path(path + ".localAddresses", i), &a)) return false;
    out->local_addresses.push_back(a);
  }
  if (!read_timeouts(r, o.Get("timeouts"), path + ".timeouts", &out->timeouts)) return false;
  Napi::Value client_address = o.Get("clientAddress");
  if (!client_address.IsUndefined()) {  // absent = none
    if (!r.choice(client_address, path + ".clientAddress", {"none", "toa", "proxy_v1", "proxy_v2", "uoa_ipo", "uoa_opp"}, &which))
      return false;
    out->client_address = static_cast<pc::ClientAddress>(which);
  }
  Napi::Value uoa_datagrams = o.Get("uoaDatagrams");
  if (!uoa_datagrams.IsUndefined()) {  // absent = DPVS's default
    if (!r.integer(uoa_datagrams, path + ".uoaDatagrams", 1, pc::kUoaDatagramsMax, &n)) return false;
    out->uoa_datagrams = static_cast<uint8_t>(n);
  }
  Napi::Value synproxy = o.Get("synproxy");
  if (!synproxy.IsUndefined()) {  // absent = off
    if (!synproxy.IsBoolean()) return r.fail(path + ".synproxy", "a boolean", synproxy);
    out->synproxy = synproxy.As<Napi::Boolean>().Value();
  }
  Napi::Value rst_on_bad_cookie = o.Get("synproxyRstOnBadCookie");
  if (!rst_on_bad_cookie.IsUndefined()) {  // absent = off
    if (!rst_on_bad_cookie.IsBoolean()) return r.fail(path + ".synproxyRstOnBadCookie", "a boolean", rst_on_bad_cookie);
    out->synproxy_rst_on_bad_cookie = rst_on_bad_cookie.As<Napi::Boolean>().Value();
  }
  Napi::Value quic = o.Get("quic");
  if (!quic.IsUndefined()) {  // absent = off
    if (!quic.IsBoolean()) return r.fail(path + ".quic", "a boolean", quic);
    out->quic = quic.As<Napi::Boolean>().Value();
  }
  Napi::Value synproxy_auto = o.Get("synproxyAuto");
  if (!synproxy_auto.IsUndefined()) {  // absent = no auto mode
    Napi::Object a;
    uint64_t rate, hold_ms;
    if (!r.object(synproxy_auto, path + ".synproxyAuto", &a) ||
        !r.integer(a.Get("synRate"), path + ".synproxyAuto.synRate", 1, UINT32_MAX, &rate) ||
        !r.integer(a.Get("holdMs"), path + ".synproxyAuto.holdMs", 1, UINT32_MAX, &hold_ms))
      return false;
    out->synproxy_auto = true;
    out->synproxy_auto_syn_rate = static_cast<uint32_t>(rate);
    out->synproxy_auto_hold_ms = static_cast<uint32_t>(hold_ms);
  }
  Napi::Value one_packet = o.Get("onePacket");
  if (!one_packet.IsUndefined()) {  // absent = off
    if (!one_packet.IsBoolean()) return r.fail(path + ".onePacket", "a boolean", one_packet);
    out->one_packet = one_packet.As<Napi::Boolean>().Value();
  }
  Napi::Array servers;
  if (!r.array(o.Get("servers"), path + ".servers", &servers)) return false;
  for (uint32_t i = 0; i < servers.Length(); i++) {
    pc::RealServerConfig rs;
    if (!read_server(r, servers.Get(i), element_path(path + ".servers", i), &rs)) return false;
    out->servers.push_back(rs);
  }
  return true;
}

}  // namespace

bool read_start_options(Napi::Env env, const Napi::Value& v, pc::StartOptions* out) {
  JsReader r(env);
  Napi::Object o;
  if (!r.object(v, "options", &o)) return false;
  size_t which;
  if (!r.choice(o.Get("mode"), "options.mode", {"live", "test"}, &which)) return false;
  out->live = which == 0;

  Napi::Array eal;
  if (!r.array(o.Get("eal"), "options.eal", &eal)) return false;
  for (uint32_t i = 0; i < eal.Length(); i++) {
    std::string arg;
    if (!r.string(eal.Get(i), element_path("options.eal", i), &arg)) return false;
    out->eal.push_back(arg);
  }

  Napi::Array ports;
  if (!r.array(o.Get("ports"), "options.ports", &ports)) return false;
  if (ports.Length() == 0 || ports.Length() > pc::kMaxPorts)
    return r.fail("options.ports", "1.." + std::to_string(pc::kMaxPorts) + " ports",
                  Napi::String::New(env, std::to_string(ports.Length()) + " ports"));
  std::set<std::string> names;
  for (uint32_t i = 0; i < ports.Length(); i++) {
    pc::PortSpec spec;
    if (!read_port_spec(r, ports.Get(i), element_path("options.ports", i), &spec)) return false;
    if (!names.insert(spec.name).second)
      return r.fail(element_path("options.ports", i) + ".name", "a name not used by an earlier port",
                    Napi::String::New(env, spec.name));
    out->ports.push_back(spec);
  }

  uint64_t n;
  Napi::Value workers = o.Get("workers");
  if (!workers.IsUndefined() || out->live) {
    if (!r.integer(workers, "options.workers", 1, RTE_MAX_LCORE - 1, &n)) return false;
    out->workers = static_cast<uint16_t>(n);
  }
  Napi::Value polling = o.Get("polling");
  if (!polling.IsUndefined()) {
    if (!r.choice(polling, "options.polling", {"busy", "adaptive"}, &which)) return false;
    out->polling = which == 0 ? pc::PollingMode::BUSY : pc::PollingMode::ADAPTIVE;
  }
  Napi::Value bridge = o.Get("benchBridge");
  if (!bridge.IsUndefined()) {
    if (!bridge.IsBoolean()) return r.fail("options.benchBridge", "a boolean", bridge);
    out->poll_override = bridge.As<Napi::Boolean>().Value() ? &pc::bench_bridge_poll_ports : nullptr;
  }
  Napi::Value cap = o.Get("connCapacity");
  if (!cap.IsUndefined()) {
    if (!r.integer(cap, "options.connCapacity", 1, 1u << 31, &n)) return false;
    out->conn_capacity = static_cast<uint32_t>(n);
  }
  Napi::Value mbufs = o.Get("mbufs");
  if (!mbufs.IsUndefined()) {
    if (!r.integer(mbufs, "options.mbufs", 512, 1u << 28, &n)) return false;
    out->mbufs = static_cast<uint32_t>(n);
  }
  Napi::Value region = o.Get("connRegion");
  if (!region.IsUndefined()) {
    Napi::Object ro;
    if (!r.object(region, "options.connRegion", &ro)) return false;
    if (!r.string(ro.Get("path"), "options.connRegion.path", &out->conn_region)) return false;
    if (out->conn_region.empty() || out->conn_region[0] != '/')
      return r.fail("options.connRegion.path", "an absolute file path", ro.Get("path"));
    Napi::Value hold = ro.Get("holdUntilRelease");
    if (!hold.IsUndefined()) {
      if (!hold.IsBoolean()) return r.fail("options.connRegion.holdUntilRelease", "a boolean", hold);
      out->conn_region_hold = hold.As<Napi::Boolean>().Value();
    }
  }
  return read_fragment_table(r, o.Get("fragments"), "options.fragments", &out->fragments);
}

// The data plane's share of the cluster section (src/dataplane/types.ts DataplaneCluster);
// snapshot_build checks what needs the ports (this node's address is one of theirs).
static bool read_cluster(JsReader& r, const Napi::Value& v, const std::string& path, pc::ClusterConfig* out) {
  Napi::Object o;
  if (!r.object(v, path, &o)) return false;
  Napi::Array nodes;
  if (!r.array(o.Get("nodes"), path + ".nodes", &nodes)) return false;
  if (nodes.Length() == 0 || nodes.Length() > pc::kMaxClusterNodes)
    return r.fail(path + ".nodes", "1.." + std::to_string(pc::kMaxClusterNodes) + " addresses", o.Get("nodes"));
  for (uint32_t i = 0; i < nodes.Length(); i++) {
    pc::IpAddr a;
    if (!r.address(nodes.Get(i), element_path(path + ".nodes", i), &a)) return false;
    out->nodes.push_back(a);
  }
  uint64_t n;
  if (!r.integer(o.Get("self"), path + ".self", 0, nodes.Length() - 1, &n)) return false;
  out->self = static_cast<uint32_t>(n);
  if (!r.integer(o.Get("foreignFlows"), path + ".foreignFlows", 1, 1u << 24, &n)) return false;  // ~1 GB per worker at the top
  out->foreign_flows = static_cast<uint32_t>(n);
  Napi::Value idle = o.Get("foreignIdleSeconds");
  if (!idle.IsUndefined()) {
    if (!r.integer(idle, path + ".foreignIdleSeconds", 1, 86400, &n)) return false;
    out->foreign_idle_seconds = static_cast<uint32_t>(n);
  }
  out->enabled = true;
  return true;
}

bool read_config(Napi::Env env, const Napi::Value& v, const std::vector<std::string>& port_names,
                 pc::DataplaneConfig* out) {
  JsReader r(env);
  Napi::Object o;
  if (!r.object(v, "config", &o)) return false;

  Napi::Array ports;
  if (!r.array(o.Get("ports"), "config.ports", &ports)) return false;
  for (uint32_t i = 0; i < ports.Length(); i++) {
    std::string path = element_path("config.ports", i);
    Napi::Object po;
    if (!r.object(ports.Get(i), path, &po)) return false;
    pc::PortAddresses pa;
    if (!r.string(po.Get("name"), path + ".name", &pa.name)) return false;
    Napi::Array addrs;
    if (!r.array(po.Get("addresses"), path + ".addresses", &addrs)) return false;
    for (uint32_t k = 0; k < addrs.Length(); k++) {
      pc::IpPrefix p;
      if (!r.prefix(addrs.Get(k), element_path(path + ".addresses", k), &p)) return false;
      pa.addresses.push_back(p);
    }
    out->ports.push_back(pa);
  }

  Napi::Array routes;
  if (!r.array(o.Get("routes"), "config.routes", &routes)) return false;
  if (routes.Length() > pc::kMaxRoutes)
    return r.fail("config.routes", "at most " + std::to_string(pc::kMaxRoutes) + " routes",
                  Napi::String::New(env, std::to_string(routes.Length()) + " routes"));
  for (uint32_t i = 0; i < routes.Length(); i++) {
    std::string path = element_path("config.routes", i);
    Napi::Object ro;
    if (!r.object(routes.Get(i), path, &ro)) return false;
    pc::RouteConfig rc;
    if (!r.prefix(ro.Get("prefix"), path + ".prefix", &rc.prefix)) return false;
    Napi::Value via = ro.Get("via");
    if (!via.IsUndefined() && !r.address(via, path + ".via", &rc.via)) return false;
    std::string port;
    if (!r.string(ro.Get("port"), path + ".port", &port)) return false;
    bool found = false;
    for (size_t k = 0; k < port_names.size() && !found; k++)
      if (port_names[k] == port) {
        rc.port_index = static_cast<uint16_t>(k);
        found = true;
      }
    if (!found) {
      std::string expected = "the name of a started port (";
      for (size_t k = 0; k < port_names.size(); k++) expected += (k ? ", \"" : "\"") + port_names[k] + "\"";
      return r.fail(path + ".port", expected + ")", ro.Get("port"));
    }
    out->routes.push_back(rc);
  }

  Napi::Array services;
  if (!r.array(o.Get("services"), "config.services", &services)) return false;
  for (uint32_t i = 0; i < services.Length(); i++) {
    pc::ServiceConfig svc;
    if (!read_service(r, services.Get(i), element_path("config.services", i), &svc)) return false;
    out->services.push_back(std::move(svc));
  }
  Napi::Value defense = o.Get("defense");  // absent = no defences
  if (!defense.IsUndefined() && !read_defense(r, defense, "config.defense", &out->defense)) return false;
  Napi::Value cluster = o.Get("cluster");  // absent = a standalone gateway
  if (!cluster.IsUndefined() && !read_cluster(r, cluster, "config.cluster", &out->cluster)) return false;
  Napi::Value session_log = o.Get("sessionLog");  // absent = off
  if (!session_log.IsUndefined()) {
    if (!session_log.IsBoolean()) return r.fail("config.sessionLog", "a boolean", session_log);
    out->session_log = session_log.As<Napi::Boolean>().Value();
  }
  return true;
}

}  // namespace pc_addon
