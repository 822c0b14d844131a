// The core's plain result structs -> JS objects (shapes in src/dataplane/types.ts).
#pragma once
#include <napi.h>
#include <vector>
#include "core/dataplane.h"

namespace pc_addon {

Napi::Array ports_to_js(Napi::Env env, const std::vector<pc::PortInfo>& ports);
Napi::Object stats_to_js(Napi::Env env, const pc::StatsReport& report);
Napi::Array connections_to_js(Napi::Env env, const std::vector<pc::ConnectionInfo>& conns);
Napi::Object bench_to_js(Napi::Env env, bool fullnat, const pc::BenchResult& result);

}  // namespace pc_addon
