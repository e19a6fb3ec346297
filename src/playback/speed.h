// Speed: how fast a run plays back, as a compression factor S (DESIGN.md): simulated time advances
// S * 8760 sim-seconds per wall-clock second, so S = 60 plays one year in 60 s.
//
// A Speed can only hold a valid value (finite, kMinSpeed <= S <= kMaxSpeed). It is checked once,
// where it enters (a URL's ?speed=, a control message's "val"), and carried from there: Timeline,
// Session and the /frames history take a Speed and never check it again.
//
// Thread-safety: a value type; copies are independent.
#pragma once

#include <string_view>

#include "common/error.h"

namespace tapedeck::playback {

inline constexpr double kDefaultSpeed = 60;
inline constexpr double kMinSpeed = 0.01;
inline constexpr double kMaxSpeed = 100'000;

class Speed {
 public:
  // kDefaultSpeed.
  constexpr Speed() = default;

  // `value` when it is finite and within [kMinSpeed, kMaxSpeed]. Else VALIDATION "speed must be a
  // number from 0.01 to 100000" with details {"field": field, "got": value in shortest form}.
  // `field` is the name the client used ("speed" in a URL, "val" in a control message).
  static Result<Speed> FromDouble(double value, std::string_view field = "speed");

  // A speed written as text (a URL parameter): the whole text must be a number (std::from_chars
  // syntax: no sign '+', no spaces), else VALIDATION as above with "got" the text; a number out of
  // range is VALIDATION as FromDouble's.
  static Result<Speed> Parse(std::string_view text, std::string_view field = "speed");

  // A speed known at compile time; a constant out of range does not compile.
  static consteval Speed Constant(double value) {
    if (!(value >= kMinSpeed && value <= kMaxSpeed)) throw "speed out of range";
    return Speed(value);
  }

  // The factor S. Always finite and within [kMinSpeed, kMaxSpeed].
  constexpr double value() const { return value_; }

  friend constexpr bool operator==(Speed, Speed) = default;

 private:
  explicit constexpr Speed(double value) : value_(value) {}

  double value_ = kDefaultSpeed;
};

}  // namespace tapedeck::playback
