#include "playback/frame.h"

#include <algorithm>
#include <charconv>

#include "common/json_writer.h"
#include "playback/timeline.h"

namespace tapedeck::playback {
namespace {

void AppendUint(std::string& out, uint64_t v) {
  char buf[24];
  const auto res = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, res.ptr);
}

void AppendString(std::string& out, std::string_view s) {
  out += '"';
  AppendJsonEscaped(out, s);
  out += '"';
}

void AppendInt(std::string& out, int64_t v) {
  char buf[24];
  const auto res = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, res.ptr);
}

void AppendQuotedIso(std::string& out, Timestamp t) {
  out += '"';
  AppendIso(out, t);
  out += '"';
}

bool AllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// "event: <name>\n[id: <k>\n]data: ", the SSE lines before an event's JSON.
void AppendSseEventHead(std::string& out, std::string_view event, std::optional<uint64_t> id) {
  out += "event: ";
  out += event;
  out += '\n';
  if (id) {
    out += "id: ";
    AppendUint(out, *id);
    out += '\n';
  }
  out += "data: ";
}

// A blank line ends an SSE event.
void AppendSseEventEnd(std::string& out) { out += "\n\n"; }

void AppendFrameTail(std::string& out, uint64_t dropped) {
  AppendUint(out, dropped);
  out += '}';
}

void AppendOrder(std::string& out, const engine::OrderEvent& ev, const Tape& tape) {
  out += "{\"id\":";
  AppendInt(out, ev.id);
  out += ",\"ts\":";
  AppendQuotedIso(out, ev.ts);
  out += ",\"sym\":";
  AppendString(out, tape.symbols()[ev.symbol]);
  out += ",\"side\":\"";
  out += engine::ToString(ev.side);
  out += "\",\"type\":\"";
  out += engine::ToString(ev.type);
  out += "\",\"qty\":";
  if (ev.qty) {
    AppendJsonNumber(out, *ev.qty);
  } else {
    out += "null";
  }
  out += ",\"status\":\"";
  out += engine::ToString(ev.status);
  out += '"';
  if (ev.status == engine::OrderStatus::kFilled) {
    out += ",\"px\":";
    AppendJsonNumber(out, ev.px);
  } else if (ev.status == engine::OrderStatus::kRejected) {
    out += ",\"reason\":";
    AppendString(out, ev.reason);
  }
  out += '}';
}

void AppendPlots(std::string& out, std::span<const PlotValue> plots, const Tape& tape) {
  out += ",\"plots\":{";
  bool first = true;
  for (const PlotValue& p : plots) {
    if (!first) out += ',';
    first = false;
    AppendString(out, tape.plot_name(p.plot));
    out += ':';
    AppendJsonNumber(out, p.value);
  }
  out += '}';
}

void AppendLogs(std::string& out, std::span<const engine::LogEntry> logs) {
  out += ",\"logs\":[";
  bool first = true;
  for (const engine::LogEntry& log : logs) {
    if (!first) out += ',';
    first = false;
    out += "{\"ts\":";
    AppendQuotedIso(out, log.ts);
    out += ",\"msg\":";
    AppendString(out, log.msg);
    out += '}';
  }
  out += ']';
}

}  // namespace

std::string EncodeFrameHead(const Frame& frame, const Tape& tape) {
  std::string out;
  out.reserve(128 + 72 * frame.ohlc.size() + 160 * frame.orders.size());
  out += "{\"t\":\"frame\",\"ts\":";
  AppendQuotedIso(out, frame.ts);
  out += ",\"i\":";
  AppendUint(out, frame.window);
  out += ",\"n\":";
  AppendUint(out, frame.window_count);
  out += ",\"ohlc\":{";
  bool first = true;
  for (const SymbolOhlcv& o : frame.ohlc) {
    if (!first) out += ',';
    first = false;
    AppendString(out, tape.symbols()[o.symbol]);
    out += ":{\"o\":";
    AppendJsonNumber(out, o.open);
    out += ",\"h\":";
    AppendJsonNumber(out, o.high);
    out += ",\"l\":";
    AppendJsonNumber(out, o.low);
    out += ",\"c\":";
    AppendJsonNumber(out, o.close);
    out += ",\"v\":";
    AppendJsonNumber(out, o.volume);
    out += '}';
  }
  out += "},\"orders\":[";
  first = true;
  for (const engine::OrderEvent& ev : frame.orders) {
    if (!first) out += ',';
    first = false;
    AppendOrder(out, ev, tape);
  }
  out += "],\"equity\":";
  AppendJsonNumber(out, frame.equity);
  if (!frame.plots.empty()) AppendPlots(out, frame.plots, tape);
  if (!frame.logs.empty()) AppendLogs(out, frame.logs);
  out += ",\"dropped\":";
  return out;
}

std::string EncodeFrameTail(uint64_t dropped) {
  std::string out;
  AppendFrameTail(out, dropped);
  return out;
}

std::string EncodeFrame(const Frame& frame, const Tape& tape, uint64_t dropped) {
  std::string out = EncodeFrameHead(frame, tape);
  AppendFrameTail(out, dropped);
  return out;
}

void EncodeFrameEnvelope(Channel channel, size_t window, uint64_t dropped, std::string& prefix,
                         std::string& suffix) {
  prefix.clear();
  suffix.clear();
  // The tail fits the small-string buffer (SSE's blank line included) while dropped < 10^12.
  AppendFrameTail(suffix, dropped);
  if (channel == Channel::kSse) {
    prefix.reserve(48);  // "event: frame\nid: " + up to 20 digits + "\ndata: "
    AppendSseEventHead(prefix, "frame", window);
    AppendSseEventEnd(suffix);
  }
}

std::string_view HeartbeatJson() { return R"({"t":"hb"})"; }
std::string_view EndJson() { return R"({"t":"end"})"; }

std::string EncodeErrorJson(const Error& error) {
  std::string out = "{\"t\":\"err\",\"code\":";
  AppendString(out, Name(error.code));
  out += ",\"msg\":";
  AppendString(out, error.msg);
  out += ",\"details\":{";
  bool first = true;
  for (const auto& [k, v] : error.details) {
    if (!first) out += ',';
    first = false;
    AppendString(out, k);
    out += ':';
    AppendString(out, v);
  }
  out += "}}";
  return out;
}

std::string EncodeMessage(Channel channel, std::string_view event, std::string_view json) {
  if (channel == Channel::kSse) return EncodeSseEvent(event, json);
  return std::string(json);
}

std::string EncodeSseEvent(std::string_view event, std::string_view json,
                           std::optional<uint64_t> id) {
  // Our JSON never holds a raw newline (strings are escaped), so one data: line carries it.
  std::string out;
  out.reserve(event.size() + json.size() + 32);
  AppendSseEventHead(out, event, id);
  out += json;
  AppendSseEventEnd(out);
  return out;
}

std::string EncodeSseRetry(std::chrono::milliseconds retry) {
  std::string out = "retry: ";
  AppendUint(out, static_cast<uint64_t>(retry.count()));
  out += "\n\n";
  return out;
}

Result<uint64_t> ParseLastEventId(std::string_view text) {
  uint64_t id = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (!AllDigits(text) || ec != std::errc() || ptr != text.data() + text.size()) {
    return MakeError(ErrorCode::kValidation, "Last-Event-ID must be a window index",
                     {{"field", "Last-Event-ID"}, {"got", std::string(text.substr(0, 64))}});
  }
  return id;
}

std::string EncodeHistory(std::shared_ptr<const Tape> tape, Speed speed,
                          std::optional<int64_t> from, std::optional<int64_t> to) {
  const Timeline tl = Timeline::Create(std::move(tape), speed);
  const auto n = static_cast<int64_t>(tl.window_count());
  const auto first = static_cast<size_t>(std::clamp<int64_t>(from.value_or(0), 0, n));
  const auto last = static_cast<size_t>(std::clamp<int64_t>(to.value_or(n), 0, n));
  std::string out = "[";
  if (first < last) {
    const std::string tail = EncodeFrameTail(0);
    // Walk the bars rather than the windows: at low speed most windows are empty.
    const size_t end_bar = tl.FirstBarOf(last);
    for (size_t bar = tl.FirstBarOf(first); bar < end_bar;) {
      const size_t k = tl.WindowOf(bar);
      const BarRange range{bar, tl.FirstBarOf(k + 1)};
      if (out.size() > 1) out += ',';
      out += EncodeFrameHead(tl.BuildFrame(range), tl.tape());
      out += tail;
      bar = range.end;
    }
  }
  out += ']';
  return out;
}

}  // namespace tapedeck::playback
