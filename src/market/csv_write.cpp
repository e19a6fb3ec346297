#include <charconv>

#include "market/market.h"

namespace tapedeck::market {

std::string ToGenericCsv(const Series& series) {
  std::string out = "time,open,high,low,close,volume\n";
  // ~20 bytes of time and ~10 per number: one allocation for typical data.
  out.reserve(out.size() + series.size() * 72);
  char buf[32];
  const auto append = [&out, &buf](double v) {
    out.push_back(',');
    // Shortest text that reads back to the same double, so a CSV round trip is exact.
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, r.ptr);
  };
  for (size_t i = 0; i < series.size(); ++i) {
    out += FormatIso(series.times()[i]);
    append(series.open()[i]);
    append(series.high()[i]);
    append(series.low()[i]);
    append(series.close()[i]);
    append(series.volume()[i]);
    out.push_back('\n');
  }
  return out;
}

}  // namespace tapedeck::market
