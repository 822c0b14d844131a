#include "addon/js_errors.h"

namespace pc_addon {

void throw_error(Napi::Env env, const char* code, const std::string& message) {
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", Napi::String::New(env, code));
  error.ThrowAsJavaScriptException();
}

std::string describe(const Napi::Value& value) {
  switch (value.Type()) {
    case napi_undefined:
      return "undefined";
    case napi_null:
      return "null";
    case napi_boolean:
      return value.As<Napi::Boolean>().Value() ? "true" : "false";
    case napi_number: {
      double d = value.As<Napi::Number>().DoubleValue();
      std::string s = std::to_string(d);
      // trim "5.000000" to "5"
      if (s.find('.') != std::string::npos) {
        s.erase(s.find_last_not_of('0') + 1);
        if (s.back() == '.') s.pop_back();
      }
      return s;
    }
    case napi_string: {
      std::string s = value.As<Napi::String>().Utf8Value();
      if (s.size() > 60) s = s.substr(0, 57) + "...";
      return "\"" + s + "\"";
    }
    case napi_object:
      if (value.IsArray()) return "an array";
      if (value.IsBuffer()) return "a Buffer";
      return "an object";
    case napi_function:
      return "a function";
    case napi_bigint:
      return "a bigint";
    default:
      return "a " + std::string(value.Type() == napi_symbol ? "symbol" : "value");
  }
}

}  // namespace pc_addon
