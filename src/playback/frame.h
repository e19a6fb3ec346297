// Frame: one window's aggregate (or several consecutive windows', when coalesced), and every wire
// encoding of playback: the frame JSON, the other messages (hb, end, err), their Server-Sent
// Events form, and the /frames history.
//
// A frame's JSON is built in two parts so that viewers share what they can: the head (everything
// up to and including `"dropped":`) is the same for every viewer of a window and is cached by the
// Tape; the envelope (the dropped count, and on SSE the event:/id:/data: lines) is per connection.
//
// Thread-safety: Frame is a plain value; every function here is re-entrant.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "common/time.h"
#include "engine/run_result.h"
#include "playback/speed.h"
#include "playback/tape.h"

namespace tapedeck::playback {

// The transport a message is encoded for: a WebSocket text message is the JSON itself; an SSE
// event is "event: <name>\n[id: <k>\n]data: <json>\n\n".
enum class Channel { kWebSocket, kSse };

// A plotted series' value in a frame.
struct PlotValue {
  engine::PlotId plot = 0;  // index into the run's plots
  double value = 0;
  friend bool operator==(const PlotValue&, const PlotValue&) = default;
};

struct SymbolOhlcv {
  engine::SymbolId symbol = 0;
  double open = 0, high = 0, low = 0, close = 0, volume = 0;
  friend bool operator==(const SymbolOhlcv&, const SymbolOhlcv&) = default;
};

// The aggregate of a run of consecutive bars, sent as one frame. Built by Timeline::BuildFrame,
// which is also how windows are coalesced: a frame of several windows is the frame of their bars.
struct Frame {
  size_t window = 0;        // "i": the window of the last bar
  size_t window_count = 0;  // "n"
  BarRange bars;            // aligned bars covered
  Timestamp ts;             // time of the last bar
  // By symbol id; a symbol with no bar in the range is absent. First open, max high, min low,
  // last close, summed volume.
  std::vector<SymbolOhlcv> ohlc;
  // Order events whose bar lies in `bars`, oldest first; a view into the tape's run, valid while
  // the tape lives.
  std::span<const engine::OrderEvent> orders;
  double equity = 0;  // at the last bar
  // By plot id: each series' value at the last bar of `bars` that has one (a finite number); a
  // series with none in `bars` is absent.
  std::vector<PlotValue> plots;
  // Log messages whose bar lies in `bars`, oldest first; a view into the tape's run.
  std::span<const engine::LogEntry> logs;
};

// The encoded frame up to and including `"dropped":`, the part every viewer shares:
//   {"t":"frame","ts":"...","i":k,"n":n,"ohlc":{"SYM":{"o":..,"h":..,"l":..,"c":..,"v":..}},
//    "orders":[{"id":7,"ts":"...","sym":"SYM","side":"buy","type":"market","qty":1|null,
//               "status":"filled","px":..}],"equity":..[,"plots":{"NAME":..}]
//    [,"logs":[{"ts":"...","msg":"..."}]],"dropped":
// `px` on filled events only, `reason` on rejected only, `qty` null when unknown; `plots` and
// `logs` only when the frame has any (so a run without plots encodes as before them). Numbers in
// shortest round-trip form; non-finite numbers as null.
// REQUIRES: `frame` was built from `tape`.
std::string EncodeFrameHead(const Frame& frame, const Tape& tape);
// The per-connection end of a frame's JSON: "<dropped>}".
std::string EncodeFrameTail(uint64_t dropped);
// The whole frame JSON: head + tail.
std::string EncodeFrame(const Frame& frame, const Tape& tape, uint64_t dropped);

// The per-connection bytes around a frame head, written into `prefix` and `suffix` (replacing
// their contents), so that prefix + head + suffix is the message to send:
//   kWebSocket: prefix "", suffix "<dropped>}";
//   kSse:       prefix "event: frame\nid: <window>\ndata: ", suffix "<dropped>}\n\n".
// At most one allocation (the SSE prefix); the head is not copied.
void EncodeFrameEnvelope(Channel channel, size_t window, uint64_t dropped, std::string& prefix,
                         std::string& suffix);

// {"t":"hb"}, {"t":"end"}, {"t":"err","code":"RANGE","msg":"...","details":{...}}.
std::string_view HeartbeatJson();
std::string_view EndJson();
std::string EncodeErrorJson(const Error& error);

// A message other than a frame for `channel`: the JSON itself on kWebSocket, the SSE event named
// `event` (no id) on kSse.
std::string EncodeMessage(Channel channel, std::string_view event, std::string_view json);

// SSE forms: "event: <name>\n[id: <k>\n]data: <json>\n\n", and "retry: <ms>\n\n".
// REQUIRES: `json` holds no newline (ours never does: strings are escaped).
std::string EncodeSseEvent(std::string_view event, std::string_view json,
                           std::optional<uint64_t> id = std::nullopt);
std::string EncodeSseRetry(std::chrono::milliseconds retry);

// An SSE Last-Event-ID header, the `id:` of the last frame a client got: a window index, digits
// only. Else VALIDATION "Last-Event-ID must be a window index" {"field":"Last-Event-ID",
// "got": the text, cut to 64 bytes}.
Result<uint64_t> ParseLastEventId(std::string_view text);

// GET /frames: the frames of windows from <= k < to holding bars at `speed`, uncoalesced, dropped
// 0, as a JSON array. from and to are clamped to [0, n] (defaults 0 and n); from >= to gives "[]".
// Not cached (a history can be long; viewers don't share it). REQUIRES: tape != nullptr.
std::string EncodeHistory(std::shared_ptr<const Tape> tape, Speed speed,
                          std::optional<int64_t> from = std::nullopt,
                          std::optional<int64_t> to = std::nullopt);

}  // namespace tapedeck::playback
