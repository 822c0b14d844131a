// packet_owner_worker(): which worker owns a reply (IPv4 or IPv6), from the frame alone. Each
// worker allocates lports only from its residue class (lport.h), so a reply's
// destination port names its owner without any table lookup. A cluster hand-off names
// its owning worker in the outer header's id (cluster/handoff.h). A NAT server's reply
// (to the client, an address we do not own) names its owner by the client endpoint it is
// sent to (conn/client_owner.h).
#include <cstring>
#include <netinet/in.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include "common/config.h"
#include "pipeline/cluster/handoff.h"
#include "pipeline/conn/client_owner.h"
#include "pipeline/l2l3/parse.h"
#include "pipeline/pipeline.h"
#include "pipeline/snapshot.h"

namespace pc {

namespace {

constexpr uint32_t kIcmpHeaderLen = 8;

// An ICMP error to a LIP quotes our LIP:lport→RIP:rport packet: the quoted source
// port is the lport, so it names the owner just as a reply's destination port does.
int icmp_error_owner(const rte_ipv4_hdr* ip, uint32_t header_len, uint32_t available, uint16_t worker_count) {
  const uint8_t* icmp = reinterpret_cast<const uint8_t*>(ip) + header_len;
  if (available < header_len + kIcmpHeaderLen + sizeof(rte_ipv4_hdr)) return -1;
  uint8_t type = icmp[0];
  if (type != 3 && type != 11 && type != 12) return -1;  // unreachable, time exceeded, parameter problem
  const auto* inner = reinterpret_cast<const rte_ipv4_hdr*>(icmp + kIcmpHeaderLen);
  uint32_t inner_len = (inner->version_ihl & 0x0f) * 4u;
  if (inner_len < sizeof(rte_ipv4_hdr) || available < header_len + kIcmpHeaderLen + inner_len + 4) return -1;
  if (inner->src_addr != ip->dst_addr) return -1;
  if (inner->next_proto_id != IPPROTO_TCP && inner->next_proto_id != IPPROTO_UDP) return -1;
  uint16_t lport = rte_be_to_cpu_16(load16(reinterpret_cast<const uint8_t*>(inner) + inner_len));
  if (lport < kLportMin) return -1;
  return lport % worker_count;
}

// An ICMP error from a NAT server (or a router on its way) to the client quotes the
// client's packet as we forwarded it, CIP:cport -> RIP:rport: the quoted source names the owner.
int nat_icmp_error_owner(const Snapshot& s, const rte_ipv4_hdr* ip, uint32_t header_len, uint32_t available,
                         uint16_t worker_count) {
  const uint8_t* icmp = reinterpret_cast<const uint8_t*>(ip) + header_len;
  if (available < header_len + kIcmpHeaderLen + sizeof(rte_ipv4_hdr)) return -1;
  if (icmp[0] != 3 && icmp[0] != 11 && icmp[0] != 12) return -1;
  const auto* inner = reinterpret_cast<const rte_ipv4_hdr*>(icmp + kIcmpHeaderLen);
  uint32_t inner_len = (inner->version_ihl & 0x0f) * 4u;
  if (inner_len < sizeof(rte_ipv4_hdr) || available < header_len + kIcmpHeaderLen + inner_len + 4) return -1;
  if (inner->src_addr != ip->dst_addr) return -1;
  if (inner->next_proto_id != IPPROTO_TCP && inner->next_proto_id != IPPROTO_UDP) return -1;
  const uint16_t cport = load16(reinterpret_cast<const uint8_t*>(inner) + inner_len);
  return nat_client_owner(s, ip_from_v4(ip->dst_addr), cport, worker_count);
}

// IPv6: the upper-layer header of a packet to us, past the extension headers a reply may
// carry (hop-by-hop, routing, destination options; bounded as parse_ipv6 bounds them).
// Returns its offset from ip6 and sets *protocol, or 0: a fragment (no lport to read in a
// later one; the receiving worker's fragment policy takes it) or a chain parse would drop.
uint32_t ipv6_upper_layer(const uint8_t* ip6, uint32_t available, uint8_t* protocol) {
  constexpr uint8_t kHopByHop = 0, kRouting = 43, kFragment = 44, kDestOptions = 60;
  uint8_t next = ip6[6];
  uint32_t at = sizeof(rte_ipv6_hdr);
  for (unsigned count = 0; next == kHopByHop || next == kRouting || next == kDestOptions; count++) {
    if (count == kIpv6MaxExtHeaders || at + 8 > available) return 0;
    next = ip6[at];
    at += (ip6[at + 1] + 1u) * 8;
    if (at - sizeof(rte_ipv6_hdr) > kIpv6MaxExtBytes) return 0;
  }
  if (next == kFragment) return 0;
  *protocol = next;
  return at;
}

// An ICMPv6 error to a LIP quotes our LIP:lport -> RIP:rport packet (its own IPv6 header
// first, no extension headers from us): the quoted source port names the owner.
int icmp6_error_owner(const uint8_t* ip6, uint32_t icmp_at, uint32_t available, uint16_t worker_count) {
  const uint8_t* icmp = ip6 + icmp_at;
  if (available < icmp_at + kIcmpHeaderLen + sizeof(rte_ipv6_hdr) + 4) return -1;
  if (icmp[0] < 1 || icmp[0] > 4) return -1;  // unreachable, too big, time exceeded, parameter problem
  const uint8_t* inner = icmp + kIcmpHeaderLen;
  if (memcmp(inner + 8, ip6 + 24, 16) != 0) return -1;  // quoted source == our destination (the LIP)
  if (inner[6] != IPPROTO_TCP && inner[6] != IPPROTO_UDP) return -1;
  uint16_t lport = rte_be_to_cpu_16(load16(inner + sizeof(rte_ipv6_hdr)));
  if (lport < kLportMin) return -1;
  return lport % worker_count;
}

// IPv6's counterpart of nat_icmp_error_owner: the quoted source port of the client's packet.
int nat_icmp6_error_owner(const Snapshot& s, const uint8_t* ip6, uint32_t icmp_at, uint32_t available,
                          uint16_t worker_count) {
  const uint8_t* icmp = ip6 + icmp_at;
  if (available < icmp_at + kIcmpHeaderLen + sizeof(rte_ipv6_hdr) + 4) return -1;
  if (icmp[0] < 1 || icmp[0] > 4) return -1;
  const uint8_t* inner = icmp + kIcmpHeaderLen;
  if (memcmp(inner + 8, ip6 + 24, 16) != 0) return -1;  // quoted source == our destination (the client)
  if (inner[6] != IPPROTO_TCP && inner[6] != IPPROTO_UDP) return -1;
  IpAddr client;
  memcpy(client.bytes, ip6 + 24, 16);
  return nat_client_owner(s, client, load16(inner + sizeof(rte_ipv6_hdr)), worker_count);
}

// A packet to an address we do not own, with NAT servers configured: a NAT server's reply
// (or ICMPv6 error) to the client, whose owner the client endpoint names.
int ipv6_nat_reply_owner(const Snapshot& s, const uint8_t* ip6, uint32_t available, uint16_t worker_count) {
  uint8_t protocol = 0;
  uint32_t at = ipv6_upper_layer(ip6, available, &protocol);
  if (at == 0) return -1;
  if (protocol == IPPROTO_ICMPV6) return nat_icmp6_error_owner(s, ip6, at, available, worker_count);
  if (protocol != IPPROTO_TCP && protocol != IPPROTO_UDP) return -1;
  if (available < at + 4) return -1;
  IpAddr client;
  memcpy(client.bytes, ip6 + 24, 16);
  return nat_client_owner(s, client, load16(ip6 + at + 2), worker_count);
}

int ipv6_owner_worker(const Snapshot* s, const rte_ipv6_hdr* ip, uint32_t available, uint16_t worker_count) {
  const auto* ip6 = reinterpret_cast<const uint8_t*>(ip);
  const IpAddr dst = ip_from_v6(ip->dst_addr);
  const uint8_t kinds = snapshot_owned_kinds(*s, dst);
  if (!(kinds & kOwnedLip)) {
    if (kinds || !s->has_nat_servers || dst.bytes[0] == 0xff) return -1;  // multicast: neighbour discovery
    return ipv6_nat_reply_owner(*s, ip6, available, worker_count);
  }
  uint8_t protocol = 0;
  uint32_t at = ipv6_upper_layer(ip6, available, &protocol);
  if (at == 0) return -1;
  if (protocol == IPPROTO_ICMPV6) return icmp6_error_owner(ip6, at, available, worker_count);
  if (protocol != IPPROTO_TCP && protocol != IPPROTO_UDP) return -1;
  if (available < at + 4) return -1;  // both ports present
  uint16_t dst_port = load16(ip6 + at + 2);
  if (snapshot_find_service(*s, protocol, dst, dst_port)) return -1;  // a new flow to a service
  uint16_t lport = rte_be_to_cpu_16(dst_port);
  if (lport < kLportMin) return -1;
  return lport % worker_count;
}

}  // namespace

int packet_owner_worker(const Snapshot* s, const rte_mbuf* m, uint16_t worker_count) {
  if (!s || worker_count <= 1 || m->nb_segs != 1) return -1;
  uint32_t len = rte_pktmbuf_data_len(m);
  if (len < sizeof(rte_ether_hdr) + sizeof(rte_ipv4_hdr)) return -1;
  const auto* eth = rte_pktmbuf_mtod(m, const rte_ether_hdr*);
  if (eth->ether_type == RTE_BE16(RTE_ETHER_TYPE_IPV6)) {
    if (len < sizeof(rte_ether_hdr) + sizeof(rte_ipv6_hdr)) return -1;
    return ipv6_owner_worker(s, reinterpret_cast<const rte_ipv6_hdr*>(eth + 1), len - sizeof(rte_ether_hdr), worker_count);
  }
  if (eth->ether_type != RTE_BE16(RTE_ETHER_TYPE_IPV4)) return -1;
  const auto* ip = reinterpret_cast<const rte_ipv4_hdr*>(eth + 1);
  uint32_t header_len = (ip->version_ihl & 0x0f) * 4u;
  if (header_len < sizeof(rte_ipv4_hdr) || ipv4_is_fragment(ip)) return -1;
  const IpAddr dst = ip_from_v4(ip->dst_addr);
  if (ip->next_proto_id == IPPROTO_ICMP) {
    const uint8_t kinds = snapshot_owned_kinds(*s, dst);
    if (!kinds && s->has_nat_servers) return nat_icmp_error_owner(*s, ip, header_len, len - sizeof(rte_ether_hdr), worker_count);
    if (!(kinds & kOwnedLip)) return -1;
    return icmp_error_owner(ip, header_len, len - sizeof(rte_ether_hdr), worker_count);
  }
  if (ip->next_proto_id != IPPROTO_TCP && ip->next_proto_id != IPPROTO_UDP)
    return handoff_owner_worker(*s, ip, worker_count);  // -1 for anything but a hand-off to us
  if (len < sizeof(rte_ether_hdr) + header_len + 4) return -1;  // both ports present
  const uint8_t* l4 = reinterpret_cast<const uint8_t*>(ip) + header_len;
  const uint8_t kinds = snapshot_owned_kinds(*s, dst);
  if (!(kinds & kOwnedLip)) {
    if (kinds || !s->has_nat_servers) return -1;
    return nat_client_owner(*s, dst, load16(l4 + 2), worker_count);  // a NAT server's reply to the client
  }
  uint16_t dst_port = load16(l4 + 2);
  if (snapshot_find_service(*s, ip->next_proto_id, dst, dst_port)) return -1;  // a new flow to a service
  uint16_t lport = rte_be_to_cpu_16(dst_port);
  if (lport < kLportMin) return -1;
  return lport % worker_count;
}

}  // namespace pc
