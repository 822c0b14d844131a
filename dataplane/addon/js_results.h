// The core's plain result structs -> JS objects (shapes in src/dataplane/types.ts).
#pragma once
#include <napi.h>
#include <string>
#include <vector>
#include "bench/bench.h"
#include "core/dataplane.h"

namespace pc_addon {

Napi::Array ports_to_js(Napi::Env env, const std::vector<pc::PortInfo>& ports);
Napi::Object stats_to_js(Napi::Env env, const pc::StatsReport& report);
// ConnRegionReport (src/dataplane/types.ts).
Napi::Object region_report_to_js(Napi::Env env, const pc::RegionReport& report);
Napi::Array connections_to_js(Napi::Env env, const std::vector<pc::ConnectionInfo>& conns);
Napi::Object bench_to_js(Napi::Env env, pc::BenchScenario scenario, const pc::BenchResult& result);
Napi::Object bench_memory_to_js(Napi::Env env, const pc::BenchMemoryResult& result);
// {records, lost}: TraceRecord shape of src/dataplane/types.ts; port_names[i] names port index i.
Napi::Object trace_to_js(Napi::Env env, const std::vector<pc::TraceRecord>& records, uint64_t lost,
                         const std::vector<std::string>& port_names);
// {packets, lost, clockOffsetUs}: CapturedPacket shape of src/dataplane/types.ts, ordered
// by time across workers; port_names[i] names port index i.
Napi::Object capture_to_js(Napi::Env env, const std::vector<pc::CaptureSlot>& slots, uint64_t lost,
                           uint64_t clock_offset_us, const std::vector<std::string>& port_names);

}  // namespace pc_addon
