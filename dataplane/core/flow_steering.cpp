#include "core/flow_steering.h"

#include <cstring>
#include <netinet/in.h>
#include <rte_byteorder.h>
#include <rte_flow.h>

namespace pc {

namespace {

bool power_of_two(uint16_t n) { return n > 1 && (n & (n - 1)) == 0; }

// Builds the rule "IPv4 dst == lip, <proto> dst port & (workers-1) == worker -> queue worker"
// and validates (create=false) or creates it.
int lport_rule(uint16_t port_id, const IpAddr& lip, uint8_t proto, uint16_t worker, uint16_t workers, bool create,
               rte_flow** flow) {
  rte_flow_attr attr;
  memset(&attr, 0, sizeof(attr));
  attr.ingress = 1;

  rte_flow_item_ipv4 ip_spec, ip_mask;
  memset(&ip_spec, 0, sizeof(ip_spec));
  memset(&ip_mask, 0, sizeof(ip_mask));
  ip_spec.hdr.dst_addr = ip_v4(lip);  // IPv4 LIPs only (flow_steering_install)
  ip_mask.hdr.dst_addr = RTE_BE32(0xffffffff);

  rte_flow_item_tcp tcp_spec, tcp_mask;
  rte_flow_item_udp udp_spec, udp_mask;
  memset(&tcp_spec, 0, sizeof(tcp_spec));
  memset(&tcp_mask, 0, sizeof(tcp_mask));
  memset(&udp_spec, 0, sizeof(udp_spec));
  memset(&udp_mask, 0, sizeof(udp_mask));
  tcp_spec.hdr.dst_port = rte_cpu_to_be_16(worker);
  tcp_mask.hdr.dst_port = rte_cpu_to_be_16(static_cast<uint16_t>(workers - 1));
  udp_spec.hdr.dst_port = tcp_spec.hdr.dst_port;
  udp_mask.hdr.dst_port = tcp_mask.hdr.dst_port;

  rte_flow_item pattern[4];
  memset(pattern, 0, sizeof(pattern));
  pattern[0].type = RTE_FLOW_ITEM_TYPE_ETH;
  pattern[1].type = RTE_FLOW_ITEM_TYPE_IPV4;
  pattern[1].spec = &ip_spec;
  pattern[1].mask = &ip_mask;
  if (proto == IPPROTO_TCP) {
    pattern[2].type = RTE_FLOW_ITEM_TYPE_TCP;
    pattern[2].spec = &tcp_spec;
    pattern[2].mask = &tcp_mask;
  } else {
    pattern[2].type = RTE_FLOW_ITEM_TYPE_UDP;
    pattern[2].spec = &udp_spec;
    pattern[2].mask = &udp_mask;
  }
  pattern[3].type = RTE_FLOW_ITEM_TYPE_END;

  rte_flow_action_queue queue;
  queue.index = worker;
  rte_flow_action actions[2];
  memset(actions, 0, sizeof(actions));
  actions[0].type = RTE_FLOW_ACTION_TYPE_QUEUE;
  actions[0].conf = &queue;
  actions[1].type = RTE_FLOW_ACTION_TYPE_END;

  rte_flow_error error;
  if (!create) return rte_flow_validate(port_id, &attr, pattern, actions, &error);
  *flow = rte_flow_create(port_id, &attr, pattern, actions, &error);
  return *flow ? 0 : -1;
}

}  // namespace

void flow_steering_probe(Port* port, uint16_t workers) {
  port->flow_steering = false;
  if (!power_of_two(workers) || port->is_ring) return;
  // net_tap validates a partial port mask but programs an exact-match TC flower key
  // (it drops the mask), so its answer would be wrong: treat it as unable.
  if (port->driver == "net_tap") return;
  // A documentation-range address stands in for the LIPs the first apply brings.
  const IpAddr sample_lip = ip_from_v4(RTE_BE32(0xC0000201));  // 192.0.2.1
  for (uint8_t proto : {static_cast<uint8_t>(IPPROTO_TCP), static_cast<uint8_t>(IPPROTO_UDP)})
    for (uint16_t w = 0; w < workers; w++)
      if (lport_rule(port->port_id, sample_lip, proto, w, workers, false, nullptr) != 0) return;
  port->flow_steering = true;
}

bool flow_steering_install(Port* port, uint16_t workers, const std::vector<IpAddr>& lips, std::string* error) {
  if (!port->flow_steering) return true;
  rte_flow_error flush_error;
  rte_flow_flush(port->port_id, &flush_error);
  for (const IpAddr& lip : lips) {
    if (!ip_is_v4(lip)) continue;  // no IPv6 rule yet: its replies take the worker rings
    for (uint8_t proto : {static_cast<uint8_t>(IPPROTO_TCP), static_cast<uint8_t>(IPPROTO_UDP)}) {
      for (uint16_t w = 0; w < workers; w++) {
        rte_flow* flow = nullptr;
        if (lport_rule(port->port_id, lip, proto, w, workers, true, &flow) != 0) {
          rte_flow_flush(port->port_id, &flush_error);
          *error = "port \"" + port->name + "\": rte_flow_create refused the lport rule for worker " +
                   std::to_string(w) + "; replies go through the worker rings";
          return false;
        }
      }
    }
  }
  return true;
}

}  // namespace pc
