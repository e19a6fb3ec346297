// The lane's frame clock: registrations by instant, one pass for all that are due, stale tickets
// and streams gone skipped, deferred writes after the pass.
#include "server/pacer.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <string>
#include <thread>
#include <vector>

#include "playback/clock.h"

namespace tapedeck::server {
namespace {

namespace net = boost::asio;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

struct Log {
  std::vector<std::string> events;
  std::vector<Clock::time_point> at;
};

class Stream : public Paced, public std::enable_shared_from_this<Stream> {
 public:
  Stream(Pacer& pacer, Log& log, std::string name, bool defer = false)
      : pacer_(pacer), log_(log), name_(std::move(name)), defer_(defer) {}
  void OnPaced(uint64_t ticket) override {
    log_.events.push_back(name_ + ":" + std::to_string(ticket));
    log_.at.push_back(Clock::now());
    EXPECT_TRUE(pacer_.in_pass());
    if (defer_) pacer_.DeferWrite(shared_from_this());
    if (on_paced) on_paced();
  }
  void OnPassEnd() override { log_.events.push_back(name_ + ":end"); }
  void OnPassWritten() override { log_.events.push_back(name_ + ":written"); }
  std::function<void()> on_paced;

 private:
  Pacer& pacer_;
  Log& log_;
  std::string name_;
  bool defer_;
};

TEST(PacerTest, StreamsDueAtOneInstantRunInOnePassInTheOrderRegistered) {
  net::io_context ioc;
  Pacer pacer(net::make_strand(ioc));
  Log log;
  auto a = std::make_shared<Stream>(pacer, log, "a", true);
  auto b = std::make_shared<Stream>(pacer, log, "b", true);
  auto c = std::make_shared<Stream>(pacer, log, "c");
  const auto t0 = Clock::now() + milliseconds(20);
  const auto t1 = t0 + milliseconds(20);
  net::post(pacer.executor(), [&] {
    pacer.Schedule(c, t1, 7);
    pacer.Schedule(a, t0, 1);
    pacer.Schedule(b, t0, 2);
  });
  ioc.run();
  EXPECT_EQ(log.events, (std::vector<std::string>{"a:1", "b:2", "a:end", "b:end", "a:written",
                                                  "b:written", "c:7"}));
  ASSERT_EQ(log.at.size(), 3u);
  EXPECT_GE(log.at[0], t0);
  EXPECT_GE(log.at[2], t1);
}

TEST(PacerTest, PastInstantsGoFirstAndWhatAPassSchedulesWaitsForTheNext) {
  net::io_context ioc;
  Pacer pacer(net::make_strand(ioc));
  Log log;
  auto a = std::make_shared<Stream>(pacer, log, "a");
  auto b = std::make_shared<Stream>(pacer, log, "b");
  const auto now = Clock::now();
  int passes = 0;
  a->on_paced = [&] {
    if (++passes < 3) pacer.Schedule(a, Clock::now() - milliseconds(1), 10 + passes);  // "at once"
  };
  net::post(pacer.executor(), [&] {
    pacer.Schedule(b, now - milliseconds(1), 2);  // later than a's, but both passed
    pacer.Schedule(a, now - milliseconds(5), 1);
  });
  ioc.run();
  EXPECT_EQ(log.events, (std::vector<std::string>{"a:1", "b:2", "a:11", "a:12"}));
}

TEST(PacerTest, StreamsGoneAreSkipped) {
  net::io_context ioc;
  Pacer pacer(net::make_strand(ioc));
  Log log;
  auto a = std::make_shared<Stream>(pacer, log, "a");
  auto b = std::make_shared<Stream>(pacer, log, "b");
  const auto t0 = Clock::now() + milliseconds(5);
  net::post(pacer.executor(), [&] {
    pacer.Schedule(a, t0, 1);
    pacer.Schedule(b, t0, 2);
    pacer.Schedule(a, t0 + milliseconds(5), 3);
    b.reset();
  });
  ioc.run();
  EXPECT_EQ(log.events, (std::vector<std::string>{"a:1", "a:3"}));
}

TEST(PacerTest, ManyInstantsManyTimesOver) {
  // The instants' lists are reused; every registration is called once, in time order.
  net::io_context ioc;
  Pacer pacer(net::make_strand(ioc));
  Log log;
  std::vector<std::shared_ptr<Stream>> streams;
  for (int i = 0; i < 40; ++i) {
    streams.push_back(std::make_shared<Stream>(pacer, log, std::to_string(i)));
  }
  const auto t0 = Clock::now();
  int left = 200;
  for (int i = 0; i < 40; ++i) {
    streams[i]->on_paced = [&, i] {
      if (--left <= 0) return;
      pacer.Schedule(streams[i], Clock::now() + milliseconds(1 + i % 3), 0);
    };
  }
  net::post(pacer.executor(), [&] {
    for (int i = 0; i < 40; ++i) pacer.Schedule(streams[i], t0 + milliseconds(i % 4), 0);
  });
  ioc.run();
  EXPECT_EQ(log.events.size(), 40u + 199u);
  for (size_t i = 1; i < log.at.size(); ++i) EXPECT_GE(log.at[i], log.at[i - 1]);
}

// What a stream reads from the sessions' clock in each of a pass's calls.
class ClockReader : public Paced, public std::enable_shared_from_this<ClockReader> {
 public:
  explicit ClockReader(Pacer& pacer) : pacer_(pacer) {}
  void OnPaced(uint64_t) override {
    seen.push_back(playback::SteadyClock::Instance().Now());
    std::this_thread::sleep_for(milliseconds(1));  // the pass takes a while
    pacer_.DeferWrite(shared_from_this());
  }
  void OnPassEnd() override { seen.push_back(playback::SteadyClock::Instance().Now()); }
  void OnPassWritten() override { seen.push_back(playback::SteadyClock::Instance().Now()); }
  std::vector<Clock::time_point> seen;

 private:
  Pacer& pacer_;
};

TEST(PacerTest, APassReadsTheClockOnce) {
  // Every call of a pass sees the instant the pass began (at or after the streams' deadline);
  // outside a pass the clock is the real one again.
  net::io_context ioc;
  Pacer pacer(net::make_strand(ioc));
  auto a = std::make_shared<ClockReader>(pacer);
  auto b = std::make_shared<ClockReader>(pacer);
  const auto t0 = Clock::now() + milliseconds(5);
  net::post(pacer.executor(), [&] {
    pacer.Schedule(a, t0, 1);
    pacer.Schedule(b, t0, 2);
  });
  ioc.run();
  ASSERT_EQ(a->seen.size(), 3u);
  ASSERT_EQ(b->seen.size(), 3u);
  const auto pass = a->seen[0];
  EXPECT_GE(pass, t0);
  for (const auto& at : a->seen) EXPECT_EQ(at, pass);
  for (const auto& at : b->seen) EXPECT_EQ(at, pass);
  EXPECT_GE(playback::SteadyClock::Instance().Now() - pass, milliseconds(2));
}

}  // namespace
}  // namespace tapedeck::server
