#include "pipeline/defend/defend.h"

#include "pipeline/defend/defense_tables.h"
#include "pipeline/l2l3/l3.h"
#include "pipeline/snapshot.h"
#include "pipeline/worker_state.h"

namespace pc {

namespace {

inline bool drop(Worker* w, rte_mbuf* m, uint32_t service_id, DropReason reason) {
  worker_discard(w, m);
  w->counters->drop(reason);
  w->counters->defense.services[service_id].dropped[defense_drop_index(reason)]++;
  return false;
}

}  // namespace

void defend_prefetch_chunk(const Worker* w, const Snapshot& s, rte_mbuf* const* packets, uint16_t n) {
  if (!s.defense.udp_source_limits || !w->defend.sources.slots) return;
  for (uint16_t i = 0; i < n; i++) {
    const rte_mbuf* m = packets[i];
    if (rte_pktmbuf_data_len(m) < sizeof(rte_ether_hdr) + sizeof(rte_ipv4_hdr)) continue;
    const auto* eth = rte_pktmbuf_mtod(m, const rte_ether_hdr*);
    if (eth->ether_type != RTE_BE16(RTE_ETHER_TYPE_IPV4)) continue;
    const auto* ip = reinterpret_cast<const rte_ipv4_hdr*>(eth + 1);
    if (ip->next_proto_id == IPPROTO_UDP) source_bucket_prefetch(w->defend.sources, ip_from_v4(ip->src_addr));
  }
}

bool defend_init(DefendState* d, int socket_id) {
  d->udp_service.assign(kMaxServiceId + 1, TokenBucket{});
  d->conn_rate.assign(kMaxServiceId + 1, TokenBucket{});
  return source_buckets_resize(&d->sources, kDefaultSourceBuckets, socket_id);
}

void defend_destroy(DefendState* d) { source_buckets_free(&d->sources); }

void defend_adopt(Worker* w, const Snapshot& s) {
  DefendState& d = w->defend;
  for (const ServiceEntry& svc : s.services) {
    ServiceDefenseCounters& c = w->counters->defense.services[svc.id];
    if (c.generation != svc.generation) {
      c = ServiceDefenseCounters{};
      c.generation = svc.generation;
      d.udp_service[svc.id] = TokenBucket{};
      d.conn_rate[svc.id] = TokenBucket{};
    }
  }
  // A failed resize keeps the old table: still bounded, just not the configured size.
  source_buckets_resize(&d.sources, s.defense.source_buckets, w->params.socket_id);
  d.acl_deadlines_us.assign(s.defense.acl_ttl_ms.size(), UINT64_MAX);
  d.deadlines_armed = s.defense.acl_ttl_ms.empty();
}

bool defend_input(Worker* w, const Snapshot& s, rte_mbuf* m, const ParsedPacket& p, uint8_t owned_kinds,
                  uint64_t now_us) {
  const DefenseTables& t = s.defense;
  if (!t.active || !(owned_kinds & kOwnedVip)) return true;  // replies to LIPs and port addresses are not filtered
  DefendState& d = w->defend;
  if (!d.deadlines_armed) {  // ttl counts from the first packet this worker sees under the snapshot
    for (size_t i = 0; i < t.acl_ttl_ms.size(); i++) d.acl_deadlines_us[i] = now_us + t.acl_ttl_ms[i] * 1000;
    d.deadlines_armed = true;
  }
  const IpAddr source = l3_src(p);
  const uint64_t* deadlines = d.acl_deadlines_us.data();

  const ServiceEntry* svc = (p.tcp || p.udp) ? snapshot_find_service(s, l3_protocol(p), l3_dst(p), l4_dst_port(p))
                                             : nullptr;
  uint32_t service_id = svc ? svc->id : 0;
  if (acl_lookup(t.global_acl, source, deadlines, now_us) == AclAction::DENY)
    return drop(w, m, service_id, DropReason::ACL_DENIED);
  const ServiceDefense* sd = svc ? defense_for_service(t, svc->id) : nullptr;
  if (sd) {
    if (acl_lookup(sd->acl, source, deadlines, now_us) == AclAction::DENY)
      return drop(w, m, service_id, DropReason::ACL_DENIED);
    if (p.udp) {
      if (sd->udp_per_source.enabled() &&
          !source_bucket_take(&d.sources, service_id, source, sd->udp_source_prefix6, sd->udp_per_source, now_us))
        return drop(w, m, service_id, DropReason::UDP_SOURCE_RATE_LIMITED);
      if (sd->udp_per_service.enabled() &&
          !bucket_take(&d.udp_service[service_id], worker_share(sd->udp_per_service, w->params.count), now_us))
        return drop(w, m, service_id, DropReason::UDP_SERVICE_RATE_LIMITED);
    }
  }
  w->counters->defense.services[service_id].passed++;
  return true;
}

}  // namespace pc
