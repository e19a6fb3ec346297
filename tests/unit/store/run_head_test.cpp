// A run's first bars read on their own (Store::LoadRunHead, LoadBarsBetween), for playback's first
// frames: exactly the whole result's / bars' first part, on both backends, from a PostgreSQL head
// row and without one (runs stored before schema v2), and from datasets stored compressed.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>

#include "store/db_metrics.h"
#include "store/packing.h"
#include "store/pg_db.h"
#include "store/sqlite_db.h"
#include "store/store.h"
#include "store_test_util.h"

namespace tapedeck::store {
namespace {

using testing::Backend;
using testing::BackendStore;
using testing::ExpectSameResult;
using testing::MakeResult;
using testing::SameDouble;

constexpr size_t kBars = kStoredHeadBars + 5000;

// Events ordered by bar (some rejected, with reasons), trades, two plotted series (one with a
// warm-up and a gap, one never plotted) and logs.
engine::RunResult LongResult() {
  engine::RunResult r = MakeResult(kBars, 3000);
  engine::PlotSeries fast{"fast", engine::PlotPane::kPrice, std::vector<double>(kBars, NAN)};
  for (size_t i = 40; i + 3 < kBars; ++i) fast.values[i] = 100 + std::sin(static_cast<double>(i));
  fast.values[9000] = NAN;
  engine::PlotSeries never{"never \xC3\xA9", engine::PlotPane::kOwn,
                           std::vector<double>(kBars, NAN)};
  r.plots = {fast, never};
  for (size_t b = 0; b < kBars; b += 7) {
    r.logs.push_back({r.times[b], b, "at " + std::to_string(b) + (b % 2 ? "" : " \"q\"")});
  }
  return r;
}

class RunHeadTest : public ::testing::TestWithParam<Backend> {
 protected:
  RunHeadTest() : db_(GetParam()) {}
  void SetUp() override {
    auto opened = db_.Open();
    ASSERT_TRUE(opened.ok()) << opened.error().ToString();
    store_ = std::move(*opened);
  }

  std::string Done(const engine::RunResult& result) {
    RunSpec spec;
    spec.dataset = "ds";
    spec.symbols = result.symbols;
    spec.strategy = "sma_cross";
    auto id = store_->CreateRun(spec);
    EXPECT_TRUE(id.ok()) << id.error().ToString();
    if (!id.ok()) return "";
    const Status done = store_->CompleteRun(*id, result);
    EXPECT_TRUE(done.ok()) << done.error().ToString();
    return *id;
  }

  void ExpectReadsBack(const std::string& id, const engine::RunResult& original);
  // Reading run `id` whole or in pieces is an IO error naming the run.
  void ExpectDamaged(const std::string& id) {
    auto whole = store_->LoadRunResult(id);
    ASSERT_FALSE(whole.ok());
    EXPECT_EQ(whole.error().code, ErrorCode::kIo);
    EXPECT_NE(whole.error().msg.find(id), std::string::npos) << whole.error().msg;
    auto pieces = store_->LoadRunResultInPieces(id, [] {});
    ASSERT_FALSE(pieces.ok());
    EXPECT_EQ(pieces.error().code, ErrorCode::kIo);
    EXPECT_NE(pieces.error().msg.find(id), std::string::npos) << pieces.error().msg;
  }
  // LoadRunHead(id, bars) is the whole result cut after `bars` bars.
  void ExpectHeads(const std::string& id) {
    auto whole = store_->LoadRunResult(id);
    ASSERT_TRUE(whole.ok()) << whole.error().ToString();
    for (size_t bars : {size_t{1}, size_t{100}, size_t{5001}, kStoredHeadBars, kBars, kBars + 9}) {
      SCOPED_TRACE(bars);
      auto head = store_->LoadRunHead(id, bars);
      ASSERT_TRUE(head.ok()) << head.error().ToString();
      RunHead want = CutRunHead(*whole, bars);
      EXPECT_EQ(head->total_bars, want.total_bars);
      EXPECT_EQ(head->last_time, want.last_time);
      EXPECT_TRUE(head->result.trades.empty());
      want.result.trades.clear();
      ExpectSameResult(head->result, want.result);
      ASSERT_EQ(head->result.plots.size(), want.result.plots.size());
      for (size_t p = 0; p < want.result.plots.size(); ++p) {
        EXPECT_EQ(head->result.plots[p].name, want.result.plots[p].name);
        EXPECT_EQ(head->result.plots[p].pane, want.result.plots[p].pane);
        const auto& a = head->result.plots[p].values;
        const auto& b = want.result.plots[p].values;
        ASSERT_EQ(a.size(), b.size());
        for (size_t i = 0; i < a.size(); ++i) ASSERT_TRUE(SameDouble(a[i], b[i])) << p << " " << i;
      }
      ASSERT_EQ(head->result.logs.size(), want.result.logs.size());
      for (size_t i = 0; i < want.result.logs.size(); ++i) {
        EXPECT_EQ(head->result.logs[i].bar, want.result.logs[i].bar);
        EXPECT_EQ(head->result.logs[i].msg, want.result.logs[i].msg);
      }
    }
  }

  void Exec(const std::string& sql) {
    auto conn = internal::pg::Conn::Open(db_.url());
    ASSERT_TRUE(conn.ok()) << conn.error().ToString();
    const Status st = (*conn)->Exec(sql);
    ASSERT_TRUE(st.ok()) << st.error().ToString();
  }

  BackendStore db_;
  std::unique_ptr<Store> store_;
};
TD_STORE_BACKENDS(RunHeadTest);

TEST_P(RunHeadTest, TheHeadIsTheWholeResultsFirstBars) {
  const std::string id = Done(LongResult());
  if (db_.postgres()) {
    EXPECT_EQ(db_.CountRows("run_heads"), 1);
  }
  ExpectHeads(id);
}

TEST_P(RunHeadTest, ARunWithoutAStoredHeadIsReadFromItsResult) {
  const std::string id = Done(LongResult());
  // As a run stored before schema v2 has it.
  if (db_.postgres()) Exec("DELETE FROM run_heads");
  ExpectHeads(id);
}

TEST_P(RunHeadTest, AShortRunsHeadIsTheWholeRun) {
  engine::RunResult r = MakeResult(300, 40);
  r.plots = {{"p", engine::PlotPane::kPrice, std::vector<double>(300, 1.5)}};
  const std::string id = Done(r);
  if (db_.postgres()) {
    EXPECT_EQ(db_.CountRows("run_heads"), 0);
  }
  auto head = store_->LoadRunHead(id, kStoredHeadBars);
  ASSERT_TRUE(head.ok()) << head.error().ToString();
  EXPECT_EQ(head->total_bars, 300u);
  r.trades.clear();
  ExpectSameResult(head->result, r);
}

TEST_P(RunHeadTest, TheHeadOfARunWithoutAResultIsTheLoadsError) {
  RunSpec spec;
  spec.dataset = "ds";
  spec.symbols = {"X"};
  spec.strategy = "sma_cross";
  auto id = store_->CreateRun(spec);
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(store_->LoadRunHead(*id, 10).error().code, ErrorCode::kRange);
  EXPECT_EQ(store_->LoadRunHead("0123456789abcdef", 10).error().code, ErrorCode::kRunNotFound);
  RunError failed;
  failed.msg = "boom";
  ASSERT_TRUE(store_->FailRun(*id, failed).ok());
  EXPECT_EQ(store_->LoadRunHead(*id, 10).error().code, ErrorCode::kRunFailed);
  // A deleted run's head goes with it.
  const std::string done = Done(LongResult());
  ASSERT_TRUE(store_->DeleteRun(done).ok());
  EXPECT_EQ(store_->LoadRunHead(done, 10).error().code, ErrorCode::kRunNotFound);
  if (db_.postgres()) {
    EXPECT_EQ(db_.CountRows("run_heads"), 0);
  }
}

uint64_t RoundTrips() {
  uint64_t n = 0;
  for (uint64_t b : ReadDbMetrics().round_trips) n += b;
  return n;
}

TEST_P(RunHeadTest, GetRunAndHeadIsGetRunThenLoadRunHead) {
  const std::string id = Done(LongResult());
  if (db_.postgres()) {
    // The run and its stored head in one statement (prepared in the same round trip).
    const uint64_t before = RoundTrips();
    auto got = store_->GetRunAndHead(id, kStoredHeadBars);
    ASSERT_TRUE(got.ok()) << got.error().ToString();
    EXPECT_TRUE(got->head.has_value());
    EXPECT_EQ(RoundTrips() - before, 1u);
  }
  for (const bool stored : {true, false}) {
    SCOPED_TRACE(stored ? "a stored head" : "no stored head");
    // As a run stored before schema v2 has it.
    if (!stored && db_.postgres()) Exec("DELETE FROM run_heads");
    auto run = store_->GetRun(id);
    ASSERT_TRUE(run.ok());
    for (size_t bars : {size_t{1}, size_t{100}, kStoredHeadBars, kBars - 1}) {
      SCOPED_TRACE(bars);
      auto got = store_->GetRunAndHead(id, bars);
      ASSERT_TRUE(got.ok()) << got.error().ToString();
      EXPECT_EQ(got->run.id, run->id);
      EXPECT_EQ(got->run.status, RunStatus::kDone);
      EXPECT_EQ(got->run.spec.datasets, run->spec.datasets);
      ASSERT_TRUE(got->run.stats.has_value());
      EXPECT_EQ(got->run.stats->bars, run->stats->bars);
      ASSERT_TRUE(got->head.has_value());
      auto want = store_->LoadRunHead(id, bars);
      ASSERT_TRUE(want.ok());
      EXPECT_EQ(got->head->total_bars, want->total_bars);
      EXPECT_EQ(got->head->last_time, want->last_time);
      ExpectSameResult(got->head->result, want->result);
      EXPECT_EQ(got->head->result.plots.size(), want->result.plots.size());
      EXPECT_EQ(got->head->result.logs.size(), want->result.logs.size());
    }
    // No head for a run no longer than asked.
    auto whole = store_->GetRunAndHead(id, kBars);
    ASSERT_TRUE(whole.ok());
    EXPECT_FALSE(whole->head.has_value());
  }
  // Nor for a run without a result; the run's own errors as GetRun's.
  RunSpec spec;
  spec.dataset = "ds";
  spec.symbols = {"X"};
  spec.strategy = "sma_cross";
  auto queued = store_->CreateRun(spec);
  ASSERT_TRUE(queued.ok());
  auto got = store_->GetRunAndHead(*queued, 10);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->run.status, RunStatus::kQueued);
  EXPECT_FALSE(got->head.has_value());
  EXPECT_EQ(store_->GetRunAndHead("0123456789abcdef", 10).error().code, ErrorCode::kRunNotFound);
}

TEST_P(RunHeadTest, TheResultReadInPiecesIsTheWholeResult) {
  const std::string id = Done(LongResult());
  auto whole = store_->LoadRunResult(id);
  ASSERT_TRUE(whole.ok());
  int pauses = 0;
  auto pieces = store_->LoadRunResultInPieces(id, [&] { ++pauses; });
  ASSERT_TRUE(pieces.ok()) << pieces.error().ToString();
  ExpectSameResult(*pieces, *whole);
  ASSERT_EQ(pieces->plots.size(), whole->plots.size());
  for (size_t p = 0; p < whole->plots.size(); ++p) {
    ASSERT_EQ(pieces->plots[p].values.size(), whole->plots[p].values.size());
    for (size_t i = 0; i < whole->plots[p].values.size(); ++i) {
      ASSERT_TRUE(SameDouble(pieces->plots[p].values[i], whole->plots[p].values[i]));
    }
  }
  ASSERT_EQ(pieces->logs.size(), whole->logs.size());
  // PostgreSQL pauses between its statements: times, equity, events, plots, logs.
  if (db_.postgres()) {
    EXPECT_EQ(pauses, 5);
  }
  // The same errors as LoadRunResult's.
  EXPECT_EQ(store_->LoadRunResultInPieces("0123456789abcdef", [] {}).error().code,
            ErrorCode::kRunNotFound);
  RunSpec spec;
  spec.dataset = "ds";
  spec.symbols = {"X"};
  spec.strategy = "sma_cross";
  auto queued = store_->CreateRun(spec);
  ASSERT_TRUE(queued.ok());
  EXPECT_EQ(store_->LoadRunResultInPieces(*queued, [] {}).error().code, ErrorCode::kRange);
}

// Schema v8 packs times and equity (store/packing.h): a run whose equity is flat for stretches
// and holds every awkward double, on a grid with gaps.
engine::RunResult FlatResult() {
  engine::RunResult r = LongResult();
  for (size_t i = 0; i < r.times.size(); ++i) {
    if (i >= 3000) r.times[i] += std::chrono::hours(50);  // a weekend
    if (i >= 15000) r.times[i] += std::chrono::minutes(7);
    if ((i / 700) % 2 == 0 && i > 0) r.equity[i] = r.equity[i - 1];  // out of the market
  }
  r.equity[5] = std::bit_cast<double>(uint64_t{0x7ff8'0000'0000'0042});
  r.equity[6] = -0.0;
  r.equity[7] = 0.0;
  r.equity[8] = INFINITY;
  r.equity[kBars - 1] = -INFINITY;
  return r;
}

void ExpectSameEquityBits(const engine::RunResult& a, const engine::RunResult& b) {
  ASSERT_EQ(a.equity.size(), b.equity.size());
  for (size_t i = 0; i < a.equity.size(); ++i) {
    ASSERT_EQ(std::bit_cast<uint64_t>(a.equity[i]), std::bit_cast<uint64_t>(b.equity[i])) << i;
  }
}

// Every read of run `id` gives `original` back, bit for bit: whole, in pieces, heads (on
// PostgreSQL also heads cut from pieces of the result's blobs, its stored head deleted).
void RunHeadTest::ExpectReadsBack(const std::string& id, const engine::RunResult& original) {
  auto whole = store_->LoadRunResult(id);
  ASSERT_TRUE(whole.ok()) << whole.error().ToString();
  ExpectSameResult(*whole, original);
  ExpectSameEquityBits(*whole, original);
  auto pieces = store_->LoadRunResultInPieces(id, [] {});
  ASSERT_TRUE(pieces.ok()) << pieces.error().ToString();
  ExpectSameEquityBits(*pieces, original);
  EXPECT_EQ(pieces->times, original.times);
  ExpectHeads(id);
  if (db_.postgres()) {
    Exec("DELETE FROM run_heads");
    ExpectHeads(id);
  }
}

// The run's rows of run_equity (and PostgreSQL's run_heads) changed past the store.
class EquityRows {
 public:
  explicit EquityRows(testing::BackendStore& db) : db_(db) {}

  void Exec(const std::string& sql) {
    if (db_.postgres()) {
      auto conn = internal::pg::Conn::Open(db_.url());
      ASSERT_TRUE(conn.ok()) << conn.error().ToString();
      const Status st = (*conn)->Exec(sql);
      ASSERT_TRUE(st.ok()) << st.error().ToString();
      return;
    }
    auto db = internal::Db::Open(db_.dir().File("t.db"), /*create=*/false, /*durable=*/false);
    ASSERT_TRUE(db.ok()) << db.error().ToString();
    const Status st = (*db)->Exec(sql.c_str());
    ASSERT_TRUE(st.ok()) << st.error().ToString();
  }

  // As a run stored before schema v8 has them: raw arrays, codec 0.
  void WriteRaw(const engine::RunResult& r) {
    const auto times = std::as_bytes(std::span(r.times));
    const auto equity = std::as_bytes(std::span(r.equity));
    if (db_.postgres()) {
      auto conn = internal::pg::Conn::Open(db_.url());
      ASSERT_TRUE(conn.ok()) << conn.error().ToString();
      auto done = (*conn)->Run("UPDATE run_equity SET times = $1, equity = $2, codec = 0",
                               internal::pg::Params().AddBytes(times).AddBytes(equity));
      ASSERT_TRUE(done.ok()) << done.error().ToString();
      EXPECT_EQ(*done, 1);
      const size_t head = std::min(r.times.size(), kStoredHeadBars);
      done = (*conn)->Run("UPDATE run_heads SET times = $1, equity = $2, codec = 0",
                          internal::pg::Params()
                              .AddBytes(times.first(head * 8))
                              .AddBytes(equity.first(head * 8)));
      ASSERT_TRUE(done.ok()) << done.error().ToString();
      return;
    }
    auto db = internal::Db::Open(db_.dir().File("t.db"), /*create=*/false, /*durable=*/false);
    ASSERT_TRUE(db.ok()) << db.error().ToString();
    auto s = (*db)->Prepare("UPDATE run_equity SET times = ?1, equity = ?2, codec = 0");
    ASSERT_TRUE(s.ok()) << s.error().ToString();
    ASSERT_TRUE(s->BindBlob(1, times).BindBlob(2, equity).Run().ok());
    EXPECT_EQ((*db)->Changes(), 1);
  }

 private:
  testing::BackendStore& db_;
};

TEST_P(RunHeadTest, FlatEquityAndGappedTimesComeBackBitForBit) {
  const engine::RunResult original = FlatResult();
  const std::string id = Done(original);
  EXPECT_EQ(db_.Scalar("SELECT codec FROM run_equity"), 1);
  // Packed: the flat half of the equity and the whole grid of times cost next to nothing.
  EXPECT_LT(db_.Scalar("SELECT length(times) FROM run_equity"), 100);
  EXPECT_LT(db_.Scalar("SELECT length(equity) FROM run_equity"),
            static_cast<int64_t>(kBars * 8 * 6 / 10));
  ExpectReadsBack(id, original);
}

TEST_P(RunHeadTest, ARunStoredRawBeforeTheCodecReadsAsBefore) {
  const engine::RunResult original = FlatResult();
  const std::string id = Done(original);
  EquityRows rows(db_);
  rows.WriteRaw(original);
  EXPECT_EQ(db_.Scalar("SELECT codec FROM run_equity"), 0);
  EXPECT_EQ(db_.Scalar("SELECT length(equity) FROM run_equity"),
            static_cast<int64_t>(kBars * 8));
  ExpectReadsBack(id, original);
}

TEST_P(RunHeadTest, ADamagedTimesOrEquityBlobIsAnErrorNamingTheRun) {
  const std::string id = Done(FlatResult());
  EquityRows rows(db_);
  const auto expect_damaged = [&](const char* what) {
    SCOPED_TRACE(what);
    ExpectDamaged(id);
  };
  // Equity cut short: its last literals are gone.
  rows.Exec(db_.postgres()
                ? "UPDATE run_equity SET equity = substring(equity from 1 for length(equity) - 5)"
                : "UPDATE run_equity SET equity = substr(equity, 1, length(equity) - 5)");
  expect_damaged("equity cut");
  {
    auto head = store_->LoadRunHead(id, kBars);  // every value: the cut is reached
    ASSERT_FALSE(head.ok());
    EXPECT_EQ(head.error().code, ErrorCode::kIo);
    EXPECT_NE(head.error().msg.find(id), std::string::npos) << head.error().msg;
  }
  // The row claims a point more than the blobs hold.
  const std::string id2 = Done(FlatResult());
  rows.Exec("UPDATE run_equity SET points = points + 1 WHERE run = (SELECT seq FROM runs WHERE "
            "id = '" + id2 + "')");
  auto more = store_->LoadRunResult(id2);
  ASSERT_FALSE(more.ok());
  EXPECT_EQ(more.error().code, ErrorCode::kIo);
  EXPECT_NE(more.error().msg.find(id2), std::string::npos) << more.error().msg;
  if (db_.postgres()) Exec("DELETE FROM run_heads");  // else the head comes from its own row
  auto head = store_->LoadRunHead(id2, 10);
  ASSERT_FALSE(head.ok());  // the times are checked whole, even for a head
  EXPECT_EQ(head.error().code, ErrorCode::kIo);
}

// Events and trades stored as the 64- and 80-byte records CompleteRun wrote before the compact
// form (internal/packing.h) read as they did, whole, in pieces, as a head and as trades alone.
TEST_P(RunHeadTest, EventsAndTradesStoredAsRecordsReadAsBefore) {
  const engine::RunResult original = LongResult();
  const std::string id = Done(original);
  EXPECT_GT(db_.Scalar("SELECT length(records) FROM run_events"), 8);
  EXPECT_LT(db_.Scalar("SELECT length(records) FROM run_events"),
            static_cast<int64_t>(original.events.size() * internal::kEventRecordBytes / 2));
  const internal::PackedEvents events = internal::PackEvents(original.events);
  const std::vector<std::byte> trades = internal::PackTrades(original.trades);
  const auto reasons = std::as_bytes(std::span(events.reasons));
  if (db_.postgres()) {
    auto conn = internal::pg::Conn::Open(db_.url());
    ASSERT_TRUE(conn.ok()) << conn.error().ToString();
    auto done = (*conn)->Run("UPDATE run_events SET records = $1, reasons = $2",
                             internal::pg::Params().AddBytes(events.records).AddBytes(reasons));
    ASSERT_TRUE(done.ok()) << done.error().ToString();
    EXPECT_EQ(*done, 1);
    done =
        (*conn)->Run("UPDATE run_trades SET records = $1", internal::pg::Params().AddBytes(trades));
    ASSERT_TRUE(done.ok()) << done.error().ToString();
    EXPECT_EQ(*done, 1);
    const std::vector<engine::OrderEvent> head_events =
        CutRunHead(original, kStoredHeadBars).result.events;
    const internal::PackedEvents head = internal::PackEvents(head_events);
    done = (*conn)->Run("UPDATE run_heads SET event_records = $1, event_reasons = $2",
                        internal::pg::Params()
                            .AddBytes(head.records)
                            .AddBytes(std::as_bytes(std::span(head.reasons))));
    ASSERT_TRUE(done.ok()) << done.error().ToString();
    EXPECT_EQ(*done, 1);
  } else {
    auto db = internal::Db::Open(db_.dir().File("t.db"), /*create=*/false, /*durable=*/false);
    ASSERT_TRUE(db.ok()) << db.error().ToString();
    auto s = (*db)->Prepare("UPDATE run_events SET records = ?1, reasons = ?2");
    ASSERT_TRUE(s.ok()) << s.error().ToString();
    ASSERT_TRUE(s->BindBlob(1, events.records).BindBlob(2, reasons).Run().ok());
    auto t = (*db)->Prepare("UPDATE run_trades SET records = ?1");
    ASSERT_TRUE(t.ok()) << t.error().ToString();
    ASSERT_TRUE(t->BindBlob(1, trades).Run().ok());
  }
  EXPECT_EQ(db_.Scalar("SELECT length(records) FROM run_events"),
            static_cast<int64_t>(original.events.size() * internal::kEventRecordBytes));
  auto whole = store_->LoadRunResult(id);
  ASSERT_TRUE(whole.ok()) << whole.error().ToString();
  ExpectSameResult(*whole, original);
  auto pieces = store_->LoadRunResultInPieces(id, [] {});
  ASSERT_TRUE(pieces.ok()) << pieces.error().ToString();
  ExpectSameResult(*pieces, original);
  auto loaded_trades = store_->LoadTrades(id);
  ASSERT_TRUE(loaded_trades.ok()) << loaded_trades.error().ToString();
  EXPECT_EQ(internal::PackTrades(*loaded_trades), trades);
  ExpectHeads(id);
  if (db_.postgres()) {
    Exec("DELETE FROM run_heads");
    ExpectHeads(id);
  }
}

TEST_P(RunHeadTest, ADamagedEventsOrTradesBlobIsAnErrorNamingTheRun) {
  const std::string id = Done(LongResult());
  EquityRows rows(db_);
  const auto expect_damaged = [&](bool trades) {
    ExpectDamaged(id);
    if (trades) {
      auto alone = store_->LoadTrades(id);
      ASSERT_FALSE(alone.ok());
      EXPECT_EQ(alone.error().code, ErrorCode::kIo);
      EXPECT_NE(alone.error().msg.find(id), std::string::npos) << alone.error().msg;
    }
  };
  // The trades cut short.
  rows.Exec(
      db_.postgres()
          ? "UPDATE run_trades SET records = substring(records from 1 for length(records) - 3)"
          : "UPDATE run_trades SET records = substr(records, 1, length(records) - 3)");
  expect_damaged(/*trades=*/true);
  // The events cut short (a second run: the first's trades stay damaged).
  const std::string id2 = Done(LongResult());
  rows.Exec(std::string(db_.postgres() ? "UPDATE run_events SET records = substring(records from "
                                         "1 for length(records) - 3)"
                                       : "UPDATE run_events SET records = substr(records, 1, "
                                         "length(records) - 3)") +
            " WHERE run = (SELECT seq FROM runs WHERE id = '" + id2 + "')");
  auto whole = store_->LoadRunResult(id2);
  ASSERT_FALSE(whole.ok());
  EXPECT_EQ(whole.error().code, ErrorCode::kIo);
  EXPECT_NE(whole.error().msg.find(id2), std::string::npos) << whole.error().msg;
  if (db_.postgres()) Exec("DELETE FROM run_heads");  // else the head comes from its own row
  auto head = store_->LoadRunHead(id2, kBars);  // every event: the cut is reached
  ASSERT_FALSE(head.ok());
  EXPECT_EQ(head.error().code, ErrorCode::kIo);
  EXPECT_NE(head.error().msg.find(id2), std::string::npos) << head.error().msg;
  auto first = store_->LoadRunHead(id2, 10);  // as the records were, the head's events only
  ASSERT_TRUE(first.ok()) << first.error().ToString();
}

void ExpectSameBars(const market::Series& a, const market::Series& b) {
  ASSERT_EQ(a.size(), b.size());
  EXPECT_EQ(a.symbol(), b.symbol());
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a.times()[i], b.times()[i]) << i;
    ASSERT_EQ(a.open()[i], b.open()[i]) << i;
    ASSERT_EQ(a.high()[i], b.high()[i]) << i;
    ASSERT_EQ(a.low()[i], b.low()[i]) << i;
    ASSERT_EQ(a.close()[i], b.close()[i]) << i;
    ASSERT_EQ(a.volume()[i], b.volume()[i]) << i;
  }
}

// Minute bars with gaps (a weekend every 5,000 bars), so the search for a time cannot guess it.
market::Series GappedBars() {
  market::GenOptions gen;
  gen.bars = 40'000;
  gen.symbol = "GAP";
  const market::Series all = market::Generate(gen);
  std::vector<market::Bar> bars;
  for (size_t i = 0; i < all.size(); ++i) {
    if ((i / 5000) % 2 == 1 && i % 5000 < 2880) continue;
    bars.push_back(all.bar(i));
  }
  return market::Series::FromBars("GAP", bars);
}

void ExpectSlices(Store& store, const std::string& name, const market::Series& bars) {
  const auto t = bars.times();
  const Timestamp lo = FromMicros(INT64_MIN), hi = FromMicros(INT64_MAX);
  const std::vector<std::pair<Timestamp, Timestamp>> ranges = {
      {lo, hi},
      {lo, t[0]},
      {lo, t[0] + Micros{1}},
      {lo, t[100]},
      {t[5000] + Micros{1}, t[20000]},
      {t[7000] - Micros{1}, t[7001]},
      {t[t.size() - 1], hi},
      {t[t.size() - 1] + Micros{1}, hi},
      {t[3000], t[3000]},
  };
  for (const auto& [from, to] : ranges) {
    SCOPED_TRACE(FormatIso(from) + " .. " + FormatIso(to));
    auto got = store.LoadBarsBetween(name, from, to);
    ASSERT_TRUE(got.ok()) << got.error().ToString();
    ExpectSameBars(*got, bars.Slice(from, to));
  }
  EXPECT_EQ(store.LoadBarsBetween("nope", lo, hi).error().code, ErrorCode::kNotFound);
}

TEST_P(RunHeadTest, BarsBetweenAreTheDatasetsSlice) {
  const market::Series bars = GappedBars();
  ASSERT_TRUE(store_->PutDataset("gap", bars).ok());
  ExpectSlices(*store_, "gap", bars);
  // From the store opened again (a restarted process, another node): nothing cached, the
  // checksum not yet checked.
  store_.reset();
  auto other = db_.Open();
  ASSERT_TRUE(other.ok());
  ExpectSlices(**other, "gap", bars);
  auto whole = (*other)->LoadBars("gap");
  ASSERT_TRUE(whole.ok());
  ExpectSameBars(*whole, bars);
}

TEST_P(RunHeadTest, BarsBetweenOfEvenlySpacedBarsAreTheDatasetsSlice) {
  // PostgreSQL's search for a time finds such bars with one guess.
  market::GenOptions gen;
  gen.bars = 40'000;
  gen.symbol = "EVEN";
  const market::Series bars = market::Generate(gen);
  ASSERT_TRUE(store_->PutDataset("even", bars).ok());
  store_.reset();
  auto other = db_.Open();
  ASSERT_TRUE(other.ok());
  ExpectSlices(**other, "even", bars);
  const auto t = bars.times();
  for (size_t n : {size_t{1}, size_t{16'384}, size_t{39'999}}) {
    SCOPED_TRACE(n);
    auto got = (*other)->LoadBarsBetween("even", FromMicros(INT64_MIN), t[n - 1] + Micros{1});
    ASSERT_TRUE(got.ok()) << got.error().ToString();
    ExpectSameBars(*got, bars.Slice(FromMicros(INT64_MIN), t[n - 1] + Micros{1}));
  }
}

TEST_P(RunHeadTest, BarsBetweenOfADatasetStoredCompressedAreItsSliceToo) {
  if (!db_.postgres()) GTEST_SKIP() << "PostgreSQL's storage";
  // As schema v1 stored them.
  Exec("ALTER TABLE datasets ALTER COLUMN series SET STORAGE EXTENDED");
  const market::Series bars = GappedBars();
  ASSERT_TRUE(store_->PutDataset("old", bars).ok());
  Exec("ALTER TABLE datasets ALTER COLUMN series SET STORAGE EXTERNAL");
  EXPECT_EQ(db_.Scalar("SELECT count(*) FROM datasets WHERE pg_column_compression(series) IS NOT "
                       "NULL"),
            1);
  auto other = db_.Open();
  ASSERT_TRUE(other.ok());
  ExpectSlices(**other, "old", bars);
}

}  // namespace
}  // namespace tapedeck::store
