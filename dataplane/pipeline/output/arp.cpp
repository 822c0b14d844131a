#include "pipeline/output/arp.h"

#include <cstring>

namespace pc {

void arp_write_request(uint8_t* frame, const uint8_t* our_mac, const IpAddr& source, const IpAddr& target) {
  std::memset(frame, 0, kArpRequestFrameBytes);
  auto* eth = reinterpret_cast<rte_ether_hdr*>(frame);
  std::memset(eth->dst_addr.addr_bytes, 0xff, RTE_ETHER_ADDR_LEN);
  std::memcpy(eth->src_addr.addr_bytes, our_mac, RTE_ETHER_ADDR_LEN);
  eth->ether_type = RTE_BE16(RTE_ETHER_TYPE_ARP);
  auto* arp = reinterpret_cast<rte_arp_hdr*>(eth + 1);
  arp->arp_hardware = RTE_BE16(RTE_ARP_HRD_ETHER);
  arp->arp_protocol = RTE_BE16(RTE_ETHER_TYPE_IPV4);
  arp->arp_hlen = RTE_ETHER_ADDR_LEN;
  arp->arp_plen = 4;
  arp->arp_opcode = RTE_BE16(RTE_ARP_OP_REQUEST);
  std::memcpy(arp->arp_data.arp_sha.addr_bytes, our_mac, RTE_ETHER_ADDR_LEN);
  arp->arp_data.arp_sip = ip_v4(source);
  arp->arp_data.arp_tip = ip_v4(target);
}

void neigh_input_arp(NeighTable* t, const Snapshot& s, uint16_t in_port, rte_mbuf* m, const ParsedPacket& p,
                     uint64_t now_us, TxQueues& tx) {
  rte_arp_hdr* arp = p.arp;
  const uint32_t target = arp->arp_data.arp_tip;
  const uint32_t sender = arp->arp_data.arp_sip;
  if (!snapshot_arp_owned(s, in_port, ip_from_v4(target))) {
    rte_pktmbuf_free(m);
    t->counters->drop(DropReason::ARP_NOT_FOR_US);
    return;
  }
  const uint8_t* sender_mac = arp->arp_data.arp_sha.addr_bytes;
  const IpAddr sender_addr = ip_from_v4(sender);
  IpAddr our_source = ip_from_v4(target);
  // On-link senders, or next hops we asked about (an on-link static route may lie outside the prefixes).
  bool learnable = sender != 0 && rte_is_unicast_ether_addr(&arp->arp_data.arp_sha) &&
                   (snapshot_on_link_source(s, in_port, sender_addr, &our_source) ||
                    neigh_find(t, in_port, sender_addr) != nullptr);
  if (learnable) {
    NeighEntry* e = neigh_learn(t, in_port, sender_addr, sender_mac, now_us, tx);
    if (e && ip_is_zero(e->source)) e->source = our_source;
  }

  if (arp->arp_opcode == RTE_BE16(RTE_ARP_OP_REPLY)) {
    rte_pktmbuf_free(m);
    if (learnable) t->counters->event(Event::ARP_REPLIES_LEARNED);
    else t->counters->drop(DropReason::ARP_NOT_FOR_US);  // a reply from off-link: not one we asked for
    return;
  }

  // Answer in place: the request's buffer becomes the reply (no allocation can fail).
  const uint8_t* our_mac = t->port_macs[in_port];
  rte_ether_addr requester = arp->arp_data.arp_sha;
  arp->arp_opcode = RTE_BE16(RTE_ARP_OP_REPLY);
  arp->arp_data.arp_tha = requester;
  arp->arp_data.arp_tip = sender;
  std::memcpy(arp->arp_data.arp_sha.addr_bytes, our_mac, RTE_ETHER_ADDR_LEN);
  arp->arp_data.arp_sip = target;
  neigh_set_macs(m, our_mac, requester.addr_bytes);
  tx.push(in_port, m);
  t->counters->event(Event::ARP_REQUESTS_ANSWERED);
}

}  // namespace pc
