// Result of a control-path call: ok, or a stable error code (the AddonErrorCode
// values of src/dataplane/types.ts) with a message naming what was wrong.
// The core never throws; the addon turns a failed Status into a JS Error.
#pragma once
#include <string>
#include <utility>

namespace pc {

struct Status {
  const char* code = nullptr;  // null = ok; else "EINVAL", "ESTATE", "PORT_FAILED", ...
  std::string message;

  bool ok() const { return code == nullptr; }
  static Status Ok() { return Status(); }
  static Status Error(const char* code, std::string message) {
    Status s;
    s.code = code;
    s.message = std::move(message);
    return s;
  }
};

}  // namespace pc
