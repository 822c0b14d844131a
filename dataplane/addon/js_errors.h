// Throwing JS errors from a build without C++ exceptions: every error is a
// Napi::Error with a stable `code` (AddonErrorCode in src/dataplane/types.ts)
// left pending on the env; the caller returns right after.
#pragma once
#include <napi.h>
#include <string>
#include "core/status.h"

namespace pc_addon {

void throw_error(Napi::Env env, const char* code, const std::string& message);
inline void throw_status(Napi::Env env, const pc::Status& st) { throw_error(env, st.code, st.message); }

// Short description of a JS value for "expected X, got Y" messages.
std::string describe(const Napi::Value& value);

}  // namespace pc_addon
