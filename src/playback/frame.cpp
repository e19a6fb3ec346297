#include <algorithm>
#include <cassert>
#include <charconv>

#include "common/json_writer.h"
#include "playback/playback.h"

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

void AppendOrder(std::string& out, const engine::OrderEvent& ev, const Tape& tape) {
  out += "{\"id\":";
  out += std::to_string(ev.id);
  out += ",\"ts\":";
  AppendString(out, FormatIso(ev.ts));
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

}  // namespace

Frame Merge(const Frame& older, const Frame& newer) {
  assert(older.bars.end == newer.bars.begin);
  Frame out;
  out.window = newer.window;
  out.window_count = newer.window_count;
  out.bars = {older.bars.begin, newer.bars.end};
  out.ts = newer.ts;
  out.equity = newer.equity;
  // Adjacent bar ranges have adjacent event runs (events are ordered by bar).
  out.orders = older.orders.empty() ? newer.orders
               : newer.orders.empty()
                   ? older.orders
                   : std::span<const engine::OrderEvent>(older.orders.data(),
                                                         newer.orders.data() + newer.orders.size());
  out.ohlc.reserve(older.ohlc.size() + newer.ohlc.size());
  auto a = older.ohlc.begin(), b = newer.ohlc.begin();
  while (a != older.ohlc.end() || b != newer.ohlc.end()) {
    if (b == newer.ohlc.end() || (a != older.ohlc.end() && a->symbol < b->symbol)) {
      out.ohlc.push_back(*a++);
    } else if (a == older.ohlc.end() || b->symbol < a->symbol) {
      out.ohlc.push_back(*b++);
    } else {
      out.ohlc.push_back({a->symbol, a->open, std::max(a->high, b->high), std::min(a->low, b->low),
                          b->close, a->volume + b->volume});
      ++a;
      ++b;
    }
  }
  return out;
}

std::string EncodeFrameHead(const Frame& frame, const Tape& tape) {
  std::string out;
  out.reserve(128 + 72 * frame.ohlc.size() + 160 * frame.orders.size());
  out += "{\"t\":\"frame\",\"ts\":";
  AppendString(out, FormatIso(frame.ts));
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
  out += ",\"dropped\":";
  return out;
}

std::string EncodeFrameTail(uint64_t dropped) {
  std::string out;
  AppendUint(out, dropped);
  out += '}';
  return out;
}

std::string EncodeFrame(const Frame& frame, const Tape& tape, uint64_t dropped) {
  std::string out = EncodeFrameHead(frame, tape);
  out += EncodeFrameTail(dropped);
  return out;
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

std::string EncodeSseEvent(std::string_view event, std::string_view json,
                           std::optional<uint64_t> id) {
  // Our JSON never holds a raw newline (strings are escaped), so one data: line carries it.
  std::string out;
  out.reserve(event.size() + json.size() + 32);
  out += "event: ";
  out += event;
  out += '\n';
  if (id) {
    out += "id: ";
    AppendUint(out, *id);
    out += '\n';
  }
  out += "data: ";
  out += json;
  out += "\n\n";
  return out;
}

std::string EncodeSseRetry(std::chrono::milliseconds retry) {
  std::string out = "retry: ";
  AppendUint(out, static_cast<uint64_t>(retry.count()));
  out += "\n\n";
  return out;
}

std::string Outgoing::Text() const {
  std::string out;
  out.reserve(prefix.size() + (shared ? shared->size() : 0) + suffix.size());
  out += prefix;
  if (shared) out += *shared;
  out += suffix;
  return out;
}

}  // namespace tapedeck::playback
