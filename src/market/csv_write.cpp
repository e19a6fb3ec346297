#include <charconv>

#include "market/market.h"

namespace tapedeck::market {
namespace {

constexpr int64_t kMicrosPerDay = 86'400'000'000;

void Append2(std::string& out, int64_t v) {
  out.push_back(static_cast<char>('0' + v / 10));
  out.push_back(static_cast<char>('0' + v % 10));
}

// Appends FormatIso(t), byte for byte, without its per-call formatting and allocation: the date
// text is worked out once per day (via FormatIso) and the time of day written digit by digit.
class IsoWriter {
 public:
  void Append(std::string& out, Timestamp t) {
    const int64_t us = ToMicros(t);
    int64_t days = us / kMicrosPerDay;
    int64_t rem = us % kMicrosPerDay;
    if (rem < 0) {
      rem += kMicrosPerDay;
      --days;
    }
    if (days != days_ || date_.empty()) {
      const std::string iso = FormatIso(FromMicros(days * kMicrosPerDay));
      date_ = iso.substr(0, iso.find('T'));
      days_ = days;
    }
    out += date_;
    const int64_t secs = rem / 1'000'000;
    const int64_t frac = rem % 1'000'000;
    out.push_back('T');
    Append2(out, secs / 3600);
    out.push_back(':');
    Append2(out, secs / 60 % 60);
    out.push_back(':');
    Append2(out, secs % 60);
    if (frac != 0) {
      out.push_back('.');
      for (int64_t scale = 100'000; scale > 0; scale /= 10) {
        out.push_back(static_cast<char>('0' + frac / scale % 10));
      }
    }
    out.push_back('Z');
  }

 private:
  int64_t days_ = 0;
  std::string date_;
};

// Appends a double that reads back exactly. Prices on a cent grid and whole volumes (nearly all
// bar data) are written from integers, several times faster than shortest-form to_chars; any other
// value goes to to_chars.
void AppendNumber(std::string& out, double v) {
  const double scaled = v * 100;
  if (scaled > -1e15 && scaled < 1e15) {
    const int64_t k = static_cast<int64_t>(scaled < 0 ? scaled - 0.5 : scaled + 0.5);
    // The text "k/100" reads back as the double nearest k/100, which is this division's result.
    if (static_cast<double>(k) / 100 == v) {
      char buf[24];
      char* p = buf + sizeof buf;
      const uint64_t mag = k < 0 ? -static_cast<uint64_t>(k) : static_cast<uint64_t>(k);
      const uint64_t cents = mag % 100;
      if (cents != 0) {
        if (cents % 10 != 0) *--p = static_cast<char>('0' + cents % 10);
        *--p = static_cast<char>('0' + cents / 10);
        *--p = '.';
      }
      uint64_t whole = mag / 100;
      do {
        *--p = static_cast<char>('0' + whole % 10);
        whole /= 10;
      } while (whole != 0);
      if (k < 0) *--p = '-';
      out.append(p, buf + sizeof buf);
      return;
    }
  }
  char buf[32];
  out.append(buf, std::to_chars(buf, buf + sizeof buf, v).ptr);
}

}  // namespace

std::string ToGenericCsv(const Series& series) {
  std::string out = "time,open,high,low,close,volume\n";
  // ~20 bytes of time and ~10 per number: one allocation for typical data.
  out.reserve(out.size() + series.size() * 72);
  const auto append = [&out](double v) {
    out.push_back(',');
    AppendNumber(out, v);
  };
  IsoWriter iso;
  for (size_t i = 0; i < series.size(); ++i) {
    iso.Append(out, series.times()[i]);
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
