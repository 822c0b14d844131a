// N-API entry points packetCaptureSet / packetCaptureRead (src/dataplane/types.ts DataplaneAddon).
#pragma once
#include <napi.h>

namespace pc_addon {

Napi::Value PacketCaptureSet(const Napi::CallbackInfo& info);
Napi::Value PacketCaptureRead(const Napi::CallbackInfo& info);

}  // namespace pc_addon
