#include "addon/js_capture.h"

#include "addon/js_errors.h"
#include "addon/js_reader.h"
#include "addon/js_results.h"
#include "addon/js_trace.h"
#include "core/dataplane.h"

namespace pc_addon {

Napi::Value PacketCaptureSet(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  JsReader r(env);
  Napi::Object o;
  if (!r.object(info[0], "options", &o)) return env.Undefined();
  pc::CaptureFilter filter;
  if (!read_packet_match(r, o, &filter.match)) return env.Undefined();
  pc::Dataplane& dp = pc::dataplane();
  uint64_t value;
  if (!o.Get("snaplen").IsUndefined()) {
    if (!r.integer(o.Get("snaplen"), "options.snaplen", 1, pc::kCaptureSnaplenMax, &value)) return env.Undefined();
    filter.snaplen = static_cast<uint32_t>(value);
  }
  pc::Status st = dp.capture_set(filter);
  if (!st.ok()) throw_status(env, st);
  return env.Undefined();
}

Napi::Value PacketCaptureRead(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  pc::Dataplane& dp = pc::dataplane();
  std::vector<pc::CaptureSlot> slots;
  uint64_t lost = 0, clock_offset_us = 0;
  pc::Status st = dp.capture_read(&slots, &lost, &clock_offset_us);
  if (!st.ok()) {
    throw_status(env, st);
    return env.Undefined();
  }
  return capture_to_js(env, slots, lost, clock_offset_us, dp.port_names());
}

}  // namespace pc_addon
