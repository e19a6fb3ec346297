// Typed times used across modules. Times are UTC; event time is the time of the bar at which
// something happened, and a bar's time is its open time.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tapedeck {

using Micros = std::chrono::microseconds;
// A point in UTC, microsecond resolution (Binance klines can carry microseconds).
using Timestamp = std::chrono::sys_time<Micros>;

inline Timestamp FromMicros(int64_t us) { return Timestamp{Micros{us}}; }
inline int64_t ToMicros(Timestamp t) { return t.time_since_epoch().count(); }

// ISO-8601 UTC with a trailing Z: "2023-03-01T14:30:00Z", with ".123456" only when the time has
// a sub-second part.
std::string FormatIso(Timestamp t);
// FormatIso(t) appended to `out`, without a string of its own. Never needs JSON escaping.
void AppendIso(std::string& out, Timestamp t);

// Parses "YYYY-MM-DD", "YYYY-MM-DDTHH:MM[:SS[.frac]]" with 'T' or ' ' between date and time and an
// optional "Z" or "+00:00"-style offset (applied). Returns nullopt on anything else.
std::optional<Timestamp> ParseIso(std::string_view s);

// Days since 1970-01-01 for a civil date (proleptic Gregorian), no validation.
constexpr int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

}  // namespace tapedeck
