#include <charconv>

#include "market/market.h"

namespace tapedeck::market {

Result<Micros> ParseInterval(std::string_view text) {
  const auto bad = [text] {
    return MakeError(ErrorCode::kValidation,
                     "bad interval '" + std::string(text) +
                         "': expected a count and a unit s, m, h, d or w, e.g. 1m, 4h, 1d",
                     {{"field", "interval"}, {"got", std::string(text)}});
  };
  int64_t n = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, n);
  // One unit letter must follow; a week of 1e9 is already far past any bar interval.
  if (ec != std::errc() || n < 1 || n > 1'000'000'000 || ptr + 1 != end) return bad();
  int64_t unit_seconds = 0;
  switch (*ptr) {
    case 's':
      unit_seconds = 1;
      break;
    case 'm':
      unit_seconds = 60;
      break;
    case 'h':
      unit_seconds = 3600;
      break;
    case 'd':
      unit_seconds = 86'400;
      break;
    case 'w':
      unit_seconds = 7 * 86'400;
      break;
    default:
      return bad();
  }
  return Micros{n * unit_seconds * 1'000'000};
}

}  // namespace tapedeck::market
