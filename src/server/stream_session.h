// Internal: what the WebSocket and SSE sessions share — a playback::Session driven on the
// connection's strand with one write in flight, its next deadline kept by the lane's Pacer, a
// deadline for each write, and the wait for a run that is not done yet.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <memory>
#include <optional>
#include <string>

#include "playback/playback.h"
#include "server/connection.h"
#include "server/pacer.h"

namespace tapedeck::server {

// The playback session a stream request asks for: the run from `runs`, ?speed= and ?from=, and
// (SSE) Last-Event-ID. Errors: the RunSource's (RUN_NOT_FOUND, RUN_FAILED, ...), VALIDATION naming
// speed, from or Last-Event-ID, RANGE from Session::Create.
Result<playback::Session> OpenPlayback(Shared& shared, const Request& request,
                                       playback::Channel channel);

class StreamSession : public Connection,
                      public Paced,
                      public std::enable_shared_from_this<StreamSession> {
 public:
  ~StreamSession() override;
  StreamSession(const StreamSession&) = delete;
  StreamSession& operator=(const StreamSession&) = delete;

 protected:
  // `executor` is `pacer`'s strand.
  StreamSession(Pacer& pacer, Shared& shared, ConnectionKind kind, ConnectionSlot slot,
                std::string run_id, std::optional<playback::Session> session);

  // Registers for shutdown and starts playing. Call once, on the strand, after construction.
  void StartPlayback();

  // Polls the playback session, starts a write when none is in flight and arms the timer for the
  // session's next deadline. On the strand.
  void Drive();
  // Called by the subclass when the write started by StartWrite completes.
  void WriteDone(const boost::system::error_code& ec, size_t bytes);
  // Stops the timers; the connection is over (or closing) and needs no more wake-ups.
  void StopTimers();

  // Writes `message` (prefix + shared + suffix); exactly one at a time. Completes via WriteDone.
  virtual void StartWrite(const playback::Outgoing& message) = 0;
  // The playback session is done with the connection (a fatal error was sent, SSE end): close
  // gracefully.
  virtual void CloseGracefully() = 0;
  // Abandon the connection at once (a write past its deadline): close the socket.
  virtual void Abort() = 0;
  // Shutdown of the server reached this connection, on its strand, with no write in flight.
  virtual void OnShutdown() = 0;

  std::shared_ptr<StreamSession> self() { return shared_from_this(); }
  // A write started now would be one of the pacer's pass (Pacer::DeferWrite).
  bool in_pass() const { return pacer_.in_pass(); }

  Pacer& pacer_;
  net::any_io_executor executor_;
  Shared& shared_;
  const ConnectionKind kind_;
  ConnectionSlot slot_;
  const std::string run_id_;
  std::optional<playback::Session> session_;
  bool closed_ = false;             // no more writes or timers
  bool shutting_down_ = false;      // the server is stopping
  bool close_after_error_ = false;  // close once the next {"t":"err"} is written

 private:
  void Shutdown() final;
  void OnPaced(uint64_t ticket) final;
  void ArmDeadline(playback::Clock::TimePoint deadline);
  void ArmWriteTimer(std::chrono::steady_clock::time_point at);
  void PollRun();

  std::optional<playback::Clock::TimePoint> armed_at_;  // the deadline the pacer holds
  uint64_t pace_ticket_ = 0;                            // of that registration
  net::steady_timer write_timer_;                       // see ArmWriteTimer
  bool write_timer_armed_ = false;
  std::chrono::steady_clock::time_point write_started_at_{};
  net::steady_timer run_timer_;  // asks the RunSource again while the run is not done
  playback::Outgoing current_;   // the message being written: its buffers must outlive the write
  uint64_t reported_dropped_ = 0, reported_lag_ = 0;
};

}  // namespace tapedeck::server
