#include "pipeline/l2l3/icmp.h"

#include <cstring>
#include <rte_ip.h>

namespace pc {

void icmp_input(rte_mbuf* m, const ParsedPacket& p, uint16_t in_port, const uint8_t* port_mac,
                WorkerCounters& counters, TxQueues& tx) {
  rte_icmp_hdr* icmp = p.icmp;
  if (!icmp_is_echo_request(p)) {
    rte_pktmbuf_free(m);
    counters.drop(DropReason::ICMP_UNSUPPORTED);
    return;
  }
  // Reply in place: same buffer, same port, back to the MAC it came from
  // (replying to the sender's L2 address needs no neighbour lookup).
  rte_ether_hdr* eth = p.eth;
  rte_ether_addr requester = eth->src_addr;
  eth->dst_addr = requester;
  std::memcpy(eth->src_addr.addr_bytes, port_mac, RTE_ETHER_ADDR_LEN);

  rte_ipv4_hdr* ip = p.ip;
  uint32_t client = ip->src_addr;
  ip->src_addr = ip->dst_addr;
  ip->dst_addr = client;
  ip->time_to_live = 64;
  ip->hdr_checksum = 0;
  ip->hdr_checksum = static_cast<uint16_t>(~rte_raw_cksum(ip, p.ip_header_len));

  icmp->icmp_type = RTE_IP_ICMP_ECHO_REPLY;
  icmp->icmp_cksum = 0;
  icmp->icmp_cksum = static_cast<uint16_t>(~rte_raw_cksum(icmp, p.l4_len));
  tx.push(in_port, m);
  counters.event(Event::ICMP_ECHO_ANSWERED);
}

}  // namespace pc
