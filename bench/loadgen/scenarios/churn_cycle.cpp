#include "scenarios/churn_cycle.h"

#include <algorithm>
#include <array>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <functional>
#include <memory>
#include <random>

#include "client.h"
#include "wire.h"

namespace tapedeck::loadgen {

namespace net = boost::asio;
using tcp = net::ip::tcp;

const char* ToString(ChurnLeave leave) {
  switch (leave) {
    case ChurnLeave::kClean:
      return "clean";
    case ChurnLeave::kRst:
      return "rst";
    case ChurnLeave::kDrop:
      return "drop";
    case ChurnLeave::kEarly:
      return "early";
  }
  return "?";
}

ChurnPlan PlanCycle(uint64_t seed, uint64_t k, int64_t windows) {
  std::seed_seq seq{static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32),
                    static_cast<uint32_t>(k), static_cast<uint32_t>(k >> 32)};
  std::mt19937_64 rng(seq);
  // Written out rather than a <random> distribution, whose results the standard leaves open.
  auto uniform = [&] { return static_cast<double>(rng() >> 11) * 0x1.0p-53; };
  auto window = [&] {
    return static_cast<int64_t>(rng() % static_cast<uint64_t>(std::max<int64_t>(windows, 1)));
  };
  ChurnPlan plan;
  plan.sse = uniform() < 0.5;
  if (uniform() < 0.25) plan.from = window();  // most likely a frame nobody asked for yet
  if (!plan.sse && uniform() < 0.4) {
    const uint64_t pick = rng() % 3;
    plan.control = pick == 0   ? ChurnControl::kSeek
                   : pick == 1 ? ChurnControl::kSpeed
                               : ChurnControl::kPause;
    plan.seek_to = window();
    // A few speeds only: each speed has its own frame cache in the tape (bounded, 64 MB), and
    // many would make the cache's growth look like a leak.
    plan.speed = rng() % 2 == 0 ? 30 : 120;
  }
  const double leave = uniform();
  plan.leave = leave < 0.5   ? ChurnLeave::kClean
               : leave < 0.7 ? ChurnLeave::kRst
               : leave < 0.9 ? ChurnLeave::kDrop
                             : ChurnLeave::kEarly;
  return plan;
}

namespace {

// The control message of a plan's kSeek, kSpeed or kPause.
std::string ControlMessage(const ChurnPlan& plan) {
  switch (plan.control) {
    case ChurnControl::kSeek:
      return R"({"t":"ctrl","cmd":"seek","pos":)" + std::to_string(plan.seek_to) + "}";
    case ChurnControl::kSpeed:
      return R"({"t":"ctrl","cmd":"speed","val":)" + std::to_string(plan.speed) + "}";
    case ChurnControl::kPause:
    case ChurnControl::kNone:
      break;
  }
  return R"({"t":"ctrl","cmd":"pause"})";
}

// One cycle on a plain socket. Every handler runs on the churn's one io_context thread.
class ChurnCycle final : public std::enable_shared_from_this<ChurnCycle> {
 public:
  using Done = std::function<void(CycleOutcome, bool got_frame, double first_frame_us,
                                  const std::string& error)>;

  ChurnCycle(net::io_context& ioc, tcp::endpoint endpoint, std::string request, ChurnPlan plan,
             std::chrono::milliseconds timeout, Done done)
      : socket_(ioc),
        timer_(ioc),
        endpoint_(endpoint),
        request_(std::move(request)),
        plan_(plan),
        timeout_(timeout),
        done_(std::move(done)),
        outbox_(socket_, [this](const boost::system::error_code& ec) { OnWritesDone(ec); }) {}

  void Start() {
    started_ = SteadyClock::now();
    timer_.expires_after(timeout_);
    timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (ec || self->phase_ == Phase::kDone) return;
      self->Finish(CycleOutcome::kTimeout,
                   std::string("no progress within the cycle timeout, ") + self->PhaseName(), true);
    });
    socket_.async_connect(
        endpoint_,
        [self = shared_from_this()](const boost::system::error_code& ec) { self->OnConnect(ec); });
  }

 private:
  enum class Phase { kConnecting, kHeader, kFirstFrame, kSeekFrame, kLeaving, kDone };

  const char* PhaseName() const {
    switch (phase_) {
      case Phase::kConnecting:
        return "connecting";
      case Phase::kHeader:
        return "waiting for the response header";
      case Phase::kFirstFrame:
        return "waiting for the first frame";
      case Phase::kSeekFrame:
        return "waiting for the seek's frame";
      case Phase::kLeaving:
        return "leaving cleanly";
      case Phase::kDone:
        return "done";
    }
    return "?";
  }

  void OnConnect(const boost::system::error_code& ec) {
    if (phase_ == Phase::kDone) return;
    if (ec) return Finish(CycleOutcome::kConnectFailed, "connect: " + ec.message());
    boost::system::error_code ignored;
    socket_.set_option(tcp::no_delay(true), ignored);
    phase_ = Phase::kHeader;
    Send(std::move(request_));
    if (plan_.leave == ChurnLeave::kEarly) {
      leave_after_writes_ = true;  // see OnWritesDone
      return;
    }
    DoRead();
  }

  void Send(std::string bytes) { outbox_.Send(shared_from_this(), std::move(bytes)); }

  // Every write is out: Leave, if that was asked for meanwhile. A failed write is seen by the read.
  void OnWritesDone(const boost::system::error_code& ec) {
    if (phase_ == Phase::kDone || ec) return;
    if (leave_after_writes_) Leave();
  }

  void DoRead() {
    socket_.async_read_some(net::buffer(chunk_),
                            [self = shared_from_this()](const boost::system::error_code& ec,
                                                        size_t n) { self->OnRead(ec, n); });
  }

  void OnRead(const boost::system::error_code& ec, size_t bytes) {
    if (phase_ == Phase::kDone) return;
    if (ec) return OnReadEnd(ec);
    pending_.append(chunk_.data(), bytes);
    if (phase_ == Phase::kHeader) {
      const ResponseHead head = ParseResponseHead(pending_);
      if (head.result == ResponseHead::kTooLong) {
        return Finish(CycleOutcome::kUpgradeFailed, "response header too long");
      }
      if (head.result == ResponseHead::kNeedMore) return DoRead();
      if (!head.status.starts_with(plan_.sse ? "HTTP/1.1 200" : "HTTP/1.1 101")) {
        const bool refused =
            head.status.starts_with("HTTP/1.1 429") || head.status.starts_with("HTTP/1.1 503");
        return Finish(refused ? CycleOutcome::kRefused : CycleOutcome::kUpgradeFailed,
                      std::string(head.status));
      }
      pending_.erase(0, head.size);
      phase_ = Phase::kFirstFrame;
    }
    const size_t used = plan_.sse ? ReadSseEvents() : ReadWsFrames();
    if (phase_ == Phase::kDone) return;
    pending_.erase(0, used);
    DoRead();
  }

  // The server closed, or the socket failed: the end of a clean leave, or a failure.
  void OnReadEnd(const boost::system::error_code& ec) {
    if (phase_ != Phase::kLeaving) {
      return Finish(CycleOutcome::kClosedEarly,
                    std::string("server closed ") + PhaseName() + ": " + ec.message());
    }
    if (ec != net::error::eof) {
      return Finish(CycleOutcome::kNoCloseHandshake, "leaving: " + ec.message());
    }
    if (!plan_.sse && !got_close_) {
      return Finish(CycleOutcome::kNoCloseHandshake, "eof before the server's close frame");
    }
    Finish(CycleOutcome::kOk);
  }

  // The complete SSE events in pending_; returns the bytes they took.
  size_t ReadSseEvents() {
    return ParseSseEvents(pending_, [this](std::string_view json) {
      if (phase_ != Phase::kDone) OnMessage(json);
    });
  }

  // The complete WebSocket frames in pending_; returns the bytes they took.
  size_t ReadWsFrames() {
    size_t used = 0;
    while (phase_ != Phase::kDone) {
      WsFrame frame;
      const char* why = nullptr;
      const WsParse parsed = ParseWsFrame(std::string_view(pending_).substr(used), frame, &why);
      if (parsed == WsParse::kBad) {
        Finish(CycleOutcome::kUpgradeFailed, why);
        break;
      }
      if (parsed == WsParse::kNeedMore) break;
      used += frame.size;
      if (frame.opcode == kWsClose) {
        if (phase_ != Phase::kLeaving) {
          Finish(CycleOutcome::kClosedEarly,
                 std::string("close frame from the server, ") + PhaseName());
          break;
        }
        got_close_ = true;
      } else if (frame.opcode == kWsText && frame.fin) {
        OnMessage(frame.payload);
      }
      // Pings go unanswered: a cycle lasts far less than the server's idle timeout.
    }
    return used;
  }

  void OnMessage(std::string_view json) {
    switch (TypeOf(json)) {
      case MessageType::kError:
        return Finish(CycleOutcome::kErrMessage, std::string(json.substr(0, 200)));
      case MessageType::kFrame:
        if (phase_ == Phase::kFirstFrame) {
          got_frame_ = true;
          first_frame_us_ = UsSince(started_, SteadyClock::now());
          AfterFirstFrame();
        } else if (phase_ == Phase::kSeekFrame) {
          Leave();
        }
        return;
      default:
        return;
    }
  }

  void AfterFirstFrame() {
    if (plan_.sse || plan_.control == ChurnControl::kNone) return Leave();
    Send(MaskedFrame(kWsText, ControlMessage(plan_)));
    // A seek's frame is sent at once: wait for it. Otherwise leave once the message is out.
    if (plan_.control == ChurnControl::kSeek) {
      phase_ = Phase::kSeekFrame;
    } else {
      leave_after_writes_ = true;
    }
  }

  // Leaves as planned, once nothing of ours waits to be written.
  void Leave() {
    if (!outbox_.empty()) {
      leave_after_writes_ = true;
      return;
    }
    leave_after_writes_ = false;
    switch (plan_.leave) {
      case ChurnLeave::kClean:
        if (phase_ == Phase::kLeaving) return;
        phase_ = Phase::kLeaving;
        if (plan_.sse) {
          // The server reads our end of stream and closes; we read until it has.
          boost::system::error_code ignored;
          socket_.shutdown(tcp::socket::shutdown_send, ignored);
        } else {
          Send(MaskedFrame(kWsClose, kWsNormalClosure));  // the server answers and closes
        }
        return;
      case ChurnLeave::kRst:
      case ChurnLeave::kEarly:
        return Finish(CycleOutcome::kOk, {}, true);
      case ChurnLeave::kDrop:
        return Finish(CycleOutcome::kOk);
    }
  }

  void Finish(CycleOutcome outcome, std::string error = {}, bool reset = false) {
    if (phase_ == Phase::kDone) return;
    phase_ = Phase::kDone;
    timer_.cancel();
    boost::system::error_code ignored;
    if (reset) socket_.set_option(net::socket_base::linger(true, 0), ignored);
    socket_.close(ignored);
    done_(outcome, got_frame_, first_frame_us_, error);
  }

  tcp::socket socket_;
  net::steady_timer timer_;
  tcp::endpoint endpoint_;
  std::string request_;
  const ChurnPlan plan_;
  const std::chrono::milliseconds timeout_;
  Done done_;
  WriteQueue outbox_;
  Phase phase_ = Phase::kConnecting;
  TimePoint started_{};
  std::string pending_;
  std::array<char, 16384> chunk_{};
  bool got_frame_ = false, got_close_ = false, leave_after_writes_ = false;
  double first_frame_us_ = 0;
};

constexpr std::chrono::milliseconds kCycleTimeout{10000};

}  // namespace

Churner::Churner(net::io_context& ioc, const Options& o, tcp::endpoint endpoint, int64_t windows,
                 TimePoint epoch)
    : ioc_(ioc),
      o_(o),
      endpoint_(endpoint),
      host_(o.HostHeader()),
      windows_(windows),
      epoch_(epoch),
      rate_timer_(ioc) {}

void Churner::RunUntil(uint64_t to) {
  net::post(ioc_, [this, to] {
    end_ = to;
    phase_first_ = next_;
    phase_start_ = SteadyClock::now();
    Pump();
  });
}

void Churner::Pump() {
  while (!stop_.load() && next_ < end_ && in_flight_ < o_.churn_concurrency) {
    if (o_.churn_rate > 0) {
      const auto due =
          phase_start_ + Seconds(static_cast<double>(next_ - phase_first_) / o_.churn_rate);
      if (SteadyClock::now() < due) {
        if (!rate_timer_armed_) {
          rate_timer_armed_ = true;
          rate_timer_.expires_at(due);
          rate_timer_.async_wait([this](const boost::system::error_code&) {
            rate_timer_armed_ = false;
            Pump();
          });
        }
        return;
      }
    }
    Launch(next_++);
  }
}

void Churner::Launch(uint64_t k) {
  CycleRecord& record = records_.emplace_back();  // records_[k]
  record.plan = PlanCycle(o_.seed, k, windows_);
  const std::string target = StreamTarget(o_, record.plan.sse, record.plan.from);
  std::string request =
      record.plan.sse ? SseRequest(host_, target) : WsUpgradeRequest(host_, target);
  ++in_flight_;
  started_.fetch_add(1);
  auto cycle =
      std::make_shared<ChurnCycle>(ioc_, endpoint_, std::move(request), record.plan, kCycleTimeout,
                                   [this, k](CycleOutcome outcome, bool got_frame,
                                             double first_frame_us, const std::string& error) {
                                     OnCycleDone(k, outcome, got_frame, first_frame_us, error);
                                   });
  cycle->Start();
}

void Churner::OnCycleDone(uint64_t k, CycleOutcome outcome, bool got_frame, double first_frame_us,
                          const std::string& error) {
  CycleRecord& r = records_[k];
  r.done = true;
  r.outcome = outcome;
  r.got_frame = got_frame;
  r.first_frame_us = static_cast<uint32_t>(std::min(first_frame_us, 4e9));
  r.done_ms = static_cast<uint32_t>(UsSince(epoch_, SteadyClock::now()) / 1e3);
  if (outcome != CycleOutcome::kOk && sample_errors_.size() < 10) {
    sample_errors_.push_back("cycle " + std::to_string(k) + " (" + (r.plan.sse ? "sse" : "ws") +
                             ", " + ToString(r.plan.leave) +
                             "): " + kOutcomeNames[static_cast<size_t>(outcome)] + ": " + error);
  }
  --in_flight_;
  completed_.fetch_add(1);
  // Not from inside the cycle's own handler: the next one starts on a fresh stack.
  net::post(ioc_, [this] { Pump(); });
}

}  // namespace tapedeck::loadgen
