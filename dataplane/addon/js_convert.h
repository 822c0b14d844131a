// JS objects (shapes in src/dataplane/types.ts) -> the core's plain structs.
// Checks types and ranges only; meaning is the core's and the pipeline's job.
#pragma once
#include <napi.h>
#include <string>
#include <vector>
#include "common/config.h"
#include "core/dataplane.h"

namespace pc_addon {

bool read_start_options(Napi::Env env, const Napi::Value& v, pc::StartOptions* out);
// port_names: the started ports, to resolve routes[].port to an index.
bool read_config(Napi::Env env, const Napi::Value& v, const std::vector<std::string>& port_names,
                 pc::DataplaneConfig* out);

}  // namespace pc_addon
