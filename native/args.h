// args.h - checked conversion of JS arguments and options, with errors that
// name the argument, the value and the accepted range.
#pragma once
#include <napi.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace mb {

// A number as JS would print it for the values used here: 1048576, not 1048576.000000.
inline std::string NumberText(double d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", d);
  for (int p = 1; p < 17; p++) {  // the shortest form that reads back as d
    char b[32];
    std::snprintf(b, sizeof b, "%.*g", p, d);
    if (std::strtod(b, nullptr) == d) return b;
  }
  return buf;
}

inline double InRange(Napi::Env env, const std::string& what, double d, double lo, double hi) {
  if (!(d >= lo && d <= hi)) {
    throw Napi::RangeError::New(env, what + " = " + NumberText(d) + " is out of range [" + NumberText(lo) + ", " +
                                         NumberText(hi) + "]");
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
    throw Napi::RangeError::New(info.Env(), std::string("argument '") + name + "' must be an integer, got " + NumberText(v));
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
