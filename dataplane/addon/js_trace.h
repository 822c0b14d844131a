// N-API entry points traceSet / traceRead (src/dataplane/types.ts DataplaneAddon).
#pragma once
#include <napi.h>

namespace pc_addon {

Napi::Value TraceSet(const Napi::CallbackInfo& info);
Napi::Value TraceRead(const Napi::CallbackInfo& info);

}  // namespace pc_addon
