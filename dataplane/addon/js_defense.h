// Reads DataplaneConfig.defense (src/dataplane/types.ts DataplaneDefense) into pc::DefenseConfig.
#pragma once
#include <napi.h>
#include <string>
#include "addon/js_reader.h"
#include "common/defense_config.h"

namespace pc_addon {

bool read_defense(JsReader& r, const Napi::Value& v, const std::string& path, pc::DefenseConfig* out);

// StartOptions.fragments (reassembly table bounds); undefined = defaults.
bool read_fragment_table(JsReader& r, const Napi::Value& v, const std::string& path, pc::FragTableConfig* out);

}  // namespace pc_addon
