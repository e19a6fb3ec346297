#include "stats.h"

#include <cstdio>
#include <iterator>

#include "common/json_writer.h"
#include "wire.h"

namespace tapedeck::loadgen {

namespace json = boost::json;

uint64_t CountSlow(const std::vector<uint32_t>& gaps_us) {
  uint64_t slow = 0;
  for (uint32_t g : gaps_us) slow += g > kSlowGapUs;
  return slow;
}

namespace {

constexpr uint64_t StreamCounts::*kFields[] = {
    &StreamCounts::frames,         &StreamCounts::frames_in_window,
    &StreamCounts::heartbeats,     &StreamCounts::ends,
    &StreamCounts::err_messages,   &StreamCounts::skipped_windows,
    &StreamCounts::loops,          &StreamCounts::dropped,
    &StreamCounts::connect_failed, &StreamCounts::handshake_failed,
    &StreamCounts::closed_early,   &StreamCounts::no_frame};
static_assert(sizeof(StreamCounts) == std::size(kFields) * sizeof(uint64_t),
              "a field of StreamCounts is missing from kFields");

void RecordFrame(StreamStats& st, const RunClock& clock, std::string_view json, TimePoint now) {
  StreamCounts& c = st.counts;
  const int64_t i = IntField(json, "\"i\":", false).value_or(-1);
  const int64_t dropped = IntField(json, "\"dropped\":", true).value_or(0);
  if (c.frames == 0) {
    st.first_frame_at = now;
    st.first_i = i;
    st.n = IntField(json, "\"n\":", false).value_or(-1);
  } else {
    st.gaps_us.push_back(static_cast<uint32_t>(std::min(UsSince(st.last_frame_at, now), 4e9)));
    st.gap_at_ms.push_back(static_cast<uint32_t>(UsSince(clock.start, now) / 1e3));
    if (i >= 0 && i < st.last_i) {
      // Back at the start of the run (a looping stream): the schedule starts again here.
      ++c.loops;
      st.first_i = i;
      st.first_frame_at = now;
    } else if (i >= 0 && st.last_i >= 0 && i > st.last_i + 1) {
      c.skipped_windows += static_cast<uint64_t>(i - st.last_i - 1);
    }
    const double due = static_cast<double>(i - st.first_i) * kFrameIntervalUs;
    st.late_us.push_back(
        static_cast<int32_t>(std::clamp(UsSince(st.first_frame_at, now) - due, -2e9, 2e9)));
  }
  if (now >= clock.window_begin && now <= clock.window_end) ++c.frames_in_window;
  ++c.frames;
  st.last_i = i;
  st.last_frame_at = now;
  c.dropped = static_cast<uint64_t>(std::max<int64_t>(dropped, 0));
}

// Boost.JSON writes 30.0 as "3E1"; our own writer keeps the shortest plain form.
void Write(JsonWriter& w, const json::value& v) {
  switch (v.kind()) {
    case json::kind::object:
      w.BeginObject();
      for (const auto& [key, value] : v.get_object()) {
        w.Key(key);
        Write(w, value);
      }
      w.EndObject();
      break;
    case json::kind::array:
      w.BeginArray();
      for (const auto& value : v.get_array()) Write(w, value);
      w.EndArray();
      break;
    case json::kind::string:
      w.String(v.get_string());
      break;
    case json::kind::int64:
      w.Int(v.get_int64());
      break;
    case json::kind::uint64:
      w.Int(static_cast<int64_t>(v.get_uint64()));
      break;
    case json::kind::double_:
      w.Number(v.get_double());
      break;
    case json::kind::bool_:
      w.Bool(v.get_bool());
      break;
    case json::kind::null:
      w.Null();
      break;
  }
}

}  // namespace

StreamCounts& StreamCounts::operator+=(const StreamCounts& other) {
  for (const auto field : kFields) this->*field += other.*field;
  return *this;
}

void StreamStats::Reserve(size_t frames) {
  gaps_us.reserve(frames);
  late_us.reserve(frames);
  gap_at_ms.reserve(frames);
}

void StreamStats::Fail(uint64_t StreamCounts::*how, std::string why) {
  counts.*how = 1;
  if (error.empty()) error = std::move(why);
}

StreamCounts Total(const std::vector<StreamStats>& stats) {
  StreamCounts total;
  for (const StreamStats& st : stats) {
    total += st.counts;
    total.no_frame += st.counts.frames == 0;
  }
  return total;
}

std::vector<std::string> SampleErrors(const std::vector<StreamStats>& stats, size_t most) {
  std::vector<std::string> errors;
  for (const StreamStats& st : stats) {
    if (errors.size() >= most) break;
    if (!st.error.empty()) errors.push_back(st.error);
  }
  return errors;
}

void RecordMessage(StreamStats& st, const RunClock& clock, std::string_view json, TimePoint now) {
  switch (TypeOf(json)) {
    case MessageType::kFrame:
      RecordFrame(st, clock, json, now);
      break;
    case MessageType::kHeartbeat:
      ++st.counts.heartbeats;
      break;
    case MessageType::kEnd:
      ++st.counts.ends;
      break;
    case MessageType::kError:
      ++st.counts.err_messages;
      if (st.error.empty()) st.error = std::string(json.substr(0, 200));
      break;
    case MessageType::kOther:
      break;
  }
}

std::string MsLine(const Quantiles& q) {
  char line[256];
  std::snprintf(line, sizeof line, "p50 %.2f  p90 %.2f  p99 %.2f  p99.9 %.2f  max %.2f ms (n=%zu)",
                q.p50 / 1e3, q.p90 / 1e3, q.p99 / 1e3, q.p999 / 1e3, q.max / 1e3, q.count);
  return line;
}

std::string ErrorsLine(const StreamCounts& c) {
  using ull = unsigned long long;
  char line[256];
  std::snprintf(line, sizeof line,
                "%llu (connect %llu, handshake %llu, closed early %llu, err messages %llu, no "
                "frame %llu)",
                static_cast<ull>(c.errors()), static_cast<ull>(c.connect_failed),
                static_cast<ull>(c.handshake_failed), static_cast<ull>(c.closed_early),
                static_cast<ull>(c.err_messages), static_cast<ull>(c.no_frame));
  return line;
}

void AppendErrorsJson(const StreamCounts& c, json::object& out) {
  out.insert({{"errors", c.errors()},
              {"connect_failed", c.connect_failed},
              {"handshake_failed", c.handshake_failed},
              {"closed_early", c.closed_early},
              {"err_messages", c.err_messages},
              {"no_frame", c.no_frame}});
}

void PrintExamples(const std::vector<std::string>& errors) {
  for (const auto& e : errors) std::printf("    e.g. %s\n", e.c_str());
}

json::object MsJson(const Quantiles& q) {
  return json::object{{"count", q.count},           {"p50_ms", RoundMs(q.p50)},
                      {"p90_ms", RoundMs(q.p90)},   {"p99_ms", RoundMs(q.p99)},
                      {"p999_ms", RoundMs(q.p999)}, {"max_ms", RoundMs(q.max)},
                      {"min_ms", RoundMs(q.min)},   {"mean_ms", RoundMs(q.mean)}};
}

void PrintJsonLine(const json::object& out) {
  JsonWriter w;
  Write(w, out);
  std::printf("%s\n", w.str().c_str());
  std::fflush(stdout);
}

}  // namespace tapedeck::loadgen
