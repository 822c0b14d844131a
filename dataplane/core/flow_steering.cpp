#include "core/flow_steering.h"

#include <cstring>
#include <netinet/in.h>
#include <rte_byteorder.h>
#include <rte_flow.h>

namespace pc {

namespace {

bool power_of_two(uint16_t n) { return n > 1 && (n & (n - 1)) == 0; }

// Builds the rule "<IPv4|IPv6> dst == lip, <proto> dst port & (workers-1) == worker -> queue
// worker" and validates (create=false) or creates it. Both families match the same way:
// ETH, then the L3 item with only the destination address masked, then the port mask.
int lport_rule(uint16_t port_id, const IpAddr& lip, uint8_t proto, uint16_t worker, uint16_t workers, bool create,
               rte_flow** flow) {
  rte_flow_attr attr;
  memset(&attr, 0, sizeof(attr));
  attr.ingress = 1;

  rte_flow_item_ipv4 ip_spec, ip_mask;
  memset(&ip_spec, 0, sizeof(ip_spec));
  memset(&ip_mask, 0, sizeof(ip_mask));
  rte_flow_item_ipv6 ip6_spec, ip6_mask;
  memset(&ip6_spec, 0, sizeof(ip6_spec));
  memset(&ip6_mask, 0, sizeof(ip6_mask));
  const bool v4 = ip_is_v4(lip);
  if (v4) {
    ip_spec.hdr.dst_addr = ip_v4(lip);
    ip_mask.hdr.dst_addr = RTE_BE32(0xffffffff);
  } else {
    static_assert(sizeof(ip6_spec.hdr.dst_addr) == sizeof(lip.bytes), "an IPv6 address is 16 bytes");
    memcpy(&ip6_spec.hdr.dst_addr, lip.bytes, sizeof(lip.bytes));
    memset(&ip6_mask.hdr.dst_addr, 0xff, sizeof(ip6_mask.hdr.dst_addr));
  }

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
  if (v4) {
    pattern[1].type = RTE_FLOW_ITEM_TYPE_IPV4;
    pattern[1].spec = &ip_spec;
    pattern[1].mask = &ip_mask;
  } else {
    pattern[1].type = RTE_FLOW_ITEM_TYPE_IPV6;
    pattern[1].spec = &ip6_spec;
    pattern[1].mask = &ip6_mask;
  }
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

constexpr uint8_t kProtocols[] = {IPPROTO_TCP, IPPROTO_UDP};

// Whether the device validates every rule one LIP of this family needs.
bool family_validates(uint16_t port_id, const IpAddr& sample_lip, uint16_t workers) {
  for (uint8_t proto : kProtocols)
    for (uint16_t w = 0; w < workers; w++)
      if (lport_rule(port_id, sample_lip, proto, w, workers, false, nullptr) != 0) return false;
  return true;
}

// Creates one LIP's rules, appending them to *made; false at the first refusal.
bool create_lip_rules(Port* port, const IpAddr& lip, uint16_t workers, std::vector<rte_flow*>* made, std::string* error) {
  for (uint8_t proto : kProtocols) {
    for (uint16_t w = 0; w < workers; w++) {
      rte_flow* flow = nullptr;
      if (lport_rule(port->port_id, lip, proto, w, workers, true, &flow) != 0) {
        *error = "port \"" + port->name + "\": rte_flow_create refused the " + (ip_is_v4(lip) ? "IPv4" : "IPv6") +
                 " lport rule for worker " + std::to_string(w) + "; those replies go through the worker rings";
        return false;
      }
      made->push_back(flow);
    }
  }
  return true;
}

}  // namespace

void flow_steering_probe(Port* port, uint16_t workers) {
  port->flow_steering = false;
  port->flow_steering6 = false;
  if (!power_of_two(workers) || port->is_ring) return;
  // net_tap validates a partial port mask but programs an exact-match TC flower key
  // (it drops the mask), so its answer would be wrong: treat it as unable.
  if (port->driver == "net_tap") return;
  // Documentation-range addresses stand in for the LIPs the first apply brings. A device
  // may take IPv4 rules and refuse IPv6 ones: each family keeps its own answer.
  const IpAddr sample_lip = ip_from_v4(RTE_BE32(0xC0000201));                               // 192.0.2.1
  const IpAddr sample_lip6 = {{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01}};  // 2001:db8::1
  port->flow_steering = family_validates(port->port_id, sample_lip, workers);
  port->flow_steering6 = family_validates(port->port_id, sample_lip6, workers);
}

bool flow_steering_install(Port* port, uint16_t workers, const std::vector<IpAddr>& lips, std::string* error) {
  if (!port->flow_steering && !port->flow_steering6) return true;
  rte_flow_error flush_error;
  rte_flow_flush(port->port_id, &flush_error);
  if (port->flow_steering) {
    std::vector<rte_flow*> made;
    for (const IpAddr& lip : lips) {
      if (ip_is_v4(lip) && !create_lip_rules(port, lip, workers, &made, error)) {
        rte_flow_flush(port->port_id, &flush_error);
        port->flow_steering = false;
        port->flow_steering6 = false;  // the flush took every rule: both families take the rings
        return false;
      }
    }
  }
  if (port->flow_steering6) {
    std::vector<rte_flow*> made;
    for (const IpAddr& lip : lips) {
      if (!ip_is_v4(lip) && !create_lip_rules(port, lip, workers, &made, error)) {
        // Only the IPv6 rules go: the IPv4 ones already steer their replies.
        for (rte_flow* flow : made) rte_flow_destroy(port->port_id, flow, &flush_error);
        port->flow_steering6 = false;
        return false;
      }
    }
  }
  return true;
}

}  // namespace pc
