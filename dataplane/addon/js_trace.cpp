#include "addon/js_trace.h"

#include "addon/js_errors.h"
#include "addon/js_reader.h"
#include "addon/js_results.h"
#include "core/dataplane.h"

namespace pc_addon {

bool read_port_index(JsReader& r, const Napi::Value& v, const std::vector<std::string>& names, int32_t* index) {
  std::string name;
  if (!r.string(v, "options.port", &name)) return false;
  for (size_t i = 0; i < names.size(); i++)
    if (names[i] == name) return *index = static_cast<int32_t>(i), true;
  std::string expected = "one of the started ports (";
  for (size_t i = 0; i < names.size(); i++) expected += (i ? ", " : "") + names[i];
  return r.fail("options.port", expected + ")", v);
}

bool read_packet_match(JsReader& r, const Napi::Object& o, pc::TraceFilter* match) {
  Napi::Value enabled = o.Get("enabled");
  if (!enabled.IsBoolean()) return r.fail("options.enabled", "a boolean", enabled);
  match->enabled = enabled.As<Napi::Boolean>().Value();
  uint64_t value;
  if (!o.Get("serviceId").IsUndefined()) {
    if (!r.integer(o.Get("serviceId"), "options.serviceId", 1, pc::kMaxServiceId, &value)) return false;
    match->service_id = static_cast<uint32_t>(value);
  }
  return o.Get("port").IsUndefined() || read_port_index(r, o.Get("port"), pc::dataplane().port_names(), &match->port);
}

Napi::Value TraceSet(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  JsReader r(env);
  Napi::Object o;
  if (!r.object(info[0], "options", &o)) return env.Undefined();
  pc::TraceFilter filter;
  if (!read_packet_match(r, o, &filter)) return env.Undefined();
  pc::Dataplane& dp = pc::dataplane();
  uint64_t value;
  if (!o.Get("maxRecords").IsUndefined()) {
    if (!r.integer(o.Get("maxRecords"), "options.maxRecords", 1, pc::kTraceRingRecords, &value))
      return env.Undefined();
    filter.max_records = static_cast<uint32_t>(value);
  }
  pc::Status st = dp.trace_set(filter);
  if (!st.ok()) throw_status(env, st);
  return env.Undefined();
}

Napi::Value TraceRead(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  pc::Dataplane& dp = pc::dataplane();
  std::vector<pc::TraceRecord> records;
  uint64_t lost = 0;
  pc::Status st = dp.trace_read(&records, &lost);
  if (!st.ok()) {
    throw_status(env, st);
    return env.Undefined();
  }
  return trace_to_js(env, records, lost, dp.port_names());
}

}  // namespace pc_addon
