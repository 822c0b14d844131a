// What the translated path (FullNAT and NAT) does about port MTUs that differ, e.g. a
// 9000-byte inside segment behind a 1500-byte outside one:
// - MSS clamping: the MSS option of a SYN or SYN-ACK passing through is lowered to the
//   smaller MTU of its two ports (the one toward the client, the one toward the server)
//   minus 40, so neither end sends segments one of the links cannot carry. The MSS the
//   client hears is thus governed by the outside port, the one the server hears by the
//   inside port as well (event MSS_CLAMPED). TOA and PROXY lower the SYN-ACK's further
//   afterwards for the bytes they add (toa.h, synproxy.h).
// - A packet with DF set that is bigger than the egress port's MTU is not sent (the
//   port would drop it silently): its sender gets an ICMP fragmentation-needed quoting
//   it as it arrived (so its PMTU discovery finds its socket) and the packet is dropped
//   EGRESS_MTU_EXCEEDED. Without DF, ip_output() sends it in fragments. IPv6 has no DF:
//   every IPv6 packet over the egress MTU is refused so, with an ICMPv6 Packet Too Big
//   (RFC 4443 3.2; event ICMP6_PACKET_TOO_BIG_SENT), since routers never fragment it.
#pragma once
#include <cstdint>
#include <rte_mbuf.h>
#include "common/tx_queues.h"
#include "pipeline/l2l3/packet.h"
#include "pipeline/output/route.h"

namespace pc {

struct Worker;
struct Snapshot;


// Lowers the MSS option of p (a TCP SYN or SYN-ACK, before the rewrite: p.ip->src_addr is its
// sender) to min(MTU toward its sender, egress_mtu) - 40, with the checksum kept right.
void mss_clamp(Worker* w, const Snapshot& s, ParsedPacket& p, uint16_t egress_mtu);

// min(mss, MTU of the port the route to addr takes - 40): for segments the gateway writes
// itself (SYNPROXY's SYN-ACK to the client, its SYN to the server).
uint16_t mss_toward(Worker* w, const Snapshot& s, const IpAddr& addr, uint16_t mss);
// The same for a caller that has looked the route up already (and sends by it): the MTU of
// port_index, an ipv6 segment's headers.
uint16_t mss_on_port(const Worker* w, uint16_t port_index, bool ipv6, uint16_t mss);

// ICMP type 3 code 4 to p's sender, from the address it sent to (VIP or LIP), quoting p as
// it arrived, with next_hop_mtu (RFC 1191). Event ICMP_FRAG_NEEDED_SENT; nothing is sent
// when there is no route back or no mbuf (then MBUF_ALLOC_FAILED). Also TUN's (forward/tun.h).
void send_frag_needed(Worker* w, const Snapshot& s, const ParsedPacket& p, uint16_t next_hop_mtu, uint64_t now_us,
                      TxQueues& tx);

// ICMPv6 Packet Too Big to p's (IPv6) sender, from the address it sent to, quoting as much
// of p as fits 1280 bytes, with mtu. Also NAT64's, once translated (forward/nat64.h).
void send_packet_too_big(Worker* w, const Snapshot& s, const ParsedPacket& p, uint32_t mtu, uint64_t now_us,
                         TxQueues& tx);

// True when p may leave by a port of egress_mtu; otherwise (DF set and too big) sends the
// fragmentation-needed, drops m EGRESS_MTU_EXCEEDED and returns false.
bool egress_mtu_fits(Worker* w, const Snapshot& s, rte_mbuf* m, const ParsedPacket& p, uint16_t egress_mtu,
                     uint64_t now_us, TxQueues& tx);

// The translated methods' (FullNAT, NAT) step between routing and rewriting: egress_mtu_fits,
// then mss_clamp when p is a SYN or SYN-ACK. False when m was dropped.
inline bool egress_mtu_prepare(Worker* w, const Snapshot& s, rte_mbuf* m, ParsedPacket& p, uint16_t egress_mtu,
                               uint64_t now_us, TxQueues& tx) {
  if (!egress_mtu_fits(w, s, m, p, egress_mtu, now_us, tx)) return false;
  if (p.tcp && (p.tcp->tcp_flags & RTE_TCP_SYN_FLAG)) mss_clamp(w, s, p, egress_mtu);
  return true;
}

}  // namespace pc
