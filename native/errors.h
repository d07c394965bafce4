// errors.h - turn libbpf failures into JS exceptions that name the call,
// the errno and, for privilege errors, the capabilities to grant.
#pragma once
#include <napi.h>
#include <string>

namespace mb {

// Route libbpf's log into a ring we can quote in an exception (verifier output).
void CaptureLibbpfLog();

// Throws a JS Error: "<call> failed: <strerror> (errno N)[: hint][\nlibbpf: ...]".
[[noreturn]] void ThrowLibbpf(Napi::Env env, const std::string& call, int err);

}  // namespace mb
