// packet_owner_worker(): which worker owns a reply, from the frame alone. Each
// worker allocates lports only from its residue class (lport.h), so a reply's
// destination port names its owner without any table lookup.
#include <rte_ether.h>
#include <rte_ip.h>
#include "core/config.h"
#include "pipeline/parse.h"
#include "pipeline/pipeline.h"
#include "pipeline/snapshot.h"

namespace pc {

int packet_owner_worker(const Snapshot* s, const rte_mbuf* m, uint16_t worker_count) {
  if (!s || worker_count <= 1 || m->nb_segs != 1) return -1;
  uint32_t len = rte_pktmbuf_data_len(m);
  if (len < sizeof(rte_ether_hdr) + sizeof(rte_ipv4_hdr)) return -1;
  const auto* eth = rte_pktmbuf_mtod(m, const rte_ether_hdr*);
  if (eth->ether_type != RTE_BE16(RTE_ETHER_TYPE_IPV4)) return -1;
  const auto* ip = reinterpret_cast<const rte_ipv4_hdr*>(eth + 1);
  uint32_t header_len = (ip->version_ihl & 0x0f) * 4u;
  if (header_len < sizeof(rte_ipv4_hdr) || ipv4_is_fragment(ip)) return -1;
  if (ip->next_proto_id != IPPROTO_TCP && ip->next_proto_id != IPPROTO_UDP) return -1;
  if (len < sizeof(rte_ether_hdr) + header_len + 4) return -1;  // both ports present
  if (!(snapshot_owned_kinds(*s, ip->dst_addr) & kOwnedLip)) return -1;
  const uint8_t* l4 = reinterpret_cast<const uint8_t*>(ip) + header_len;
  uint16_t dst_port = load16(l4 + 2);
  if (snapshot_find_service(*s, ip->next_proto_id, ip->dst_addr, dst_port)) return -1;  // a new flow to a service
  uint16_t lport = rte_be_to_cpu_16(dst_port);
  if (lport < kLportMin) return -1;
  return lport % worker_count;
}

}  // namespace pc
