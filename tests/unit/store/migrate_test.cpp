// MigrateStore and VerifyMigration: a SQLite store copied into PostgreSQL with every identity kept,
// checked afterwards; a target that holds any of it refused with nothing written.
#include "store/migrate.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "pg_test_db.h"
#include "store/store.h"
#include "store_test_util.h"

namespace tapedeck::store {
namespace {

using testing::ExpectSameResult;
using testing::ExpectSameStats;
using testing::MakeResult;
using testing::PgScalar;
using testing::SameDouble;
using testing::TempDir;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

RunSpec Spec(const std::string& dataset, const std::string& strategy = "sma_cross") {
  RunSpec spec;
  spec.dataset = dataset;
  spec.symbols = {"SYN"};
  spec.strategy = strategy;
  spec.params_json = R"({"fast":10,"slow":30})";
  spec.request_json = R"({"dataset":")" + dataset + R"("})";
  spec.config.cash = 12'345.678901;
  spec.config.costs.commission = 0.001;
  spec.from = FromMicros(1'672'531'200'000'000);
  return spec;
}

TrialRecord Trial(size_t phase, size_t index, bool failed, size_t days) {
  TrialRecord t;
  t.phase = phase;
  t.index = index;
  t.params_json = R"({"fast":)" + std::to_string(index) + "}";
  if (failed) {
    t.error = "fast must be below slow";
  } else {
    engine::Stats s = MakeResult(10, 4).stats;
    s.sharpe = index % 3 == 0 ? kNaN : 0.1 * static_cast<double>(index);
    s.profit_factor = index % 4 == 0 ? kInf : 1.5;
    t.stats = s;
  }
  for (size_t d = 0; d < days; ++d) {
    t.returns.push_back({19'723 + static_cast<int64_t>(d), std::sin(static_cast<double>(d)) / 7});
  }
  return t;
}

class MigrateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    StoreOptions options;
    options.now = [this] { return FromMicros(now_us_ += 1'000'000); };
    Result<std::unique_ptr<Store>> source = OpenSqliteStore(dir_.File("t.db"), options);
    ASSERT_TRUE(source.ok()) << source.error().ToString();
    source_ = std::move(*source);
    url_ = testing::FreshPgDatabase();
    ASSERT_FALSE(url_.empty());
    Result<std::unique_ptr<Store>> target = OpenPostgresStore(url_);
    ASSERT_TRUE(target.ok()) << target.error().ToString();
    target_ = std::move(*target);
  }

  // A source with a bit of everything: two datasets, two scripts (one with two versions), runs
  // done (with plots and logs), failed, queued and of an inline script, sweeps done (walk-forward
  // phases, failed trials, NaN and inf statistics) and running.
  void Fill() {
    market::GenOptions gen;
    gen.bars = 5000;
    ASSERT_TRUE(source_->PutDataset("syn-1m", market::Generate(gen)).ok());
    gen.bars = 300;
    gen.seed = 7;
    gen.symbol = "ETH \"x\"";
    gen.interval = std::chrono::hours(24);
    ASSERT_TRUE(source_->PutDataset("eth-daily", market::Generate(gen)).ok());

    ASSERT_TRUE(source_->SaveScript("trend", "function on_bar(ctx) end -- 1", "[]").ok());
    ASSERT_TRUE(
        source_->SaveScript("trend", "function on_bar(ctx) end -- 2", R"([{"name":"n"}])").ok());
    ASSERT_TRUE(source_->SaveScript("other", "function on_bar(ctx) end -- o", "[]").ok());

    // Done, with plots and logs.
    done_ = *source_->CreateRun(Spec("syn-1m"));
    ASSERT_TRUE(source_->MarkRunning(done_).ok());
    result_ = MakeResult(500, 40);
    engine::PlotSeries fast{"fast", engine::PlotPane::kPrice, {}};
    for (size_t i = 0; i < 500; ++i) fast.values.push_back(i < 20 ? kNaN : 100.0 + i * 0.25);
    result_.plots.push_back(fast);
    result_.logs.push_back({result_.times[3], 3, "hello \"log\""});
    ASSERT_TRUE(source_->CompleteRun(done_, result_).ok());
    // Failed with a script error.
    failed_ = *source_->CreateRun(Spec("eth-daily", "trend"));
    RunError e;
    e.msg = "boom";
    e.cause = "error";
    e.line = 7;
    e.bar_time = FromMicros(1'672'531'260'000'000);
    ASSERT_TRUE(source_->FailRun(failed_, e).ok());
    // Queued (a process died with it).
    queued_ = *source_->CreateRun(Spec("syn-1m"));
    // An inline script, done without trades.
    RunSpec inline_spec = Spec("syn-1m", std::string(kInlineStrategy));
    inline_spec.script_source = "function on_bar(ctx) end -- inline";
    inline_ = *source_->CreateRun(inline_spec);
    ASSERT_TRUE(source_->CompleteRun(inline_, MakeResult(50, 0)).ok());

    SweepSpec sweep;
    sweep.base = Spec("syn-1m");
    sweep.plan_json = R"({"method":"grid"})";
    sweep.request_json = R"({"sweep":1})";
    sweep.trials = 40;
    sweep.tasks = 80;  // phase 0 and one walk-forward fold
    sweep_done_ = *source_->CreateSweep(sweep);
    ASSERT_TRUE(source_->MarkSweepRunning(sweep_done_).ok());
    std::vector<TrialRecord> trials;
    for (size_t i = 0; i < 40; ++i) trials.push_back(Trial(0, i, i % 9 == 5, 365));
    for (size_t i = 0; i < 40; ++i) trials.push_back(Trial(1, i, false, 0));
    ASSERT_TRUE(source_->PutTrials(sweep_done_, trials).ok());
    ASSERT_TRUE(source_->CompleteSweep(sweep_done_, R"({"best":3})").ok());
    sweep_running_ = *source_->CreateSweep(sweep);
    ASSERT_TRUE(source_->MarkSweepRunning(sweep_running_).ok());
    ASSERT_TRUE(source_->PutTrials(sweep_running_, std::vector{Trial(0, 0, false, 10)}).ok());
  }

  int64_t Count(const char* table) {
    return PgScalar(url_, std::string("SELECT count(*) FROM ") + table);
  }

  TempDir dir_;
  int64_t now_us_ = 1'700'000'000'000'000;
  std::unique_ptr<Store> source_;
  std::string url_;
  std::unique_ptr<Store> target_;
  engine::RunResult result_;
  std::string done_, failed_, queued_, inline_, sweep_done_, sweep_running_;
};

TEST_F(MigrateTest, CopiesEverythingKeepingIdsNamesVersionsAndTimes) {
  Fill();
  std::vector<std::string> progress;
  Result<MigrationCounts> copied =
      MigrateStore(*source_, *target_, [&](std::string_view kind, std::string_view name) {
        progress.push_back(std::string(kind) + " " + std::string(name));
      });
  ASSERT_TRUE(copied.ok()) << copied.error().ToString();
  EXPECT_EQ(copied->datasets, 2u);
  EXPECT_EQ(copied->bars, 5300u);
  EXPECT_EQ(copied->script_versions, 3u);
  EXPECT_EQ(copied->script_sources, 4u);  // three versions' and the inline run's
  EXPECT_EQ(copied->runs, 4u);
  EXPECT_EQ(copied->results, 2u);
  EXPECT_EQ(copied->sweeps, 2u);
  EXPECT_EQ(copied->trials, 81u);
  EXPECT_EQ(progress.size(), 2u + 2u + 4u + 2u);

  Result<MigrationCounts> checked = VerifyMigration(*source_, *target_);
  ASSERT_TRUE(checked.ok()) << checked.error().ToString();
  EXPECT_EQ(checked->runs, 4u);
  EXPECT_EQ(checked->results, 2u);
  EXPECT_EQ(checked->trials, 81u);

  // What a client sees, through the target's own calls.
  Result<engine::RunResult> result = target_->LoadRunResult(done_);
  ASSERT_TRUE(result.ok()) << result.error().ToString();
  ExpectSameResult(result_, *result);
  ASSERT_EQ(result->plots.size(), 1u);
  EXPECT_TRUE(std::isnan(result->plots[0].values[0]));
  EXPECT_EQ(result->plots[0].values[499], 100.0 + 499 * 0.25);
  ASSERT_EQ(result->logs.size(), 1u);
  EXPECT_EQ(result->logs[0].msg, "hello \"log\"");
  Result<RunInfo> done = target_->GetRun(done_);
  ASSERT_TRUE(done.ok());
  EXPECT_EQ(done->created, source_->GetRun(done_)->created);
  EXPECT_EQ(done->started, source_->GetRun(done_)->started);
  EXPECT_EQ(done->plots_json, R"([{"name":"fast","pane":"price"}])");
  Result<RunInfo> failed = target_->GetRun(failed_);
  ASSERT_TRUE(failed.ok());
  EXPECT_EQ(failed->status, RunStatus::kFailed);
  EXPECT_EQ(failed->error.msg, "boom");
  EXPECT_EQ(failed->error.line, 7);
  Result<RunInfo> queued = target_->GetRun(queued_);
  ASSERT_TRUE(queued.ok());
  EXPECT_EQ(queued->status, RunStatus::kFailed);
  EXPECT_EQ(queued->error.cause, "interrupted");
  EXPECT_TRUE(queued->finished);
  Result<RunInfo> inline_run = target_->GetRun(inline_);
  ASSERT_TRUE(inline_run.ok());
  EXPECT_EQ(*target_->GetScriptSource(inline_run->spec.strategy_sha256),
            "function on_bar(ctx) end -- inline");
  // Newest first, as in the source.
  Result<std::vector<RunInfo>> runs = target_->ListRuns(0, 0);
  ASSERT_TRUE(runs.ok());
  ASSERT_EQ(runs->size(), 4u);
  EXPECT_EQ((*runs)[0].id, inline_);
  EXPECT_EQ((*runs)[3].id, done_);

  // Scripts keep their numbers: the next save is version 3.
  Result<SavedScript> next = target_->SaveScript("trend", "function on_bar(ctx) end -- 3", "[]");
  ASSERT_TRUE(next.ok()) << next.error().ToString();
  EXPECT_EQ(next->script.version, 3);
  EXPECT_EQ(target_->GetScript("trend", 1)->source, "function on_bar(ctx) end -- 1");

  // Bars bit for bit.
  Result<market::Series> a = source_->LoadBars("eth-daily");
  Result<market::Series> b = target_->LoadBars("eth-daily");
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_EQ(a->size(), b->size());
  EXPECT_EQ(b->symbol(), "ETH \"x\"");
  for (size_t i = 0; i < a->size(); ++i) {
    ASSERT_EQ(a->times()[i], b->times()[i]);
    ASSERT_TRUE(SameDouble(a->close()[i], b->close()[i]));
  }
  EXPECT_EQ(target_->GetDataset("syn-1m")->created, source_->GetDataset("syn-1m")->created);

  // Sweeps: records, sorting and the interrupted one.
  Result<SweepInfo> sweep = target_->GetSweep(sweep_done_);
  ASSERT_TRUE(sweep.ok());
  EXPECT_EQ(sweep->status, SweepStatus::kDone);
  EXPECT_EQ(sweep->done, 80u);
  EXPECT_EQ(sweep->summary_json, R"({"best":3})");
  TrialQuery q;
  q.sort = "sharpe";
  q.descending = true;
  q.limit = 0;
  Result<TrialPage> want = source_->ListTrials(sweep_done_, q);
  Result<TrialPage> got = target_->ListTrials(sweep_done_, q);
  ASSERT_TRUE(want.ok() && got.ok()) << got.error().ToString();
  ASSERT_EQ(want->trials.size(), got->trials.size());
  for (size_t i = 0; i < want->trials.size(); ++i) {
    EXPECT_EQ(want->trials[i].index, got->trials[i].index) << i;
  }
  Result<TrialRecord> trial = target_->GetTrial(sweep_done_, 0, 4);
  ASSERT_TRUE(trial.ok());
  EXPECT_EQ(trial->returns.size(), 365u);
  ExpectSameStats(*Trial(0, 4, false, 0).stats, *trial->stats);
  Result<SweepInfo> interrupted = target_->GetSweep(sweep_running_);
  ASSERT_TRUE(interrupted.ok());
  EXPECT_EQ(interrupted->status, SweepStatus::kFailed);
  EXPECT_EQ(interrupted->error.msg, "interrupted");
  EXPECT_EQ(interrupted->done, 1u);
}

TEST_F(MigrateTest, AnEmptySourceCopiesNothingAndChecks) {
  Result<MigrationCounts> copied = MigrateStore(*source_, *target_);
  ASSERT_TRUE(copied.ok()) << copied.error().ToString();
  EXPECT_EQ(copied->runs + copied->datasets + copied->sweeps + copied->script_versions, 0u);
  EXPECT_TRUE(VerifyMigration(*source_, *target_).ok());
}

TEST_F(MigrateTest, ATargetHoldingAnyOfItIsRefusedWithNothingWritten) {
  Fill();
  // The target has a dataset of one of the names (and other data, which alone is fine).
  market::GenOptions gen;
  gen.bars = 10;
  ASSERT_TRUE(target_->PutDataset("eth-daily", market::Generate(gen)).ok());
  ASSERT_TRUE(target_->PutDataset("unrelated", market::Generate(gen)).ok());
  Result<MigrationCounts> refused = MigrateStore(*source_, *target_);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kConflict);
  EXPECT_EQ(refused.error().details.at("dataset"), "eth-daily");
  EXPECT_EQ(refused.error().details.at("count"), "1");
  EXPECT_EQ(Count("datasets"), 2);
  EXPECT_EQ(Count("runs"), 0);
  EXPECT_EQ(Count("sweeps"), 0);
  EXPECT_EQ(Count("strategy_versions"), 0);
  EXPECT_EQ(Count("script_sources"), 0);

  // A second migration into a target that has the first's copy: refused too, by run id, etc.
  ASSERT_TRUE(target_->DeleteDataset("eth-daily").ok());
  ASSERT_TRUE(MigrateStore(*source_, *target_).ok());
  const int64_t runs = Count("runs"), trials = Count("sweep_trials");
  refused = MigrateStore(*source_, *target_);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kConflict);
  EXPECT_EQ(refused.error().details.at("count"), std::to_string(2 + 2 + 4 + 2));
  EXPECT_EQ(Count("runs"), runs);
  EXPECT_EQ(Count("sweep_trials"), trials);
  // The target's other data does not disturb the check.
  EXPECT_TRUE(VerifyMigration(*source_, *target_).ok());
}

TEST_F(MigrateTest, TheTargetMustBePostgres) {
  TempDir other;
  Result<std::unique_ptr<Store>> sqlite = OpenSqliteStore(other.File("o.db"));
  ASSERT_TRUE(sqlite.ok());
  Result<MigrationCounts> r = MigrateStore(*source_, **sqlite);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kValidation);
  EXPECT_EQ(r.error().details.at("field"), "to");
}

TEST_F(MigrateTest, VerificationNamesTheFirstDifference) {
  Fill();
  ASSERT_TRUE(MigrateStore(*source_, *target_).ok());
  auto tamper = [&](const std::string& sql) {
    Result<std::unique_ptr<internal::pg::Conn>> conn = internal::pg::Conn::Open(url_);
    ASSERT_TRUE(conn.ok());
    ASSERT_TRUE((*conn)->Exec(sql).ok()) << sql;
  };
  tamper(
      "UPDATE run_stats SET sharpe = sharpe + 1e-12 WHERE run = (SELECT seq FROM runs WHERE "
      "id = '" +
      done_ + "')");
  Result<MigrationCounts> r = VerifyMigration(*source_, *target_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kInternal);
  EXPECT_EQ(r.error().details.at("what"), "run " + done_);
  EXPECT_EQ(r.error().details.at("field"), "stats");
  tamper("UPDATE run_stats SET sharpe = 1.5");  // MakeResult's, exactly
  ASSERT_TRUE(VerifyMigration(*source_, *target_).ok());

  // A byte of the second daily return of each of the sweep's records.
  tamper(
      "UPDATE sweep_returns SET returns = overlay(returns placing '\\xff'::bytea from 21) "
      "WHERE sweep = (SELECT seq FROM sweeps WHERE id = '" +
      sweep_done_ + "')");
  r = VerifyMigration(*source_, *target_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().details.at("what"), "sweep " + sweep_done_);
}

}  // namespace
}  // namespace tapedeck::store
