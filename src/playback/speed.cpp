#include "playback/speed.h"

#include <charconv>
#include <cmath>
#include <string>

#include "common/json_writer.h"

namespace tapedeck::playback {
namespace {

constexpr std::string_view kMessage = "speed must be a number from 0.01 to 100000";

}  // namespace

Result<Speed> Speed::FromDouble(double value, std::string_view field) {
  if (!std::isfinite(value) || value < kMinSpeed || value > kMaxSpeed) {
    std::string got;
    AppendJsonNumber(got, value);
    return MakeError(ErrorCode::kValidation, std::string(kMessage),
                     {{"field", std::string(field)}, {"got", std::move(got)}});
  }
  return Speed(value);
}

Result<Speed> Speed::Parse(std::string_view text, std::string_view field) {
  double value = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size()) {
    return MakeError(ErrorCode::kValidation, std::string(kMessage),
                     {{"field", std::string(field)}, {"got", std::string(text)}});
  }
  return FromDouble(value, field);
}

}  // namespace tapedeck::playback
