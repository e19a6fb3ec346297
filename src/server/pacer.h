// Internal: the frame clock of one I/O lane. The stream connections of a lane run on its strand,
// and instead of a timer each, register their next deadline here: one timer per lane wakes, and
// one pass drives every stream that is due, back to back (their writes then reach the kernel
// together, as a broadcast's would). A stale registration (the stream re-armed, stopped or went
// away) is skipped when it comes up.
//
// A pass reads the clock once: for its whole length (OnPaced, OnPassEnd, OnPassWritten) the
// playback sessions' clock (playback::SteadyClock) is pinned to the instant the pass began.
//
// Thread-safety: every call, and every OnPaced, on the lane's strand.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "server/wire_cache.h"

namespace tapedeck::server {

// What a Pacer drives.
class Paced {
 public:
  // `ticket` is the one given to Schedule; a stream ignores all but its latest.
  virtual void OnPaced(uint64_t ticket) = 0;
  // The pass that drove it (and every other stream due) is over: what it deferred (DeferWrite)
  // goes out now; a write done here is told (OnPassWritten) only once all of the pass's are out.
  virtual void OnPassEnd() {}
  virtual void OnPassWritten() {}

 protected:
  ~Paced() = default;
};

class Pacer {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  explicit Pacer(boost::asio::any_io_executor strand);
  Pacer(const Pacer&) = delete;
  Pacer& operator=(const Pacer&) = delete;

  // The lane's strand: the executor of its connections.
  const boost::asio::any_io_executor& executor() const { return strand_; }

  // The lane's shared wire bytes (wire_cache.h): its streams due the same frame send one buffer.
  WireCache& wire_cache() { return wire_cache_; }

  // Calls who->OnPaced(ticket) at `at` or soon after (at once when `at` has passed), unless
  // `who` is gone by then. On the strand.
  void Schedule(std::weak_ptr<Paced> who, TimePoint at, uint64_t ticket);

  // True while a pass drives the streams due (inside their OnPaced).
  bool in_pass() const { return in_pass_; }
  // Calls who->OnPassEnd() once the pass in progress has driven every stream due, in the order
  // asked, then who->OnPassWritten() for each. A pass thus prepares all its frames first, writes
  // them back to back, and only then goes on with each stream (its next deadline, ...), as a
  // broadcast would: the writes reach the kernel together, and the receivers, busy with the
  // first, need no wake-up for the next. REQUIRES: in_pass().
  void DeferWrite(std::shared_ptr<Paced> who);

 private:
  struct Entry {
    TimePoint at;
    uint64_t ticket;
    std::weak_ptr<Paced> who;
  };
  using Bucket = std::vector<Entry>;
  void Arm(TimePoint at);
  void OnTimer(const boost::system::error_code& ec);
  void Recycle(Bucket&& list);  // keeps an emptied list's capacity (a few of them) in spare_

  boost::asio::any_io_executor strand_;
  boost::asio::steady_timer timer_;
  std::optional<TimePoint> armed_at_;
  // The registrations by instant. The streams' frames are phase-aligned (Settings::pacing_phases):
  // a lane has a few instants a frame interval, each with many streams, so a registration is an
  // append to its instant's list (the one of the last call, most often) rather than a heap push.
  std::map<TimePoint, Bucket> buckets_;
  std::map<TimePoint, Bucket>::iterator last_bucket_ = buckets_.end();
  std::vector<Bucket> spare_;  // emptied lists, their capacity kept for the next instants
  Bucket due_;                 // the pass in progress
  bool in_pass_ = false;
  std::vector<std::shared_ptr<Paced>> deferred_;  // DeferWrite's, in the pass in progress
  WireCache wire_cache_;
};

}  // namespace tapedeck::server
