// playback: the playback protocol of ../shared/spec/playback-protocol.md as pure logic, read the
// way ../shared/DESIGN.md spells out. No sockets, timers or threads: the server feeds in control
// messages and write completions, reads the time through a Clock, and gets back the bytes to write
// and the time at which to ask again.
//
// The nouns:
//  - Tape: a finished run (engine::RunResult) with the bars of its symbols, indexed for playback.
//    Built once per run, immutable, shared by every viewer (shared_ptr<const Tape>). It memoizes
//    encoded frames, so a frame at a given (run, speed, window) is encoded once for all viewers.
//  - Timeline: a Tape cut into windows at a speed S. Window k covers sim time
//    [T0 + k*D, T0 + (k+1)*D), D = S * 8760 / 30 seconds, T0 the first bar's time; n windows cover
//    the last bar. A cheap value (O(1) to make, nothing allocated per window): windows are found
//    on demand by binary search over the bar times, so S = 0.01 (millions of windows) costs
//    nothing.
//  - Frame: one window's aggregate (or several consecutive windows', when coalesced).
//  - Session: one connection's state machine (play/pause/seek/speed/end, pacing at 30 FPS,
//    heartbeats, coalescing while a write is in flight).
//
// Errors are values (common/error.h): VALIDATION for malformed input, naming the field in
// details["field"]; RANGE for positions outside the run (or before it is ready).
//
// Thread-safety: Tape (including its frame cache) may be used from any number of threads.
// Timeline is an immutable value. Session is not thread-safe: one per connection, driven from that
// connection's strand. Free functions are re-entrant.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

#include "common/error.h"
#include "common/time.h"
#include "engine/engine.h"
#include "market/market.h"

namespace tapedeck::playback {

// ---------------------------------------------------------------------------------------------
// Constants of the contract.

inline constexpr int kFramesPerSecond = 30;
// Sim seconds one wall second plays at speed 1 (a year in an hour); at speed S, S times as many,
// so a window covers S * kSimSecondsPerSecond / kFramesPerSecond sim seconds.
inline constexpr int kSimSecondsPerSecond = 8760;
inline constexpr double kDefaultSpeed = 60;
inline constexpr double kMinSpeed = 0.01;
inline constexpr double kMaxSpeed = 100'000;
inline constexpr size_t kMaxControlMessageBytes = 4096;

// Wall time between two consecutive windows: 1/30 s.
inline constexpr std::chrono::nanoseconds kFrameInterval{1'000'000'000 / kFramesPerSecond};

// OK when `speed` is finite and kMinSpeed <= speed <= kMaxSpeed; else VALIDATION with
// details {"field": field, "got": "<value>"}.
Status ValidateSpeed(double speed, std::string_view field = "speed");

// Parses a speed from text (a URL parameter). Not a number or out of range: VALIDATION naming
// `field`.
Result<double> ParseSpeed(std::string_view text, std::string_view field = "speed");

// ---------------------------------------------------------------------------------------------
// Positions: a window index or a time.

using Position = std::variant<uint64_t /*window index*/, Timestamp>;

// "123" -> window index 123; an ISO-8601 time (common/time.h's ParseIso) -> that time. Anything
// else (a sign, a fraction, garbage, empty): VALIDATION {"field": field, "got": text}.
Result<Position> ParsePosition(std::string_view text, std::string_view field = "pos");

// An SSE Last-Event-ID header: a window index, digits only. Else VALIDATION
// {"field":"Last-Event-ID"}.
Result<uint64_t> ParseLastEventId(std::string_view text);

// ---------------------------------------------------------------------------------------------
// Tape.

// A half-open range of indices into the run's aligned timeline (engine::RunResult::times).
struct BarRange {
  size_t begin = 0, end = 0;
  bool empty() const { return begin >= end; }
  size_t size() const { return empty() ? 0 : end - begin; }
  friend bool operator==(const BarRange&, const BarRange&) = default;
};

struct TapeOptions {
  // Upper bound on the bytes of encoded frames the tape keeps; least recently used go first.
  size_t frame_cache_bytes = 64u << 20;
};

class Tape {
 public:
  // Indexes a finished run for playback. `series` holds the bars of run->symbols, same order
  // (a series with a non-empty symbol() must match the name). The tape shares `run` and the
  // series' columns; nothing is copied. O(bars) to validate.
  // Errors: VALIDATION when run is null, series and symbols differ in count or name, equity and
  // times differ in length, times are not strictly increasing, or an event's bar or symbol is out
  // of range or events are not ordered by bar. An empty run (no bars) is valid: 0 windows.
  static Result<std::shared_ptr<const Tape>> Create(std::shared_ptr<const engine::RunResult> run,
                                                    std::vector<market::Series> series,
                                                    TapeOptions options = {});

  const engine::RunResult& run() const { return *run_; }
  const std::vector<std::string>& symbols() const { return run_->symbols; }
  std::span<const market::Series> series() const { return series_; }
  std::span<const Timestamp> times() const { return run_->times; }
  size_t bar_count() const { return run_->times.size(); }
  bool empty() const { return run_->times.empty(); }
  // REQUIRES: !empty().
  Timestamp first_time() const { return run_->times.front(); }
  Timestamp last_time() const { return run_->times.back(); }

  // The first aligned bar at or after `t` (bar_count() if none).
  size_t LowerBound(Timestamp t) const;
  // The events whose bar lies in `bars`, oldest first (a view into run().events).
  std::span<const engine::OrderEvent> EventsIn(BarRange bars) const;

  // The shared part of window k's frame at window length `delta` (see EncodeFrameHead), from
  // the cache or built by `build` and cached. Thread-safe; concurrent misses may both build.
  template <typename Build>
  std::shared_ptr<const std::string> CachedFrame(Micros delta, size_t window, Build&& build) const;

  struct CacheStats {
    size_t hits = 0, misses = 0, entries = 0, bytes = 0;
  };
  CacheStats cache_stats() const;

 private:
  Tape() = default;

  struct Key {
    int64_t delta_us;
    size_t window;
    friend bool operator==(const Key&, const Key&) = default;
  };
  struct KeyHash {
    size_t operator()(const Key& k) const noexcept {
      return std::hash<int64_t>()(k.delta_us) * 31 ^ std::hash<size_t>()(k.window);
    }
  };
  struct Entry {
    Key key;
    std::shared_ptr<const std::string> text;
  };

  std::shared_ptr<const std::string> Lookup(const Key& key) const;
  std::shared_ptr<const std::string> Insert(const Key& key,
                                            std::shared_ptr<const std::string> text) const;

  std::shared_ptr<const engine::RunResult> run_;
  std::vector<market::Series> series_;
  TapeOptions options_;

  // Memoization only: logically const, hence mutable, guarded by cache_mutex_.
  mutable std::mutex cache_mutex_;
  mutable std::list<Entry> lru_;  // most recent first
  mutable std::unordered_map<Key, std::list<Entry>::iterator, KeyHash> index_;
  mutable size_t cache_bytes_ = 0;
  mutable size_t hits_ = 0, misses_ = 0;
};

template <typename Build>
std::shared_ptr<const std::string> Tape::CachedFrame(Micros delta, size_t window,
                                                     Build&& build) const {
  const Key key{delta.count(), window};
  if (auto hit = Lookup(key)) return hit;
  // Built outside the lock: a wide window (high speed) takes a while to aggregate.
  return Insert(key, std::make_shared<const std::string>(build()));
}

// ---------------------------------------------------------------------------------------------
// Frames.

struct SymbolOhlcv {
  engine::SymbolId symbol = 0;
  double open = 0, high = 0, low = 0, close = 0, volume = 0;
  friend bool operator==(const SymbolOhlcv&, const SymbolOhlcv&) = default;
};

// The aggregate of a run of consecutive bars, sent as one frame.
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
};

// Coalesces two consecutive frames into one: per symbol first open, max high, min low, last
// close, summed volume; orders concatenated; ts, equity and window of `newer`.
// REQUIRES: older.bars.end == newer.bars.begin and both from the same tape and timeline.
Frame Merge(const Frame& older, const Frame& newer);

// The encoded frame up to and including `"dropped":`, the part every viewer shares:
//   {"t":"frame","ts":"...","i":k,"n":n,"ohlc":{"SYM":{"o":..,"h":..,"l":..,"c":..,"v":..}},
//    "orders":[{"id":7,"ts":"...","sym":"SYM","side":"buy","type":"market","qty":1|null,
//               "status":"filled","px":..}],"equity":..,"dropped":
// `px` on filled events only, `reason` on rejected only, `qty` null when unknown. Numbers in
// shortest round-trip form; non-finite numbers as null.
std::string EncodeFrameHead(const Frame& frame, const Tape& tape);
// The per-connection end of a frame: "<dropped>}".
std::string EncodeFrameTail(uint64_t dropped);
// The whole frame message.
std::string EncodeFrame(const Frame& frame, const Tape& tape, uint64_t dropped);

// {"t":"hb"}, {"t":"end"}, {"t":"err","code":"RANGE","msg":"...","details":{...}}.
std::string_view HeartbeatJson();
std::string_view EndJson();
std::string EncodeErrorJson(const Error& error);

// SSE forms: "event: <name>\n[id: <k>\n]data: <json>\n\n", and "retry: <ms>\n\n".
std::string EncodeSseEvent(std::string_view event, std::string_view json,
                           std::optional<uint64_t> id = std::nullopt);
std::string EncodeSseRetry(std::chrono::milliseconds retry);

// ---------------------------------------------------------------------------------------------
// Timeline.

class Timeline {
 public:
  // Errors: VALIDATION {"field":"speed"} (see ValidateSpeed). REQUIRES: tape != nullptr.
  static Result<Timeline> Create(std::shared_ptr<const Tape> tape, double speed);

  const Tape& tape() const { return *tape_; }
  const std::shared_ptr<const Tape>& shared_tape() const { return tape_; }
  double speed() const { return speed_; }
  Micros window_length() const { return delta_; }  // D
  size_t window_count() const { return n_; }       // n

  Timestamp WindowStart(size_t k) const;
  // The window holding aligned bar `bar`. REQUIRES: bar < tape().bar_count().
  size_t WindowOf(size_t bar) const;
  // The first aligned bar in window k or later (bar_count() when none): the start of window k in
  // bar indices.
  size_t FirstBarOf(size_t k) const;
  // The bars of window k (empty when it holds none or k >= n).
  BarRange Bars(size_t k) const;
  bool HasBars(size_t k) const { return !Bars(k).empty(); }
  // The first window >= k holding bars / the last window <= k holding bars, if any.
  std::optional<size_t> NextWindowWithBars(size_t k) const;
  std::optional<size_t> PrevWindowWithBars(size_t k) const;
  // The nearest window with bars to k (on a tie, the later). REQUIRES: k < n.
  size_t Snap(size_t k) const;
  // How many distinct windows hold the bars in `bars`. O(result * log bars).
  size_t CountWindows(BarRange bars) const;

  // A position to the window with bars to play: index k < n, or time in [T0, T0 + n*D), snapped.
  // Errors: RANGE {"field": field, "got": ..., "n"/"first"/"end": ...} outside that.
  Result<size_t> Locate(const Position& pos, std::string_view field = "pos") const;

  // Aggregates window k / any bar range (i = window of its last bar). REQUIRES: non-empty.
  Frame BuildFrame(size_t k) const { return BuildFrame(Bars(k)); }
  Frame BuildFrame(BarRange bars) const;

  // EncodeFrameHead of window k, through the tape's shared cache. REQUIRES: HasBars(k).
  std::shared_ptr<const std::string> FrameHead(size_t k) const;
  // EncodeFrameHead of any bar range: cached when it is exactly one whole window.
  std::shared_ptr<const std::string> FrameHead(BarRange bars) const;

 private:
  Timeline() = default;

  std::shared_ptr<const Tape> tape_;
  double speed_ = kDefaultSpeed;
  Micros delta_{0};
  size_t n_ = 0;
};

// GET /frames: the frames of windows from <= k < to holding bars, uncoalesced, dropped 0, as a
// JSON array. from and to are clamped to [0, n] (defaults 0 and n); from >= to gives "[]".
// Errors: VALIDATION {"field":"speed"}. Not cached (a history can be long; viewers don't share it).
Result<std::string> EncodeHistory(std::shared_ptr<const Tape> tape, double speed,
                                  std::optional<int64_t> from = std::nullopt,
                                  std::optional<int64_t> to = std::nullopt);

// ---------------------------------------------------------------------------------------------
// Control messages (WebSocket text frames).

struct Command {
  enum class Kind { kPlay, kPause, kSeek, kSpeed, kHeartbeat };
  Kind kind = Kind::kPlay;
  Position pos;      // kSeek
  double speed = 0;  // kSpeed
};

// Parses {"t":"ctrl","cmd":"play|pause|seek|speed","pos":...,"val":...} or {"t":"hb"}.
// Errors, all VALIDATION with details["field"]:
//   "message": over kMaxControlMessageBytes, not JSON, not an object;
//   "t": missing, not a string, or neither "ctrl" nor "hb";
//   "cmd": missing, not a string, or unknown;
//   "pos" (seek): missing, or not an ISO string / digit string / non-negative integer
//     (a negative or fractional number, a bool, null, ... is VALIDATION);
//   "val" (speed): missing, not a number, or outside [kMinSpeed, kMaxSpeed].
// Unknown extra fields are ignored.
Result<Command> ParseControl(std::string_view text);

// The error for a binary WebSocket message: VALIDATION {"field":"message"}.
Error BinaryMessageError();

// ---------------------------------------------------------------------------------------------
// Clock.

// Wall time for pacing, injected (after leveldb's Env) so tests drive it by hand.
class Clock {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  virtual ~Clock() = default;
  virtual TimePoint Now() const = 0;
};

class SteadyClock final : public Clock {
 public:
  TimePoint Now() const override { return std::chrono::steady_clock::now(); }
  static const SteadyClock& Instance();
};

// A clock that moves only when told to. For tests (here and in the server's).
class FakeClock final : public Clock {
 public:
  explicit FakeClock(TimePoint start = TimePoint{} + std::chrono::hours(1)) : now_(start) {}
  TimePoint Now() const override { return now_; }
  void Advance(std::chrono::nanoseconds d) { now_ += d; }
  void Set(TimePoint t) { now_ = t; }

 private:
  TimePoint now_;
};

// ---------------------------------------------------------------------------------------------
// Session.

// Intervals of the protocol; the server owns the timers for pings and idle timeouts.
struct SessionSettings {
  std::chrono::milliseconds heartbeat_interval{
      5000};                                      // {"t":"hb"} after this long without a message
  std::chrono::milliseconds ping_interval{5000};  // WS protocol pings (server)
  std::chrono::milliseconds idle_timeout{30000};  // close after client silence (server)
  std::chrono::milliseconds sse_retry{3000};      // SSE "retry:" sent first
  size_t max_queued_errors = 16;  // control errors beyond this, unsent, are discarded
  // A frame that merges windows (a slow client, a late server) stops at the last window that
  // keeps its order events at or under this, though never before the end of its first window;
  // the rest goes out in the next frame, at once. It bounds what one connection holds in its
  // frame (~130 bytes an order), where an unbounded merge grew with the lag.
  size_t max_frame_orders = 512;
};

enum class Channel { kWebSocket, kSse };

struct SessionOptions {
  Channel channel = Channel::kWebSocket;
  double speed = kDefaultSpeed;           // ?speed=
  std::optional<Position> from;           // ?from=: start at that window (snapped)
  std::optional<uint64_t> last_event_id;  // SSE Last-Event-ID: start after it; wins over from
};

// One message to write. The bytes are prefix + *shared (when set) + suffix, in that order; the
// shared part is common to all viewers (a cached frame body, or a constant), so a server may send
// the three as one buffer sequence without copying it.
struct Outgoing {
  enum class Kind { kFrame, kHeartbeat, kEnd, kError, kRetry };
  Kind kind = Kind::kHeartbeat;
  std::string prefix;
  std::shared_ptr<const std::string> shared;
  std::string suffix;
  size_t window = 0;         // kFrame: i
  BarRange bars;             // kFrame: the aligned bars it covers
  bool close_after = false;  // close the connection once written (fatal error; SSE end)

  std::string Text() const;
};

// The state machine of one playback connection.
//
// Driving it (one write in flight, on the connection's strand):
//   after every event (connect, a control message, a write done, a timer):
//     if (!session.writing()) if (auto m = session.Poll()) { start writing m; }
//     arm the timer at session.NextDeadline();
//   when the write completes (or fails): session.OnWriteDone(), then as above.
//
// Rules (DESIGN.md): plays at once at `speed` from `from` (default the first window). Window k is
// due kFrameInterval * (k - k0) after playback (re)started at window k0; windows without bars are
// skipped, never sent. All windows due at a write opportunity go out as one frame (nothing is
// lost: a frame is always the contiguous bars from the first one not yet sent). `dropped` counts
// the windows merged away because they came due while a write was in flight (the client could not
// take them); windows merged because the server itself was late are not the client's doing and are
// counted only in lag_merged(). pause stops frames; play resumes (never sooner than one interval
// after the previous frame). seek sends its window at once, even when paused, and replaces whatever
// was waiting. speed keeps the last bar sent: the next frame holds the rest of the new window
// around it. After the last window: {"t":"end"}; the session then rests paused at the end: play
// sends end again, seek works as always (leaving it paused). {"t":"hb"} whenever heartbeat_interval
// passed since the last message. Without a tape (run queued or running) it sends only heartbeats,
// answers seeks with RANGE, and starts playing when AttachTape is called. Control errors
// (VALIDATION, RANGE) are both returned and queued as {"t":"err"} messages, which go out before
// anything else; the connection stays open.
class Session {
 public:
  // `tape` may be null (run not ready). `clock` must outlive the session.
  // Errors (the server answers them with err then close, or an HTTP error for SSE):
  // VALIDATION {"field":"speed"}; RANGE {"field":"from"} or {"field":"Last-Event-ID"} when the
  // position lies outside the tape.
  static Result<Session> Create(std::shared_ptr<const Tape> tape, SessionOptions options,
                                const Clock& clock, SessionSettings settings = {});

  // True when the SSE Last-Event-ID was already the last window: nothing more to send (HTTP 204).
  bool nothing_more() const { return nothing_more_; }

  // Hands the finished run to a session created without one. Resolves `from`/Last-Event-ID then;
  // when that fails the error is returned and queued as a fatal err (close after writing).
  Status AttachTape(std::shared_ptr<const Tape> tape);

  // Control. Each returns the error it also queues (see above).
  Status HandleText(std::string_view message);  // a WS text message
  Status Apply(const Command& command);
  Status Play();
  Status Pause();
  Status Seek(const Position& pos);
  Status SetSpeed(double speed);
  // Queues {"t":"err"} for an error found by the server (RUN_FAILED, a binary message, ...);
  // closes after it when the code is fatal on a stream.
  void QueueError(const Error& error);

  // What to write now, if anything; marks a write in flight when it returns a message.
  // Returns nullopt while a write is in flight.
  std::optional<Outgoing> Poll();
  // The write handed out by Poll finished (successfully or not).
  void OnWriteDone();
  // When Poll may next have something without any other event: a time at or before Now() means
  // at once; time_point::max() while a write is in flight (OnWriteDone is the next event).
  Clock::TimePoint NextDeadline() const;

  enum class State { kPlaying, kPaused, kEnded };
  State state() const { return state_; }
  bool writing() const { return writing_; }
  bool has_tape() const { return timeline_.has_value(); }
  double speed() const { return speed_; }
  // The window of the last frame sent (or the start window before the first).
  size_t window() const { return window_; }
  // The first aligned bar not yet sent.
  size_t cursor() const { return cursor_; }
  uint64_t dropped() const { return dropped_; }
  uint64_t lag_merged() const { return lag_merged_; }
  uint64_t frames_sent() const { return frames_sent_; }
  const SessionSettings& settings() const { return settings_; }
  const std::optional<Timeline>& timeline() const { return timeline_; }

 private:
  Session(const Clock& clock, SessionOptions options, SessionSettings settings);

  Status StartOnTape(std::shared_ptr<const Tape> tape);
  Status Reject(Error error);
  void Anchor(size_t window, Clock::TimePoint at);
  Clock::TimePoint ResumeTime(Clock::TimePoint now) const;
  Clock::TimePoint DueTime(size_t window) const;
  std::optional<Outgoing> Next(Clock::TimePoint now);
  // Where a frame of the bars from `from` to `end` must stop for settings_.max_frame_orders.
  size_t CappedEnd(size_t from, size_t end) const;
  Outgoing FrameMessage(BarRange bars);
  Outgoing Wrap(Outgoing::Kind kind, std::string_view json,
                std::optional<uint64_t> id = std::nullopt) const;

  const Clock* clock_;
  SessionOptions options_;
  SessionSettings settings_;
  std::optional<Timeline> timeline_;
  double speed_;
  State state_ = State::kPlaying;

  size_t cursor_ = 0;  // first aligned bar not yet sent
  size_t window_ = 0;
  std::optional<size_t> seek_window_;  // a frame to send at once
  bool nothing_more_ = false;
  bool retry_pending_ = false;
  std::deque<Outgoing> errors_;

  // Pacing: window anchor_window_ is due at anchor_time_, the next ones kFrameInterval apart.
  size_t anchor_window_ = 0;
  Clock::TimePoint anchor_time_{};

  bool writing_ = false;
  bool wrote_ = false;  // any write done yet (write_done_at_ is meaningful)
  Clock::TimePoint write_done_at_{};
  Clock::TimePoint last_message_at_{};
  std::optional<Clock::TimePoint> last_frame_at_;

  uint64_t dropped_ = 0, lag_merged_ = 0, frames_sent_ = 0;
};

}  // namespace tapedeck::playback
