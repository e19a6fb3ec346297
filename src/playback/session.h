// Session: one playback connection's state machine (play/pause/seek/speed/end, pacing at 30 FPS,
// heartbeats, coalescing while a write is in flight). It takes commands and the clock's now, and
// returns what to send; it owns no socket, timer or thread (the server does).
//
// Errors are values (common/error.h): VALIDATION for malformed input, naming the field in
// details["field"]; RANGE for seek targets outside the run (or before it is ready).
//
// Thread-safety: a Session is not thread-safe: one per connection, driven from that connection's
// strand. Sessions on the same Tape may run on different threads.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "playback/clock.h"
#include "playback/control.h"
#include "playback/frame.h"
#include "playback/speed.h"
#include "playback/tape.h"
#include "playback/timeline.h"

namespace tapedeck::playback {

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
  // Phase alignment, for a server that drives many sessions from one timer: 0 (the default)
  // paces each session from its own start; d > 0 puts every frame after an at-once frame (the
  // first, a seek's, play's, a speed change's) on the clock's grid of kFrameInterval / d from its
  // epoch (PacingTick), so sessions on the same server come due at the same d instants per
  // interval and one wake-up serves them together. Only the windows after an at-once frame move,
  // later by less than one grid step (a step more when that frame itself went out over a step
  // late), and never sooner than one interval after it.
  int pacing_phases = 0;
};

// The first instant at or after `t` of the grid of kFrameInterval / phases (phases > 0) counted
// from the clock's epoch: floor(m * kFrameInterval / phases) ns for whole m, so that the grid
// holds every instant one whole interval after one of its own.
Clock::TimePoint PacingTick(Clock::TimePoint t, int phases);

struct SessionOptions {
  Channel channel = Channel::kWebSocket;
  Speed speed;                            // ?speed=
  std::optional<SeekTarget> from;         // ?from=: start at that window (snapped)
  std::optional<uint64_t> last_event_id;  // SSE Last-Event-ID: start after it; wins over from
};

// One message to write, already encoded for the session's channel (frame.h). The bytes are
// prefix + *shared (when set) + suffix, in that order; the shared part is common to all viewers (a
// cached frame head, or a constant), so a server may send the three as one buffer sequence without
// copying it.
struct Outgoing {
  enum class Kind { kFrame, kHeartbeat, kEnd, kError, kRetry };
  Kind kind = Kind::kHeartbeat;
  std::string prefix;
  std::shared_ptr<const std::string> shared;
  std::string suffix;
  size_t window = 0;         // kFrame: i
  BarRange bars;             // kFrame: the aligned bars it covers
  bool close_after = false;  // close the connection once written (fatal error; SSE end)

  // The three parts as one string (a copy: for tests and cold paths).
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
// answers seeks with RANGE, and starts playing when AttachTape is called. On a tape still loading
// (Tape::CreatePartial) a frame goes out once all its bars are here: it waits (the session looks
// again every kLoadPollInterval), heartbeats go on, and nothing is skipped; a seek, a from= or a
// Last-Event-ID past the bars loaded waits for the rest of the tape; a failed load ends the
// stream with the load's error. Control errors
// (VALIDATION, RANGE) are both returned and queued as {"t":"err"} messages, which go out before
// anything else; the connection stays open.
// How often a session waiting for bars still loading looks again.
inline constexpr std::chrono::milliseconds kLoadPollInterval{2};

class Session {
 public:
  // `tape` may be null (run not ready). `clock` must outlive the session.
  // Errors (the server answers them with err then close, or an HTTP error for SSE): RANGE
  // {"field":"from"} or {"field":"Last-Event-ID"} when that seek target lies outside the tape.
  static Result<Session> Create(std::shared_ptr<const Tape> tape, SessionOptions options,
                                const Clock& clock, SessionSettings settings = {});

  // True when the SSE Last-Event-ID was already the last window: nothing more to send (HTTP 204).
  bool nothing_more() const { return nothing_more_; }

  // Hands the finished run to a session created without one. Resolves `from`/Last-Event-ID then;
  // when that fails the error is returned and queued as a fatal err (close after writing).
  Status AttachTape(std::shared_ptr<const Tape> tape);

  // Control. Each returns the error it also queues (see above).
  // HandleText: VALIDATION from ParseControl, else as Apply.
  Status HandleText(std::string_view message);  // a WS text message
  Status Apply(const Command& command);
  // Play, Pause and SetSpeed always succeed (a Speed is valid by construction).
  Status Play();
  Status Pause();
  // RANGE {"field":"pos"} without a tape or when Timeline::Locate refuses `target`.
  Status Seek(const SeekTarget& target);
  Status SetSpeed(Speed speed);
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
  Speed speed() const { return speed_; }
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
  // After the at-once frame ending at window `window` went out at `now`: re-anchors the windows
  // after it on the pacing grid (SessionSettings::pacing_phases).
  void AlignAfter(size_t window, Clock::TimePoint now);
  Clock::TimePoint ResumeTime(Clock::TimePoint now) const;
  Clock::TimePoint DueTime(size_t window) const;
  // The window due at `now` by the pacing anchor.
  size_t DueWindow(Clock::TimePoint now) const;
  // Whether aligned bar `bar` is on the tape yet (it may still be loading).
  bool HaveBar(size_t bar) const;
  // HaveBar, after waiting for the rest of the tape when it is not (queues the load's error and
  // returns false when that fails).
  bool EnsureBar(size_t bar);
  std::optional<Outgoing> Next(Clock::TimePoint now);
  // Where a frame of the bars from `from` to `end` must stop for settings_.max_frame_orders.
  size_t CappedEnd(size_t from, size_t end) const;
  Outgoing FrameMessage(BarRange bars);
  Outgoing Wrap(Outgoing::Kind kind, std::string_view json) const;

  const Clock* clock_;
  SessionOptions options_;
  SessionSettings settings_;
  std::optional<Timeline> timeline_;
  Speed speed_;
  State state_ = State::kPlaying;

  size_t cursor_ = 0;  // first aligned bar not yet sent
  size_t window_ = 0;
  std::optional<size_t> seek_window_;  // a frame to send at once
  bool nothing_more_ = false;
  bool load_failed_ = false;      // the rest of the tape could not be loaded: its error was queued
  bool waited_for_bars_ = false;  // the next frame was held back by bars still loading
  bool retry_pending_ = false;
  // Queued err messages, oldest first: a vector, not a deque (an empty libstdc++ deque already
  // holds 544 bytes of heap, per connection); at most max_queued_errors + 1 (a fatal one).
  std::vector<Outgoing> errors_;

  // Pacing: window anchor_window_ is due at anchor_time_, the next ones kFrameInterval apart.
  size_t anchor_window_ = 0;
  Clock::TimePoint anchor_time_{};
  bool align_pending_ = false;  // the next frame is the anchor's at-once one: align after it

  bool writing_ = false;
  bool wrote_ = false;  // any write done yet (write_done_at_ is meaningful)
  Clock::TimePoint write_done_at_{};
  Clock::TimePoint last_message_at_{};
  std::optional<Clock::TimePoint> last_frame_at_;

  uint64_t dropped_ = 0, lag_merged_ = 0, frames_sent_ = 0;
};

}  // namespace tapedeck::playback
