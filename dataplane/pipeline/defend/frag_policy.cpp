#include "pipeline/defend/frag_policy.h"

#include "pipeline/defend/frag_policy_table.h"
#include "pipeline/l2l3/l3.h"
#include "pipeline/snapshot.h"
#include "pipeline/worker_state.h"

namespace pc {

namespace {

// Counted globally and against the service whose policy decided (index 0: none, the global
// policy; defense_counters.h), as the other defences count theirs.
rte_mbuf* drop_fragment(Worker* w, rte_mbuf* m, uint32_t service_id, DropReason reason) {
  rte_pktmbuf_free(m);
  w->counters->drop(reason);
  w->counters->defense.services[service_id].dropped[defense_drop_index(reason)]++;
  return nullptr;
}

}  // namespace

rte_mbuf* frag_input(Worker* w, const Snapshot& s, rte_mbuf* m, const ParsedPacket& p, uint64_t now_us,
                     uint16_t* largest_fragment) {
  // IPv6: the protocol every fragment names alike (a later fragment has nothing else).
  uint8_t protocol = p.ip6 ? reinterpret_cast<const uint8_t*>(p.ip6)[p.ip6_fragment_at] : p.ip->next_proto_id;
  uint32_t service_id = 0;
  const FragPolicyConfig& policy = frag_policy_for(s.defense.fragments, l3_dst(p), protocol, &service_id);
  if (policy.policy == FragPolicy::DROP) return drop_fragment(w, m, service_id, DropReason::FRAG_DROPPED);
  if (policy.policy == FragPolicy::LIMIT &&
      !source_bucket_take(&w->defend.sources, kFragSourceBucketId, l3_src(p), kDefaultSourcePrefix6, policy.per_source,
                          now_us))
    return drop_fragment(w, m, service_id, DropReason::FRAG_RATE_LIMITED);
  return reassembly_input(&w->reassembly, w->counters, m, p, now_us, largest_fragment);
}

}  // namespace pc
