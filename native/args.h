// args.h - checked conversion of JS arguments and options, with errors that
// name the argument, the value and the accepted range.
#pragma once
#include <napi.h>

#include <cstdint>
#include <string>

namespace mb {

inline double InRange(Napi::Env env, const std::string& what, double d, double lo, double hi) {
  if (!(d >= lo && d <= hi)) {
    throw Napi::RangeError::New(env, what + " = " + std::to_string(d) + " is out of range [" + std::to_string(lo) +
                                         ", " + std::to_string(hi) + "]");
  }
  return d;
}

inline double NumberArg(const Napi::CallbackInfo& info, size_t i, const char* name, double lo, double hi) {
  if (info.Length() <= i || !info[i].IsNumber()) {
    throw Napi::TypeError::New(info.Env(), std::string("argument '") + name + "' must be a number");
  }
  return InRange(info.Env(), std::string("argument '") + name + "'", info[i].As<Napi::Number>().DoubleValue(), lo, hi);
}

inline uint32_t U32Arg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  double v = NumberArg(info, i, name, 0, 4294967295.0);
  if (v != static_cast<uint32_t>(v)) {
    throw Napi::RangeError::New(info.Env(), std::string("argument '") + name + "' must be an integer, got " + std::to_string(v));
  }
  return static_cast<uint32_t>(v);
}

inline std::string StringArg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (info.Length() <= i || !info[i].IsString()) {
    throw Napi::TypeError::New(info.Env(), std::string("argument '") + name + "' must be a string");
  }
  return info[i].As<Napi::String>().Utf8Value();
}

// Optional numeric option with a default and bounds.
inline double Option(const Napi::Object& opts, const char* name, double def, double lo, double hi) {
  if (!opts.Has(name) || opts.Get(name).IsUndefined()) return def;
  Napi::Value v = opts.Get(name);
  if (!v.IsNumber()) throw Napi::TypeError::New(opts.Env(), std::string("option '") + name + "' must be a number");
  return InRange(opts.Env(), std::string("option '") + name + "'", v.As<Napi::Number>().DoubleValue(), lo, hi);
}

}  // namespace mb
