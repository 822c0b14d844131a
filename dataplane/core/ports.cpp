// rte_devargs_reset is experimental in 22.11 (needed to undo a failed probe cleanly).
#define ALLOW_EXPERIMENTAL_API 1
#include "core/ports.h"

#include "core/mbuf_ring.h"
#include "core/port_mtu.h"
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <rte_bus.h>
#include <rte_dev.h>
#include <rte_devargs.h>
#include <rte_errno.h>
#include <rte_eth_ring.h>
#include <rte_mbuf.h>

namespace pc {

namespace {

constexpr uint16_t kRxDescriptors = 1024;
constexpr uint16_t kTxDescriptors = 1024;
constexpr unsigned kRingPortSlots = 4096;  // per ring, power of two

unsigned g_ring_port_counter = 0;  // ring names must be unique for the process lifetime

Status fail(const PortSpec& spec, const std::string& what, int err) {
  std::string msg = "port \"" + spec.name + "\" (device \"" + spec.device + "\"): " + what;
  if (err) msg += ": " + std::string(rte_strerror(err < 0 ? -err : err));
  return Status::Error("PORT_FAILED", msg);
}

Status create_ring_port(const PortSpec& spec, uint16_t queues, Port* out) {
  unsigned id = g_ring_port_counter++;
  for (uint16_t q = 0; q < queues; q++) {
    char name[RTE_RING_NAMESIZE];
    // Each queue ring has exactly one producer and one consumer (a worker and the test/bench driver).
    snprintf(name, sizeof(name), "pcr%u_%u_%u", id, q, 0u);
    rte_ring* rx = rte_ring_create(name, kRingPortSlots, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
    if (!rx) return fail(spec, "rte_ring_create (rx)", rte_errno);
    out->rx_rings.push_back(rx);
    snprintf(name, sizeof(name), "pcr%u_%u_%u", id, q, 1u);
    rte_ring* tx = rte_ring_create(name, kRingPortSlots, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
    if (!tx) return fail(spec, "rte_ring_create (tx)", rte_errno);
    out->tx_rings.push_back(tx);
  }
  // The ring PMD refuses device names of ~20 characters and more (ENAMETOOLONG, it
  // derives other object names from it), so the name is just a process-unique
  // counter; the operator's name lives in Port::name.
  char devname[32];
  snprintf(devname, sizeof(devname), "pcring%u", id);
  int port = rte_eth_from_rings(devname, out->rx_rings.data(), queues, out->tx_rings.data(), queues,
                                static_cast<unsigned>(rte_socket_id()));
  if (port < 0) return fail(spec, "rte_eth_from_rings", rte_errno);
  out->port_id = static_cast<uint16_t>(port);
  out->is_ring = true;
  out->has_port = true;
  return Status::Ok();
}

// Undoes a probe whose ethdev we could not use (the device string names bus and device).
void remove_probed(const std::string& device) {
  rte_devargs da;
  memset(&da, 0, sizeof(da));
  if (rte_devargs_parse(&da, device.c_str()) == 0 && da.bus)
    rte_eal_hotplug_remove(rte_bus_name(da.bus), da.name);
  rte_devargs_reset(&da);
}

Status probe_device(const PortSpec& spec, uint16_t queues, Port* out) {
  // Several workers need one rx/tx queue pair each: net_af_packet makes them with its
  // `qpairs` devarg (one AF_PACKET socket per queue joined in a PACKET_FANOUT_HASH group,
  // so the kernel spreads flows by their hash), and needs ring slots that fit the MTU;
  // the operator need spell out neither (core/port_mtu.h).
  out->device = port_device_args(spec, queues);
  int rc = rte_dev_probe(out->device.c_str());
  // Many drivers return a bare -1 (which would read "Operation not permitted"): the
  // reason is then only in the EAL log line above (no such interface, bad devargs...).
  if (rc == -1) return fail(spec, "rte_dev_probe failed (the EAL log above says why)", 0);
  if (rc < 0) return fail(spec, "rte_dev_probe", rc);
  std::string name = spec.device.substr(0, spec.device.find(','));
  uint16_t port_id = 0;
  rc = rte_eth_dev_get_port_by_name(name.c_str(), &port_id);
  if (rc != 0) {
    remove_probed(out->device);
    return fail(spec, "no ethdev named \"" + name + "\" after probe", rc);
  }
  out->port_id = port_id;
  out->has_port = true;
  return Status::Ok();
}

Status configure_and_start(const PortSpec& spec, uint16_t queues, rte_mempool* pool, Port* out) {
  uint16_t pid = out->port_id;
  rte_eth_dev_info info;
  int rc = rte_eth_dev_info_get(pid, &info);
  if (rc != 0) return fail(spec, "rte_eth_dev_info_get", rc);
  out->driver = info.driver_name ? info.driver_name : "";
  if (queues > info.max_rx_queues || queues > info.max_tx_queues)
    return fail(spec, "needs " + std::to_string(queues) + " rx/tx queues (one per worker), device has " +
                          std::to_string(info.max_rx_queues) + "/" + std::to_string(info.max_tx_queues),
                0);

  rte_eth_conf conf;
  memset(&conf, 0, sizeof(conf));
  // RSS spreads flows over the workers' queues where the device hashes in hardware;
  // a flow's packets then always reach the same worker (replies are steered by lport).
  if (queues > 1 && info.flow_type_rss_offloads) {
    uint64_t wanted = info.flow_type_rss_offloads & (RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP);
    conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
    conf.rx_adv_conf.rss_conf.rss_key = nullptr;  // the driver's default key
    conf.rx_adv_conf.rss_conf.rss_hf = wanted ? wanted : info.flow_type_rss_offloads;
    out->rss = true;
  }
  rc = rte_eth_dev_configure(pid, queues, queues, &conf);
  if (rc != 0) return fail(spec, "rte_eth_dev_configure", rc);
  out->configured = true;

  Status mtu = port_set_mtu(spec, pid, info);
  if (!mtu.ok()) return mtu;

  uint16_t rxd = kRxDescriptors, txd = kTxDescriptors;
  rte_eth_dev_adjust_nb_rx_tx_desc(pid, &rxd, &txd);
  int socket = rte_eth_dev_socket_id(pid);
  if (socket < 0) socket = SOCKET_ID_ANY;
  for (uint16_t q = 0; q < queues; q++) {
    rc = rte_eth_rx_queue_setup(pid, q, rxd, socket, nullptr, pool);
    if (rc != 0) return fail(spec, "rte_eth_rx_queue_setup(" + std::to_string(q) + ")", rc);
    rc = rte_eth_tx_queue_setup(pid, q, txd, socket, nullptr);
    if (rc != 0) return fail(spec, "rte_eth_tx_queue_setup(" + std::to_string(q) + ")", rc);
  }

  if (spec.has_mac) {
    rte_ether_addr addr;
    memcpy(addr.addr_bytes, spec.mac, 6);
    rc = rte_eth_dev_default_mac_addr_set(pid, &addr);
    // The ring PMD cannot change its MAC; nothing reads a ring port's MAC but the
    // pipeline, which gets it from us (out->mac below), so that is fine there.
    if (rc == -ENOTSUP && out->is_ring) rc = 0;
    if (rc != 0) return fail(spec, "rte_eth_dev_default_mac_addr_set(" + format_mac(spec.mac) + ")", rc);
  }

  rc = rte_eth_dev_start(pid);
  if (rc != 0) return fail(spec, "rte_eth_dev_start", rc);
  out->started = true;
  // We own the port's addresses, and some PMDs (af_packet on a veth) need it to see
  // frames for a MAC we set; where unsupported this is a harmless no-op.
  rte_eth_promiscuous_enable(pid);

  rte_ether_addr mac;
  rc = rte_eth_macaddr_get(pid, &mac);
  if (rc != 0) return fail(spec, "rte_eth_macaddr_get", rc);
  memcpy(out->mac, mac.addr_bytes, 6);
  if (spec.has_mac) memcpy(out->mac, spec.mac, 6);
  return Status::Ok();
}

}  // namespace

std::string format_mac(const uint8_t mac[6]) {
  char buf[18];
  snprintf(buf, sizeof(buf), "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
  return buf;
}

Status port_open(const PortSpec& spec, uint16_t queues, rte_mempool* pool, Port* out) {
  *out = Port();
  out->name = spec.name;
  out->device = spec.device;
  out->queues = queues;
  Status st = spec.device == "ring" ? create_ring_port(spec, queues, out) : probe_device(spec, queues, out);
  if (st.ok()) st = configure_and_start(spec, queues, pool, out);
  if (!st.ok()) port_close(out);
  return st;
}

void port_close(Port* port) {
  if (port->started) rte_eth_dev_stop(port->port_id);
  port->started = false;
  if (port->has_port) {
    rte_eth_dev_info info;
    rte_device* dev = rte_eth_dev_info_get(port->port_id, &info) == 0 ? info.device : nullptr;
    // Removing the device closes its ethdev and releases the port id; the ring
    // PMD leaves rings it did not create (ours) alone.
    if (!dev || rte_dev_remove(dev) != 0) rte_eth_dev_close(port->port_id);
    port->has_port = false;
  }
  port->configured = false;
  for (auto* r : port->rx_rings) drain_and_free_mbuf_ring(r);
  for (auto* r : port->tx_rings) drain_and_free_mbuf_ring(r);
  port->rx_rings.clear();
  port->tx_rings.clear();
}

}  // namespace pc
