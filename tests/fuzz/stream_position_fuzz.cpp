// Fuzzes where a stream starts: the SSE Last-Event-ID header (playback::ParseLastEventId), the
// ?from= seek target (ParseSeekTarget, and ParseIso under it), ?speed= (Speed::Parse), and what a
// Session does with them; also the /frames history between two window indices (EncodeHistory).
//
// Input: up to three lines: Last-Event-ID, from, speed. Each line also goes through every parser
// on its own.
//
// Invariants: each parser accepts exactly its grammar (digits that fit in 64 bits; those or an
// ISO time; a number in [0.01, 100000]) and round-trips what it accepts; a rejection is VALIDATION
// naming its field. A session resumed after window k starts at the first window after k that has
// bars, with the first bar after k: nothing repeated, nothing skipped; one started ?from= a
// seek target starts at the window Timeline::Locate picks; played to the end its frames cover every
// bar once, in order, then end. A history holds the windows with bars in [from, to), in order.
#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/fuzz_check.h"
#include "fuzz/sparse_tape.h"
#include "playback/playback.h"
#include "unit/playback/fake_clock.h"

namespace tapedeck::playback {
namespace {

using fuzz::CheckError;
using fuzz::CheckIsoRoundTrip;

bool AllDigits(std::string_view s) {
  return !s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos;
}

// Digits whose value fits in a uint64_t.
bool FitsIndex(std::string_view s) {
  if (!AllDigits(s)) return false;
  const size_t nonzero = s.find_first_not_of('0');
  if (nonzero == std::string_view::npos) return true;
  s.remove_prefix(nonzero);
  return s.size() < 20 || (s.size() == 20 && s <= "18446744073709551615");
}

std::string WithoutLeadingZeros(std::string_view s) {
  const size_t nonzero = s.find_first_not_of('0');
  return nonzero == std::string_view::npos ? "0" : std::string(s.substr(nonzero));
}

void CheckParsers(std::string_view text) {
  const Result<uint64_t> id = ParseLastEventId(text);
  FUZZ_CHECK(id.ok() == FitsIndex(text));
  if (id.ok()) {
    FUZZ_CHECK(std::to_string(*id) == WithoutLeadingZeros(text));
  } else {
    CheckError(id.error(), ErrorCode::kValidation, {"Last-Event-ID"});
  }

  const std::optional<Timestamp> iso = ParseIso(text);
  if (iso) {
    FUZZ_CHECK(!AllDigits(text));
    CheckIsoRoundTrip(*iso);
  }

  const Result<SeekTarget> target = ParseSeekTarget(text, "from");
  if (target.ok()) {
    if (const uint64_t* index = std::get_if<uint64_t>(&*target)) {
      FUZZ_CHECK(id.ok() && *index == *id);
    } else {
      FUZZ_CHECK(iso && std::get<Timestamp>(*target) == *iso);
    }
  } else {
    CheckError(target.error(), ErrorCode::kValidation, {"from"});
    FUZZ_CHECK(!id.ok() && !iso);
  }

  const Result<Speed> speed = Speed::Parse(text, "speed");
  if (speed.ok()) {
    const double v = speed->value();
    FUZZ_CHECK(std::isfinite(v) && v >= kMinSpeed && v <= kMaxSpeed);
  } else {
    CheckError(speed.error(), ErrorCode::kValidation, {"speed"});
  }
}

void CheckSession(const std::optional<uint64_t>& last_event_id,
                  const std::optional<SeekTarget>& from, Speed speed) {
  const std::shared_ptr<const Tape>& tape = fuzz::SparseTape();
  const Timeline tl = Timeline::Create(tape, speed);
  const size_t n = tl.window_count();

  SessionOptions options;
  options.channel = Channel::kSse;
  options.speed = speed;
  options.last_event_id = last_event_id;
  options.from = from;
  FakeClock clock;
  Result<Session> created = Session::Create(tape, options, clock);

  // Where it must start: Last-Event-ID wins over from.
  std::optional<size_t> start;
  bool nothing_more = false;
  if (last_event_id) {
    if (*last_event_id >= n) {
      FUZZ_CHECK(!created.ok());
      CheckError(created.error(), ErrorCode::kRange, {"Last-Event-ID"});
      return;
    }
    start = tl.NextWindowWithBars(static_cast<size_t>(*last_event_id) + 1);
    nothing_more = !start;
  } else if (from) {
    const Result<size_t> located = tl.Locate(*from, "from");
    if (!located.ok()) {
      CheckError(located.error(), ErrorCode::kRange, {"from"});
      FUZZ_CHECK(!created.ok());
      CheckError(created.error(), ErrorCode::kRange, {"from"});
      return;
    }
    start = *located;
  } else {
    start = tl.NextWindowWithBars(0);
  }
  FUZZ_CHECK(created.ok());
  Session& session = *created;
  FUZZ_CHECK(session.nothing_more() == nothing_more);

  std::optional<Outgoing> out = session.Poll();
  FUZZ_CHECK(out && out->kind == Outgoing::Kind::kRetry);
  session.OnWriteDone();
  out = session.Poll();
  FUZZ_CHECK(out);
  if (nothing_more) {
    FUZZ_CHECK(out->kind == Outgoing::Kind::kEnd && out->close_after);
    return;
  }
  FUZZ_CHECK(out->kind == Outgoing::Kind::kFrame);
  FUZZ_CHECK(out->window == *start);
  FUZZ_CHECK(out->bars == tl.Bars(*start));
  FUZZ_CHECK(out->prefix == "event: frame\nid: " + std::to_string(*start) + "\ndata: ");
  if (last_event_id) {
    FUZZ_CHECK(*start > *last_event_id);
    FUZZ_CHECK(out->bars.begin == tl.FirstBarOf(static_cast<size_t>(*last_event_id) + 1));
  }
  // Play the rest in a few long strides: every bar once, in order, then end.
  size_t cursor = out->bars.end;
  session.OnWriteDone();
  for (int stride = 0; stride < 64; ++stride) {
    clock.Advance(std::chrono::hours(24));
    out = session.Poll();
    FUZZ_CHECK(out);
    session.OnWriteDone();
    if (out->kind == Outgoing::Kind::kEnd) break;
    FUZZ_CHECK(out->kind == Outgoing::Kind::kFrame);
    FUZZ_CHECK(out->bars.begin == cursor && out->bars.end > cursor);
    cursor = out->bars.end;
  }
  FUZZ_CHECK(out->kind == Outgoing::Kind::kEnd);
  FUZZ_CHECK(cursor == tape->bar_count());
}

void CheckHistory(std::string_view from_text, std::string_view to_text, Speed speed) {
  auto parse = [](std::string_view s) -> std::optional<int64_t> {
    int64_t v = 0;
    const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
    return v;
  };
  const std::optional<int64_t> from = parse(from_text), to = parse(to_text);
  if (!from && !to) return;
  const std::string history = EncodeHistory(fuzz::SparseTape(), speed, from, to);
  const Timeline tl = Timeline::Create(fuzz::SparseTape(), speed);
  const auto n = static_cast<int64_t>(tl.window_count());
  const auto lo = static_cast<size_t>(std::clamp<int64_t>(from.value_or(0), 0, n));
  const auto hi = static_cast<size_t>(std::clamp<int64_t>(to.value_or(n), 0, n));
  const size_t expected = lo < hi ? tl.CountWindows({tl.FirstBarOf(lo), tl.FirstBarOf(hi)}) : 0;

  boost::system::error_code ec;
  const boost::json::value doc = boost::json::parse(history, ec);
  FUZZ_CHECK(!ec && doc.is_array());
  const boost::json::array& frames = doc.as_array();
  FUZZ_CHECK(frames.size() == expected);
  std::optional<uint64_t> previous;
  for (const boost::json::value& frame : frames) {
    const uint64_t i = frame.as_object().at("i").to_number<uint64_t>();
    FUZZ_CHECK(i >= lo && i < hi);
    FUZZ_CHECK(!previous || i > *previous);
    FUZZ_CHECK(frame.as_object().at("dropped").to_number<uint64_t>() == 0);
    previous = i;
  }
}

}  // namespace
}  // namespace tapedeck::playback

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tapedeck::playback;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::vector<std::string_view> lines;
  while (lines.size() < 3) {
    const size_t eol = input.find('\n');
    lines.push_back(input.substr(0, eol));
    if (eol == std::string_view::npos) break;
    input.remove_prefix(eol + 1);
  }
  for (std::string_view line : lines) CheckParsers(line);

  // As the server reads them: empty means absent; a value that does not parse is refused before
  // any session exists (checked above).
  Speed speed;
  bool usable = true;
  if (lines.size() > 2 && !lines[2].empty()) {
    const auto s = Speed::Parse(lines[2], "speed");
    usable &= s.ok();
    if (s.ok()) speed = *s;
  }
  CheckHistory(lines[0], lines.size() > 1 ? lines[1] : std::string_view(), speed);

  std::optional<uint64_t> last_event_id;
  std::optional<SeekTarget> from;
  if (!lines[0].empty()) {
    const auto id = ParseLastEventId(lines[0]);
    usable &= id.ok();
    if (id.ok()) last_event_id = *id;
  }
  if (lines.size() > 1 && !lines[1].empty()) {
    const auto target = ParseSeekTarget(lines[1], "from");
    usable &= target.ok();
    if (target.ok()) from = *target;
  }
  if (usable) CheckSession(last_event_id, from, speed);
  return 0;
}
