// N-API entry points of DataplaneAddon (src/dataplane/types.ts). Argument checks
// and conversions only; the behaviour lives in core/dataplane.*.
#include <napi.h>
#include <cmath>
#include <cstdlib>
#include "addon/js_capture.h"
#include "addon/js_convert.h"
#include "addon/js_errors.h"
#include "addon/js_reader.h"
#include "addon/js_results.h"
#include "addon/js_trace.h"
#include "bench/bench.h"
#include "core/dataplane.h"

namespace pc_addon {

namespace {

Napi::Value Start(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  pc::StartOptions options;
  if (!read_start_options(env, info[0], &options)) return env.Undefined();
  std::vector<pc::PortInfo> ports;
  pc::Status st = pc::dataplane().start(options, &ports);
  if (!st.ok()) {
    throw_status(env, st);
    return env.Undefined();
  }
  return ports_to_js(env, ports);
}

Napi::Value Apply(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  pc::Dataplane& dp = pc::dataplane();
  if (!dp.started()) {
    throw_error(env, "ESTATE", "apply: the data plane is not started; call start() first");
    return env.Undefined();
  }
  pc::DataplaneConfig config;
  if (!read_config(env, info[0], dp.port_names(), &config)) return env.Undefined();
  uint64_t version = 0;
  pc::Status st = dp.apply(config, &version);
  if (!st.ok()) {
    throw_status(env, st);
    return env.Undefined();
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("version", Napi::Number::New(env, static_cast<double>(version)));
  return out;
}

Napi::Value Stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  pc::StatsReport report;
  pc::Status st = pc::dataplane().stats(&report);
  if (!st.ok()) {
    throw_status(env, st);
    return env.Undefined();
  }
  Napi::Object out = stats_to_js(env, report);
  pc::RegionReport region;
  pc::dataplane().region_report(&region);
  if (region.present) out.Set("connRegion", region_report_to_js(env, region));
  return out;
}

Napi::Value HandOver(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t held_at_us = 0;
  pc::Status st = pc::dataplane().hand_over(&held_at_us);
  if (!st.ok()) {
    throw_status(env, st);
    return env.Undefined();
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("heldAtUs", Napi::Number::New(env, static_cast<double>(held_at_us)));
  return out;
}

Napi::Value Resume(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  pc::Status st = pc::dataplane().resume();
  if (!st.ok()) throw_status(env, st);
  return env.Undefined();
}

Napi::Value Release(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  pc::RegionReport report;
  pc::Status st = pc::dataplane().release(&report);
  if (!st.ok()) {
    throw_status(env, st);
    return env.Undefined();
  }
  return region_report_to_js(env, report);
}

Napi::Value CheckConnTables(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<std::string> problems;
  pc::Status st = pc::dataplane().check_tables(&problems);
  if (!st.ok()) {
    throw_status(env, st);
    return env.Undefined();
  }
  Napi::Array out = Napi::Array::New(env, problems.size());
  for (size_t i = 0; i < problems.size(); i++) out.Set(static_cast<uint32_t>(i), problems[i]);
  return out;
}

Napi::Value Connections(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  JsReader r(env);
  uint64_t cursor, limit;
  // Any value a cursor can hold (worker < 2^16, record < 2^32); the core refuses what it did not hand out.
  if (!r.integer(info[0], "cursor", 0, (uint64_t{1} << 48) - 1, &cursor)) return env.Undefined();
  if (!r.integer(info[1], "limit", 1, 65536, &limit)) return env.Undefined();
  std::vector<pc::ConnectionInfo> conns;
  uint64_t next_cursor = 0;
  pc::Status st = pc::dataplane().connections(cursor, static_cast<uint32_t>(limit), &conns, &next_cursor);
  if (!st.ok()) {
    throw_status(env, st);
    return env.Undefined();
  }
  Napi::Object page = Napi::Object::New(env);
  page.Set("connections", connections_to_js(env, conns));
  page.Set("nextCursor", Napi::Number::New(env, static_cast<double>(next_cursor)));
  return page;
}

// ownershipDrain(max?): one Buffer of 40-byte records (pipeline/cluster/cluster_worker.h).
Napi::Value OwnershipDrain(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  JsReader r(env);
  uint64_t max = 65536;
  if (info.Length() > 0 && !info[0].IsUndefined() && !r.integer(info[0], "max", 1, 1u << 20, &max)) return env.Undefined();
  std::vector<uint8_t> out;
  pc::Status st = pc::dataplane().ownership_drain(static_cast<uint32_t>(max), &out);
  if (!st.ok()) {
    throw_status(env, st);
    return env.Undefined();
  }
  return Napi::Buffer<uint8_t>::Copy(env, out.data(), out.size());
}

// sessionLogDrain(max?): { records: Buffer of 128-byte session records
// (pipeline/conn/session_log.h), nowUs: the workers' clock when the drain began }.
Napi::Value SessionLogDrain(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  JsReader r(env);
  uint64_t max = 65536;
  if (info.Length() > 0 && !info[0].IsUndefined() && !r.integer(info[0], "max", 1, 1u << 20, &max)) return env.Undefined();
  std::vector<uint8_t> out;
  uint64_t now_us = 0;
  pc::Status st = pc::dataplane().session_log_drain(static_cast<uint32_t>(max), &out, &now_us);
  if (!st.ok()) {
    throw_status(env, st);
    return env.Undefined();
  }
  Napi::Object result = Napi::Object::New(env);
  result.Set("records", Napi::Buffer<uint8_t>::Copy(env, out.data(), out.size()));
  result.Set("nowUs", Napi::Number::New(env, static_cast<double>(now_us)));
  return result;
}

// foreignLearn(records: Buffer, owner): how many records every worker took.
Napi::Value ForeignLearn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  JsReader r(env);
  if (!info[0].IsBuffer()) {
    r.fail("records", "a Buffer", info[0]);
    return env.Undefined();
  }
  Napi::Buffer<uint8_t> records = info[0].As<Napi::Buffer<uint8_t>>();
  uint64_t owner;
  if (!r.integer(info[1], "owner", 0, pc::kMaxClusterNodes - 1, &owner)) return env.Undefined();
  uint32_t accepted = 0;
  pc::Status st = pc::dataplane().foreign_learn(records.Data(), records.Length(), static_cast<uint8_t>(owner), &accepted);
  if (!st.ok()) {
    throw_status(env, st);
    return env.Undefined();
  }
  return Napi::Number::New(env, accepted);
}

Napi::Value Stop(const Napi::CallbackInfo& info) {
  pc::dataplane().stop();
  return info.Env().Undefined();
}

Napi::Value Ports(const Napi::CallbackInfo& info) {
  std::vector<pc::PortInfo> ports;
  pc::dataplane().ports(&ports);
  return ports_to_js(info.Env(), ports);
}

Napi::Value Inject(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  JsReader r(env);
  std::string port;
  if (!r.string(info[0], "port", &port)) return env.Undefined();
  Napi::Array list;
  if (!r.array(info[1], "frames", &list)) return env.Undefined();
  // Buffers stay referenced by `list` (on the JS stack) until we return.
  std::vector<pc::Frame> frames;
  frames.reserve(list.Length());
  for (uint32_t i = 0; i < list.Length(); i++) {
    Napi::Value v = list.Get(i);
    if (!v.IsBuffer()) {
      r.fail("frames[" + std::to_string(i) + "]", "a Buffer", v);
      return env.Undefined();
    }
    Napi::Buffer<uint8_t> b = v.As<Napi::Buffer<uint8_t>>();
    frames.push_back(pc::Frame{b.Data(), b.Length()});
  }
  uint64_t queue = 0;  // optional: the rx queue (= worker index) to put the frames on
  if (info.Length() > 2 && !info[2].IsUndefined() && !r.integer(info[2], "queue", 0, 0xffff, &queue))
    return env.Undefined();
  uint32_t accepted = 0;
  pc::Status st = pc::dataplane().inject(port, frames, static_cast<uint16_t>(queue), &accepted);
  if (!st.ok()) {
    throw_status(env, st);
    return env.Undefined();
  }
  return Napi::Number::New(env, accepted);
}

Napi::Value Step(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t received = 0;
  pc::Status st = pc::dataplane().step(&received);
  if (!st.ok()) {
    throw_status(env, st);
    return env.Undefined();
  }
  return Napi::Number::New(env, received);
}

Napi::Value Capture(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  JsReader r(env);
  std::string port;
  if (!r.string(info[0], "port", &port)) return env.Undefined();
  std::vector<std::vector<uint8_t>> frames;
  pc::Status st = pc::dataplane().capture(port, &frames);
  if (!st.ok()) {
    throw_status(env, st);
    return env.Undefined();
  }
  Napi::Array out = Napi::Array::New(env, frames.size());
  for (uint32_t i = 0; i < frames.size(); i++)
    out.Set(i, Napi::Buffer<uint8_t>::Copy(env, frames[i].data(), frames[i].size()));
  return out;
}

Napi::Value AdvanceClock(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  JsReader r(env);
  double ms;
  if (!r.non_negative(info[0], "ms", &ms)) return env.Undefined();
  if (ms > 1e12) {
    r.fail("ms", "at most 1e12", info[0]);
    return env.Undefined();
  }
  pc::Status st = pc::dataplane().advance_clock_us(static_cast<uint64_t>(std::llround(ms * 1000.0)));
  if (!st.ok()) throw_status(env, st);
  return env.Undefined();
}

Napi::Value Bench(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  JsReader r(env);
  Napi::Object o;
  if (!r.object(info[0], "options", &o)) return env.Undefined();
  size_t scenario;
  if (!r.choice(o.Get("scenario"), "options.scenario", {"io", "fullnat", "synproxy", "newconn", "drop", "cold", "connections"},
                &scenario))
    return env.Undefined();
  uint64_t packets, flows, round_connections = 0;
  if (!r.integer(o.Get("packets"), "options.packets", 1, 1ull << 40, &packets)) return env.Undefined();
  if (!r.integer(o.Get("flows"), "options.flows", 1, 2048, &flows)) return env.Undefined();
  Napi::Value round = o.Get("roundConnections");
  if (!round.IsUndefined() && !r.integer(round, "options.roundConnections", 1, 1u << 30, &round_connections))
    return env.Undefined();
  uint64_t connections = 0;
  Napi::Value conns = o.Get("connections");
  if (!conns.IsUndefined() && !r.integer(conns, "options.connections", 1, pc::kMaxColdConnections, &connections))
    return env.Undefined();
  pc::BenchOptions options;
  options.connections = static_cast<uint32_t>(connections);
  options.scenario = static_cast<pc::BenchScenario>(scenario);  // same order as the choices
  options.packets = packets;
  options.flows = static_cast<uint32_t>(flows);
  options.round_connections = static_cast<uint32_t>(round_connections);
  pc::BenchResult result;
  pc::Status st = pc::bench_run(pc::dataplane(), options, &result);
  if (!st.ok()) {
    throw_status(env, st);
    return env.Undefined();
  }
  return bench_to_js(env, options.scenario, result);
}

Napi::Value BenchMemory(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  JsReader r(env);
  Napi::Object o;
  if (!r.object(info[0], "options", &o)) return env.Undefined();
  uint64_t connections;
  if (!r.integer(o.Get("connections"), "options.connections", 1, 1u << 27, &connections)) return env.Undefined();
  size_t family = 0;  // the connections' addresses: 0 ipv4 (default), 1 ipv6
  Napi::Value family_value = o.Get("family");
  if (!family_value.IsUndefined() && !r.choice(family_value, "options.family", {"ipv4", "ipv6"}, &family))
    return env.Undefined();
  pc::BenchMemoryResult result;
  pc::Status st = pc::bench_memory(pc::dataplane(), static_cast<uint32_t>(connections), family == 1, &result);
  if (!st.ok()) {
    throw_status(env, st);
    return env.Undefined();
  }
  return bench_memory_to_js(env, result);
}

Napi::Value FillConnections(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  JsReader r(env);
  Napi::Object o;
  if (!r.object(info[0], "options", &o)) return env.Undefined();
  uint64_t worker = 0, count, first = 0;
  if (!r.integer(o.Get("count"), "options.count", 1, 1u << 27, &count)) return env.Undefined();
  Napi::Value w = o.Get("worker");
  if (!w.IsUndefined() && !r.integer(w, "options.worker", 0, 0xffff, &worker)) return env.Undefined();
  Napi::Value f = o.Get("first");
  if (!f.IsUndefined() && !r.integer(f, "options.first", 0, 1u << 28, &first)) return env.Undefined();
  uint32_t inserted = 0;
  pc::Status st = pc::bench_fill_connections(pc::dataplane(), static_cast<uint16_t>(worker),
                                             static_cast<uint32_t>(count), static_cast<uint32_t>(first), &inserted);
  if (!st.ok()) {
    throw_status(env, st);
    return env.Undefined();
  }
  return Napi::Number::New(env, inserted);
}

// Process exit while started: stop the workers (and clean up EAL in live mode)
// so no lcore thread is left polling while the process tears down.
void stop_at_exit() { pc::dataplane().stop(); }

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("start", Napi::Function::New(env, Start, "start"));
  exports.Set("apply", Napi::Function::New(env, Apply, "apply"));
  exports.Set("stats", Napi::Function::New(env, Stats, "stats"));
  exports.Set("connections", Napi::Function::New(env, Connections, "connections"));
  exports.Set("stop", Napi::Function::New(env, Stop, "stop"));
  exports.Set("handOver", Napi::Function::New(env, HandOver, "handOver"));
  exports.Set("resume", Napi::Function::New(env, Resume, "resume"));
  exports.Set("release", Napi::Function::New(env, Release, "release"));
  exports.Set("checkConnTables", Napi::Function::New(env, CheckConnTables, "checkConnTables"));
  exports.Set("ports", Napi::Function::New(env, Ports, "ports"));
  exports.Set("inject", Napi::Function::New(env, Inject, "inject"));
  exports.Set("step", Napi::Function::New(env, Step, "step"));
  exports.Set("capture", Napi::Function::New(env, Capture, "capture"));
  exports.Set("advanceClock", Napi::Function::New(env, AdvanceClock, "advanceClock"));
  exports.Set("bench", Napi::Function::New(env, Bench, "bench"));
  exports.Set("benchMemory", Napi::Function::New(env, BenchMemory, "benchMemory"));
  exports.Set("fillConnections", Napi::Function::New(env, FillConnections, "fillConnections"));
  exports.Set("traceSet", Napi::Function::New(env, TraceSet, "traceSet"));
  exports.Set("traceRead", Napi::Function::New(env, TraceRead, "traceRead"));
  exports.Set("packetCaptureSet", Napi::Function::New(env, PacketCaptureSet, "packetCaptureSet"));
  exports.Set("packetCaptureRead", Napi::Function::New(env, PacketCaptureRead, "packetCaptureRead"));
  exports.Set("ownershipDrain", Napi::Function::New(env, OwnershipDrain, "ownershipDrain"));
  exports.Set("foreignLearn", Napi::Function::New(env, ForeignLearn, "foreignLearn"));
  exports.Set("sessionLogDrain", Napi::Function::New(env, SessionLogDrain, "sessionLogDrain"));
  // Normal exit runs env cleanup hooks; process.exit() may skip them, atexit catches that.
  env.AddCleanupHook(stop_at_exit);
  static bool atexit_registered = false;
  if (!atexit_registered) {
    std::atexit(stop_at_exit);
    atexit_registered = true;
  }
  return exports;
}

}  // namespace pc_addon

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return pc_addon::Init(env, exports); }
NODE_API_MODULE(portcullis_dataplane, InitModule)
