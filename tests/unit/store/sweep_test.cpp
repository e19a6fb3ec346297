// Sweeps in the store: spec, status moves, trial records and their daily returns, listing.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <limits>
#include <random>
#include <thread>

#include "store/store.h"
#include "store_test_util.h"

namespace tapedeck::store {
namespace {

using testing::ExpectSameStats;
using testing::MakeResult;
using testing::SameDouble;
using testing::TempDir;

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

RunError Failure(std::string msg, std::string cause = "error") {
  RunError e;
  e.msg = std::move(msg);
  e.cause = std::move(cause);
  return e;
}

engine::Stats StatsWith(double sharpe, double profit_factor = 1.5) {
  engine::Stats s = MakeResult(10, 4).stats;
  s.sharpe = sharpe;
  s.profit_factor = profit_factor;
  return s;
}

TrialRecord Trial(size_t phase, size_t index, std::optional<engine::Stats> stats, size_t days = 0) {
  TrialRecord t;
  t.phase = phase;
  t.index = index;
  t.params_json = R"({"fast":)" + std::to_string(index) + R"(,"slow":50})";
  t.stats = stats;
  if (!stats) t.error = "fast must be below slow";
  for (size_t d = 0; d < days; ++d) {
    t.returns.push_back({19'723 + static_cast<int64_t>(d),
                         std::sin(static_cast<double>(d + index)) * 0.0123456789012345});
  }
  return t;
}

void ExpectSameTrial(const TrialRecord& a, const TrialRecord& b, bool returns) {
  EXPECT_EQ(a.phase, b.phase);
  EXPECT_EQ(a.index, b.index);
  EXPECT_EQ(a.params_json, b.params_json);
  EXPECT_EQ(a.error, b.error);
  ASSERT_EQ(a.stats.has_value(), b.stats.has_value());
  if (a.stats) ExpectSameStats(*a.stats, *b.stats);
  if (!returns) {
    EXPECT_TRUE(b.returns.empty());
    return;
  }
  ASSERT_EQ(a.returns.size(), b.returns.size());
  for (size_t i = 0; i < a.returns.size(); ++i) {
    EXPECT_EQ(a.returns[i].day, b.returns[i].day);
    EXPECT_TRUE(SameDouble(a.returns[i].ret, b.returns[i].ret)) << i;
  }
}

std::vector<size_t> Indices(const TrialPage& page) {
  std::vector<size_t> out;
  for (const TrialRecord& t : page.trials) out.push_back(t.index);
  return out;
}

using testing::Backend;
using testing::BackendStore;

class SweepTest : public ::testing::TestWithParam<Backend> {
 protected:
  SweepTest() : db_(GetParam()) {}
  void SetUp() override { Open(); }

  bool postgres() const { return db_.postgres(); }

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

  static SweepSpec Spec() {
    SweepSpec spec;
    RunSpec& b = spec.base;
    b.dataset = "btc-2023";
    b.datasets = {"btc-2023", "eth \"2023\""};
    b.symbols = {"BTCUSDT", "ETHUSDT"};
    b.strategy = "trend";
    b.strategy_version = 3;
    b.strategy_sha256 = std::string(64, 'a');
    b.config.cash = 50'000.123456789;
    b.config.costs.commission = 0.001;
    b.config.costs.fixed_fee = 0.5;
    b.config.costs.slippage = 0.0002;
    b.config.allow_short = true;
    b.from = FromMicros(1'672'531'200'000'001);
    b.to = FromMicros(1'704'067'200'000'000);
    spec.plan_json = R"({"params":{"fast":{"from":5,"to":50,"step":5}},"method":"grid"})";
    spec.request_json = R"({"dataset":"btc-2023","params":{"fast":{"from":5,"to":50}}})";
    spec.trials = 10;
    spec.tasks = 30;
    return spec;
  }

  std::string Create(const SweepSpec& spec = Spec()) {
    Result<std::string> id = store_->CreateSweep(spec);
    EXPECT_TRUE(id.ok()) << id.error().ToString();
    return id.ok() ? *id : "";
  }

  std::string CreateRunning() {
    const std::string id = Create();
    EXPECT_TRUE(store_->MarkSweepRunning(id).ok());
    return id;
  }

  int64_t CountRows(const char* table) { return db_.CountRows(table); }

  BackendStore db_;
  std::atomic<int64_t> now_us_{1'700'000'000'000'000};
  std::unique_ptr<Store> store_;
};
TD_STORE_BACKENDS(SweepTest);

TEST(SweepStatusTest, ToStringIsTheWireName) {
  EXPECT_EQ(ToString(SweepStatus::kQueued), "queued");
  EXPECT_EQ(ToString(SweepStatus::kRunning), "running");
  EXPECT_EQ(ToString(SweepStatus::kDone), "done");
  EXPECT_EQ(ToString(SweepStatus::kFailed), "failed");
}

TEST_P(SweepTest, CreateSweepIsQueuedWithItsSpec) {
  const std::string id = Create();
  ASSERT_EQ(id.size(), 16u);
  EXPECT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos);
  Result<SweepInfo> got = store_->GetSweep(id);
  ASSERT_TRUE(got.ok()) << got.error().ToString();
  const SweepSpec want = Spec();
  EXPECT_EQ(got->id, id);
  EXPECT_EQ(got->status, SweepStatus::kQueued);
  EXPECT_EQ(got->done, 0u);
  EXPECT_EQ(got->spec.base.dataset, want.base.dataset);
  EXPECT_EQ(got->spec.base.datasets, want.base.datasets);
  EXPECT_EQ(got->spec.base.symbols, want.base.symbols);
  EXPECT_EQ(got->spec.base.strategy, want.base.strategy);
  EXPECT_EQ(got->spec.base.strategy_version, want.base.strategy_version);
  EXPECT_EQ(got->spec.base.strategy_sha256, want.base.strategy_sha256);
  EXPECT_TRUE(SameDouble(got->spec.base.config.cash, want.base.config.cash));
  EXPECT_EQ(got->spec.base.config.costs.commission, want.base.config.costs.commission);
  EXPECT_EQ(got->spec.base.config.costs.fixed_fee, want.base.config.costs.fixed_fee);
  EXPECT_EQ(got->spec.base.config.costs.slippage, want.base.config.costs.slippage);
  EXPECT_TRUE(got->spec.base.config.allow_short);
  EXPECT_EQ(got->spec.base.from, want.base.from);
  EXPECT_EQ(got->spec.base.to, want.base.to);
  EXPECT_TRUE(got->spec.base.script_source.empty());
  EXPECT_EQ(got->spec.plan_json, want.plan_json);
  EXPECT_EQ(got->spec.request_json, want.request_json);
  EXPECT_EQ(got->spec.trials, 10u);
  EXPECT_EQ(got->spec.tasks, 30u);
  EXPECT_EQ(got->created, FromMicros(1'700'000'000'000'000));
  EXPECT_FALSE(got->started);
  EXPECT_FALSE(got->finished);
  EXPECT_TRUE(got->summary_json.empty());
  EXPECT_TRUE(got->error.msg.empty());
}

TEST_P(SweepTest, ASweepGivenOnlyItsDatasetListsItAndUnboundedPeriodStaysUnbounded) {
  SweepSpec spec = Spec();
  spec.base.datasets.clear();
  spec.base.from.reset();
  spec.base.to.reset();
  spec.base.strategy_version.reset();
  const std::string id = Create(spec);
  Result<SweepInfo> got = store_->GetSweep(id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->spec.base.datasets, std::vector<std::string>{"btc-2023"});
  EXPECT_FALSE(got->spec.base.from);
  EXPECT_FALSE(got->spec.base.to);
  EXPECT_FALSE(got->spec.base.strategy_version);
}

TEST_P(SweepTest, AnInlineScriptSweepKeepsItsSourceContentAddressed) {
  SweepSpec spec = Spec();
  spec.base.strategy = std::string(kInlineStrategy);
  spec.base.strategy_version.reset();
  spec.base.strategy_sha256.clear();
  spec.base.script_source = "function on_bar(ctx) end -- sweep";
  const std::string id = Create(spec);
  Result<SweepInfo> got = store_->GetSweep(id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->spec.base.strategy_sha256, Sha256Hex(spec.base.script_source));
  EXPECT_TRUE(got->spec.base.script_source.empty());
  Result<std::string> source = store_->GetScriptSource(got->spec.base.strategy_sha256);
  ASSERT_TRUE(source.ok()) << source.error().ToString();
  EXPECT_EQ(*source, spec.base.script_source);
  // The same source again (a run or another sweep) is kept once.
  Create(spec);
  RunSpec run = spec.base;
  ASSERT_TRUE(store_->CreateRun(run).ok());
  EXPECT_EQ(CountRows("script_sources"), 1);
}

TEST_P(SweepTest, LifecycleRoundTripsTrialsAndReturnsExactly) {
  const std::string id = Create();
  ASSERT_TRUE(store_->MarkSweepRunning(id).ok());
  engine::Stats odd = StatsWith(kNaN, kInf);
  odd.cagr = -kInf;
  odd.total_return = 1.0 / 3.0;
  std::vector<TrialRecord> batch = {Trial(0, 2, StatsWith(0.5), 365), Trial(0, 0, odd, 3),
                                    Trial(0, 1, std::nullopt)};
  Status put = store_->PutTrials(id, batch);
  ASSERT_TRUE(put.ok()) << put.error().ToString();
  std::vector<TrialRecord> folds = {Trial(1, 0, StatsWith(1.0)), Trial(1, 1, StatsWith(2.0))};
  ASSERT_TRUE(store_->PutTrials(id, folds).ok());
  Result<SweepInfo> info = store_->GetSweep(id);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->status, SweepStatus::kRunning);
  EXPECT_EQ(info->done, 5u);
  EXPECT_TRUE(info->started);

  Result<std::vector<TrialRecord>> with = store_->LoadTrials(id, 0, /*with_returns=*/true);
  ASSERT_TRUE(with.ok()) << with.error().ToString();
  ASSERT_EQ(with->size(), 3u);
  ExpectSameTrial(batch[1], (*with)[0], true);
  ExpectSameTrial(batch[2], (*with)[1], true);
  ExpectSameTrial(batch[0], (*with)[2], true);
  EXPECT_TRUE(std::isnan((*with)[0].stats->sharpe));
  EXPECT_EQ((*with)[0].stats->profit_factor, kInf);
  EXPECT_EQ((*with)[0].stats->cagr, -kInf);

  Result<std::vector<TrialRecord>> without = store_->LoadTrials(id, 0, /*with_returns=*/false);
  ASSERT_TRUE(without.ok());
  ASSERT_EQ(without->size(), 3u);
  ExpectSameTrial(batch[1], (*without)[0], false);
  ExpectSameTrial(batch[0], (*without)[2], false);

  Result<std::vector<TrialRecord>> phase1 = store_->LoadTrials(id, 1, false);
  ASSERT_TRUE(phase1.ok());
  ASSERT_EQ(phase1->size(), 2u);
  ExpectSameTrial(folds[1], (*phase1)[1], false);

  Result<TrialRecord> one = store_->GetTrial(id, 0, 2);
  ASSERT_TRUE(one.ok()) << one.error().ToString();
  ExpectSameTrial(batch[0], *one, true);

  ASSERT_TRUE(store_->CompleteSweep(id, R"({"valid_trials":2,"failed_trials":1})").ok());
  Reopen();
  info = store_->GetSweep(id);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->status, SweepStatus::kDone);
  EXPECT_EQ(info->summary_json, R"({"valid_trials":2,"failed_trials":1})");
  EXPECT_TRUE(info->finished);
  with = store_->LoadTrials(id, 0, true);
  ASSERT_TRUE(with.ok());
  ExpectSameTrial(batch[0], (*with)[2], true);
}

TEST_P(SweepTest, CountSweepsCountsEachStatusAndFollowsDeletes) {
  const std::string queued = Create();
  const std::string running = CreateRunning();
  const std::string done = CreateRunning();
  ASSERT_TRUE(store_->CompleteSweep(done, "{}").ok());
  const std::string failed = Create();
  ASSERT_TRUE(store_->FailSweep(failed, Failure("no")).ok());
  const std::string also_queued = Create();
  Result<StatusCounts> counts = store_->CountSweeps();
  ASSERT_TRUE(counts.ok()) << counts.error().ToString();
  EXPECT_EQ(counts->queued, 2u);
  EXPECT_EQ(counts->running, 1u);
  EXPECT_EQ(counts->done, 1u);
  EXPECT_EQ(counts->failed, 1u);
  ASSERT_TRUE(store_->DeleteSweep(also_queued).ok());
  ASSERT_TRUE(store_->DeleteSweep(running).ok());
  counts = store_->CountSweeps();
  EXPECT_EQ(counts->queued, 1u);
  EXPECT_EQ(counts->running, 0u);
  EXPECT_EQ(counts->done + counts->failed, 2u);
}

TEST_P(SweepTest, StatusMovesTheStatusDoesNotAllowAreConflicts) {
  const std::string id = Create();
  auto expect_conflict = [&](const Status& s, const char* status) {
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().code, ErrorCode::kConflict);
    EXPECT_EQ(s.error().details.at("status"), status);
  };
  // queued: no trials, no completion.
  expect_conflict(store_->PutTrials(id, std::vector{Trial(0, 0, StatsWith(1))}), "queued");
  expect_conflict(store_->CompleteSweep(id, "{}"), "queued");
  ASSERT_TRUE(store_->MarkSweepRunning(id).ok());
  expect_conflict(store_->MarkSweepRunning(id), "running");
  ASSERT_TRUE(store_->CompleteSweep(id, "{}").ok());
  expect_conflict(store_->MarkSweepRunning(id), "done");
  expect_conflict(store_->CompleteSweep(id, "{}"), "done");
  expect_conflict(store_->FailSweep(id, Failure("late")), "done");
  expect_conflict(store_->PutTrials(id, std::vector{Trial(0, 0, StatsWith(1))}), "done");
  EXPECT_EQ(store_->GetSweep(id)->status, SweepStatus::kDone);

  // queued -> failed, and failed is final.
  const std::string q = Create();
  RunError e = Failure("the dataset is gone", "not_found");
  e.line = 12;
  e.bar_time = FromMicros(1'672'531'260'000'000);
  ASSERT_TRUE(store_->FailSweep(q, e).ok());
  Result<SweepInfo> failed = store_->GetSweep(q);
  ASSERT_TRUE(failed.ok());
  EXPECT_EQ(failed->status, SweepStatus::kFailed);
  EXPECT_EQ(failed->error.msg, "the dataset is gone");
  EXPECT_EQ(failed->error.cause, "not_found");
  EXPECT_EQ(failed->error.line, 12);
  EXPECT_EQ(failed->error.bar_time, e.bar_time);
  EXPECT_TRUE(failed->finished);
  expect_conflict(store_->MarkSweepRunning(q), "failed");
  expect_conflict(store_->FailSweep(q, Failure("again")), "failed");

  // running -> failed.
  const std::string r = CreateRunning();
  ASSERT_TRUE(store_->FailSweep(r, Failure("boom")).ok());
  EXPECT_EQ(store_->GetSweep(r)->status, SweepStatus::kFailed);

  Status empty = store_->FailSweep(CreateRunning(), RunError{});
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.error().code, ErrorCode::kValidation);
}

TEST_P(SweepTest, ADuplicateTrialIsAConflictAndWritesNothingOfItsBatch) {
  const std::string id = CreateRunning();
  ASSERT_TRUE(store_->PutTrials(id, std::vector{Trial(0, 3, StatsWith(1), 5)}).ok());
  // A batch whose last record repeats an earlier batch's.
  std::vector<TrialRecord> batch = {Trial(0, 4, StatsWith(1), 5), Trial(0, 5, std::nullopt),
                                    Trial(0, 3, StatsWith(2), 5)};
  Status s = store_->PutTrials(id, batch);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kConflict);
  EXPECT_EQ(s.error().details.at("trial"), "3");
  // A batch repeating itself.
  s = store_->PutTrials(id, std::vector{Trial(0, 7, StatsWith(1)), Trial(0, 7, StatsWith(1))});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kConflict);
  Result<std::vector<TrialRecord>> all = store_->LoadTrials(id, 0, true);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ((*all)[0].index, 3u);
  EXPECT_EQ((*all)[0].stats->sharpe, 1);
  EXPECT_EQ(store_->GetSweep(id)->done, 1u);
  EXPECT_EQ(CountRows("sweep_returns"), 1);
  // The same index in another phase is another record.
  EXPECT_TRUE(store_->PutTrials(id, std::vector{Trial(2, 3, StatsWith(1))}).ok());
  EXPECT_EQ(store_->GetSweep(id)->done, 2u);
}

TEST_P(SweepTest, UnknownAndDeletedSweepsAreNotFoundEverywhere) {
  const std::string id = CreateRunning();
  ASSERT_TRUE(store_->PutTrials(id, std::vector{Trial(0, 0, StatsWith(1), 30)}).ok());
  ASSERT_TRUE(store_->DeleteSweep(id).ok());
  EXPECT_EQ(CountRows("sweeps"), 0);
  EXPECT_EQ(CountRows("sweep_trials"), 0);
  EXPECT_EQ(CountRows("sweep_returns"), 0);
  for (const std::string& gone : {id, std::string("0123456789abcdef")}) {
    SCOPED_TRACE(gone);
    auto expect_not_found = [&](const Error& e) {
      EXPECT_EQ(e.code, ErrorCode::kNotFound);
      EXPECT_EQ(e.details.at("sweep"), gone);
    };
    expect_not_found(store_->MarkSweepRunning(gone).error());
    expect_not_found(store_->PutTrials(gone, std::vector{Trial(0, 1, StatsWith(1))}).error());
    expect_not_found(store_->CompleteSweep(gone, "{}").error());
    expect_not_found(store_->FailSweep(gone, Failure("x")).error());
    expect_not_found(store_->GetSweep(gone).error());
    expect_not_found(store_->ListTrials(gone, TrialQuery{}).error());
    expect_not_found(store_->LoadTrials(gone, 0, true).error());
    expect_not_found(store_->GetTrial(gone, 0, 0).error());
    expect_not_found(store_->DeleteSweep(gone).error());
  }
  const std::string other = CreateRunning();
  Result<TrialRecord> missing = store_->GetTrial(other, 0, 4);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(missing.error().details.at("sweep"), other);
  EXPECT_EQ(missing.error().details.at("trial"), "4");
}

TEST_P(SweepTest, ListTrialsSortsPagesAndPutsFailedTrialsLast) {
  const std::string id = CreateRunning();
  // sharpe: 0 -> 1.0, 1 -> failed, 2 -> 3.0, 3 -> NaN (missing), 4 -> 1.0 (tie with 0),
  // 5 -> -2.0. profit_factor: 2 is inf.
  std::vector<TrialRecord> batch = {
      Trial(0, 0, StatsWith(1.0, 1.2)),  Trial(0, 1, std::nullopt),
      Trial(0, 2, StatsWith(3.0, kInf)), Trial(0, 3, StatsWith(kNaN, kNaN)),
      Trial(0, 4, StatsWith(1.0, 0.5)),  Trial(0, 5, StatsWith(-2.0, 900.0))};
  ASSERT_TRUE(store_->PutTrials(id, std::span(batch).subspan(0, 3)).ok());
  ASSERT_TRUE(store_->PutTrials(id, std::span(batch).subspan(3)).ok());
  ASSERT_TRUE(store_->PutTrials(id, std::vector{Trial(1, 0, StatsWith(9.0))}).ok());

  auto list = [&](std::string sort, bool desc, size_t limit = 0, size_t offset = 0) {
    TrialQuery q;
    q.sort = std::move(sort);
    q.descending = desc;
    q.limit = limit;
    q.offset = offset;
    Result<TrialPage> page = store_->ListTrials(id, q);
    EXPECT_TRUE(page.ok()) << page.error().ToString();
    if (page.ok()) {
      EXPECT_EQ(page->total, 6u);
    }
    return page.ok() ? *page : TrialPage{};
  };
  using V = std::vector<size_t>;
  EXPECT_EQ(Indices(list("index", false)), (V{0, 1, 2, 3, 4, 5}));  // failed ones keep their place
  EXPECT_EQ(Indices(list("index", true)), (V{5, 4, 3, 2, 1, 0}));
  EXPECT_EQ(Indices(list("sharpe", true)), (V{2, 0, 4, 5, 3, 1}));
  EXPECT_EQ(Indices(list("sharpe", false)), (V{5, 0, 4, 2, 3, 1}));
  EXPECT_EQ(Indices(list("profit_factor", true)), (V{2, 5, 0, 4, 3, 1}));
  EXPECT_EQ(Indices(list("profit_factor", false)), (V{4, 0, 5, 2, 3, 1}));
  // Pages of the same order.
  EXPECT_EQ(Indices(list("sharpe", true, 2)), (V{2, 0}));
  EXPECT_EQ(Indices(list("sharpe", true, 2, 2)), (V{4, 5}));
  EXPECT_EQ(Indices(list("sharpe", true, 2, 4)), (V{3, 1}));
  EXPECT_EQ(Indices(list("sharpe", true, 2, 6)), V{});
  // Records come without returns, stats as stored.
  const TrialPage page = list("sharpe", true, 1);
  ASSERT_EQ(page.trials.size(), 1u);
  ExpectSameTrial(batch[2], page.trials[0], false);
  // Every key of the REST statistics object sorts.
  for (const char* key :
       {"bars", "fills", "trades", "start_equity", "final_equity", "total_return", "cagr",
        "volatility", "sortino", "calmar", "max_drawdown", "max_drawdown_duration_s", "win_rate",
        "expectancy", "exposure", "buy_and_hold_return"}) {
    SCOPED_TRACE(key);
    const TrialPage all = list(key, false);
    ASSERT_EQ(all.trials.size(), 6u);
    EXPECT_EQ(all.trials.back().index, 1u);  // the failed one
  }
  // Another phase has its own records.
  TrialQuery q;
  q.phase = 1;
  Result<TrialPage> p1 = store_->ListTrials(id, q);
  ASSERT_TRUE(p1.ok());
  EXPECT_EQ(p1->total, 1u);
  ASSERT_EQ(p1->trials.size(), 1u);
  EXPECT_EQ(p1->trials[0].phase, 1u);

  q.sort = "sharpe; DROP TABLE sweeps";
  Result<TrialPage> bad = store_->ListTrials(id, q);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::kValidation);
  EXPECT_EQ(bad.error().details.at("field"), "sort");
  q.sort = "objective";  // the api maps it to the objective's key
  EXPECT_FALSE(store_->ListTrials(id, q).ok());
}

TEST_P(SweepTest, ListSweepsIsNewestFirst) {
  const std::string a = Create();
  const std::string b = Create();
  const std::string c = Create();
  Result<std::vector<SweepInfo>> all = store_->ListSweeps();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[0].id, c);
  EXPECT_EQ((*all)[1].id, b);
  EXPECT_EQ((*all)[2].id, a);
  Result<std::vector<SweepInfo>> page = store_->ListSweeps(1, 1);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->size(), 1u);
  EXPECT_EQ((*page)[0].id, b);
}

TEST_P(SweepTest, RecoverOnStartFailsQueuedAndRunningSweepsAsInterruptedOnSqliteOnly) {
  const std::string queued = Create();
  const std::string running = CreateRunning();
  ASSERT_TRUE(store_->PutTrials(running, std::vector{Trial(0, 0, StatsWith(1), 10)}).ok());
  const std::string done = CreateRunning();
  ASSERT_TRUE(store_->CompleteSweep(done, "{}").ok());
  RunSpec run;
  run.dataset = "d";
  run.strategy = "sma_cross";
  ASSERT_TRUE(store_->CreateRun(run).ok());
  Reopen();
  Result<size_t> n = store_->RecoverOnStart();
  ASSERT_TRUE(n.ok());
  if (postgres()) {
    // Other processes may be executing them: the job queue's leases see to dead workers.
    EXPECT_EQ(*n, 0u);
    EXPECT_EQ(store_->GetSweep(queued)->status, SweepStatus::kQueued);
    EXPECT_EQ(store_->GetSweep(running)->status, SweepStatus::kRunning);
    EXPECT_EQ(store_->GetSweep(running)->done, 1u);
    return;
  }
  EXPECT_EQ(*n, 3u);  // two sweeps and a run
  for (const std::string& id : {queued, running}) {
    Result<SweepInfo> s = store_->GetSweep(id);
    ASSERT_TRUE(s.ok());
    EXPECT_EQ(s->status, SweepStatus::kFailed);
    EXPECT_EQ(s->error.msg, "interrupted");
    EXPECT_EQ(s->error.cause, "interrupted");
    EXPECT_TRUE(s->finished);
  }
  EXPECT_EQ(store_->GetSweep(done)->status, SweepStatus::kDone);
  // The interrupted sweep keeps the records it had.
  EXPECT_EQ(store_->LoadTrials(running, 0, true)->size(), 1u);
  EXPECT_EQ(*store_->RecoverOnStart(), 0u);
}

TEST_P(SweepTest, ConcurrentWorkersAndReaders) {
  const std::string id = CreateRunning();
  constexpr size_t kWorkers = 4, kBatches = 25, kBatch = 4;
  std::atomic<bool> stop{false};
  std::atomic<int> read_errors{0};
  std::thread reader([&] {
    while (!stop) {
      TrialQuery q;
      q.sort = "sharpe";
      q.descending = true;
      q.limit = 0;
      Result<TrialPage> page = store_->ListTrials(id, q);
      if (!page.ok() || page->trials.size() != page->total) ++read_errors;
      if (!store_->GetSweep(id).ok()) ++read_errors;
    }
  });
  // PostgreSQL: each worker through a store of its own, as a worker process would be.
  std::vector<std::unique_ptr<Store>> others;
  for (size_t w = 0; w < kWorkers && postgres(); ++w) others.push_back(OpenAnother());
  std::vector<std::thread> workers;
  for (size_t w = 0; w < kWorkers; ++w) {
    Store* store = postgres() ? others[w].get() : store_.get();
    workers.emplace_back([&, w, store] {
      for (size_t b = 0; b < kBatches; ++b) {
        std::vector<TrialRecord> batch;
        for (size_t i = 0; i < kBatch; ++i) {
          const size_t index = (w * kBatches + b) * kBatch + i;
          batch.push_back(Trial(0, index, StatsWith(static_cast<double>(index)), 20));
        }
        EXPECT_TRUE(store->PutTrials(id, batch).ok());
      }
    });
  }
  for (std::thread& t : workers) t.join();
  stop = true;
  reader.join();
  EXPECT_EQ(read_errors, 0);
  EXPECT_EQ(store_->GetSweep(id)->done, kWorkers * kBatches * kBatch);
  Result<std::vector<TrialRecord>> all = store_->LoadTrials(id, 0, true);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), kWorkers * kBatches * kBatch);
  for (size_t i = 0; i < all->size(); ++i) EXPECT_EQ((*all)[i].index, i);
}

// Workers storing batches while the sweep fails (or is deleted) under them: each batch is wholly
// in or out, `done` counts exactly the records in, and no batch goes in after the failure.
TEST_P(SweepTest, ABatchRacingTheSweepsEndIsWhollyInOrOut) {
  size_t failed_done = 0;
  for (const bool del : {false, true}) {
    SCOPED_TRACE(del ? "deleted" : "failed");
    const std::string id = CreateRunning();
    constexpr size_t kWorkers = 3, kBatch = 8;
    std::vector<std::unique_ptr<Store>> others;
    for (size_t w = 0; w < kWorkers && postgres(); ++w) others.push_back(OpenAnother());
    std::atomic<size_t> stored{0};
    std::atomic<bool> ended{false};
    std::atomic<int> late{0};
    std::vector<std::thread> workers;
    for (size_t w = 0; w < kWorkers; ++w) {
      Store* store = postgres() ? others[w].get() : store_.get();
      workers.emplace_back([&, w, store] {
        for (size_t b = 0;; ++b) {
          std::vector<TrialRecord> batch;
          for (size_t i = 0; i < kBatch; ++i) {
            batch.push_back(Trial(0, (b * kWorkers + w) * kBatch + i, StatsWith(1), 30));
          }
          const bool was_ended = ended;
          Status s = store->PutTrials(id, batch);
          if (s.ok()) {
            if (was_ended) ++late;
            stored += kBatch;
            continue;
          }
          EXPECT_EQ(s.error().code, del ? ErrorCode::kNotFound : ErrorCode::kConflict);
          return;
        }
      });
    }
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (stored < 5 * kBatch && std::chrono::steady_clock::now() < give_up) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    ASSERT_TRUE((del ? store_->DeleteSweep(id) : store_->FailSweep(id, Failure("stop"))).ok());
    ended = true;
    for (std::thread& t : workers) t.join();
    EXPECT_EQ(late, 0);
    if (del) {
      EXPECT_EQ(store_->GetSweep(id).error().code, ErrorCode::kNotFound);
      continue;
    }
    Result<SweepInfo> info = store_->GetSweep(id);
    ASSERT_TRUE(info.ok());
    EXPECT_EQ(info->status, SweepStatus::kFailed);
    EXPECT_EQ(info->done, stored.load());
    failed_done = info->done;
    EXPECT_EQ(store_->LoadTrials(id, 0, false)->size(), stored.load());
  }
  EXPECT_EQ(CountRows("sweep_trials"), static_cast<int64_t>(failed_done));
}

// The next notification on `conn` within `timeout`: its channel and payload, or nullopt.
std::optional<std::pair<std::string, std::string>> NextNotification(
    PGconn* conn, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (PQconsumeInput(conn) == 0) return std::nullopt;
    if (PGnotify* n = PQnotifies(conn)) {
      std::pair<std::string, std::string> out{n->relname, n->extra};
      PQfreemem(n);
      return out;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    pollfd p{PQsocket(conn), POLLIN, 0};
    ::poll(&p, 1, static_cast<int>(left.count()));
  }
}

// Every change of a sweep reaches a listener on tapedeck_sweep, its id as the payload, when it
// commits; a change that rolls back sends nothing.
TEST_P(SweepTest, EveryChangeOfASweepNotifiesListeners) {
  if (!postgres()) GTEST_SKIP() << "notifications are PostgreSQL's";
  PGconn* listener = PQconnectdb(db_.url().c_str());
  ASSERT_EQ(PQstatus(listener), CONNECTION_OK) << PQerrorMessage(listener);
  PQclear(PQexec(listener, "LISTEN tapedeck_sweep"));
  using std::chrono::milliseconds;
  auto expect_heard = [&](const std::string& id, const char* what) {
    SCOPED_TRACE(what);
    auto n = NextNotification(listener, milliseconds(5000));
    ASSERT_TRUE(n);
    EXPECT_EQ(n->first, "tapedeck_sweep");
    EXPECT_EQ(n->second, id);
  };
  auto expect_silence = [&](const char* what) {
    SCOPED_TRACE(what);
    EXPECT_FALSE(NextNotification(listener, milliseconds(200)));
  };
  const std::string id = Create();
  expect_silence("created");
  ASSERT_TRUE(store_->MarkSweepRunning(id).ok());
  expect_heard(id, "running");
  ASSERT_TRUE(store_->PutTrials(id, std::vector{Trial(0, 0, StatsWith(1), 5)}).ok());
  expect_heard(id, "trials stored");
  ASSERT_FALSE(store_->PutTrials(id, std::vector{Trial(0, 0, StatsWith(1))}).ok());
  expect_silence("a duplicate, rolled back");
  ASSERT_TRUE(store_->CompleteSweep(id, "{}").ok());
  expect_heard(id, "done");
  const std::string other = Create();
  ASSERT_TRUE(store_->FailSweep(other, Failure("no")).ok());
  expect_heard(other, "failed");
  ASSERT_TRUE(store_->DeleteSweep(id).ok());
  expect_heard(id, "deleted");
  expect_silence("nothing more");
  PQfinish(listener);
}

// PutTrials in the batches a worker pool writes: 1000 phase-0 records with a year of daily returns,
// 16 at a time. Reports the time (the figure for the report; the bound only catches a blunder).
TEST_P(SweepTest, PutTrialsOfAThousandRecordsInBatchesOfSixteenIsCheap) {
  const std::string id = CreateRunning();
  std::vector<TrialRecord> all;
  for (size_t i = 0; i < 1000; ++i) all.push_back(Trial(0, i, StatsWith(0.001 * i), 365));
  const auto start = std::chrono::steady_clock::now();
  for (size_t i = 0; i < all.size(); i += 16) {
    const size_t n = std::min<size_t>(16, all.size() - i);
    ASSERT_TRUE(store_->PutTrials(id, std::span(all).subspan(i, n)).ok());
  }
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  std::printf("PutTrials: 1000 records x 365 days in batches of 16: %.1f ms\n", ms);
  EXPECT_LT(ms, 5000);
  EXPECT_EQ(store_->GetSweep(id)->done, 1000u);
  const auto load_start = std::chrono::steady_clock::now();
  Result<std::vector<TrialRecord>> loaded = store_->LoadTrials(id, 0, true);
  const double load_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - load_start)
          .count();
  ASSERT_TRUE(loaded.ok());
  ASSERT_EQ(loaded->size(), 1000u);
  ExpectSameTrial(all[999], (*loaded)[999], true);
  TrialQuery q;
  q.sort = "sharpe";
  q.descending = true;
  q.limit = 100;
  const auto list_start = std::chrono::steady_clock::now();
  Result<TrialPage> page = store_->ListTrials(id, q);
  const double list_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - list_start)
          .count();
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->trials[0].index, 999u);
  std::printf("LoadTrials with returns: %.1f ms; ListTrials by sharpe, 100: %.1f ms\n", load_ms,
              list_ms);
}

// The child of SweepCrashTest: sweeps recording trials in batches of 16 until killed, a byte to
// `progress_fd` after each batch. Never returns.
[[noreturn]] void SweepWriter(BackendStore& db, int progress_fd) {
  Result<std::unique_ptr<Store>> opened = db.Open();
  if (!opened.ok()) _exit(2);
  Store& store = **opened;
  for (;;) {
    SweepSpec spec;
    spec.base.dataset = "d";
    spec.trials = 20 * 16;
    spec.tasks = spec.trials;
    Result<std::string> id = store.CreateSweep(spec);
    if (!id.ok() || !store.MarkSweepRunning(*id).ok()) _exit(3);
    for (size_t b = 0; b < 20; ++b) {
      std::vector<TrialRecord> batch;
      for (size_t i = 0; i < 16; ++i) {
        batch.push_back(Trial(0, b * 16 + i, i % 5 ? std::optional(StatsWith(1)) : std::nullopt,
                              i % 5 ? 365 : 0));
      }
      if (!store.PutTrials(*id, batch).ok()) _exit(4);
      (void)!::write(progress_fd, "x", 1);
    }
    if (!store.CompleteSweep(*id, "{}").ok()) _exit(5);
  }
}

// kill -9 amid PutTrials: every batch is wholly there or absent, `done` counts exactly the records
// there, and (SQLite) RecoverOnStart fails the sweep that was running; PostgreSQL leaves it as it
// was, for the job queue's leases to hand on.
class SweepCrashTest : public ::testing::TestWithParam<Backend> {};
TD_STORE_BACKENDS(SweepCrashTest);

TEST_P(SweepCrashTest, KillNineLeavesNoHalfBatch) {
  BackendStore db(GetParam());
  db.Init();  // the PostgreSQL database, before the children fork
  std::mt19937 rng(4321);
  size_t records = 0;
  for (int k = 0; k < 5; ++k) {
    int pipe_fds[2];
    ASSERT_EQ(::pipe(pipe_fds), 0);
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(pipe_fds[0]);
      SweepWriter(db, pipe_fds[1]);
    }
    ::close(pipe_fds[1]);
    pollfd p{pipe_fds[0], POLLIN, 0};
    EXPECT_EQ(::poll(&p, 1, 120'000), 1) << "the writer made no progress";
    std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 200));
    ASSERT_EQ(::kill(pid, SIGKILL), 0);
    ::close(pipe_fds[0]);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status)) << "the writer exited by itself: " << status;

    Result<std::unique_ptr<Store>> store = db.Open();
    ASSERT_TRUE(store.ok()) << store.error().ToString();
    Result<size_t> recovered = (*store)->RecoverOnStart();
    ASSERT_TRUE(recovered.ok());
    EXPECT_LE(*recovered, db.postgres() ? 0u : 1u);
    Result<std::vector<SweepInfo>> sweeps = (*store)->ListSweeps();
    ASSERT_TRUE(sweeps.ok());
    records = 0;
    for (const SweepInfo& w : *sweeps) {
      SCOPED_TRACE(w.id);
      // A kill between CreateSweep and MarkSweepRunning leaves it queued on PostgreSQL.
      if (db.postgres()) {
        EXPECT_NE(w.status, SweepStatus::kFailed) << ToString(w.status);
      } else {
        EXPECT_TRUE(w.status == SweepStatus::kDone || w.status == SweepStatus::kFailed)
            << ToString(w.status);
      }
      if (w.status == SweepStatus::kFailed) {
        EXPECT_EQ(w.error.cause, "interrupted");
      }
      Result<std::vector<TrialRecord>> trials = (*store)->LoadTrials(w.id, 0, true);
      ASSERT_TRUE(trials.ok()) << trials.error().ToString();
      EXPECT_EQ(trials->size(), w.done);
      EXPECT_EQ(w.done % 16, 0u);
      for (size_t i = 0; i < trials->size(); ++i) {
        const TrialRecord& t = (*trials)[i];
        ASSERT_EQ(t.index, i);
        EXPECT_EQ(t.returns.size(), t.stats ? 365u : 0u);
      }
      records += trials->size();
    }
  }
  EXPECT_GT(records, 0u);
}

}  // namespace
}  // namespace tapedeck::store
