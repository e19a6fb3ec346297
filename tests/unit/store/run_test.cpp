// Runs in the store, on both backends: the lifecycle, results kept bit for bit, status moves
// refused, deletes, concurrency; what differs (recovery at start, PostgreSQL's notifications and
// several processes on one database) in tests of their own.
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <poll.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "store/store.h"
#include "store_test_util.h"

namespace tapedeck::store {
namespace {

using testing::Backend;
using testing::BackendStore;
using testing::ExpectSameResult;
using testing::ExpectSameStats;
using testing::ExpectSameTrades;
using testing::MakeResult;

RunError Failure(std::string msg) {
  RunError e;
  e.msg = std::move(msg);
  return e;
}

class RunFixture : public ::testing::Test {
 protected:
  explicit RunFixture(Backend backend) : db_(backend) {}
  void SetUp() override { Open(); }

  StoreOptions Options() {
    StoreOptions options;
    options.now = [this] { return FromMicros(now_us_.fetch_add(1'000'000)); };
    return options;
  }
  void Open() {
    Result<std::unique_ptr<Store>> store = db_.Open(Options());
    ASSERT_TRUE(store.ok()) << store.error().ToString();
    store_ = std::move(*store);
  }
  void Reopen() {
    store_.reset();
    Open();
  }
  // Another store on the same database, as another process would open it.
  std::unique_ptr<Store> OpenAnother() {
    Result<std::unique_ptr<Store>> store = db_.Open(Options());
    EXPECT_TRUE(store.ok()) << store.error().ToString();
    return store.ok() ? std::move(*store) : nullptr;
  }

  RunSpec Spec() const {
    RunSpec spec;
    spec.dataset = "btc-2023";
    spec.symbols = {"BTCUSDT"};
    spec.strategy = "sma_cross";
    spec.params_json = R"({"fast":10,"slow":30})";
    spec.config.cash = 50'000;
    spec.config.costs.commission = 0.001;
    spec.config.costs.fixed_fee = 0.5;
    spec.config.costs.slippage = 0.0002;
    spec.config.allow_short = false;
    spec.from = FromMicros(1'672'531'200'000'000);
    spec.request_json = R"({"dataset":"btc-2023","strategy":"sma_cross"})";
    return spec;
  }

  std::string Create() {
    Result<std::string> id = store_->CreateRun(Spec());
    EXPECT_TRUE(id.ok()) << id.error().ToString();
    return id.ok() ? *id : "";
  }

  // Rows in `table` belonging to any run (checks deletes leave nothing behind).
  int64_t CountRows(const char* table) { return db_.CountRows(table); }

  BackendStore db_;
  std::atomic<int64_t> now_us_{1'700'000'000'000'000};
  std::unique_ptr<Store> store_;
};

class RunTest : public RunFixture, public ::testing::WithParamInterface<Backend> {
 protected:
  RunTest() : RunFixture(GetParam()) {}
};
TD_STORE_BACKENDS(RunTest);

class SqliteRunTest : public RunFixture {
 protected:
  SqliteRunTest() : RunFixture(Backend::kSqlite) {}
};

class PgRunTest : public RunFixture {
 protected:
  PgRunTest() : RunFixture(Backend::kPostgres) {}
};

TEST_P(RunTest, CreateRunIsQueuedWithItsSpec) {
  const std::string id = Create();
  EXPECT_EQ(id.size(), 16u);
  EXPECT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_NE(Create(), id);

  Result<RunInfo> run = store_->GetRun(id);
  ASSERT_TRUE(run.ok()) << run.error().ToString();
  EXPECT_EQ(run->id, id);
  EXPECT_EQ(run->status, RunStatus::kQueued);
  EXPECT_EQ(run->progress, 0);
  EXPECT_EQ(run->error.msg, "");
  EXPECT_EQ(run->created, FromMicros(1'700'000'000'000'000));
  EXPECT_FALSE(run->started);
  EXPECT_FALSE(run->finished);
  EXPECT_FALSE(run->stats);
  const RunSpec want = Spec();
  EXPECT_EQ(run->spec.dataset, want.dataset);
  EXPECT_EQ(run->spec.symbols, want.symbols);
  EXPECT_EQ(run->spec.strategy, want.strategy);
  EXPECT_EQ(run->spec.params_json, want.params_json);
  EXPECT_EQ(run->spec.config.cash, want.config.cash);
  EXPECT_EQ(run->spec.config.costs.commission, want.config.costs.commission);
  EXPECT_EQ(run->spec.config.costs.fixed_fee, want.config.costs.fixed_fee);
  EXPECT_EQ(run->spec.config.costs.slippage, want.config.costs.slippage);
  EXPECT_EQ(run->spec.config.allow_short, false);
  EXPECT_EQ(run->spec.from, want.from);
  EXPECT_FALSE(run->spec.to);
  EXPECT_EQ(run->spec.request_json, want.request_json);
}

TEST_P(RunTest, ARunOverSeveralDatasetsKeepsThemAllInOrder) {
  RunSpec spec = Spec();
  spec.dataset = "ndx";
  spec.datasets = {"ndx", "spx", "dax"};
  spec.symbols = {"NDX", "SPX", "DAX"};
  Result<std::string> id = store_->CreateRun(spec);
  ASSERT_TRUE(id.ok()) << id.error().ToString();
  Reopen();
  Result<RunInfo> run = store_->GetRun(*id);
  ASSERT_TRUE(run.ok()) << run.error().ToString();
  EXPECT_EQ(run->spec.dataset, "ndx");
  EXPECT_EQ(run->spec.datasets, (std::vector<std::string>{"ndx", "spx", "dax"}));
  EXPECT_EQ(run->spec.symbols, (std::vector<std::string>{"NDX", "SPX", "DAX"}));
  Result<std::vector<RunInfo>> listed = store_->ListRuns();
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ(listed->front().spec.datasets, run->spec.datasets);
}

TEST_P(RunTest, ARunGivenOnlyItsDatasetListsIt) {
  Result<RunInfo> run = store_->GetRun(Create());  // Spec() leaves datasets empty
  ASSERT_TRUE(run.ok());
  EXPECT_EQ(run->spec.datasets, std::vector<std::string>{"btc-2023"});
}

TEST_P(RunTest, LifecycleQueuedRunningDoneRoundTripsTheResultExactly) {
  const std::string id = Create();
  ASSERT_TRUE(store_->MarkRunning(id).ok());
  EXPECT_EQ(store_->GetRun(id)->status, RunStatus::kRunning);
  EXPECT_TRUE(store_->GetRun(id)->started);
  ASSERT_TRUE(store_->UpdateProgress(id, 0.25).ok());
  EXPECT_EQ(store_->GetRun(id)->progress, 0.25);
  ASSERT_TRUE(store_->UpdateProgress(id, 7).ok());  // clamped
  EXPECT_EQ(store_->GetRun(id)->progress, 1);

  const engine::RunResult result = MakeResult(5000, 40);
  ASSERT_TRUE(std::isnan(result.events[0].px));
  ASSERT_FALSE(result.events[0].qty);
  Status done = store_->CompleteRun(id, result);
  ASSERT_TRUE(done.ok()) << done.error().ToString();

  Result<RunInfo> run = store_->GetRun(id);
  ASSERT_TRUE(run.ok());
  EXPECT_EQ(run->status, RunStatus::kDone);
  EXPECT_EQ(run->progress, 1);
  ASSERT_TRUE(run->finished);
  EXPECT_GT(*run->finished, *run->started);
  ASSERT_TRUE(run->stats);
  ExpectSameStats(*run->stats, result.stats);

  Result<engine::RunResult> loaded = store_->LoadRunResult(id);
  ASSERT_TRUE(loaded.ok()) << loaded.error().ToString();
  ExpectSameResult(result, *loaded);
  Result<std::vector<engine::Trade>> trades = store_->LoadTrades(id);
  ASSERT_TRUE(trades.ok());
  ExpectSameTrades(result.trades, *trades);
}

TEST_P(RunTest, EmptyResultRoundTrips) {
  const std::string id = Create();
  engine::RunResult empty;
  ASSERT_TRUE(store_->CompleteRun(id, empty).ok());  // queued -> done is allowed
  Result<engine::RunResult> loaded = store_->LoadRunResult(id);
  ASSERT_TRUE(loaded.ok()) << loaded.error().ToString();
  ExpectSameResult(empty, *loaded);
  EXPECT_TRUE(store_->GetRun(id)->started);
}

TEST_P(RunTest, TransitionsTheStatusDoesNotAllowAreConflicts) {
  const std::string id = Create();
  Status progress = store_->UpdateProgress(id, 0.5);
  ASSERT_FALSE(progress.ok());
  EXPECT_EQ(progress.error().code, ErrorCode::kConflict);
  EXPECT_EQ(progress.error().details.at("status"), "queued");
  ASSERT_TRUE(store_->MarkRunning(id).ok());
  EXPECT_EQ(store_->MarkRunning(id).error().code, ErrorCode::kConflict);
  ASSERT_TRUE(store_->CompleteRun(id, MakeResult(10, 2)).ok());
  EXPECT_EQ(store_->CompleteRun(id, MakeResult(10, 2)).error().code, ErrorCode::kConflict);
  EXPECT_EQ(store_->FailRun(id, Failure("late")).error().code, ErrorCode::kConflict);
  EXPECT_EQ(store_->UpdateProgress(id, 0.1).error().code, ErrorCode::kConflict);
  EXPECT_EQ(store_->GetRun(id)->status, RunStatus::kDone);
  EXPECT_EQ(store_->UpdateProgress(id, NAN).error().code, ErrorCode::kValidation);
}

TEST_P(RunTest, MismatchedEquityIsValidationAndWritesNothing) {
  const std::string id = Create();
  ASSERT_TRUE(store_->MarkRunning(id).ok());
  engine::RunResult bad = MakeResult(10, 2);
  bad.equity.pop_back();
  EXPECT_EQ(store_->CompleteRun(id, bad).error().code, ErrorCode::kValidation);
  EXPECT_EQ(store_->GetRun(id)->status, RunStatus::kRunning);
  EXPECT_EQ(CountRows("run_events"), 0);
  EXPECT_EQ(CountRows("run_equity"), 0);
}

TEST_P(RunTest, FailedRunKeepsItsErrorAndHasNoResult) {
  const std::string id = Create();
  ASSERT_TRUE(store_->MarkRunning(id).ok());
  ASSERT_TRUE(store_->FailRun(id, Failure("strategy error: division by zero")).ok());
  Result<RunInfo> run = store_->GetRun(id);
  EXPECT_EQ(run->status, RunStatus::kFailed);
  EXPECT_EQ(run->error.msg, "strategy error: division by zero");
  EXPECT_TRUE(run->finished);
  EXPECT_FALSE(run->stats);
  Result<engine::RunResult> loaded = store_->LoadRunResult(id);
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.error().code, ErrorCode::kRunFailed);
  EXPECT_EQ(loaded.error().details.at("error"), "strategy error: division by zero");
  EXPECT_EQ(store_->LoadTrades(id).error().code, ErrorCode::kRunFailed);
  EXPECT_EQ(store_->CompleteRun(id, MakeResult(10, 2)).error().code, ErrorCode::kConflict);
}

TEST_P(RunTest, UnfinishedRunHasNoResultYet) {
  const std::string id = Create();
  EXPECT_EQ(store_->LoadRunResult(id).error().code, ErrorCode::kRange);
  ASSERT_TRUE(store_->MarkRunning(id).ok());
  Result<engine::RunResult> loaded = store_->LoadRunResult(id);
  EXPECT_EQ(loaded.error().code, ErrorCode::kRange);
  EXPECT_EQ(loaded.error().details.at("status"), "running");
}

TEST_P(RunTest, UnknownIdIsRunNotFoundEverywhere) {
  const std::string id = "0123456789abcdef";
  EXPECT_EQ(store_->GetRun(id).error().code, ErrorCode::kRunNotFound);
  EXPECT_EQ(store_->GetRun(id).error().details.at("id"), id);
  EXPECT_EQ(store_->MarkRunning(id).error().code, ErrorCode::kRunNotFound);
  EXPECT_EQ(store_->UpdateProgress(id, 0.5).error().code, ErrorCode::kRunNotFound);
  EXPECT_EQ(store_->CompleteRun(id, MakeResult(3, 1)).error().code, ErrorCode::kRunNotFound);
  EXPECT_EQ(store_->FailRun(id, Failure("x")).error().code, ErrorCode::kRunNotFound);
  EXPECT_EQ(store_->LoadRunResult(id).error().code, ErrorCode::kRunNotFound);
  EXPECT_EQ(store_->LoadTrades(id).error().code, ErrorCode::kRunNotFound);
  EXPECT_EQ(store_->DeleteRun(id).error().code, ErrorCode::kRunNotFound);
  // SQL in an id is just an unknown id.
  EXPECT_EQ(store_->GetRun("' OR 1=1 --").error().code, ErrorCode::kRunNotFound);
}

TEST_F(SqliteRunTest, RecoverOnStartFailsInterruptedRunsOnly) {
  const std::string queued = Create();
  const std::string running = Create();
  const std::string done = Create();
  const std::string failed = Create();
  ASSERT_TRUE(store_->MarkRunning(running).ok());
  ASSERT_TRUE(store_->UpdateProgress(running, 0.4).ok());
  ASSERT_TRUE(store_->CompleteRun(done, MakeResult(100, 4)).ok());
  ASSERT_TRUE(store_->FailRun(failed, Failure("bad params")).ok());

  Reopen();  // as after a crash: nothing told the store the runs stopped
  Result<size_t> recovered = store_->RecoverOnStart();
  ASSERT_TRUE(recovered.ok());
  EXPECT_EQ(*recovered, 2u);
  for (const std::string& id : {queued, running}) {
    Result<RunInfo> run = store_->GetRun(id);
    EXPECT_EQ(run->status, RunStatus::kFailed);
    EXPECT_EQ(run->error.msg, "interrupted");
    EXPECT_EQ(run->error.cause, "interrupted");
    EXPECT_TRUE(run->finished);
    EXPECT_EQ(store_->LoadRunResult(id).error().code, ErrorCode::kRunFailed);
  }
  EXPECT_EQ(store_->GetRun(done)->status, RunStatus::kDone);
  EXPECT_EQ(store_->GetRun(failed)->error.msg, "bad params");
  EXPECT_EQ(*store_->RecoverOnStart(), 0u);
}

TEST_P(RunTest, EverythingSurvivesReopen) {
  const std::string id = Create();
  const engine::RunResult result = MakeResult(20'000, 100);
  ASSERT_TRUE(store_->MarkRunning(id).ok());
  ASSERT_TRUE(store_->CompleteRun(id, result).ok());
  const std::string other = Create();
  Reopen();
  Result<engine::RunResult> loaded = store_->LoadRunResult(id);
  ASSERT_TRUE(loaded.ok()) << loaded.error().ToString();
  ExpectSameResult(result, *loaded);
  EXPECT_EQ(store_->GetRun(other)->status, RunStatus::kQueued);
  EXPECT_EQ(store_->GetRun(id)->spec.params_json, Spec().params_json);
}

TEST_P(RunTest, ListRunsIsNewestFirstWithStats) {
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(Create());
  ASSERT_TRUE(store_->CompleteRun(ids[1], MakeResult(10, 2)).ok());
  Result<std::vector<RunInfo>> all = store_->ListRuns();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 5u);
  for (size_t i = 0; i < 5; ++i) EXPECT_EQ((*all)[i].id, ids[4 - i]);
  EXPECT_TRUE((*all)[3].stats);
  EXPECT_FALSE((*all)[0].stats);
  Result<std::vector<RunInfo>> page = store_->ListRuns(2, 1);
  ASSERT_EQ(page->size(), 2u);
  EXPECT_EQ((*page)[0].id, ids[3]);
  EXPECT_EQ((*page)[1].id, ids[2]);
}

TEST_P(RunTest, CountRunsCountsEachStatusAndFollowsDeletes) {
  Result<StatusCounts> empty = store_->CountRuns();
  ASSERT_TRUE(empty.ok()) << empty.error().ToString();
  EXPECT_EQ(empty->queued + empty->running + empty->done + empty->failed, 0u);

  std::vector<std::string> ids;
  for (int i = 0; i < 7; ++i) ids.push_back(Create());
  ASSERT_TRUE(store_->MarkRunning(ids[0]).ok());
  ASSERT_TRUE(store_->MarkRunning(ids[1]).ok());
  ASSERT_TRUE(store_->CompleteRun(ids[1], MakeResult(10, 2)).ok());
  ASSERT_TRUE(store_->CompleteRun(ids[2], MakeResult(10, 2)).ok());
  ASSERT_TRUE(store_->FailRun(ids[3], Failure("bad params")).ok());
  Result<StatusCounts> counts = store_->CountRuns();
  ASSERT_TRUE(counts.ok()) << counts.error().ToString();
  EXPECT_EQ(counts->queued, 3u);
  EXPECT_EQ(counts->running, 1u);
  EXPECT_EQ(counts->done, 2u);
  EXPECT_EQ(counts->failed, 1u);

  ASSERT_TRUE(store_->DeleteRun(ids[2]).ok());
  ASSERT_TRUE(store_->DeleteRun(ids[4]).ok());
  counts = store_->CountRuns();
  EXPECT_EQ(counts->queued, 2u);
  EXPECT_EQ(counts->done, 1u);
}

TEST_P(RunTest, DeleteRunRemovesAllItsRows) {
  const std::string id = Create();
  const std::string keep = Create();
  ASSERT_TRUE(store_->CompleteRun(id, MakeResult(1000, 20)).ok());
  ASSERT_TRUE(store_->CompleteRun(keep, MakeResult(10, 2)).ok());
  ASSERT_TRUE(store_->DeleteRun(id).ok());
  EXPECT_EQ(store_->GetRun(id).error().code, ErrorCode::kRunNotFound);
  EXPECT_EQ(store_->LoadRunResult(id).error().code, ErrorCode::kRunNotFound);
  EXPECT_EQ(store_->DeleteRun(id).error().code, ErrorCode::kRunNotFound);
  EXPECT_EQ(CountRows("runs"), 1);
  EXPECT_EQ(CountRows("run_events"), 1);
  EXPECT_EQ(CountRows("run_trades"), 1);
  EXPECT_EQ(CountRows("run_equity"), 1);
  EXPECT_EQ(CountRows("run_stats"), 1);
  EXPECT_TRUE(store_->LoadRunResult(keep).ok());
}

TEST_P(RunTest, DeletingARunningRunStopsItsWorker) {
  const std::string id = Create();
  ASSERT_TRUE(store_->MarkRunning(id).ok());
  ASSERT_TRUE(store_->DeleteRun(id).ok());
  EXPECT_EQ(store_->UpdateProgress(id, 0.5).error().code, ErrorCode::kRunNotFound);
  EXPECT_EQ(store_->CompleteRun(id, MakeResult(10, 2)).error().code, ErrorCode::kRunNotFound);
  EXPECT_EQ(CountRows("run_events"), 0);
}

// Several workers drive runs through their lifecycle while readers list and load: every call
// succeeds (busy waits stay inside the store) and every run ends done with its own result.
TEST_P(RunTest, ConcurrentWritersAndReaders) {
  constexpr int kWriters = 4;
  constexpr int kRunsEach = 15;
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  std::vector<std::vector<std::string>> ids(kWriters);
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      for (int i = 0; i < kRunsEach; ++i) {
        Result<std::string> id = store_->CreateRun(Spec());
        if (!id.ok()) {
          ++failures;
          continue;
        }
        ids[w].push_back(*id);
        if (!store_->MarkRunning(*id).ok()) ++failures;
        for (double p : {0.25, 0.5, 0.75}) {
          if (!store_->UpdateProgress(*id, p).ok()) ++failures;
        }
        if (!store_->CompleteRun(*id, MakeResult(2000 + w * 100 + i, 10)).ok()) ++failures;
      }
    });
  }
  for (int r = 0; r < 2; ++r) {
    threads.emplace_back([&] {
      while (!stop.load()) {
        Result<std::vector<RunInfo>> runs = store_->ListRuns(10);
        if (!runs.ok()) {
          ++failures;
          continue;
        }
        for (const RunInfo& run : *runs) {
          if (run.status != RunStatus::kDone) continue;
          Result<engine::RunResult> result = store_->LoadRunResult(run.id);
          // A run deleted meanwhile would be RUN_NOT_FOUND; none is deleted here.
          if (!result.ok() || result->times.size() != result->equity.size() ||
              result->times.size() != run.stats->bars) {
            ++failures;
          }
        }
      }
    });
  }
  for (int w = 0; w < kWriters; ++w) threads[w].join();
  stop = true;
  for (size_t t = kWriters; t < threads.size(); ++t) threads[t].join();
  EXPECT_EQ(failures.load(), 0);
  Result<std::vector<RunInfo>> all = store_->ListRuns();
  ASSERT_EQ(all->size(), static_cast<size_t>(kWriters * kRunsEach));
  for (int w = 0; w < kWriters; ++w) {
    for (int i = 0; i < kRunsEach; ++i) {
      Result<engine::RunResult> r = store_->LoadRunResult(ids[w][i]);
      ASSERT_TRUE(r.ok());
      EXPECT_EQ(r->times.size(), static_cast<size_t>(2000 + w * 100 + i));
    }
  }
}

// Another process may be executing any run still queued or running: recovery is the job queue's
// leases' business, and RecoverOnStart leaves every run as it is.
TEST_F(PgRunTest, RecoverOnStartChangesNothing) {
  const std::string queued = Create();
  const std::string running = Create();
  ASSERT_TRUE(store_->MarkRunning(running).ok());
  Reopen();
  Result<size_t> recovered = store_->RecoverOnStart();
  ASSERT_TRUE(recovered.ok()) << recovered.error().ToString();
  EXPECT_EQ(*recovered, 0u);
  EXPECT_EQ(store_->GetRun(queued)->status, RunStatus::kQueued);
  EXPECT_EQ(store_->GetRun(running)->status, RunStatus::kRunning);
  EXPECT_TRUE(store_->GetRun(running)->error.msg.empty());
}

// The payloads of NOTIFY tapedeck_run that reach a listener within `wait` (stopping early once
// `want` have come).
std::vector<std::string> Notifications(PGconn* listener, size_t want,
                                       std::chrono::milliseconds wait) {
  std::vector<std::string> out;
  const auto deadline = std::chrono::steady_clock::now() + wait;
  while (out.size() < want) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{PQsocket(listener), POLLIN, 0};
    ::poll(&p, 1, static_cast<int>(left.count()));
    if (PQconsumeInput(listener) == 0) break;
    while (PGnotify* n = PQnotifies(listener)) {
      EXPECT_STREQ(n->relname, "tapedeck_run");
      out.emplace_back(n->extra);
      PQfreemem(n);
    }
  }
  return out;
}

TEST_F(PgRunTest, ARunThatEndsNotifiesItsIdOnCommit) {
  PGconn* listener = PQconnectdb(db_.url().c_str());
  ASSERT_EQ(PQstatus(listener), CONNECTION_OK) << PQerrorMessage(listener);
  PQclear(PQexec(listener, "LISTEN tapedeck_run"));

  const std::string done = Create();
  const std::string failed = Create();
  const std::string started = Create();
  ASSERT_TRUE(store_->MarkRunning(done).ok());
  ASSERT_TRUE(store_->UpdateProgress(done, 0.5).ok());
  ASSERT_TRUE(store_->MarkRunning(started).ok());  // no end: no notification
  ASSERT_TRUE(store_->CompleteRun(done, MakeResult(100, 4)).ok());
  ASSERT_TRUE(store_->FailRun(failed, Failure("bad params")).ok());
  EXPECT_EQ(Notifications(listener, 2, std::chrono::seconds(5)),
            (std::vector<std::string>{done, failed}));

  // A move refused (CONFLICT) or a deleted run's end sends nothing.
  EXPECT_EQ(store_->CompleteRun(done, MakeResult(10, 2)).error().code, ErrorCode::kConflict);
  EXPECT_EQ(store_->FailRun(failed, Failure("again")).error().code, ErrorCode::kConflict);
  ASSERT_TRUE(store_->DeleteRun(started).ok());
  EXPECT_EQ(store_->CompleteRun(started, MakeResult(10, 2)).error().code, ErrorCode::kRunNotFound);
  EXPECT_TRUE(Notifications(listener, 1, std::chrono::milliseconds(300)).empty());
  PQfinish(listener);
}

// Two stores on one database stand for two workers' processes: of two moves racing on one run,
// exactly one is made and the other is CONFLICT naming the status the first left.
TEST_F(PgRunTest, RacingMovesFromTwoProcessesMakeExactlyOne) {
  std::unique_ptr<Store> other = OpenAnother();
  ASSERT_TRUE(other);
  for (int round = 0; round < 5; ++round) {
    SCOPED_TRACE(round);
    const std::string id = Create();
    Status a = Ok(), b = Ok();
    {
      std::thread ta([&] { a = store_->MarkRunning(id); });
      std::thread tb([&] { b = other->MarkRunning(id); });
      ta.join();
      tb.join();
    }
    ASSERT_NE(a.ok(), b.ok());
    EXPECT_EQ((a.ok() ? b : a).error().details.at("status"), "running");

    const engine::RunResult mine = MakeResult(3000, 20);
    const engine::RunResult theirs = MakeResult(2000, 10);
    {
      std::thread ta([&] { a = store_->CompleteRun(id, mine); });
      std::thread tb([&] { b = other->CompleteRun(id, theirs); });
      ta.join();
      tb.join();
    }
    ASSERT_NE(a.ok(), b.ok()) << (a.ok() ? b : a).error().ToString();
    const Status& lost = a.ok() ? b : a;
    EXPECT_EQ(lost.error().code, ErrorCode::kConflict);
    EXPECT_EQ(lost.error().details.at("status"), "done");
    Result<engine::RunResult> stored = other->LoadRunResult(id);
    ASSERT_TRUE(stored.ok());
    ExpectSameResult(a.ok() ? mine : theirs, *stored);
  }
  EXPECT_EQ(CountRows("run_equity"), 5);
}

}  // namespace
}  // namespace tapedeck::store
