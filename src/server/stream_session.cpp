#include "server/stream_session.h"

#include <boost/asio/post.hpp>

namespace tapedeck::server {

Result<playback::Session> OpenPlayback(Shared& shared, const Request& request,
                                       playback::Channel channel) {
  const std::string& id = request.path_params.at("id");
  auto tape = shared.runs ? shared.runs->Open(id)
                          : Result<std::shared_ptr<const playback::Tape>>(MakeError(
                                ErrorCode::kRunNotFound, "no run has this id", {{"id", id}}));
  if (!tape) return tape.error();

  playback::SessionOptions options;
  options.channel = channel;
  if (const auto speed = request.Query("speed")) {
    auto parsed = playback::Speed::Parse(*speed, "speed");
    if (!parsed) return parsed.error();
    options.speed = *parsed;
  }
  if (const auto from = request.Query("from"); from && !from->empty()) {
    auto parsed = playback::ParseSeekTarget(*from, "from");
    if (!parsed) return parsed.error();
    options.from = *parsed;
  }
  if (channel == playback::Channel::kSse) {
    const auto last = request.http.find("Last-Event-ID");
    if (last != request.http.end() && !last->value().empty()) {
      auto parsed = playback::ParseLastEventId(last->value());
      if (!parsed) return parsed.error();
      options.last_event_id = *parsed;
    }
  }
  const Settings& s = shared.settings;
  playback::SessionSettings settings;
  settings.heartbeat_interval = s.heartbeat_interval;
  settings.ping_interval = s.ping_interval;
  settings.idle_timeout = s.idle_timeout;
  settings.sse_retry = s.sse_retry;
  settings.pacing_phases = s.pacing_phases;
  return playback::Session::Create(std::move(*tape), std::move(options),
                                   playback::SteadyClock::Instance(), settings);
}

StreamSession::StreamSession(Pacer& pacer, Shared& shared, ConnectionKind kind, ConnectionSlot slot,
                             std::string run_id, std::optional<playback::Session> session)
    : pacer_(pacer),
      executor_(pacer.executor()),
      shared_(shared),
      kind_(kind),
      slot_(std::move(slot)),
      run_id_(std::move(run_id)),
      session_(std::move(session)),
      write_timer_(executor_),
      run_timer_(executor_) {
  shared_.metrics->ConnectionOpened(kind_);
}

StreamSession::~StreamSession() {
  shared_.registry.Remove(this);
  shared_.metrics->ConnectionClosed(kind_);
}

void StreamSession::StartPlayback() {
  shared_.registry.Add(this, weak_from_this());
  if (shared_.registry.stopping()) {
    shutting_down_ = true;
    OnShutdown();
    return;
  }
  if (session_ && !session_->has_tape()) PollRun();
  Drive();
}

void StreamSession::Shutdown() {
  net::post(executor_, [self = self()] {
    if (self->closed_ || self->shutting_down_) return;
    self->shutting_down_ = true;
    // A write in flight finishes first; WriteDone then calls OnShutdown.
    if (!self->session_ || !self->session_->writing()) self->OnShutdown();
  });
}

void StreamSession::Drive() {
  if (closed_ || shutting_down_ || !session_) return;
  if (!session_->writing()) {
    if (auto message = session_->Poll()) {
      current_ = std::move(*message);
      Metrics& metrics = *shared_.metrics;
      if (current_.kind == playback::Outgoing::Kind::kFrame) metrics.FramesSent(1);
      if (session_->dropped() != reported_dropped_) {
        metrics.FramesCoalesced(session_->dropped() - reported_dropped_);
        reported_dropped_ = session_->dropped();
      }
      if (session_->lag_merged() != reported_lag_) {
        metrics.FramesLagMerged(session_->lag_merged() - reported_lag_);
        reported_lag_ = session_->lag_merged();
      }
      // The clock the session read (in a pacer's pass, the pass's instant: a write deadline
      // measured from the pass's start, at most a pass earlier than the write's own start).
      write_started_at_ = playback::SteadyClock::Instance().Now();
      if (!write_timer_armed_) ArmWriteTimer(write_started_at_ + shared_.settings.write_timeout);
      StartWrite(current_);
    }
  }
  ArmDeadline(session_->NextDeadline());
}

void StreamSession::WriteDone(const boost::system::error_code& ec, size_t bytes) {
  if (session_) session_->OnWriteDone();
  if (ec) {
    if (!IsNormalEnd(ec)) Log("%s write failed: %s", ToString(kind_).data(), ec.message().c_str());
    closed_ = true;
    StopTimers();
    Abort();
    return;
  }
  shared_.metrics->BytesSent(bytes);
  if (closed_) return;
  if (current_.close_after ||
      (close_after_error_ && current_.kind == playback::Outgoing::Kind::kError)) {
    StopTimers();
    CloseGracefully();
    return;
  }
  if (shutting_down_) {
    OnShutdown();
    return;
  }
  Drive();
}

void StreamSession::StopTimers() {
  armed_at_.reset();
  ++pace_ticket_;  // what the pacer holds is stale now
  write_timer_.cancel();
  run_timer_.cancel();
}

// A client that stops reading must not hold the connection (and its memory) for ever: a write not
// done write_timeout after it started closes the connection. The timer is not re-armed per write
// (at 30 FPS that is a timer insert, a cancel and an aborted handler per frame): it stays armed
// across writes and, when it fires, looks at the write in flight, if any.
void StreamSession::ArmWriteTimer(std::chrono::steady_clock::time_point at) {
  write_timer_armed_ = true;
  write_timer_.expires_at(at);
  write_timer_.async_wait([self = self()](const boost::system::error_code& ec) {
    self->write_timer_armed_ = false;
    if (ec || self->closed_) return;
    if (!self->session_ || !self->session_->writing()) return;  // the next write re-arms
    const auto deadline = self->write_started_at_ + self->shared_.settings.write_timeout;
    if (std::chrono::steady_clock::now() < deadline) {
      self->ArmWriteTimer(deadline);  // this write began after the one the timer was armed for
      return;
    }
    self->closed_ = true;
    self->StopTimers();
    self->Abort();
  });
}

void StreamSession::ArmDeadline(playback::Clock::TimePoint deadline) {
  if (deadline == playback::Clock::TimePoint::max()) {
    if (armed_at_) {
      armed_at_.reset();
      ++pace_ticket_;
    }
    return;
  }
  // The sessions' frames are phase-aligned (Settings::pacing_phases): the streams of a lane come
  // due at the same instants and one pass drives them all, so a deadline is kept as it is (rounding
  // it up would only make the window after it due too).
  if (armed_at_ == deadline) return;  // already registered for it
  armed_at_ = deadline;
  pacer_.Schedule(weak_from_this(), deadline, ++pace_ticket_);
}

void StreamSession::OnPaced(uint64_t ticket) {
  if (ticket != pace_ticket_ || !armed_at_) return;  // re-armed or stopped since
  armed_at_.reset();
  Drive();
}

void StreamSession::PollRun() {
  run_timer_.expires_after(kPendingPollInterval);
  run_timer_.async_wait([self = self()](const boost::system::error_code& ec) {
    if (ec || self->closed_ || self->shutting_down_) return;
    auto tape = self->shared_.runs->Open(self->run_id_);
    if (!tape) {
      self->session_->QueueError(tape.error());  // fatal on a stream: err, then close
    } else if (*tape) {
      // An error here (a `from` past the finished run) is queued as a fatal err by the session.
      (void)self->session_->AttachTape(std::move(*tape));
    } else {
      self->PollRun();
      return;
    }
    self->Drive();
  });
}

}  // namespace tapedeck::server
