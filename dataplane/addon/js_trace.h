// N-API entry points traceSet / traceRead (src/dataplane/types.ts DataplaneAddon).
#pragma once
#include <napi.h>
#include <string>
#include <vector>
#include "addon/js_reader.h"
#include "pipeline/trace.h"

namespace pc_addon {

// options.port: a port name as given to start(); its index in *index (the packet capture
// names ports the same way).
bool read_port_index(JsReader& r, const Napi::Value& v, const std::vector<std::string>& names, int32_t* index);

// The packet match the trace and the packet capture share: options.enabled (required),
// options.serviceId, options.port. False (a JS exception pending, naming the field) on bad input.
bool read_packet_match(JsReader& r, const Napi::Object& o, pc::TraceFilter* match);

Napi::Value TraceSet(const Napi::CallbackInfo& info);
Napi::Value TraceRead(const Napi::CallbackInfo& info);

}  // namespace pc_addon
