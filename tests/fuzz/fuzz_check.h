// Shared by the fuzz targets: invariant checks that fail loudly, and the checks several targets
// make on tapedeck's error values.
//
// A failed FUZZ_CHECK prints the condition and aborts. Under libFuzzer that is a crash: the input
// is saved and reported. In the replay build (tests/fuzz/replay_main.cpp) it fails the CTest test.
// Checks stay on in release builds, unlike assert.
#pragma once

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <string>
#include <string_view>

#include "common/error.h"
#include "common/time.h"

#define FUZZ_CHECK(cond)                                                   \
  do {                                                                     \
    if (!(cond)) ::tapedeck::fuzz::CheckFailed(#cond, __FILE__, __LINE__); \
  } while (false)

namespace tapedeck::fuzz {

[[noreturn]] inline void CheckFailed(const char* what, const char* file, int line) {
  std::fprintf(stderr, "%s:%d: fuzz invariant failed: %s\n", file, line, what);
  std::fflush(stderr);
  std::abort();
}

// An error as every fallible call must report one: the expected code, a message a person can
// read, and (when `fields` is non-empty) details["field"] naming one of `fields`.
inline void CheckError(const Error& error, ErrorCode code,
                       std::initializer_list<std::string_view> fields = {}) {
  FUZZ_CHECK(error.code == code);
  FUZZ_CHECK(!error.msg.empty());
  if (fields.size() == 0) return;
  const auto it = error.details.find("field");
  FUZZ_CHECK(it != error.details.end());
  bool known = false;
  for (std::string_view f : fields) known |= it->second == f;
  FUZZ_CHECK(known);
}

// An error body as the server and the playback channel send it: a JSON object whose "code" is
// `code`'s wire name, with a non-empty "msg" and a "details" object. `t_err`: also {"t":"err"}.
inline void CheckErrorJson(std::string_view text, ErrorCode code, bool t_err = false) {
  boost::system::error_code ec;
  const boost::json::value doc = boost::json::parse(text, ec);
  FUZZ_CHECK(!ec);
  const boost::json::object* obj = doc.if_object();
  FUZZ_CHECK(obj != nullptr);
  if (t_err) {
    const boost::json::value* t = obj->if_contains("t");
    FUZZ_CHECK(t && t->is_string() && t->get_string() == "err");
  }
  const boost::json::value* c = obj->if_contains("code");
  FUZZ_CHECK(c && c->is_string() && c->get_string() == Name(code));
  const boost::json::value* msg = obj->if_contains("msg");
  FUZZ_CHECK(msg && msg->is_string() && !msg->get_string().empty());
  const boost::json::value* details = obj->if_contains("details");
  FUZZ_CHECK(details && details->is_object());
}

// Times FormatIso writes with a four-digit year, the only ones ParseIso (and so the CSV reader
// and the position parsers) reads back: 0000-01-01T00:00:00Z up to the end of 9999.
inline bool HasFourDigitYear(Timestamp t) {
  constexpr int64_t kDayUs = 86'400'000'000;
  const int64_t us = ToMicros(t);
  return us >= DaysFromCivil(0, 1, 1) * kDayUs && us < DaysFromCivil(10000, 1, 1) * kDayUs;
}

// FormatIso and ParseIso are inverses wherever a four-digit year makes that possible.
inline void CheckIsoRoundTrip(Timestamp t) {
  const auto back = ParseIso(FormatIso(t));
  if (HasFourDigitYear(t)) FUZZ_CHECK(back && *back == t);
  if (back) FUZZ_CHECK(*back == t);
}

}  // namespace tapedeck::fuzz
