#include "addon/js_defense.h"

namespace pc_addon {

namespace {

bool read_acl(JsReader& r, const Napi::Value& v, const std::string& path, pc::AclConfig* out) {
  if (v.IsUndefined()) return true;
  Napi::Object o;
  if (!r.object(v, path, &o)) return false;
  size_t which;
  Napi::Value def = o.Get("default");
  if (!def.IsUndefined()) {
    if (!r.choice(def, path + ".default", {"allow", "deny"}, &which)) return false;
    out->default_action = which == 0 ? pc::AclAction::ALLOW : pc::AclAction::DENY;
  }
  Napi::Array entries;
  if (!r.array(o.Get("entries"), path + ".entries", &entries)) return false;
  if (entries.Length() > pc::kMaxAclEntries)
    return r.fail(path + ".entries", "at most " + std::to_string(pc::kMaxAclEntries) + " entries",
                  Napi::String::New(entries.Env(), std::to_string(entries.Length()) + " entries"));
  for (uint32_t i = 0; i < entries.Length(); i++) {
    std::string p = element_path(path + ".entries", i);
    Napi::Object e;
    if (!r.object(entries.Get(i), p, &e)) return false;
    pc::AclEntryConfig entry;
    if (!r.prefix(e.Get("prefix"), p + ".prefix", &entry.prefix)) return false;
    if (!r.choice(e.Get("action"), p + ".action", {"allow", "deny"}, &which)) return false;
    entry.action = which == 0 ? pc::AclAction::ALLOW : pc::AclAction::DENY;
    Napi::Value ttl = e.Get("ttlMs");
    if (!ttl.IsUndefined()) {
      uint64_t ms;
      if (!r.integer(ttl, p + ".ttlMs", 1, 366ull * 86400 * 1000, &ms)) return false;
      entry.ttl_ms = ms;
    }
    out->entries.push_back(entry);
  }
  return true;
}

bool read_rate(JsReader& r, const Napi::Value& v, const std::string& path, pc::RateLimit* out) {
  if (v.IsUndefined()) return true;  // unlimited
  Napi::Object o;
  if (!r.object(v, path, &o)) return false;
  uint64_t n;
  if (!r.integer(o.Get("pps"), path + ".pps", 1, UINT32_MAX, &n)) return false;
  out->pps = static_cast<uint32_t>(n);
  if (!r.integer(o.Get("burst"), path + ".burst", 1, UINT32_MAX, &n)) return false;
  out->burst = static_cast<uint32_t>(n);
  return true;
}

// { policy: 'drop' | 'limit' | 'reassemble', perSource?: { pps, burst } } (perSource required for limit).
bool read_fragments(JsReader& r, const Napi::Value& v, const std::string& path, pc::FragPolicyConfig* out) {
  Napi::Object o;
  if (!r.object(v, path, &o)) return false;
  size_t which;
  if (!r.choice(o.Get("policy"), path + ".policy", {"drop", "limit", "reassemble"}, &which)) return false;
  out->policy = static_cast<pc::FragPolicy>(which);
  if (!read_rate(r, o.Get("perSource"), path + ".perSource", &out->per_source)) return false;
  if (out->policy == pc::FragPolicy::LIMIT && !out->per_source.enabled())
    return r.fail(path + ".perSource", "{ pps, burst } with policy limit", o.Get("perSource"));
  return true;
}

bool read_service(JsReader& r, const Napi::Value& v, const std::string& path, pc::ServiceDefenseConfig* out) {
  Napi::Object o;
  if (!r.object(v, path, &o)) return false;
  uint64_t n;
  if (!r.integer(o.Get("serviceId"), path + ".serviceId", 1, pc::kMaxServiceId, &n)) return false;
  out->service_id = static_cast<uint32_t>(n);
  if (!read_acl(r, o.Get("acl"), path + ".acl", &out->acl)) return false;
  if (!read_rate(r, o.Get("udpPerSource"), path + ".udpPerSource", &out->udp_per_source)) return false;
  Napi::Value per_source = o.Get("udpPerSource");
  if (per_source.IsObject()) {
    Napi::Value length = per_source.As<Napi::Object>().Get("ipv6PrefixLength");
    if (!length.IsUndefined()) {
      if (!r.integer(length, path + ".udpPerSource.ipv6PrefixLength", 1, 128, &n)) return false;
      out->udp_source_prefix6 = static_cast<uint8_t>(n);
    }
  }
  if (!read_rate(r, o.Get("udpPerService"), path + ".udpPerService", &out->udp_per_service)) return false;
  if (!read_rate(r, o.Get("newConnRate"), path + ".newConnRate", &out->new_conn_rate)) return false;
  Napi::Value max = o.Get("maxConns");
  if (!max.IsUndefined()) {
    if (!r.integer(max, path + ".maxConns", 0, UINT32_MAX, &n)) return false;
    out->max_conns = static_cast<uint32_t>(n);
  }
  Napi::Value fragments = o.Get("fragments");
  if (!fragments.IsUndefined()) {
    if (!read_fragments(r, fragments, path + ".fragments", &out->fragments)) return false;
    out->has_fragments = true;
  }
  return true;
}

}  // namespace

bool read_defense(JsReader& r, const Napi::Value& v, const std::string& path, pc::DefenseConfig* out) {
  Napi::Object o;
  if (!r.object(v, path, &o)) return false;
  if (!read_acl(r, o.Get("acl"), path + ".acl", &out->acl)) return false;
  Napi::Value buckets = o.Get("sourceBuckets");
  if (!buckets.IsUndefined()) {
    uint64_t n;
    if (!r.integer(buckets, path + ".sourceBuckets", 1, pc::kMaxSourceBuckets, &n)) return false;
    out->source_buckets = static_cast<uint32_t>(n);
  }
  Napi::Value fragments = o.Get("fragments");
  if (!fragments.IsUndefined() && !read_fragments(r, fragments, path + ".fragments", &out->fragments)) return false;
  Napi::Value services = o.Get("services");
  if (services.IsUndefined()) return true;
  Napi::Array list;
  if (!r.array(services, path + ".services", &list)) return false;
  for (uint32_t i = 0; i < list.Length(); i++) {
    pc::ServiceDefenseConfig svc;
    if (!read_service(r, list.Get(i), element_path(path + ".services", i), &svc)) return false;
    out->services.push_back(std::move(svc));
  }
  return true;
}

bool read_fragment_table(JsReader& r, const Napi::Value& v, const std::string& path, pc::FragTableConfig* out) {
  if (v.IsUndefined()) return true;
  Napi::Object o;
  if (!r.object(v, path, &o)) return false;
  struct Field {
    const char* name;
    uint64_t min, max;
    uint32_t* target;
  } fields[] = {
      {"sets", 1, pc::kMaxFragTableSets, &out->sets},
      {"timeoutMs", 1, pc::kMaxFragTimeoutMs, &out->timeout_ms},
      {"maxFragments", 2, pc::kMaxFragMaxFragments, &out->max_fragments},
      {"maxDatagram", 576, pc::kMaxFragMaxDatagram, &out->max_datagram},
  };
  for (const Field& f : fields) {
    Napi::Value value = o.Get(f.name);
    if (value.IsUndefined()) continue;
    uint64_t n;
    if (!r.integer(value, path + "." + f.name, f.min, f.max, &n)) return false;
    *f.target = static_cast<uint32_t>(n);
  }
  return true;
}

}  // namespace pc_addon
