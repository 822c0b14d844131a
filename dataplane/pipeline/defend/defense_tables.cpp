#include "pipeline/defend/defense_tables.h"

#include <algorithm>

namespace pc {

bool defense_build(const DefenseConfig& cfg, const std::vector<uint32_t>& service_ids, DefenseTables* t,
                   std::string* error) {
  uint32_t next_slot = 0;
  if (!acl_build(cfg.acl, "defense.acl", &t->global_acl, &next_slot, &t->acl_ttl_ms, error)) return false;
  if (cfg.source_buckets == 0 || cfg.source_buckets > kMaxSourceBuckets) {
    *error = "defense.sourceBuckets: must be 1.." + std::to_string(kMaxSourceBuckets) + ", got " +
             std::to_string(cfg.source_buckets);
    return false;
  }
  t->source_buckets = cfg.source_buckets;
  t->index_by_service_id.assign(kMaxServiceId + 1, kNoServiceDefense);
  bool any = t->global_acl.active;
  for (size_t i = 0; i < cfg.services.size(); i++) {
    const ServiceDefenseConfig& c = cfg.services[i];
    std::string path = "defense.services[" + std::to_string(i) + "]";
    if (std::find(service_ids.begin(), service_ids.end(), c.service_id) == service_ids.end()) {
      *error = path + ".serviceId: " + std::to_string(c.service_id) + " is not a service of this config";
      return false;
    }
    if (t->index_by_service_id[c.service_id] != kNoServiceDefense) {
      *error = path + ".serviceId: duplicate " + std::to_string(c.service_id);
      return false;
    }
    ServiceDefense d;
    if (!acl_build(c.acl, path + ".acl", &d.acl, &next_slot, &t->acl_ttl_ms, error)) return false;
    d.udp_per_source = c.udp_per_source;
    if (c.udp_source_prefix6 < 1 || c.udp_source_prefix6 > 128) {
      *error = path + ".udpPerSource.ipv6PrefixLength: must be 1..128, got " + std::to_string(c.udp_source_prefix6);
      return false;
    }
    d.udp_source_prefix6 = c.udp_source_prefix6;
    d.udp_per_service = c.udp_per_service;
    d.new_conn_rate = c.new_conn_rate;
    d.max_conns = c.max_conns;
    any = any || d.acl.active || d.udp_per_source.enabled() || d.udp_per_service.enabled() ||
          d.new_conn_rate.enabled() || d.max_conns;
    t->udp_source_limits = t->udp_source_limits || d.udp_per_source.enabled();
    t->index_by_service_id[c.service_id] = static_cast<uint16_t>(t->services.size());
    t->services.push_back(std::move(d));
  }
  t->active = any;
  return true;
}

}  // namespace pc
