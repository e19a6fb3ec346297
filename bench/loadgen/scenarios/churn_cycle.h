// The cycles of the churn scenario: what each connect/play/disconnect cycle does (a plan drawn
// from the seed and the cycle's index alone, so that a run can be repeated whatever the order in
// which cycles complete), how it ended, and the Churner that launches them.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

#include "options.h"
#include "stats.h"

namespace tapedeck::loadgen {

// How a cycle leaves. kClean: the WebSocket close handshake, or (SSE) a shutdown of our side and a
// read until the server closes. kRst: SO_LINGER 0 and close, after the first frame (the server
// sees a reset). kDrop: a plain close after the first frame while frames keep coming (FIN, or RST
// when unread bytes remain; the server's next write fails). kEarly: SO_LINGER 0 and close right
// after the request is written, before any answer (the server may be mid-upgrade).
enum class ChurnLeave : uint8_t { kClean, kRst, kDrop, kEarly };
inline constexpr size_t kChurnLeaves = 4;
enum class ChurnControl : uint8_t { kNone, kSeek, kSpeed, kPause };
inline constexpr size_t kChurnControls = 4;

const char* ToString(ChurnLeave leave);

struct ChurnPlan {
  bool sse = false;
  std::optional<int64_t> from;
  ChurnControl control = ChurnControl::kNone;
  int64_t seek_to = 0;
  int speed = 60;
  ChurnLeave leave = ChurnLeave::kClean;
  // Every cycle but kEarly waits for its first frame: not getting one is a failure.
  bool ExpectsFrame() const { return leave != ChurnLeave::kEarly; }
};

// What cycle k does: a function of the seed and k alone. `windows`: the run's window count at
// the cycles' speed.
ChurnPlan PlanCycle(uint64_t seed, uint64_t k, int64_t windows);

enum class CycleOutcome : uint8_t {
  kOk,
  kConnectFailed,
  kRefused,           // 429 or 503: a connection limit
  kUpgradeFailed,     // any other status
  kErrMessage,        // {"t":"err"}
  kClosedEarly,       // the server closed before the frame the cycle waited for
  kNoCloseHandshake,  // a clean leave that did not end cleanly
  kTimeout,
  kCount
};

inline constexpr const char* kOutcomeNames[] = {
    "ok",           "connect_failed",     "refused", "upgrade_failed", "err_message",
    "closed_early", "no_close_handshake", "timeout"};
static_assert(std::size(kOutcomeNames) == static_cast<size_t>(CycleOutcome::kCount));

// What the summary needs of one cycle.
struct CycleRecord {
  CycleOutcome outcome = CycleOutcome::kOk;
  bool done = false, got_frame = false;
  ChurnPlan plan;
  uint32_t done_ms = 0;         // since the run began
  uint32_t first_frame_us = 0;  // connect start -> first frame
};

// Starts cycles on one io_context, at most --churn-concurrency at once and at most --churn-rate
// a second, each given 10 s to end. RunUntil and StopLaunching may be called from any thread;
// records() and sample_errors() may be read once completed() == started() and no RunUntil is
// pending. `o` must outlive the Churner.
class Churner {
 public:
  Churner(boost::asio::io_context& ioc, const Options& o, boost::asio::ip::tcp::endpoint endpoint,
          int64_t windows, TimePoint epoch);

  // Launches cycles up to (not including) index `to`.
  void RunUntil(uint64_t to);
  // Launches no more cycles; those in flight end on their own.
  void StopLaunching() { stop_ = true; }

  uint64_t started() const { return started_.load(); }
  uint64_t completed() const { return completed_.load(); }
  // One record per cycle launched, in launch order.
  const std::deque<CycleRecord>& records() const { return records_; }
  const std::vector<std::string>& sample_errors() const { return sample_errors_; }

 private:
  void Pump();
  void Launch(uint64_t k);
  void OnCycleDone(uint64_t k, CycleOutcome outcome, bool got_frame, double first_frame_us,
                   const std::string& error);

  boost::asio::io_context& ioc_;
  const Options& o_;
  boost::asio::ip::tcp::endpoint endpoint_;
  std::string host_;
  int64_t windows_;
  TimePoint epoch_;
  boost::asio::steady_timer rate_timer_;
  bool rate_timer_armed_ = false;
  uint64_t next_ = 0, end_ = 0, phase_first_ = 0;
  TimePoint phase_start_{};
  size_t in_flight_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> started_{0}, completed_{0};
  // Grown as cycles launch (a deque keeps references to earlier records valid): a soak asks for
  // 100,000,000 cycles and stops at --churn-for, and 64 bytes each up front were 6.4 GB to zero.
  std::deque<CycleRecord> records_;
  std::vector<std::string> sample_errors_;
};

}  // namespace tapedeck::loadgen
