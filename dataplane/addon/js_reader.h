// Reads JS arguments into plain values. Each method checks one value and on a
// mismatch leaves an EINVAL error pending whose message names the argument path,
// the expected and the actual value, then returns false: callers just return.
#pragma once
#include <napi.h>
#include <cstdint>
#include <string>
#include "common/config.h"

namespace pc_addon {

// "path[i]": the field path of a list element, for error messages.
inline std::string element_path(const std::string& path, uint32_t i) { return path + "[" + std::to_string(i) + "]"; }

class JsReader {
 public:
  explicit JsReader(Napi::Env env) : env_(env) {}

  bool fail(const std::string& path, const std::string& expected, const Napi::Value& got);

  bool object(const Napi::Value& v, const std::string& path, Napi::Object* out);
  bool array(const Napi::Value& v, const std::string& path, Napi::Array* out);
  bool string(const Napi::Value& v, const std::string& path, std::string* out);
  // Integer in [min, max].
  bool integer(const Napi::Value& v, const std::string& path, uint64_t min, uint64_t max, uint64_t* out);
  // Finite number >= 0.
  bool non_negative(const Napi::Value& v, const std::string& path, double* out);
  bool ipv4(const Napi::Value& v, const std::string& path, uint32_t* host_order);
  // "a.b.c.d/len"
  bool prefix(const Napi::Value& v, const std::string& path, pc::Ipv4Prefix* out);
  // "aa:bb:cc:dd:ee:ff"
  bool mac(const Napi::Value& v, const std::string& path, uint8_t out[6]);
  // One of the given words (e.g. {"tcp","udp"}); returns its index.
  bool choice(const Napi::Value& v, const std::string& path, std::initializer_list<const char*> words, size_t* index);

 private:
  Napi::Env env_;
};

}  // namespace pc_addon
