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
  // An IPv4 ("a.b.c.d", held mapped) or IPv6 address; the IPv4-mapped IPv6 text
  // "::ffff:a.b.c.d" is refused (it would be a second spelling of an IPv4 address).
  bool address(const Napi::Value& v, const std::string& path, pc::IpAddr* out);
  // "address/len", len within the address's family (0..32 or 0..128).
  bool prefix(const Napi::Value& v, const std::string& path, pc::IpPrefix* out);
  // "aa:bb:cc:dd:ee:ff"
  bool mac(const Napi::Value& v, const std::string& path, uint8_t out[6]);
  // One of the given words (e.g. {"tcp","udp"}); returns its index.
  bool choice(const Napi::Value& v, const std::string& path, std::initializer_list<const char*> words, size_t* index);

 private:
  Napi::Env env_;
};

}  // namespace pc_addon
