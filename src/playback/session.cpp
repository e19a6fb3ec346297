#include "playback/session.h"

#include <algorithm>

namespace tapedeck::playback {
namespace {

using TimePoint = Clock::TimePoint;

// Constant messages are shared by every session, so a heartbeat or an end allocates nothing.
const std::shared_ptr<const std::string>& Constant(Outgoing::Kind kind, Channel channel) {
  static const auto kWsHb = std::make_shared<const std::string>(
      EncodeMessage(Channel::kWebSocket, "hb", HeartbeatJson()));
  static const auto kWsEnd =
      std::make_shared<const std::string>(EncodeMessage(Channel::kWebSocket, "end", EndJson()));
  static const auto kSseHb =
      std::make_shared<const std::string>(EncodeMessage(Channel::kSse, "hb", HeartbeatJson()));
  static const auto kSseEnd =
      std::make_shared<const std::string>(EncodeMessage(Channel::kSse, "end", EndJson()));
  const bool sse = channel == Channel::kSse;
  return kind == Outgoing::Kind::kHeartbeat ? (sse ? kSseHb : kWsHb) : (sse ? kSseEnd : kWsEnd);
}

}  // namespace

Session::Session(const Clock& clock, SessionOptions options, SessionSettings settings)
    : clock_(&clock), options_(std::move(options)), settings_(settings), speed_(options_.speed) {}

Result<Session> Session::Create(std::shared_ptr<const Tape> tape, SessionOptions options,
                                const Clock& clock, SessionSettings settings) {
  Session session(clock, std::move(options), settings);
  session.retry_pending_ = session.options_.channel == Channel::kSse;
  session.last_message_at_ = clock.Now();
  if (tape) {
    if (Status st = session.StartOnTape(std::move(tape)); !st.ok()) return st.take_error();
  }
  return session;
}

Status Session::StartOnTape(std::shared_ptr<const Tape> tape) {
  const Timeline tl = Timeline::Create(std::move(tape), speed_);
  const size_t n = tl.window_count();
  size_t start = 0;
  if (options_.last_event_id) {
    const uint64_t k = *options_.last_event_id;
    if (k >= n) {
      return MakeError(
          ErrorCode::kRange, "Last-Event-ID beyond the last window",
          {{"field", "Last-Event-ID"}, {"got", std::to_string(k)}, {"n", std::to_string(n)}});
    }
    // Where the stream resumes may lie past the bars loaded so far: wait for them.
    if (!tl.tape().Knows(tl.WindowStart(static_cast<size_t>(k) + 1))) {
      TD_TRY(tl.tape().WaitComplete());
    }
    const std::optional<size_t> next = tl.NextWindowWithBars(static_cast<size_t>(k) + 1);
    if (!next) {
      nothing_more_ = true;
      timeline_ = tl;
      cursor_ = tl.tape().total_bars();
      window_ = static_cast<size_t>(k);
      state_ = State::kPlaying;  // so the next Poll says end
      return Ok();
    }
    start = *next;
  } else if (options_.from) {
    if (const auto k = tl.TargetWindow(*options_.from); k && !tl.Known(*k)) {
      TD_TRY(tl.tape().WaitComplete());
    }
    Result<size_t> located = tl.Locate(*options_.from, "from");
    if (!located.ok()) return located.take_error();
    start = *located;
  }
  timeline_ = tl;
  cursor_ = timeline_->FirstBarOf(start);
  window_ = start;
  if (state_ == State::kPlaying) Anchor(start, clock_->Now());
  return Ok();
}

Status Session::AttachTape(std::shared_ptr<const Tape> tape) {
  if (timeline_) return Ok();
  Status st = StartOnTape(std::move(tape));
  if (!st.ok()) {
    // The URL's seek target turned out to lie outside the run: err then close, as for a bad URL.
    Outgoing err = Wrap(Outgoing::Kind::kError, EncodeErrorJson(st.error()));
    err.close_after = true;
    errors_.push_back(std::move(err));
  }
  return st;
}

Status Session::Reject(Error error) {
  QueueError(error);
  return error;
}

void Session::QueueError(const Error& error) {
  const bool fatal = Info(error.code).fatal_on_stream;
  // A flood of bad control messages must not grow memory; the server closes persistent offenders.
  if (!fatal && errors_.size() >= settings_.max_queued_errors) return;
  Outgoing err = Wrap(Outgoing::Kind::kError, EncodeErrorJson(error));
  err.close_after = fatal;
  errors_.push_back(std::move(err));
}

Status Session::HandleText(std::string_view message) {
  Result<Command> command = ParseControl(message);
  if (!command.ok()) return Reject(command.take_error());
  return Apply(*command);
}

Status Session::Apply(const Command& command) {
  switch (command.kind) {
    case Command::Kind::kPlay:
      return Play();
    case Command::Kind::kPause:
      return Pause();
    case Command::Kind::kSeek:
      return Seek(command.target);
    case Command::Kind::kSpeed:
      return SetSpeed(command.speed);
    case Command::Kind::kHeartbeat:
      return Ok();
  }
  return Ok();
}

Status Session::Play() {
  if (state_ == State::kPlaying) return Ok();
  // From kEnded this leads straight to another end (Next sees nothing left to send).
  state_ = State::kPlaying;
  if (timeline_ && cursor_ < timeline_->tape().total_bars() && EnsureBar(cursor_)) {
    Anchor(timeline_->WindowOf(cursor_), ResumeTime(clock_->Now()));
  }
  return Ok();
}

Status Session::Pause() {
  if (state_ == State::kPlaying) state_ = State::kPaused;
  return Ok();
}

Status Session::Seek(const SeekTarget& target) {
  if (!timeline_) {
    return Reject(MakeError(ErrorCode::kRange, "the run has no frames yet",
                            {{"field", "pos"}, {"reason", "run not ready"}}));
  }
  // A target past the bars loaded so far is answered once they are here, exactly as on a whole
  // tape (the wait is for the rest of the run's load, which is already under way).
  if (const auto k = timeline_->TargetWindow(target); k && !timeline_->Known(*k)) {
    if (Status st = timeline_->tape().WaitComplete(); !st.ok()) {
      QueueError(st.error());
      return st;
    }
  }
  Result<size_t> located = timeline_->Locate(target, "pos");
  if (!located.ok()) return Reject(located.take_error());
  seek_window_ = *located;
  cursor_ = timeline_->FirstBarOf(*located);
  window_ = *located;
  if (state_ == State::kEnded) state_ = State::kPaused;
  return Ok();
}

Status Session::SetSpeed(Speed speed) {
  speed_ = speed;
  if (!timeline_) return Ok();
  timeline_ = Timeline::Create(timeline_->shared_tape(), speed);
  const size_t bars = timeline_->tape().total_bars();
  // Re-expressing the position needs the times around it.
  if (cursor_ < bars && !EnsureBar(cursor_)) return Ok();
  if (seek_window_) {
    // The frame the client asked for, re-expressed in the new windows.
    seek_window_ = timeline_->WindowOf(cursor_);
    cursor_ = timeline_->FirstBarOf(*seek_window_);
    window_ = *seek_window_;
    return Ok();
  }
  window_ = cursor_ > 0 ? timeline_->WindowOf(cursor_ - 1) : 0;
  // Sim time stays at the last bar sent: the next frame is the rest of the new window holding
  // cursor_, due one interval after the previous frame.
  if (state_ == State::kPlaying && cursor_ < bars) {
    Anchor(timeline_->WindowOf(cursor_), ResumeTime(clock_->Now()));
  }
  return Ok();
}

void Session::Anchor(size_t window, TimePoint at) {
  anchor_window_ = window;
  anchor_time_ = at;
  align_pending_ = settings_.pacing_phases > 0;
}

void Session::AlignAfter(size_t window, TimePoint now) {
  if (!align_pending_) return;
  align_pending_ = false;
  const int phases = settings_.pacing_phases;
  const TimePoint due = DueTime(window);
  const TimePoint next = DueTime(window + 1);
  const auto step = kFrameInterval / phases;
  // On time (the usual case: it went out in the pass of its deadline), never sooner than one
  // interval after it; over a grid step late, the windows after it keep their due times (up to a
  // step), as without alignment the server's lateness is merged rather than shifted.
  const TimePoint sent = std::min(now, due + step);
  anchor_window_ = window + 1;
  anchor_time_ = PacingTick(std::max(next, sent + kFrameInterval), phases);
}

TimePoint PacingTick(TimePoint t, int phases) {
  using Ns = std::chrono::nanoseconds;
  const auto ns = std::chrono::duration_cast<Ns>(t.time_since_epoch()).count();
  if (ns < 0 || phases <= 0) return t;  // before the epoch (never, on a steady clock): as is
  const __int128 interval = kFrameInterval.count();
  const __int128 scaled = static_cast<__int128>(ns) * phases;
  // m = ceil(ns * phases / interval); the tick is floor(m * interval / phases) >= ns.
  __int128 m = scaled / interval;
  if (m * interval < scaled) ++m;
  const auto tick = static_cast<int64_t>(m * interval / phases);
  return TimePoint(std::chrono::duration_cast<TimePoint::duration>(Ns(tick)));
}

TimePoint Session::ResumeTime(TimePoint now) const {
  if (!last_frame_at_) return now;
  return std::max(now, *last_frame_at_ + kFrameInterval);
}

TimePoint Session::DueTime(size_t window) const {
  if (window <= anchor_window_) return anchor_time_;
  return anchor_time_ + kFrameInterval * static_cast<int64_t>(window - anchor_window_);
}

std::optional<Outgoing> Session::Poll() {
  if (writing_) return std::nullopt;
  const TimePoint now = clock_->Now();
  std::optional<Outgoing> message = Next(now);
  if (message) {
    writing_ = true;
    last_message_at_ = now;
  }
  return message;
}

void Session::OnWriteDone() {
  writing_ = false;
  wrote_ = true;
  write_done_at_ = clock_->Now();
}

std::optional<Outgoing> Session::Next(TimePoint now) {
  if (retry_pending_) {
    retry_pending_ = false;
    Outgoing retry;
    retry.kind = Outgoing::Kind::kRetry;
    retry.suffix = EncodeSseRetry(settings_.sse_retry);
    return retry;
  }
  if (!errors_.empty()) {
    Outgoing err = std::move(errors_.front());
    errors_.erase(errors_.begin());
    if (errors_.empty()) errors_.shrink_to_fit();  // a burst of errors leaves nothing behind
    return err;
  }
  if (timeline_ && !load_failed_ && !timeline_->tape().complete()) {
    if (auto error = timeline_->tape().load_error()) {
      // The rest of the run could not be read: the stream ends with the store's error.
      load_failed_ = true;
      Outgoing err = Wrap(Outgoing::Kind::kError, EncodeErrorJson(*error));
      err.close_after = true;
      return err;
    }
  }
  if (timeline_ && !load_failed_) {
    const Timeline& tl = *timeline_;
    const size_t bars = tl.tape().total_bars();
    // A frame goes out only once all its bars are here: until then it waits (never skipped).
    if (seek_window_ && tl.Known(*seek_window_)) {
      const size_t k = *seek_window_;
      seek_window_.reset();
      waited_for_bars_ = false;
      const BarRange range = tl.Bars(k);
      Outgoing frame = FrameMessage(range);
      cursor_ = range.end;
      last_frame_at_ = now;
      if (state_ == State::kPlaying) {
        Anchor(k, now);  // k + 1 due one interval from now
        AlignAfter(frame.window, now);
      }
      return frame;
    }
    if (state_ == State::kPlaying) {
      if (cursor_ >= bars) {
        state_ = State::kEnded;
        Outgoing end = Wrap(Outgoing::Kind::kEnd, {});
        end.close_after = options_.channel == Channel::kSse;
        return end;
      }
      // Due, but its bars are still loading: the frame waits, and the windows coming due meanwhile
      // are the server's lateness, not the client's.
      if (!seek_window_ && now >= anchor_time_ && !tl.Known(DueWindow(now))) {
        waited_for_bars_ = true;
      }
      if (!seek_window_ && now >= anchor_time_ && tl.Known(DueWindow(now))) {
        const auto due_window = DueWindow(now);
        const size_t end = CappedEnd(cursor_, tl.FirstBarOf(due_window + 1, cursor_));
        if (end > cursor_) {
          const BarRange range{cursor_, end};
          // Windows that came due by the time the last write finished were held up by the
          // client; the first of them is the waiting frame, the rest are merged away.
          size_t held = 0;
          if (wrote_ && write_done_at_ >= anchor_time_ && !waited_for_bars_) {
            const auto done_window = static_cast<size_t>(
                anchor_window_ + (write_done_at_ - anchor_time_) / kFrameInterval);
            held = tl.CountWindows({cursor_, std::min(end, tl.FirstBarOf(done_window + 1))});
          }
          const size_t merged = tl.CountWindows(range) - 1;
          const size_t dropped = held > 1 ? held - 1 : 0;
          dropped_ += dropped;
          lag_merged_ += merged - dropped;
          waited_for_bars_ = false;
          Outgoing frame = FrameMessage(range);
          cursor_ = end;
          last_frame_at_ = now;
          AlignAfter(frame.window, now);
          return frame;
        }
      }
    }
  }
  if (now - last_message_at_ >= settings_.heartbeat_interval) {
    return Wrap(Outgoing::Kind::kHeartbeat, {});
  }
  return std::nullopt;
}

size_t Session::CappedEnd(size_t from, size_t end) const {
  const Timeline& tl = *timeline_;
  const size_t cap = settings_.max_frame_orders;
  // A frame of one window goes out whole whatever it holds: no need to count.
  if (end <= from || tl.WindowOf(end - 1) == tl.WindowOf(from)) return end;
  if (tl.tape().EventsIn({from, end}).size() <= cap) return end;
  // The frame may end where window w starts, for w in (first window, last window + 1]; ending
  // at lo is allowed (the first window whole, or within the cap), at hi is not (over the cap).
  // Order counts only grow with w: bisect.
  size_t lo = tl.WindowOf(from) + 1;
  size_t hi = tl.WindowOf(end - 1) + 1;
  while (hi - lo > 1) {
    const size_t mid = lo + (hi - lo) / 2;
    if (tl.tape().EventsIn({from, tl.FirstBarOf(mid)}).size() <= cap) {
      lo = mid;
    } else {
      hi = mid;
    }
  }
  return std::min(end, tl.FirstBarOf(lo));
}

Outgoing Session::FrameMessage(BarRange bars) {
  const Timeline& tl = *timeline_;
  Outgoing frame;
  frame.kind = Outgoing::Kind::kFrame;
  frame.shared = tl.FrameHead(bars);
  frame.window = tl.WindowOf(bars.end - 1);
  frame.bars = bars;
  EncodeFrameEnvelope(options_.channel, frame.window, dropped_, frame.prefix, frame.suffix);
  window_ = frame.window;
  ++frames_sent_;
  return frame;
}

Outgoing Session::Wrap(Outgoing::Kind kind, std::string_view json) const {
  Outgoing out;
  out.kind = kind;
  if (kind == Outgoing::Kind::kHeartbeat || kind == Outgoing::Kind::kEnd) {
    out.shared = Constant(kind, options_.channel);
  } else {
    out.suffix = EncodeMessage(options_.channel, "err", json);
  }
  return out;
}

TimePoint Session::NextDeadline() const {
  if (writing_) return TimePoint::max();
  const TimePoint now = clock_->Now();
  if (retry_pending_ || !errors_.empty()) return now;
  TimePoint deadline = last_message_at_ + settings_.heartbeat_interval;
  if (timeline_ && !load_failed_) {
    const Timeline& tl = *timeline_;
    // While the rest of the tape loads, a frame whose bars are not all here is looked at again
    // every kLoadPollInterval (and a failed load at once, to send its error).
    const TimePoint recheck = now + kLoadPollInterval;
    if (!tl.tape().complete() && tl.tape().load_error()) return now;
    if (seek_window_) return tl.Known(*seek_window_) ? now : recheck;
    if (state_ == State::kPlaying) {
      if (cursor_ >= tl.tape().total_bars()) return now;
      if (!HaveBar(cursor_)) return std::min(deadline, recheck);
      const TimePoint due = DueTime(tl.WindowOf(cursor_));
      if (due <= now && !tl.Known(DueWindow(now))) return std::min(deadline, recheck);
      deadline = std::min(deadline, due);
    }
  }
  return deadline;
}

size_t Session::DueWindow(TimePoint now) const {
  if (now < anchor_time_) return anchor_window_;
  return static_cast<size_t>(anchor_window_ + (now - anchor_time_) / kFrameInterval);
}

bool Session::HaveBar(size_t bar) const { return bar < timeline_->tape().bar_count(); }

bool Session::EnsureBar(size_t bar) {
  if (HaveBar(bar)) return true;
  if (Status st = timeline_->tape().WaitComplete(); !st.ok()) {
    QueueError(st.error());
    return false;
  }
  return HaveBar(bar);
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
