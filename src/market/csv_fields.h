// Internal to market: the field parsers of the CSV scanner. Each reads at `p`, stops at the first
// character that is not part of its field and returns that position, or nullptr when the text is
// not what it parses. They never read at or past `end`, and never allocate.
#pragma once

#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "common/time.h"

namespace tapedeck::market::csv {

inline constexpr int64_t kMicrosPerSecond = 1'000'000;
inline constexpr int64_t kMicrosPerDay = 86'400 * kMicrosPerSecond;
// Epoch integers below this are milliseconds, at or above microseconds: 1e14 ms is the year 5138,
// 1e14 us is 1973, so no real bar time is ambiguous.
inline constexpr int64_t kFirstEpochMicros = 100'000'000'000'000;
// Unix seconds from here on (the year 5138) are surely milliseconds or worse: rejected, not
// guessed.
inline constexpr int64_t kMaxUnixSeconds = 100'000'000'000;

inline bool IsDigit(char c) { return static_cast<unsigned char>(c - '0') < 10; }
inline int Digit(char c) { return c - '0'; }
// The digit at c as 64 bits, from the byte's load on: 10 or more (wrapped) for any other byte. A
// digit loop over it needs no widening of each digit (ParseNumber's loops: ~4 % fewer
// instructions a row).
inline uint64_t Digit64(const char* c) { return uint64_t{static_cast<unsigned char>(*c)} - '0'; }

inline bool IsLeap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }
inline int DaysInMonth(int64_t y, int m) {
  constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeap(y) ? 29 : kDays[m - 1];
}

// Exact powers of ten: every one up to 1e22 is a double without rounding.
inline constexpr double kPow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                    1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                    1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

// A finite double. Prices are short decimals ("1469.25"), so they take Clinger's fast path: with
// at most 15 digits the digits form an integer m < 2^53 and the value is m / 10^k with k <= 15,
// both exact doubles, and one IEEE division rounds correctly: the same double from_chars gives.
// Anything else (exponents, long digit strings, nan, inf) goes to from_chars (libstdc++'s
// fast_float-based one, locale-free and exact) and non-finite results are refused.
inline const char* ParseNumber(const char* p, const char* end, double* out) {
  const char* s = p;
  const bool negative = s < end && *s == '-';
  s += negative;
  uint64_t m = 0;
  const char* digits = s;
  for (uint64_t d; s < end && (d = Digit64(s)) < 10; ++s) m = m * 10 + d;
  ptrdiff_t n = s - digits;
  ptrdiff_t frac = 0;
  if (s < end && *s == '.') {
    const char* f = ++s;
    for (uint64_t d; s < end && (d = Digit64(s)) < 10; ++s) m = m * 10 + d;
    frac = s - f;
    n += frac;
  }
  if (n > 0 && n <= 15 && (s == end || (*s != 'e' && *s != 'E'))) {
    const double v = static_cast<double>(m) / kPow10[frac];
    *out = negative ? -v : v;
    return s;
  }
  const auto [ptr, ec] = std::from_chars(p, end, *out);
  if (ec != std::errc() || !std::isfinite(*out)) return nullptr;
  return ptr;
}

// ParseNumber for a field followed, before `end`, by a line end ('\n' or '\r'), as every field of a
// row but the text's last is: the loops stop at a byte that is not a digit, which that line end is
// at the latest, so they test no bound. The same value and end as ParseNumber.
[[gnu::always_inline]] inline const char* ParseNumberInLine(const char* p, const char* end,
                                                            double* out) {
  const char* s = p;
  const bool negative = *s == '-';
  s += negative;
  uint64_t m = 0;  // wraps past 19 digits, but then n > 15 and it is not used
  const char* digits = s;
  for (uint64_t d; (d = Digit64(s)) < 10; ++s) m = m * 10 + d;
  ptrdiff_t n = s - digits;
  ptrdiff_t frac = 0;
  if (*s == '.') {
    const char* f = ++s;
    for (uint64_t d; (d = Digit64(s)) < 10; ++s) m = m * 10 + d;
    frac = s - f;
    n += frac;
  }
  if (n > 0 && n <= 15 && *s != 'e' && *s != 'E') {
    const double v = static_cast<double>(m) / kPow10[frac];
    *out = negative ? -v : v;
    return s;
  }
  const auto [ptr, ec] = std::from_chars(p, end, *out);
  if (ec != std::errc() || !std::isfinite(*out)) return nullptr;
  return ptr;
}

// An unsigned integer of at most 18 digits (no overflow possible).
inline const char* ParseUnsigned(const char* p, const char* end, int64_t* out) {
  const char* start = p;
  int64_t v = 0;
  while (p < end && IsDigit(*p)) {
    if (p - start == 18) return nullptr;
    v = v * 10 + Digit(*p++);
  }
  if (p == start) return nullptr;
  *out = v;
  return p;
}

// HH:MM[:SS[.fraction]] -> microseconds into the day.
inline const char* ParseClock(const char* p, const char* end, int64_t* us) {
  if (end - p < 5 || !IsDigit(p[0]) || !IsDigit(p[1]) || p[2] != ':' || !IsDigit(p[3]) ||
      !IsDigit(p[4])) {
    return nullptr;
  }
  const int h = Digit(p[0]) * 10 + Digit(p[1]);
  const int m = Digit(p[3]) * 10 + Digit(p[4]);
  int s = 0;
  int64_t frac = 0;
  p += 5;
  if (end - p >= 3 && p[0] == ':' && IsDigit(p[1]) && IsDigit(p[2])) {
    s = Digit(p[1]) * 10 + Digit(p[2]);
    p += 3;
    if (p < end && *p == '.') {
      const char* start = ++p;
      int64_t scale = 100'000;
      for (; p < end && IsDigit(*p); ++p) {
        frac += Digit(*p) * scale;
        scale /= 10;  // digits past microseconds are read and dropped
      }
      if (p == start) return nullptr;
    }
  }
  if (h > 23 || m > 59 || s > 59) return nullptr;
  *us = ((h * 60 + m) * 60 + s) * kMicrosPerSecond + frac;
  return p;
}

// YYYY-MM-DD or YYYY.MM.DD (MT5) -> days since 1970-01-01.
inline const char* ParseDate(const char* p, const char* end, int64_t* days) {
  if (end - p < 10) return nullptr;
  const char sep = p[4];
  if ((sep != '-' && sep != '.') || p[7] != sep || !IsDigit(p[0]) || !IsDigit(p[1]) ||
      !IsDigit(p[2]) || !IsDigit(p[3]) || !IsDigit(p[5]) || !IsDigit(p[6]) || !IsDigit(p[8]) ||
      !IsDigit(p[9])) {
    return nullptr;
  }
  const int64_t y = Digit(p[0]) * 1000 + Digit(p[1]) * 100 + Digit(p[2]) * 10 + Digit(p[3]);
  const int m = Digit(p[5]) * 10 + Digit(p[6]);
  const int d = Digit(p[8]) * 10 + Digit(p[9]);
  if (m < 1 || m > 12 || d < 1 || d > DaysInMonth(y, m)) return nullptr;
  *days = DaysFromCivil(y, static_cast<unsigned>(m), static_cast<unsigned>(d));
  return p + 10;
}

// The last date text parsed and its day number: intraday files repeat a date on every row of a
// day, and ten bytes compared beat ten digits checked and converted.
struct DateCache {
  char text[10] = {};
  int64_t days = 0;
  bool valid = false;
};

// YYYY-MM-DD / YYYY.MM.DD through `cache`.
inline const char* ParseDateCached(const char* p, const char* end, int64_t* days,
                                   DateCache& cache) {
  if (cache.valid && end - p >= 10 && std::memcmp(p, cache.text, 10) == 0) {
    *days = cache.days;
    return p + 10;
  }
  const char* q = ParseDate(p, end, days);
  if (q != nullptr) {
    std::memcpy(cache.text, p, 10);
    cache.days = *days;
    cache.valid = true;
  }
  return q;
}

// "YYYY-MM-DDTHH:MM:SSZ" (or ' ' for 'T', no 'Z' before a comma) whose date is the one in `cache`:
// what `tapedeck gen` and most minute-bar exports write on every row but each day's first. Reads
// the fixed positions without a call or a loop; anything else (another date, a fraction, an
// offset, a bad clock) is nullptr, and the caller then reads it with ParseTime, so a text this
// takes gives exactly ParseTime's value and end.
[[gnu::always_inline]] inline const char* ParseIsoSecondsSameDay(const char* p, const char* end,
                                                                 int64_t* us,
                                                                 const DateCache& cache) {
  if (end - p < 20 || !cache.valid || std::memcmp(p, cache.text, 10) != 0 ||
      (p[10] != 'T' && p[10] != ' ') || p[13] != ':' || p[16] != ':' || !IsDigit(p[11]) ||
      !IsDigit(p[12]) || !IsDigit(p[14]) || !IsDigit(p[15]) || !IsDigit(p[17]) || !IsDigit(p[18]) ||
      (p[19] != 'Z' && p[19] != ',')) {
    return nullptr;
  }
  const int h = Digit(p[11]) * 10 + Digit(p[12]);
  const int m = Digit(p[14]) * 10 + Digit(p[15]);
  const int s = Digit(p[17]) * 10 + Digit(p[18]);
  if (h > 23 || m > 59 || s > 59) return nullptr;
  *us = cache.days * kMicrosPerDay + ((h * 60 + m) * 60 + s) * kMicrosPerSecond;
  return p + (p[19] == 'Z' ? 20 : 19);
}

// An ISO-8601 time (date, or date 'T'|' ' clock, then optional Z or +HH:MM) or Unix seconds with
// an optional fraction -> microseconds since the epoch, UTC.
inline const char* ParseTime(const char* p, const char* end, int64_t* us, DateCache& cache) {
  if (end - p >= 10 && (p[4] == '-' || p[4] == '.')) {
    int64_t days;
    p = ParseDateCached(p, end, &days, cache);
    if (p == nullptr) return nullptr;
    int64_t t = days * kMicrosPerDay;
    if (end - p >= 2 && (*p == 'T' || *p == ' ') && IsDigit(p[1])) {
      int64_t clock;
      p = ParseClock(p + 1, end, &clock);
      if (p == nullptr) return nullptr;
      t += clock;
      if (p < end && *p == 'Z') {
        ++p;
      } else if (end - p >= 6 && (*p == '+' || *p == '-') && IsDigit(p[1]) && IsDigit(p[2]) &&
                 p[3] == ':' && IsDigit(p[4]) && IsDigit(p[5])) {
        const int64_t offset =
            ((Digit(p[1]) * 10 + Digit(p[2])) * 60 + Digit(p[4]) * 10 + Digit(p[5])) * 60;
        t -= (*p == '+' ? offset : -offset) * kMicrosPerSecond;
        p += 6;
      }
    }
    *us = t;
    return p;
  }
  int64_t secs;
  p = ParseUnsigned(p, end, &secs);
  if (p == nullptr || secs >= kMaxUnixSeconds) return nullptr;
  int64_t frac = 0;
  if (p < end && *p == '.') {
    const char* start = ++p;
    int64_t scale = 100'000;
    for (; p < end && IsDigit(*p); ++p) {
      frac += Digit(*p) * scale;
      scale /= 10;
    }
    if (p == start) return nullptr;
  }
  *us = secs * kMicrosPerSecond + frac;
  return p;
}

}  // namespace tapedeck::market::csv
