#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "drive_session.h"
#include "fake_clock.h"
#include "playback/playback.h"
#include "tape_fixture.h"

namespace tapedeck::playback {
namespace {

using namespace testing;  // NOLINT
namespace json = boost::json;
using std::chrono::milliseconds;
using std::chrono::seconds;
using TimePoint = Clock::TimePoint;

struct Sent {
  TimePoint at;
  Outgoing msg;
  json::object Json() const { return json::parse(msg.Text()).as_object(); }
};

// Plays the server: writes complete at once unless told otherwise.
class Harness {
 public:
  explicit Harness(std::shared_ptr<const Tape> tape, SessionOptions options = {},
                   SessionSettings settings = {}) {
    auto created = Session::Create(std::move(tape), std::move(options), clock, settings);
    EXPECT_TRUE(created.ok()) << (created.ok() ? "" : created.error().ToString());
    session.emplace(std::move(*created));
    start = clock.Now();
  }

  // Polls and sleeps until the clock reaches `until` (or the session has nothing more to do).
  void RunUntil(TimePoint until) {
    DriveSessionUntil(*session, clock, until, [this](TimePoint at, Outgoing m) {
      sent.push_back({at, std::move(m)});
    });
  }
  void RunFor(std::chrono::nanoseconds d) { RunUntil(clock.Now() + d); }

  std::vector<const Sent*> Of(Outgoing::Kind kind) const {
    std::vector<const Sent*> out;
    for (const Sent& s : sent) {
      if (s.msg.kind == kind) out.push_back(&s);
    }
    return out;
  }
  std::vector<size_t> Windows() const {
    std::vector<size_t> out;
    for (const Sent* s : Of(Outgoing::Kind::kFrame)) out.push_back(s->msg.window);
    return out;
  }

  FakeClock clock;
  std::optional<Session> session;
  std::vector<Sent> sent;
  TimePoint start;
};

SessionOptions At(double speed, std::optional<SeekTarget> from = std::nullopt) {
  SessionOptions options;
  options.speed = SpeedOf(speed);
  options.from = from;
  return options;
}

std::shared_ptr<const Tape> GappedTape() { return MakeTape(TapeSpec{{{0, 1, 2, 10, 11, 20}}}); }

TEST(SessionTest, PlaysAYearInSixtySecondsAtThirtyFps) {
  Harness h(MinuteTape(525'600));
  h.RunFor(seconds(61));
  const auto frames = h.Of(Outgoing::Kind::kFrame);
  ASSERT_EQ(frames.size(), 1800u);
  EXPECT_EQ(frames.front()->at, h.start);  // at once
  for (size_t i = 1; i < frames.size(); ++i) {
    ASSERT_EQ(frames[i]->at - frames[i - 1]->at, kFrameInterval);  // never faster than 30 FPS
    ASSERT_EQ(frames[i]->msg.window, i);
    ASSERT_EQ(frames[i]->msg.bars.begin, frames[i - 1]->msg.bars.end);
  }
  EXPECT_EQ(frames.back()->msg.bars.end, 525'600u);
  EXPECT_EQ(frames.back()->at - h.start, kFrameInterval * 1799);
  ASSERT_EQ(h.Of(Outgoing::Kind::kEnd).size(), 1u);
  EXPECT_EQ(h.session->state(), Session::State::kEnded);
  EXPECT_EQ(h.session->dropped(), 0u);
  const json::object last = frames.back()->Json();
  EXPECT_EQ(last.at("i").as_int64(), 1799);
  EXPECT_EQ(last.at("n").as_int64(), 1800);
}

TEST(SessionTest, EmptyWindowsAreSkippedOnTheWallClock) {
  Harness h(GappedTape(), At(SpeedForMinutes(1)));
  h.RunFor(seconds(1));
  EXPECT_EQ(h.Windows(), (std::vector<size_t>{0, 1, 2, 10, 11, 20}));
  for (const Sent* s : h.Of(Outgoing::Kind::kFrame)) {
    EXPECT_EQ(s->at - h.start, kFrameInterval * static_cast<int64_t>(s->msg.window));
  }
}

TEST(SessionTest, StartsFromTheGivenSeekTargetSnapped) {
  Harness h(GappedTape(), At(SpeedForMinutes(1), SeekTarget{Minute(6)}));
  h.RunFor(milliseconds(1));
  EXPECT_EQ(h.Windows(), (std::vector<size_t>{10}));
}

TEST(SessionTest, PauseStopsFramesAndPlayResumes) {
  Harness h(MinuteTape(3000));
  h.RunFor(kFrameInterval * 2);  // windows 0, 1, 2
  ASSERT_EQ(h.Windows(), (std::vector<size_t>{0, 1, 2}));
  ASSERT_TRUE(h.session->Pause().ok());
  EXPECT_EQ(h.session->state(), Session::State::kPaused);
  h.RunFor(seconds(2));
  EXPECT_EQ(h.Windows().size(), 3u);
  ASSERT_TRUE(h.session->Play().ok());
  const TimePoint resumed = h.clock.Now();
  h.RunFor(kFrameInterval);
  const auto frames = h.Of(Outgoing::Kind::kFrame);
  ASSERT_EQ(frames.size(), 5u);
  EXPECT_EQ(frames[3]->msg.window, 3u);
  EXPECT_EQ(frames[3]->at, resumed);
  EXPECT_EQ(frames[4]->at - resumed, kFrameInterval);
}

TEST(SessionTest, PausePlayTogglingNeverExceedsThirtyFps) {
  Harness h(MinuteTape(3000));
  h.RunFor(milliseconds(1));
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(h.session->Pause().ok());
    ASSERT_TRUE(h.session->Play().ok());
    h.RunFor(milliseconds(1));
  }
  h.RunFor(milliseconds(200));
  const auto frames = h.Of(Outgoing::Kind::kFrame);
  for (size_t i = 1; i < frames.size(); ++i) {
    EXPECT_GE(frames[i]->at - frames[i - 1]->at, kFrameInterval);
  }
}

TEST(SessionTest, HeartbeatAfterFiveSecondsWithoutAMessage) {
  Harness h(MinuteTape(3000));
  h.RunFor(milliseconds(1));
  ASSERT_TRUE(h.session->Pause().ok());
  const TimePoint last = h.sent.back().at;
  EXPECT_EQ(h.session->NextDeadline(), last + seconds(5));
  h.clock.Set(last + seconds(5) - milliseconds(1));
  EXPECT_FALSE(h.session->Poll().has_value());
  h.RunUntil(last + seconds(12));
  const auto hbs = h.Of(Outgoing::Kind::kHeartbeat);
  ASSERT_EQ(hbs.size(), 2u);
  EXPECT_EQ(hbs[0]->at, last + seconds(5));
  EXPECT_EQ(hbs[1]->at, last + seconds(10));
  EXPECT_EQ(hbs[0]->msg.Text(), R"({"t":"hb"})");
}

TEST(SessionTest, SeekWhilePausedSendsTheFrameAtOnce) {
  Harness h(GappedTape(), At(SpeedForMinutes(1)));
  h.RunFor(milliseconds(1));
  ASSERT_TRUE(h.session->Pause().ok());
  ASSERT_TRUE(h.session->Seek(SeekTarget{uint64_t{6}}).ok());  // a tie between 2 and 10: 10
  EXPECT_LE(h.session->NextDeadline(), h.clock.Now());
  h.RunFor(seconds(1));
  EXPECT_EQ(h.Windows(), (std::vector<size_t>{0, 10}));
  EXPECT_EQ(h.session->state(), Session::State::kPaused);
  ASSERT_TRUE(h.session->Seek(SeekTarget{Minute(5)}).ok());  // nearer to 2
  h.RunFor(milliseconds(1));
  EXPECT_EQ(h.Windows().back(), 2u);
}

TEST(SessionTest, SeekWhilePlayingContinuesFromThere) {
  Harness h(MinuteTape(3000));
  h.RunFor(kFrameInterval * 3);
  ASSERT_TRUE(h.session->Seek(SeekTarget{uint64_t{8}}).ok());
  const TimePoint at = h.clock.Now();
  h.RunFor(kFrameInterval * 2);
  const auto frames = h.Of(Outgoing::Kind::kFrame);
  ASSERT_EQ(frames.size(), 7u);
  EXPECT_EQ(frames[4]->msg.window, 8u);
  EXPECT_EQ(frames[4]->at, at);
  EXPECT_EQ(frames[5]->msg.window, 9u);
  EXPECT_EQ(frames[6]->msg.window, 10u);
}

TEST(SessionTest, SeekOutOfRangeIsRangeAndPlaybackGoesOn) {
  Harness h(MinuteTape(3000));
  h.RunFor(milliseconds(1));
  Status st = h.session->Seek(SeekTarget{uint64_t{11}});
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, ErrorCode::kRange);
  h.RunFor(kFrameInterval);
  ASSERT_EQ(h.sent.size(), 3u);
  const json::object err = h.sent[1].Json();
  EXPECT_EQ(err.at("t").as_string(), "err");
  EXPECT_EQ(err.at("code").as_string(), "RANGE");
  EXPECT_EQ(err.at("details").at("field").as_string(), "pos");
  EXPECT_FALSE(h.sent[1].msg.close_after);
  EXPECT_EQ(h.sent[2].msg.window, 1u);
}

// The frames' bar ranges must tile the run: nothing repeated, nothing skipped.
void ExpectTiled(const Harness& h, size_t bars) {
  size_t next = 0;
  for (const Sent* s : h.Of(Outgoing::Kind::kFrame)) {
    ASSERT_EQ(s->msg.bars.begin, next);
    next = s->msg.bars.end;
  }
  EXPECT_EQ(next, bars);
}

TEST(SessionTest, SpeedChangeNeitherRepeatsNorSkipsBars) {
  Harness h(MinuteTape(200), At(SpeedForMinutes(1)));
  h.RunFor(kFrameInterval * 4);  // bars 0..4
  ASSERT_EQ(h.session->cursor(), 5u);
  ASSERT_TRUE(h.session->SetSpeed(SpeedOf(SpeedForMinutes(10))).ok());
  h.RunFor(kFrameInterval);
  auto frames = h.Of(Outgoing::Kind::kFrame);
  ASSERT_EQ(frames.size(), 6u);
  // The rest of the new window holding the current time: bars 5..9, window 0.
  EXPECT_EQ(frames[5]->msg.bars, (BarRange{5, 10}));
  EXPECT_EQ(frames[5]->msg.window, 0u);
  EXPECT_EQ(frames[5]->at - frames[4]->at, kFrameInterval);
  const json::object partial = frames[5]->Json();
  EXPECT_EQ(partial.at("i").as_int64(), 0);
  EXPECT_EQ(partial.at("n").as_int64(), 20);
  EXPECT_EQ(partial.at("ohlc").at("BTCUSDT").at("o").as_double(), BarAt(5).open);
  h.RunFor(kFrameInterval * 2);  // windows 1, 2 at the new speed
  ASSERT_TRUE(h.session->SetSpeed(SpeedOf(SpeedForMinutes(3))).ok());
  h.RunFor(seconds(5));
  ExpectTiled(h, 200);
  EXPECT_EQ(h.Of(Outgoing::Kind::kEnd).size(), 1u);
}

TEST(SessionTest, SpeedChangeWhilePausedTakesEffectOnPlay) {
  Harness h(MinuteTape(100), At(SpeedForMinutes(1)));
  h.RunFor(kFrameInterval * 2);
  ASSERT_TRUE(h.session->Pause().ok());
  ASSERT_TRUE(h.session->SetSpeed(SpeedOf(SpeedForMinutes(4))).ok());
  h.RunFor(seconds(1));
  EXPECT_EQ(h.Of(Outgoing::Kind::kFrame).size(), 3u);
  ASSERT_TRUE(h.session->Play().ok());
  h.RunFor(seconds(2));
  const auto frames = h.Of(Outgoing::Kind::kFrame);
  EXPECT_EQ(frames[3]->msg.bars, (BarRange{3, 4}));  // rest of the 4-minute window 0
  ExpectTiled(h, 100);
  EXPECT_EQ(h.session->speed().value(), SpeedForMinutes(4));
}

TEST(SessionTest, EndThenPlaySendsEndAgainAndSeekStillWorks) {
  Harness h(MinuteTape(600));  // 3 windows at speed 60
  h.RunFor(seconds(1));
  ASSERT_EQ(h.Windows(), (std::vector<size_t>{0, 1, 2}));
  ASSERT_EQ(h.sent.back().msg.kind, Outgoing::Kind::kEnd);
  EXPECT_EQ(h.sent.back().msg.Text(), R"({"t":"end"})");
  EXPECT_FALSE(h.sent.back().msg.close_after);  // WS stays open
  EXPECT_EQ(h.session->state(), Session::State::kEnded);
  EXPECT_EQ(h.session->window(), 2u);
  const size_t before = h.sent.size();
  h.RunFor(seconds(1));
  EXPECT_EQ(h.sent.size(), before);  // resting
  ASSERT_TRUE(h.session->Play().ok());
  h.RunFor(milliseconds(1));
  ASSERT_EQ(h.sent.size(), before + 1);
  EXPECT_EQ(h.sent.back().msg.kind, Outgoing::Kind::kEnd);
  ASSERT_TRUE(h.session->Seek(SeekTarget{uint64_t{1}}).ok());
  h.RunFor(seconds(1));
  EXPECT_EQ(h.sent.back().msg.window, 1u);
  EXPECT_EQ(h.session->state(), Session::State::kPaused);
  ASSERT_TRUE(h.session->Play().ok());
  h.RunFor(seconds(1));
  EXPECT_EQ(h.Windows(), (std::vector<size_t>{0, 1, 2, 1, 2}));
  EXPECT_EQ(h.sent.back().msg.kind, Outgoing::Kind::kEnd);
}

TapeSpec WithOrders() {
  TapeSpec spec{{Range(3000)}};
  spec.events = {Event(1, 300), Event(2, 600), Event(3, 601), Event(4, 900), Event(5, 1200)};
  return spec;
}

std::vector<int64_t> OrderIds(const Harness& h) {
  std::vector<int64_t> ids;
  for (const Sent* s : h.Of(Outgoing::Kind::kFrame)) {
    const json::object frame = s->Json();
    for (const auto& o : frame.at("orders").as_array()) ids.push_back(o.at("id").as_int64());
  }
  return ids;
}

TEST(SessionTest, FramesDueDuringAWriteAreCoalescedAndCountedAsDropped) {
  Harness h(MakeTape(WithOrders()));
  auto first = h.session->Poll();  // window 0, write in flight...
  ASSERT_TRUE(first.has_value());
  h.sent.push_back({h.clock.Now(), *first});
  EXPECT_EQ(h.session->NextDeadline(), TimePoint::max());
  for (int i = 0; i < 3; ++i) {  // ...while windows 1, 2, 3 come due
    h.clock.Advance(kFrameInterval);
    EXPECT_FALSE(h.session->Poll().has_value());
  }
  h.session->OnWriteDone();
  h.RunFor(kFrameInterval * 2);
  const auto frames = h.Of(Outgoing::Kind::kFrame);
  ASSERT_EQ(frames.size(), 4u);
  EXPECT_EQ(frames[1]->msg.window, 3u);
  EXPECT_EQ(frames[1]->msg.bars, (BarRange{292, 4 * 292}));
  EXPECT_EQ(frames[1]->Json().at("dropped").as_int64(), 2);
  EXPECT_EQ(frames[2]->Json().at("dropped").as_int64(), 2);  // cumulative
  EXPECT_EQ(h.session->dropped(), 2u);
  EXPECT_EQ(h.session->lag_merged(), 0u);
  // The merged frame holds the exact aggregate of windows 1..3.
  const Timeline tl = Timeline::Create(h.session->timeline()->shared_tape(), Speed::Constant(60));
  EXPECT_EQ(frames[1]->msg.Text(),
            EncodeFrame(tl.BuildFrame(BarRange{292, 4 * 292}), tl.tape(), 2));
  h.RunFor(seconds(2));
  EXPECT_EQ(OrderIds(h), (std::vector<int64_t>{1, 2, 3, 4, 5}));  // none lost
  ExpectTiled(h, 3000);
}

TEST(SessionTest, ASlowClientThroughoutLosesNoOrder) {
  Harness h(MakeTape(WithOrders()));
  for (int i = 0; i < 200 && h.session->state() != Session::State::kEnded; ++i) {
    if (auto m = h.session->Poll()) h.sent.push_back({h.clock.Now(), std::move(*m)});
    h.clock.Advance(milliseconds(110));  // every write takes 110 ms
    h.session->OnWriteDone();
  }
  EXPECT_EQ(OrderIds(h), (std::vector<int64_t>{1, 2, 3, 4, 5}));
  ExpectTiled(h, 3000);
  const auto frames = h.Of(Outgoing::Kind::kFrame);
  // 11 windows went out in fewer frames; every merged-away window is counted.
  EXPECT_LT(frames.size(), 6u);
  EXPECT_EQ(h.session->dropped(), 11 - frames.size());
  EXPECT_EQ(h.session->lag_merged(), 0u);
}

// 3000 minutes (speed 60: windows of 292 bars), an order every 10th bar: 29 or 30 a window.
TapeSpec ManyOrders() {
  TapeSpec spec{{Range(3000)}};
  for (size_t bar = 0; bar < 3000; bar += 10) spec.events.push_back(Event(bar + 1, bar));
  return spec;
}

TEST(SessionTest, AMergedFrameStopsAtTheOrderCapAndTheRestFollowsAtOnce) {
  SessionSettings settings;
  settings.max_frame_orders = 70;
  Harness h(MakeTape(ManyOrders()), {}, settings);
  auto first = h.session->Poll();  // window 0, write in flight while windows 1..7 come due
  ASSERT_TRUE(first.has_value());
  h.sent.push_back({h.clock.Now(), *first});
  h.clock.Advance(kFrameInterval * 7);
  const TimePoint caught_up_at = h.clock.Now();
  h.session->OnWriteDone();
  h.RunFor(milliseconds(1));
  const auto frames = h.Of(Outgoing::Kind::kFrame);
  const Timeline& tl = *h.session->timeline();
  // Two windows fit under 70 orders, three do not: windows 1-2, 3-4, 5-6, 7, all sent at once.
  ASSERT_EQ(frames.size(), 5u);
  EXPECT_EQ(h.Windows(), (std::vector<size_t>{0, 2, 4, 6, 7}));
  for (size_t i = 1; i < frames.size(); ++i) {
    EXPECT_EQ(frames[i]->at, caught_up_at) << i;
    EXPECT_LE(frames[i]->Json().at("orders").as_array().size(), 70u) << i;
    EXPECT_EQ(frames[i]->msg.bars.end, tl.FirstBarOf(frames[i]->msg.window + 1)) << i;
  }
  // Every window after the first of the catch-up went out merged: counted once each.
  EXPECT_EQ(h.session->dropped(), 7u - 4u);
  // Then it plays on at the pace, to the end, with every order once.
  h.RunFor(seconds(2));
  ExpectTiled(h, 3000);
  std::vector<int64_t> all;
  for (size_t bar = 0; bar < 3000; bar += 10) all.push_back(static_cast<int64_t>(bar + 1));
  EXPECT_EQ(OrderIds(h), all);
}

TEST(SessionTest, AWindowOverTheOrderCapStillGoesOutWhole) {
  SessionSettings settings;
  settings.max_frame_orders = 5;  // under any one window's orders
  Harness h(MakeTape(ManyOrders()), {}, settings);
  auto first = h.session->Poll();
  ASSERT_TRUE(first.has_value());
  h.sent.push_back({h.clock.Now(), *first});
  h.clock.Advance(kFrameInterval * 3);
  h.session->OnWriteDone();
  h.RunFor(milliseconds(1));
  EXPECT_EQ(h.Windows(), (std::vector<size_t>{0, 1, 2, 3}));
  h.RunFor(seconds(2));
  ExpectTiled(h, 3000);
  EXPECT_EQ(OrderIds(h).size(), 300u);
}

TEST(SessionTest, ServerLagMergesWithoutCountingDropped) {
  Harness h(MakeTape(WithOrders()));
  h.RunFor(milliseconds(1));
  h.clock.Advance(kFrameInterval * 3);  // the server woke late; no write was in flight
  h.RunFor(milliseconds(1));
  const auto frames = h.Of(Outgoing::Kind::kFrame);
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_EQ(frames[1]->msg.window, 3u);
  EXPECT_EQ(frames[1]->Json().at("dropped").as_int64(), 0);
  EXPECT_EQ(h.session->lag_merged(), 2u);
}

TEST(SessionTest, SeekReplacesTheWaitingFrame) {
  Harness h(MinuteTape(3000));
  auto first = h.session->Poll();
  ASSERT_TRUE(first.has_value());
  h.clock.Advance(kFrameInterval * 2);  // windows 1 and 2 waiting
  ASSERT_TRUE(h.session->Seek(SeekTarget{uint64_t{7}}).ok());
  h.session->OnWriteDone();
  h.RunFor(milliseconds(1));
  EXPECT_EQ(h.Windows(), (std::vector<size_t>{7}));
  EXPECT_EQ(h.session->dropped(), 0u);
}

TEST(SessionTest, ARunNotReadySendsHeartbeatsUntilItsTapeArrives) {
  Harness h(nullptr, At(60, SeekTarget{uint64_t{2}}));
  EXPECT_FALSE(h.session->has_tape());
  h.RunFor(seconds(11));
  EXPECT_EQ(h.Of(Outgoing::Kind::kHeartbeat).size(), 2u);
  Status seek = h.session->Seek(SeekTarget{uint64_t{0}});
  ASSERT_FALSE(seek.ok());
  EXPECT_EQ(seek.error().code, ErrorCode::kRange);
  EXPECT_EQ(seek.error().details.at("field"), "pos");
  ASSERT_TRUE(h.session->SetSpeed(Speed::Constant(30)).ok());
  ASSERT_TRUE(h.session->AttachTape(MinuteTape(3000)).ok());
  const TimePoint attached = h.clock.Now();
  h.RunFor(milliseconds(1));
  ASSERT_EQ(h.sent.size(), 4u);
  EXPECT_EQ(h.sent[2].msg.kind, Outgoing::Kind::kError);
  EXPECT_EQ(h.sent[3].msg.kind, Outgoing::Kind::kFrame);
  EXPECT_EQ(h.sent[3].at, attached);
  EXPECT_EQ(h.sent[3].msg.window, 2u);
  EXPECT_EQ(h.sent[3].Json().at("n").as_int64(), 21);  // at speed 30
}

TEST(SessionTest, AFromOutsideTheRunFoundOnAttachIsFatal) {
  Harness h(nullptr, At(60, SeekTarget{uint64_t{99}}));
  Status st = h.session->AttachTape(MinuteTape(3000));
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().details.at("field"), "from");
  h.RunFor(milliseconds(1));
  ASSERT_EQ(h.sent.size(), 1u);
  EXPECT_TRUE(h.sent[0].msg.close_after);
  EXPECT_EQ(h.sent[0].Json().at("code").as_string(), "RANGE");
}

TEST(SessionTest, CreateChecksSpeedAndFrom) {
  FakeClock clock;
  auto tape = MinuteTape(3000);
  // A speed is checked where it enters: a session cannot even be given 0.001.
  auto bad_speed = Speed::FromDouble(0.001);
  ASSERT_FALSE(bad_speed.ok());
  EXPECT_EQ(bad_speed.error().code, ErrorCode::kValidation);
  EXPECT_EQ(bad_speed.error().details.at("field"), "speed");
  auto bad_from = Session::Create(tape, At(60, SeekTarget{Minute(-1)}), clock);
  ASSERT_FALSE(bad_from.ok());
  EXPECT_EQ(bad_from.error().code, ErrorCode::kRange);
  EXPECT_EQ(bad_from.error().details.at("field"), "from");
}

TEST(SessionTest, ControlErrorsAreSentAndTheConnectionStaysOpen) {
  Harness h(MinuteTape(3000));
  h.RunFor(milliseconds(1));
  Status st = h.session->HandleText(R"({"t":"ctrl","cmd":"jump"})");
  ASSERT_FALSE(st.ok());
  EXPECT_TRUE(h.session->HandleText(R"({"t":"hb"})").ok());
  EXPECT_TRUE(h.session->HandleText(R"({"t":"ctrl","cmd":"pause"})").ok());
  h.RunFor(seconds(1));
  ASSERT_EQ(h.sent.size(), 2u);
  const json::object err = h.sent[1].Json();
  EXPECT_EQ(err.at("code").as_string(), "VALIDATION");
  EXPECT_EQ(err.at("details").at("field").as_string(), "cmd");
  EXPECT_TRUE(h.session->HandleText(R"({"t":"ctrl","cmd":"seek","pos":4})").ok());
  EXPECT_TRUE(h.session->HandleText(R"({"t":"ctrl","cmd":"speed","val":120})").ok());
  EXPECT_EQ(h.session->speed().value(), 120);
  h.RunFor(milliseconds(1));
  EXPECT_EQ(h.Windows().back(), 2u);  // window 4 at 60 is window 2 at 120
}

TEST(SessionTest, AFloodOfBadMessagesQueuesBoundedErrors) {
  Harness h(MinuteTape(3000));
  for (int i = 0; i < 1000; ++i) EXPECT_FALSE(h.session->HandleText("x").ok());
  h.RunFor(milliseconds(1));
  EXPECT_EQ(h.Of(Outgoing::Kind::kError).size(), 16u);
  h.session->QueueError(MakeError(ErrorCode::kRunFailed, "boom"));
  h.RunFor(milliseconds(1));
  EXPECT_TRUE(h.sent.back().msg.close_after);
}

SessionOptions Sse(std::optional<uint64_t> last_event_id,
                   std::optional<SeekTarget> from = std::nullopt) {
  SessionOptions options = At(SpeedForMinutes(1), from);
  options.channel = Channel::kSse;
  options.last_event_id = last_event_id;
  return options;
}

TEST(SseSessionTest, RetryFirstThenStandardEvents) {
  Harness h(GappedTape(), Sse(std::nullopt));
  h.RunFor(seconds(1));
  ASSERT_GE(h.sent.size(), 3u);
  EXPECT_EQ(h.sent[0].msg.Text(), "retry: 3000\n\n");
  const std::string frame = h.sent[1].msg.Text();
  EXPECT_EQ(frame.rfind("event: frame\nid: 0\ndata: {\"t\":\"frame\"", 0), 0u);
  EXPECT_TRUE(frame.ends_with("\"dropped\":0}\n\n"));
  EXPECT_EQ(std::count(frame.begin(), frame.end(), '\n'), 4);
  EXPECT_EQ(h.sent.back().msg.Text(), "event: end\ndata: {\"t\":\"end\"}\n\n");
  EXPECT_TRUE(h.sent.back().msg.close_after);
  h.session->QueueError(MakeError(ErrorCode::kInternal, "x"));
  h.RunFor(milliseconds(1));
  EXPECT_EQ(h.sent.back().msg.Text().rfind("event: err\ndata: {\"t\":\"err\"", 0), 0u);
}

TEST(SseSessionTest, LastEventIdResumesAtTheNextWindowWithBars) {
  Harness h(GappedTape(), Sse(2, SeekTarget{uint64_t{0}}));  // Last-Event-ID wins over from
  h.RunFor(seconds(1));
  EXPECT_EQ(h.Windows(), (std::vector<size_t>{10, 11, 20}));
  Harness mid(GappedTape(), Sse(10));
  mid.RunFor(seconds(1));
  EXPECT_EQ(mid.Windows(), (std::vector<size_t>{11, 20}));
}

TEST(SseSessionTest, LastEventIdAtTheLastWindowMeansNothingMore) {
  FakeClock clock;
  auto last = Session::Create(GappedTape(), Sse(20), clock);
  ASSERT_TRUE(last.ok());
  EXPECT_TRUE(last->nothing_more());
  auto beyond = Session::Create(GappedTape(), Sse(21), clock);
  ASSERT_FALSE(beyond.ok());
  EXPECT_EQ(beyond.error().code, ErrorCode::kRange);
  EXPECT_EQ(beyond.error().details.at("field"), "Last-Event-ID");
  auto fresh = Session::Create(GappedTape(), Sse(std::nullopt, SeekTarget{uint64_t{11}}), clock);
  ASSERT_TRUE(fresh.ok());
  EXPECT_FALSE(fresh->nothing_more());
}

TEST(SseSessionTest, HeartbeatsAreEvents) {
  Harness h(nullptr, Sse(std::nullopt));
  h.RunFor(seconds(5));
  ASSERT_EQ(h.sent.size(), 2u);
  EXPECT_EQ(h.sent[1].msg.Text(), "event: hb\ndata: {\"t\":\"hb\"}\n\n");
}

}  // namespace
}  // namespace tapedeck::playback
