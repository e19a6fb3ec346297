// A tape that starts with its first bars while the rest loads (Tape::CreatePartial, Complete,
// FailLoad), and sessions playing one: frames of bars still loading wait and are never skipped,
// seeks past the bars loaded answer exactly once the rest is here, a failed load is the stream's
// error.
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <thread>

#include "fake_clock.h"
#include "playback/playback.h"
#include "tape_fixture.h"

namespace tapedeck::playback {
namespace {

using namespace testing;  // NOLINT
namespace json = boost::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

// One run, whole and as a head of its first `head` bars.
struct Split {
  std::shared_ptr<engine::RunResult> run;
  std::vector<market::Series> series;
  std::shared_ptr<Tape> partial;
  std::shared_ptr<const Tape> whole;

  Status Complete() { return partial->Complete(run, series); }
};

Split SplitRun(const TapeSpec& spec, size_t head) {
  Split s;
  s.run = MakeRun(spec, &s.series);
  auto whole = Tape::Create(s.run, s.series);
  EXPECT_TRUE(whole.ok());
  s.whole = *whole;
  auto cut = std::make_shared<engine::RunResult>(*s.run);
  cut->times.resize(head);
  cut->equity.resize(head);
  std::erase_if(cut->events, [&](const engine::OrderEvent& ev) { return ev.bar >= head; });
  std::vector<market::Series> series;
  for (const market::Series& one : s.series) {
    series.push_back(one.Slice(FromMicros(INT64_MIN), cut->times.back() + Micros{1}));
  }
  auto partial =
      Tape::CreatePartial(cut, std::move(series), s.run->times.size(), s.run->times.back());
  EXPECT_TRUE(partial.ok()) << partial.error().ToString();
  s.partial = *partial;
  return s;
}

// Polls the session as the server does, the clock jumping to each deadline.
struct Player {
  Player(std::shared_ptr<const Tape> tape, SessionOptions options) {
    auto created = Session::Create(std::move(tape), std::move(options), clock);
    EXPECT_TRUE(created.ok()) << created.error().ToString();
    session.emplace(std::move(*created));
  }
  void RunFor(std::chrono::nanoseconds d) {
    const auto until = clock.Now() + d;
    for (int guard = 0; guard < 1'000'000; ++guard) {
      if (auto m = session->Poll()) {
        sent.push_back(std::move(*m));
        session->OnWriteDone();
        continue;
      }
      const auto deadline = session->NextDeadline();
      ASSERT_GT(deadline, clock.Now()) << "a deadline in the past but nothing to send";
      if (deadline > until) {
        clock.Set(until);
        return;
      }
      clock.Set(deadline);
    }
    FAIL() << "runaway";
  }
  std::vector<const Outgoing*> Frames() const {
    std::vector<const Outgoing*> out;
    for (const Outgoing& m : sent) {
      if (m.kind == Outgoing::Kind::kFrame) out.push_back(&m);
    }
    return out;
  }
  FakeClock clock;
  std::optional<Session> session;
  std::vector<Outgoing> sent;
};

SessionOptions At(double speed, std::optional<SeekTarget> from = std::nullopt) {
  SessionOptions options;
  options.speed = SpeedOf(speed);
  options.from = from;
  return options;
}

TapeSpec Minutes(int64_t n) {
  TapeSpec spec{{Range(n)}};
  for (size_t bar = 3; bar < static_cast<size_t>(n); bar += 37) {
    spec.events.push_back(Event(static_cast<engine::OrderId>(bar), bar));
  }
  return spec;
}

TEST(PartialTapeTest, KnowsItsHeadAndTheWholeRunsLength) {
  Split s = SplitRun(Minutes(1000), 100);
  const Tape& t = *s.partial;
  EXPECT_FALSE(t.complete());
  EXPECT_EQ(t.bar_count(), 100u);
  EXPECT_EQ(t.total_bars(), 1000u);
  EXPECT_EQ(t.first_time(), Minute(0));
  EXPECT_EQ(t.last_time(), Minute(999));
  EXPECT_TRUE(t.Knows(Minute(99)));
  EXPECT_FALSE(t.Knows(Minute(100)));
  EXPECT_FALSE(t.load_error().has_value());
  // A span taken from the head stays valid once the whole replaces it.
  const auto head_times = t.times();
  ASSERT_TRUE(s.Complete().ok());
  EXPECT_TRUE(t.complete());
  EXPECT_EQ(t.bar_count(), 1000u);
  EXPECT_TRUE(t.Knows(Minute(5000)));
  EXPECT_EQ(head_times.size(), 100u);
  EXPECT_EQ(head_times[99], Minute(99));
  EXPECT_TRUE(t.WaitComplete().ok());
}

TEST(PartialTapeTest, AHeadThatCannotBeginTheRunIsRefused) {
  std::vector<market::Series> series;
  auto run = MakeRun(Minutes(10), &series);
  auto empty = std::make_shared<engine::RunResult>(*run);
  empty->times.clear();
  empty->equity.clear();
  empty->events.clear();
  EXPECT_EQ(Tape::CreatePartial(empty, series, 10, Minute(9)).error().code, ErrorCode::kValidation);
  EXPECT_EQ(Tape::CreatePartial(run, series, 5, Minute(9)).error().code, ErrorCode::kValidation);
  EXPECT_EQ(Tape::CreatePartial(run, series, 20, Minute(8)).error().code, ErrorCode::kValidation);
  // A head that is the whole run is a whole tape.
  auto whole = Tape::CreatePartial(run, series, 10, Minute(9));
  ASSERT_TRUE(whole.ok());
  EXPECT_TRUE((*whole)->complete());
}

TEST(PartialTapeTest, ARestThatDoesNotContinueTheHeadFailsTheTape) {
  Split s = SplitRun(Minutes(1000), 100);
  auto other = std::make_shared<engine::RunResult>(*s.run);
  other->equity[5] += 1;
  const Status st = s.partial->Complete(other, s.series);
  EXPECT_EQ(st.error().code, ErrorCode::kValidation);
  EXPECT_FALSE(s.partial->complete());
  ASSERT_TRUE(s.partial->load_error().has_value());
  EXPECT_EQ(s.partial->WaitComplete().error().code, ErrorCode::kValidation);
}

TEST(PartialTapeTest, WaitCompleteTimesOutWhileTheRestIsLoading) {
  Split s = SplitRun(Minutes(1000), 100);
  EXPECT_TRUE(s.partial->WaitComplete(milliseconds(1)).ok());
  EXPECT_FALSE(s.partial->complete());
}

TEST(PartialTapeSessionTest, FramesOfBarsStillLoadingWaitAndNoneIsSkipped) {
  // 10 bars a window; the head holds 95 bars: windows 0..8 whole, window 9 not.
  const TapeSpec spec = Minutes(2000);
  Split s = SplitRun(spec, 95);
  Player whole(s.whole, At(SpeedForMinutes(10)));
  Player partial(s.partial, At(SpeedForMinutes(10)));
  whole.RunFor(seconds(1));
  partial.RunFor(seconds(1));
  // The head's windows went out as they do from the whole tape, at the same times.
  const auto head_frames = partial.Frames();
  ASSERT_EQ(head_frames.size(), 9u);
  const auto whole_frames = whole.Frames();
  for (size_t i = 0; i < head_frames.size(); ++i) {
    EXPECT_EQ(head_frames[i]->Text(), whole_frames[i]->Text()) << i;
  }
  // Then it waits, heartbeats and all, without an end.
  partial.RunFor(seconds(6));
  EXPECT_EQ(partial.Frames().size(), 9u);
  EXPECT_EQ(partial.sent.back().kind, Outgoing::Kind::kHeartbeat);
  // The rest arrives: playback goes on from bar 90, every bar sent once, in order, then end.
  ASSERT_TRUE(s.Complete().ok());
  partial.RunFor(seconds(20));
  size_t next_bar = 0;
  for (const Outgoing* f : partial.Frames()) {
    ASSERT_EQ(f->bars.begin, next_bar);
    next_bar = f->bars.end;
  }
  EXPECT_EQ(next_bar, 2000u);
  EXPECT_TRUE(std::any_of(partial.sent.begin(), partial.sent.end(),
                          [](const Outgoing& m) { return m.kind == Outgoing::Kind::kEnd; }));
  // The windows that came due while waiting went out merged, as any server lag; not as dropped.
  EXPECT_EQ(partial.session->dropped(), 0u);
  EXPECT_GT(partial.session->lag_merged(), 0u);
  const json::object tenth = json::parse(partial.Frames()[9]->Text()).as_object();
  EXPECT_EQ(tenth.at("n").as_int64(), 200);
}

TEST(PartialTapeSessionTest, ASeekToTheEndWhileLoadingAnswersExactlyOnceTheRestIsHere) {
  Split s = SplitRun(Minutes(2000), 95);
  Player whole(s.whole, At(SpeedForMinutes(10)));
  Player partial(s.partial, At(SpeedForMinutes(10)));
  whole.RunFor(milliseconds(1));
  partial.RunFor(milliseconds(1));
  ASSERT_TRUE(whole.session->Seek(SeekTarget{uint64_t{199}}).ok());
  std::thread rest([&] {
    std::this_thread::sleep_for(milliseconds(50));
    EXPECT_TRUE(s.Complete().ok());
  });
  ASSERT_TRUE(partial.session->Seek(SeekTarget{uint64_t{199}}).ok());
  rest.join();
  whole.RunFor(milliseconds(1));
  partial.RunFor(milliseconds(1));
  ASSERT_EQ(partial.Frames().size(), 2u);
  EXPECT_EQ(partial.Frames()[1]->Text(), whole.Frames()[1]->Text());
  EXPECT_EQ(partial.Frames()[1]->window, 199u);
  EXPECT_EQ(partial.Frames()[1]->bars.end, 2000u);
  // A seek out of range is still refused at once, loaded or not.
  Split t = SplitRun(Minutes(2000), 95);
  Player other(t.partial, At(SpeedForMinutes(10)));
  EXPECT_EQ(other.session->Seek(SeekTarget{uint64_t{200}}).error().code, ErrorCode::kRange);
  EXPECT_FALSE(t.partial->complete());
}

TEST(PartialTapeSessionTest, AFromPastTheHeadStartsThereOnceTheRestIsHere) {
  Split s = SplitRun(Minutes(2000), 95);
  std::thread rest([&] {
    std::this_thread::sleep_for(milliseconds(30));
    EXPECT_TRUE(s.Complete().ok());
  });
  Player partial(s.partial, At(SpeedForMinutes(10), SeekTarget{Minute(1500)}));
  rest.join();
  partial.RunFor(milliseconds(1));
  ASSERT_EQ(partial.Frames().size(), 1u);
  EXPECT_EQ(partial.Frames()[0]->window, 150u);
  EXPECT_EQ(partial.Frames()[0]->bars.begin, 1500u);
}

TEST(PartialTapeSessionTest, AFailedLoadEndsTheStreamWithTheStoresError) {
  Split s = SplitRun(Minutes(2000), 95);
  Player partial(s.partial, At(SpeedForMinutes(10)));
  partial.RunFor(seconds(1));
  ASSERT_EQ(partial.Frames().size(), 9u);
  s.partial->FailLoad(MakeError(ErrorCode::kIo, "the disk is gone"));
  partial.RunFor(milliseconds(10));
  const Outgoing& last = partial.sent.back();
  ASSERT_EQ(last.kind, Outgoing::Kind::kError);
  EXPECT_TRUE(last.close_after);
  const json::object err = json::parse(last.Text()).as_object();
  EXPECT_EQ(err.at("code").as_string(), "IO");
  EXPECT_EQ(partial.Frames().size(), 9u);
  // A seek that would wait for the rest gets the error rather than a hang.
  EXPECT_EQ(partial.session->Seek(SeekTarget{uint64_t{150}}).error().code, ErrorCode::kIo);
}

TEST(PartialTapeSessionTest, ALoadFailingWhileASeekWaitsAnswersTheSeekWithTheError) {
  Split s = SplitRun(Minutes(2000), 95);
  Player partial(s.partial, At(SpeedForMinutes(10)));
  std::thread rest([&] {
    std::this_thread::sleep_for(milliseconds(30));
    s.partial->FailLoad(MakeError(ErrorCode::kIo, "connection lost"));
  });
  const Status st = partial.session->Seek(SeekTarget{Minute(1990)});
  rest.join();
  EXPECT_EQ(st.error().code, ErrorCode::kIo);
  partial.RunFor(milliseconds(10));
  ASSERT_FALSE(partial.sent.empty());
  EXPECT_EQ(partial.sent.front().kind, Outgoing::Kind::kError);
}

}  // namespace
}  // namespace tapedeck::playback
