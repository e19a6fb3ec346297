#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <thread>

#include "playback/playback.h"
#include "tape_fixture.h"

namespace tapedeck::playback {
namespace {

using namespace testing;  // NOLINT
namespace json = boost::json;

Timeline MakeTimeline(std::shared_ptr<const Tape> tape, double speed) {
  return Timeline::Create(std::move(tape), SpeedOf(speed));
}

json::object ParseObject(std::string_view text) { return json::parse(text).as_object(); }

TEST(FrameTest, OhlcIsTheExactAggregateOfTheSourceBars) {
  auto tape = MinuteTape(3000);
  for (double speed : {1.0, 7.5, 60.0, 500.0}) {
    const Timeline tl = MakeTimeline(tape, speed);
    size_t covered = 0;
    for (size_t k = 0; k < tl.window_count(); ++k) {
      const BarRange bars = tl.Bars(k);
      if (bars.empty()) continue;
      const Frame f = tl.BuildFrame(k);
      ASSERT_EQ(f.ohlc.size(), 1u);
      const market::Series& s = tape->series()[0];
      double high = s.high()[bars.begin], low = s.low()[bars.begin], volume = 0;
      for (size_t i = bars.begin; i < bars.end; ++i) {
        high = std::max(high, s.high()[i]);
        low = std::min(low, s.low()[i]);
        volume += s.volume()[i];
        // Every bar lies inside its window.
        ASSERT_GE(s.times()[i], tl.WindowStart(k));
        ASSERT_LT(s.times()[i], tl.WindowStart(k + 1));
      }
      EXPECT_EQ(f.ohlc[0].open, s.open()[bars.begin]);
      EXPECT_EQ(f.ohlc[0].high, high);
      EXPECT_EQ(f.ohlc[0].low, low);
      EXPECT_EQ(f.ohlc[0].close, s.close()[bars.end - 1]);
      EXPECT_EQ(f.ohlc[0].volume, volume);
      EXPECT_EQ(f.ts, s.times()[bars.end - 1]);
      EXPECT_EQ(f.equity, tape->run().equity[bars.end - 1]);
      EXPECT_EQ(f.window, k);
      covered += bars.size();
    }
    EXPECT_EQ(covered, 3000u) << speed;
  }
}

TEST(FrameTest, ASymbolWithoutABarInTheWindowIsAbsent) {
  // ETH trades only in minutes 5..9.
  auto tape = MakeTape(TapeSpec{{Range(20), Range(5, 5)}, {"BTCUSDT", "ETHUSDT"}});
  const Timeline tl = MakeTimeline(tape, SpeedForMinutes(5));
  EXPECT_EQ(tl.BuildFrame(0).ohlc.size(), 1u);
  const Frame f = tl.BuildFrame(1);
  ASSERT_EQ(f.ohlc.size(), 2u);
  EXPECT_EQ(f.ohlc[1].symbol, 1u);
  EXPECT_EQ(f.ohlc[1].open, BarAt(5, 1).open);
  EXPECT_EQ(f.ohlc[1].close, BarAt(9, 1).close);
  const json::object obj = ParseObject(EncodeFrame(tl.BuildFrame(0), *tape, 0));
  EXPECT_FALSE(obj.at("ohlc").as_object().contains("ETHUSDT"));
  EXPECT_TRUE(obj.at("ohlc").as_object().contains("BTCUSDT"));
}

TEST(FrameTest, OrdersLandInTheWindowOfTheirBar) {
  TapeSpec spec{{Range(1000)}};
  spec.events = {Event(1, 0), Event(2, 291), Event(3, 292), Event(4, 292), Event(5, 999)};
  auto tape = MakeTape(spec);
  const Timeline tl = MakeTimeline(tape, 60);
  auto ids = [&](size_t k) {
    std::vector<int64_t> out;
    for (const auto& ev : tl.BuildFrame(k).orders) out.push_back(ev.id);
    return out;
  };
  EXPECT_EQ(ids(0), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(ids(1), (std::vector<int64_t>{3, 4}));
  EXPECT_EQ(ids(2), (std::vector<int64_t>{}));
  EXPECT_EQ(ids(3), (std::vector<int64_t>{5}));
}

TEST(FrameTest, EncodesTheExactWireShape) {
  TapeSpec spec{{{0, 1}}};
  engine::OrderEvent submitted = Event(7, 0, engine::OrderStatus::kSubmitted);
  submitted.qty.reset();
  engine::OrderEvent filled = Event(7, 1, engine::OrderStatus::kFilled);
  filled.side = engine::Side::kSell;
  filled.type = engine::OrderType::kStopLimit;
  engine::OrderEvent rejected = Event(8, 1, engine::OrderStatus::kRejected);
  rejected.reason = "cost exceeds \"cash\"";
  spec.events = {submitted, filled, rejected};
  auto tape = MakeTape(spec);
  const Timeline tl = MakeTimeline(tape, SpeedForMinutes(2));
  const std::string text = EncodeFrame(tl.BuildFrame(0), *tape, 3);
  EXPECT_EQ(text,
            R"({"t":"frame","ts":"2023-01-01T00:01:00Z","i":0,"n":1,)"
            R"("ohlc":{"BTCUSDT":{"o":100,"h":101.5,"l":99.5,"c":100.375,"v":3}},)"
            R"("orders":[{"id":7,"ts":"2023-01-01T00:00:00Z","sym":"BTCUSDT","side":"buy",)"
            R"("type":"market","qty":null,"status":"submitted"},)"
            R"({"id":7,"ts":"2023-01-01T00:01:00Z","sym":"BTCUSDT","side":"sell",)"
            R"("type":"stop_limit","qty":1.5,"status":"filled","px":101.25},)"
            R"({"id":8,"ts":"2023-01-01T00:01:00Z","sym":"BTCUSDT","side":"buy","type":"market",)"
            R"("qty":1.5,"status":"rejected","reason":"cost exceeds \"cash\""}],)"
            R"("equity":10001.5,"dropped":3})");
  EXPECT_NO_THROW(json::parse(text));
}

TEST(FrameTest, NumbersRoundTrip) {
  auto run = std::make_shared<engine::RunResult>();
  run->symbols = {"X"};
  const double values[] = {0.1, 1e-7, 123456.789012345, 1.0 / 3, 6.02214076e23};
  std::vector<market::Bar> bars;
  for (size_t i = 0; i < std::size(values); ++i) {
    const double v = values[i];
    bars.push_back({Minute(static_cast<int64_t>(i)), v, v, v, v, v});
    run->times.push_back(Minute(static_cast<int64_t>(i)));
    run->equity.push_back(v);
  }
  std::vector<market::Series> series{market::Series::FromBars("X", bars)};
  auto tape = *Tape::Create(run, series);
  const Timeline tl = MakeTimeline(tape, SpeedForMinutes(1));
  for (size_t k = 0; k < std::size(values); ++k) {
    const json::object obj = ParseObject(EncodeFrame(tl.BuildFrame(k), *tape, 0));
    EXPECT_EQ(obj.at("equity").as_double(), values[k]);
    EXPECT_EQ(obj.at("ohlc").at("X").at("h").to_number<double>(), values[k]);
  }
}

// The coalescing rule of DESIGN.md, folded by hand over one-window frames: first open, max high,
// min low, last close, summed volume per symbol; orders concatenated; ts, equity, i of the newer.
Frame Coalesce(const Frame& older, const Frame& newer) {
  Frame out = newer;
  out.bars = {older.bars.begin, newer.bars.end};
  out.orders = older.orders.empty() ? newer.orders
               : newer.orders.empty()
                   ? older.orders
                   : std::span<const engine::OrderEvent>(older.orders.data(),
                                                         newer.orders.data() + newer.orders.size());
  out.ohlc.clear();
  for (engine::SymbolId s = 0; s < 8; ++s) {
    const auto find = [s](const Frame& f) -> const SymbolOhlcv* {
      for (const SymbolOhlcv& o : f.ohlc) {
        if (o.symbol == s) return &o;
      }
      return nullptr;
    };
    const SymbolOhlcv *a = find(older), *b = find(newer);
    if (a && b) {
      out.ohlc.push_back({s, a->open, std::max(a->high, b->high), std::min(a->low, b->low),
                          b->close, a->volume + b->volume});
    } else if (a || b) {
      out.ohlc.push_back(a ? *a : *b);
    }
  }
  return out;
}

// The session coalesces windows by building the frame of their bars (Timeline::BuildFrame of a
// range): that frame is the rule applied window by window.
TEST(FrameTest, AFrameOfSeveralWindowsIsTheirCoalescedAggregate) {
  TapeSpec spec{{Range(30), Range(5, 12)}, {"A", "B"}};
  spec.events = {Event(1, 3), Event(2, 12), Event(3, 25)};
  auto tape = MakeTape(spec);
  const Timeline tl = MakeTimeline(tape, SpeedForMinutes(10));
  const Frame merged = Coalesce(Coalesce(tl.BuildFrame(0), tl.BuildFrame(1)), tl.BuildFrame(2));
  const Frame whole = tl.BuildFrame(BarRange{0, 30});
  EXPECT_EQ(merged.bars, whole.bars);
  EXPECT_EQ(merged.ohlc, whole.ohlc);
  EXPECT_EQ(whole.window, 2u);
  EXPECT_EQ(whole.orders.size(), 3u);
  EXPECT_EQ(EncodeFrame(merged, *tape, 2), EncodeFrame(whole, *tape, 2));
  // B has bars in windows 0 and 1 only.
  const Frame two = tl.BuildFrame(BarRange{10, 30});
  EXPECT_EQ(two.ohlc, Coalesce(tl.BuildFrame(1), tl.BuildFrame(2)).ohlc);
  ASSERT_EQ(two.ohlc.size(), 2u);
  EXPECT_EQ(two.ohlc[1].close, BarAt(16, 1).close);
}

TEST(FrameTest, FrameHeadsAreCachedAndShared) {
  auto tape = MinuteTape(1000);
  const Timeline a = MakeTimeline(tape, 60), b = MakeTimeline(tape, 60);
  auto first = a.FrameHead(1);
  auto second = b.FrameHead(1);
  EXPECT_EQ(first.get(), second.get());
  EXPECT_EQ(*first + EncodeFrameTail(0), EncodeFrame(a.BuildFrame(1), *tape, 0));
  EXPECT_EQ(tape->cache_stats().hits, 1u);
  EXPECT_EQ(tape->cache_stats().entries, 1u);
  // Another speed has other windows.
  EXPECT_NE(MakeTimeline(tape, 30).FrameHead(1).get(), first.get());
  // A partial window is encoded apart.
  EXPECT_NE(a.FrameHead(BarRange{300, 584}).get(), first.get());
  EXPECT_EQ(a.FrameHead(BarRange{292, 584}).get(), first.get());
}

TEST(FrameTest, TheCacheStaysWithinItsBudget) {
  std::vector<market::Series> series;
  auto run = MakeRun(TapeSpec{{Range(5000)}}, &series);
  auto tape = *Tape::Create(run, series, TapeOptions{.frame_cache_bytes = 20'000});
  const Timeline tl = MakeTimeline(tape, SpeedForMinutes(1));
  for (size_t k = 0; k < 5000; ++k) tl.FrameHead(k);
  EXPECT_LE(tape->cache_stats().bytes, 20'000u);
  EXPECT_GT(tape->cache_stats().entries, 10u);
}

TEST(FrameTest, ManyViewersShareOneCacheSafely) {
  std::vector<market::Series> series;
  auto run = MakeRun(TapeSpec{{Range(20'000)}}, &series);
  auto tape = *Tape::Create(run, series, TapeOptions{.frame_cache_bytes = 50'000});
  const Timeline tl = MakeTimeline(tape, SpeedForMinutes(7));
  std::vector<std::thread> viewers;
  std::atomic<int> mismatches{0};
  for (int v = 0; v < 4; ++v) {
    viewers.emplace_back([&, v] {
      for (size_t i = 0; i < 3000; ++i) {
        const size_t k = (i * (v + 1)) % tl.window_count();
        if (*tl.FrameHead(k) != EncodeFrameHead(tl.BuildFrame(k), *tape)) ++mismatches;
      }
    });
  }
  for (auto& t : viewers) t.join();
  EXPECT_EQ(mismatches, 0);
  EXPECT_LE(tape->cache_stats().bytes, 50'000u);
}

TEST(FrameTest, OtherMessages) {
  EXPECT_EQ(HeartbeatJson(), R"({"t":"hb"})");
  EXPECT_EQ(EndJson(), R"({"t":"end"})");
  EXPECT_EQ(EncodeErrorJson(
                MakeError(ErrorCode::kRange, "no \"such\" window", {{"field", "pos"}, {"n", "4"}})),
            R"({"t":"err","code":"RANGE","msg":"no \"such\" window",)"
            R"("details":{"field":"pos","n":"4"}})");
  EXPECT_EQ(EncodeSseEvent("frame", "{}", 12), "event: frame\nid: 12\ndata: {}\n\n");
  EXPECT_EQ(EncodeSseEvent("hb", HeartbeatJson()), "event: hb\ndata: {\"t\":\"hb\"}\n\n");
  EXPECT_EQ(EncodeSseRetry(std::chrono::milliseconds(3000)), "retry: 3000\n\n");
}

TEST(HistoryTest, UncoalescedFramesOfWindowsWithBars) {
  TapeSpec spec{{{0, 1, 2, 10, 11, 20}}};
  spec.events = {Event(1, 3)};
  auto tape = MakeTape(spec);
  const Speed speed = SpeedOf(SpeedForMinutes(1));
  auto all = json::parse(EncodeHistory(tape, speed)).as_array();
  ASSERT_EQ(all.size(), 6u);
  std::vector<int64_t> windows;
  for (const auto& f : all) {
    windows.push_back(f.at("i").as_int64());
    EXPECT_EQ(f.at("dropped").as_int64(), 0);
    EXPECT_EQ(f.at("n").as_int64(), 21);
  }
  EXPECT_EQ(windows, (std::vector<int64_t>{0, 1, 2, 10, 11, 20}));
  EXPECT_EQ(all[3].at("orders").as_array().size(), 1u);
  EXPECT_EQ(json::parse(EncodeHistory(tape, speed, 2, 11)).as_array().size(), 2u);
  EXPECT_EQ(json::parse(EncodeHistory(tape, speed, -5, 1000)).as_array().size(), 6u);
  EXPECT_EQ(EncodeHistory(tape, speed, 12, 20), "[]");
  EXPECT_EQ(EncodeHistory(tape, speed, 15, 3), "[]");
  // The same bytes the stream sends.
  const Timeline tl = Timeline::Create(tape, speed);
  EXPECT_EQ(json::parse(*tl.FrameHead(10) + "0}"), all[3]);
  // A speed of 0 never reaches the history: Speed refuses it (SpeedTest).
}

}  // namespace
}  // namespace tapedeck::playback
