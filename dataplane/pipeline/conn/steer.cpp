// packet_owner_worker(): which worker owns a reply, from the frame alone. Each
// worker allocates lports only from its residue class (lport.h), so a reply's
// destination port names its owner without any table lookup.
#include <rte_ether.h>
#include <rte_ip.h>
#include "common/config.h"
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

}  // namespace

int packet_owner_worker(const Snapshot* s, const rte_mbuf* m, uint16_t worker_count) {
  if (!s || worker_count <= 1 || m->nb_segs != 1) return -1;
  uint32_t len = rte_pktmbuf_data_len(m);
  if (len < sizeof(rte_ether_hdr) + sizeof(rte_ipv4_hdr)) return -1;
  const auto* eth = rte_pktmbuf_mtod(m, const rte_ether_hdr*);
  if (eth->ether_type != RTE_BE16(RTE_ETHER_TYPE_IPV4)) return -1;
  const auto* ip = reinterpret_cast<const rte_ipv4_hdr*>(eth + 1);
  uint32_t header_len = (ip->version_ihl & 0x0f) * 4u;
  if (header_len < sizeof(rte_ipv4_hdr) || ipv4_is_fragment(ip)) return -1;
  const IpAddr dst = ip_from_v4(ip->dst_addr);
  if (ip->next_proto_id == IPPROTO_ICMP) {
    if (!(snapshot_owned_kinds(*s, dst) & kOwnedLip)) return -1;
    return icmp_error_owner(ip, header_len, len - sizeof(rte_ether_hdr), worker_count);
  }
  if (ip->next_proto_id != IPPROTO_TCP && ip->next_proto_id != IPPROTO_UDP) return -1;
  if (len < sizeof(rte_ether_hdr) + header_len + 4) return -1;  // both ports present
  if (!(snapshot_owned_kinds(*s, dst) & kOwnedLip)) return -1;
  const uint8_t* l4 = reinterpret_cast<const uint8_t*>(ip) + header_len;
  uint16_t dst_port = load16(l4 + 2);
  if (snapshot_find_service(*s, ip->next_proto_id, dst, dst_port)) return -1;  // a new flow to a service
  uint16_t lport = rte_be_to_cpu_16(dst_port);
  if (lport < kLportMin) return -1;
  return lport % worker_count;
}

}  // namespace pc
