// SHA-256, HMAC-SHA-256, random bytes and a constant-time compare, from OpenSSL's libcrypto, which
// is loaded with dlopen on first use instead of being linked: a process that computes none of
// them (`tapedeck backtest`, a server without tokens until its first script or ticket) does not
// map libcrypto at start, whose ~5,000 symbol relocations and CPU-feature probe were ~1 ms of
// every start (docs/perf.md, "Whole backtest from CSV").
//
// Errors: Load() fails with IO when libcrypto.so.3 cannot be loaded or lacks a function used here;
// the message names it and the package that holds it, details `library`, `dlerror`. The other
// functions load it themselves when no Load() came first, and, since they cannot return an error,
// end the process with that message on stderr if it fails: the same outcome as a missing linked
// library before (the process did not start). Entry points that can report an error (the access
// control's Create) call Load() first.
//
// Thread-safety: every function may be called from any thread; the library is loaded once.
#pragma once

#include <array>
#include <span>
#include <string_view>

#include "common/error.h"

namespace tapedeck::crypto {

// The shared object loaded: OpenSSL 3's libcrypto.
inline constexpr const char* kLibrary = "libcrypto.so.3";

using Digest = std::array<unsigned char, 32>;

// Loads libcrypto (once per process; every later call returns the same outcome).
Status Load();
// Loads `soname` afresh, without caching or keeping it (for tests of the failure).
Status LoadFrom(const char* soname);

Digest Sha256(std::string_view data);
Digest HmacSha256(std::string_view key, std::string_view data);
// Fills `out` from OpenSSL's CSPRNG; false when it fails.
bool RandomBytes(std::span<char> out);
// Whether a == b, in a time that depends only on their sizes.
bool ConstantTimeEqual(std::string_view a, std::string_view b);

}  // namespace tapedeck::crypto
