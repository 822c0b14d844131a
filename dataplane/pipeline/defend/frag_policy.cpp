#include "pipeline/defend/frag_policy.h"

#include "pipeline/defend/frag_policy_table.h"
#include "pipeline/snapshot.h"
#include "pipeline/worker_state.h"

namespace pc {

rte_mbuf* frag_input(Worker* w, const Snapshot& s, rte_mbuf* m, const ParsedPacket& p, uint64_t now_us) {
  const FragPolicyConfig& policy = frag_policy_for(s.defense.fragments, ip_from_v4(p.ip->dst_addr), p.ip->next_proto_id);
  if (policy.policy == FragPolicy::DROP) {
    rte_pktmbuf_free(m);
    w->counters->drop(DropReason::FRAG_DROPPED);
    return nullptr;
  }
  if (policy.policy == FragPolicy::LIMIT &&
      !source_bucket_take(&w->defend.sources, kFragSourceBucketId, ip_from_v4(p.ip->src_addr), kDefaultSourcePrefix6,
                          policy.per_source,
                          now_us)) {
    rte_pktmbuf_free(m);
    w->counters->drop(DropReason::FRAG_RATE_LIMITED);
    return nullptr;
  }
  return reassembly_input(&w->reassembly, w->counters, m, p, now_us);
}

}  // namespace pc
