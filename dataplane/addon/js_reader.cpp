#include "addon/js_reader.h"

#include <cmath>
#include <cstdio>
#include "addon/js_errors.h"

namespace pc_addon {

bool JsReader::fail(const std::string& path, const std::string& expected, const Napi::Value& got) {
  throw_error(env_, "EINVAL", path + ": expected " + expected + ", got " + describe(got));
  return false;
}

bool JsReader::object(const Napi::Value& v, const std::string& path, Napi::Object* out) {
  if (!v.IsObject() || v.IsArray()) return fail(path, "an object", v);
  *out = v.As<Napi::Object>();
  return true;
}

bool JsReader::array(const Napi::Value& v, const std::string& path, Napi::Array* out) {
  if (!v.IsArray()) return fail(path, "an array", v);
  *out = v.As<Napi::Array>();
  return true;
}

bool JsReader::string(const Napi::Value& v, const std::string& path, std::string* out) {
  if (!v.IsString()) return fail(path, "a string", v);
  *out = v.As<Napi::String>().Utf8Value();
  return true;
}

bool JsReader::integer(const Napi::Value& v, const std::string& path, uint64_t min, uint64_t max, uint64_t* out) {
  std::string expected = "an integer " + std::to_string(min) + ".." + std::to_string(max);
  if (!v.IsNumber()) return fail(path, expected, v);
  double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || d != std::floor(d) || d < static_cast<double>(min) || d > static_cast<double>(max))
    return fail(path, expected, v);
  *out = static_cast<uint64_t>(d);
  return true;
}

bool JsReader::non_negative(const Napi::Value& v, const std::string& path, double* out) {
  if (!v.IsNumber()) return fail(path, "a finite number >= 0", v);
  double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || d < 0) return fail(path, "a finite number >= 0", v);
  *out = d;
  return true;
}

namespace {

// inet_pton's verdict as the expected-value text of an error; null when it parsed.
const char* address_problem(pc::IpParse parsed) {
  switch (parsed) {
    case pc::IpParse::OK: return nullptr;
    case pc::IpParse::MAPPED: return "an IPv4 address as a dotted quad, not the IPv4-mapped IPv6 form";
    case pc::IpParse::INVALID: break;
  }
  return "an IPv4 (a.b.c.d) or IPv6 address";
}

}  // namespace

bool JsReader::address(const Napi::Value& v, const std::string& path, pc::IpAddr* out) {
  if (!v.IsString()) return fail(path, "an IPv4 (a.b.c.d) or IPv6 address string", v);
  std::string s = v.As<Napi::String>().Utf8Value();
  if (const char* problem = address_problem(pc::ip_parse(s.c_str(), out))) return fail(path, problem, v);
  return true;
}

bool JsReader::prefix(const Napi::Value& v, const std::string& path, pc::IpPrefix* out) {
  const char* expected = "a prefix \"address/len\" (len 0..32 for IPv4, 0..128 for IPv6)";
  if (!v.IsString()) return fail(path, expected, v);
  std::string s = v.As<Napi::String>().Utf8Value();
  size_t slash = s.find('/');
  if (slash == std::string::npos) return fail(path, expected, v);
  std::string len_text = s.substr(slash + 1);
  if (len_text.empty() || len_text.size() > 3 || len_text.find_first_not_of("0123456789") != std::string::npos)
    return fail(path, expected, v);
  unsigned len = static_cast<unsigned>(std::stoul(len_text));
  pc::IpParse parsed = pc::ip_parse(s.substr(0, slash).c_str(), &out->addr);
  if (parsed == pc::IpParse::MAPPED) return fail(path, address_problem(parsed), v);
  if (parsed != pc::IpParse::OK || len > pc::ip_family_bits(out->addr)) return fail(path, expected, v);
  out->length = static_cast<uint8_t>(len);
  return true;
}

bool JsReader::mac(const Napi::Value& v, const std::string& path, uint8_t out[6]) {
  const char* expected = "a MAC address \"aa:bb:cc:dd:ee:ff\"";
  if (!v.IsString()) return fail(path, expected, v);
  std::string s = v.As<Napi::String>().Utf8Value();
  unsigned b[6];
  char tail;
  if (s.size() != 17 ||
      sscanf(s.c_str(), "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5], &tail) != 6)
    return fail(path, expected, v);
  for (int i = 0; i < 6; i++) out[i] = static_cast<uint8_t>(b[i]);
  return true;
}

bool JsReader::choice(const Napi::Value& v, const std::string& path, std::initializer_list<const char*> words,
                      size_t* index) {
  std::string expected = "one of";
  for (const char* w : words) expected += std::string(" \"") + w + "\"";
  if (!v.IsString()) return fail(path, expected, v);
  std::string s = v.As<Napi::String>().Utf8Value();
  size_t i = 0;
  for (const char* w : words) {
    if (s == w) {
      *index = i;
      return true;
    }
    i++;
  }
  return fail(path, expected, v);
}

}  // namespace pc_addon
