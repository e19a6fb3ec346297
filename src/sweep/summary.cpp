#include "sweep/summary.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "engine/stats_json.h"

namespace tapedeck::sweep {
namespace {

// The PBO histogram of λ: 20 bins of 0.5 from -5; values outside go to the end bins.
constexpr double kHistogramFrom = -5;
constexpr double kHistogramWidth = 0.5;
constexpr size_t kHistogramBins = 20;

// The objective for ranking: NaN is the worst of all.
double RankValue(const engine::Stats& stats, Objective objective) {
  const double v = ObjectiveValue(stats, objective);
  return std::isnan(v) ? -std::numeric_limits<double>::infinity() : v;
}

// The position in `results` of the best successful result (ties: the lowest trial index).
std::optional<size_t> BestOf(const std::vector<TrialResult>& results, Objective objective) {
  std::optional<size_t> best;
  double best_value = 0;
  for (size_t i = 0; i < results.size(); ++i) {
    if (!results[i].stats) continue;
    const double v = RankValue(*results[i].stats, objective);
    if (!best || v > best_value || (v == best_value && results[i].index < results[*best].index)) {
      best = i;
      best_value = v;
    }
  }
  return best;
}

std::vector<double> Rets(const std::vector<DailyReturn>& returns) {
  std::vector<double> out;
  out.reserve(returns.size());
  for (const DailyReturn& r : returns) out.push_back(r.ret);
  return out;
}

Stitched Stitch(const std::vector<Fold>& folds, double start_cash) {
  Stitched s;
  for (const Fold& f : folds) s.returns.insert(s.returns.end(), f.returns.begin(), f.returns.end());
  // The curve starts at the starting cash: a first day's loss is a drawdown from it.
  double equity = start_cash, peak = start_cash;
  s.equity.reserve(s.returns.size());
  for (const DailyReturn& r : s.returns) {
    equity *= 1 + r.ret;
    s.equity.push_back(equity);
    peak = std::max(peak, equity);
    if (peak > 0) s.max_drawdown = std::max(s.max_drawdown, 1 - equity / peak);
  }
  s.total_return = equity / start_cash - 1;
  s.sharpe = Sharpe(Rets(s.returns));
  return s;
}

void WriteSpan(JsonWriter& w, Span span) {
  w.BeginObject().Key("from").String(FormatIso(span.from));
  w.Key("to").String(FormatIso(span.to)).EndObject();
}

void WriteStatsOrNull(JsonWriter& w, const std::optional<engine::Stats>& stats) {
  if (!stats) {
    w.Null();
    return;
  }
  w.BeginObject();
  engine::WriteStatsFields(w, *stats);
  w.EndObject();
}

void WriteDsr(JsonWriter& w, const Dsr& d) {
  w.BeginObject().Key("value");
  if (d.value) {
    w.Number(*d.value);
  } else {
    w.Null();
  }
  if (!d.reason.empty()) w.Key("reason").String(d.reason);
  w.Key("sr").Number(d.sr).Key("sr0").Number(d.sr0).Key("variance").Number(d.variance);
  w.Key("skewness").Number(d.skewness).Key("kurtosis").Number(d.kurtosis);
  w.Key("trials").Int(static_cast<int64_t>(d.trials));
  w.Key("days").Int(static_cast<int64_t>(d.days));
  w.EndObject();
}

void WritePbo(JsonWriter& w, const Pbo& p) {
  w.BeginObject().Key("value");
  if (p.value) {
    w.Number(*p.value);
  } else {
    w.Null();
  }
  if (!p.reason.empty()) w.Key("reason").String(p.reason);
  w.Key("blocks").Int(static_cast<int64_t>(p.blocks));
  w.Key("combinations").Int(static_cast<int64_t>(p.combinations));
  w.Key("rows_dropped").Int(static_cast<int64_t>(p.rows_dropped));
  w.Key("trials").Int(static_cast<int64_t>(p.trials));
  w.Key("days").Int(static_cast<int64_t>(p.days));
  int64_t counts[kHistogramBins] = {};
  for (double logit : p.logits) {
    if (std::isnan(logit)) continue;
    const double x = std::floor((logit - kHistogramFrom) / kHistogramWidth);
    const double bin = std::clamp(x, 0.0, static_cast<double>(kHistogramBins - 1));
    ++counts[static_cast<size_t>(bin)];
  }
  w.Key("logit_histogram").BeginObject();
  w.Key("from").Number(kHistogramFrom).Key("width").Number(kHistogramWidth);
  w.Key("counts").BeginArray();
  for (int64_t c : counts) w.Int(c);
  w.EndArray().EndObject();
  w.EndObject();
}

}  // namespace

Summary Summarize(const PlanSpec& plan, Span period,
                  const std::vector<std::vector<TrialResult>>& phases, double start_cash,
                  const FoldRunner& run_fold, const std::atomic<bool>* cancel) {
  Summary s;
  static const std::vector<TrialResult> kNone;
  const std::vector<TrialResult>& phase0 = phases.empty() ? kNone : phases[0];
  s.trials = phase0.size();
  for (const TrialResult& r : phase0) (r.stats ? s.valid : s.failed) += 1;
  const std::optional<size_t> best = BestOf(phase0, plan.objective);
  if (best) s.best = phase0[*best].index;

  // DSR and PBO over the valid trials, in index order. Every valid trial ran over the same bars,
  // so their daily returns cover the same days; one that does not (it cannot, but PBO requires
  // it) is left out of the matrix rather than misaligned.
  std::vector<double> sharpes;
  std::vector<std::vector<double>> matrix;
  const size_t days = best ? phase0[*best].returns.size() : 0;
  for (const TrialResult& r : phase0) {
    if (!r.stats) continue;
    std::vector<double> rets = Rets(r.returns);
    sharpes.push_back(Sharpe(rets));
    if (rets.size() == days) matrix.push_back(std::move(rets));
  }
  const std::vector<double> best_returns =
      best ? Rets(phase0[*best].returns) : std::vector<double>{};
  s.dsr = DeflatedSharpe(sharpes, best_returns);
  s.pbo = ProbabilityOfOverfitting(matrix, plan.pbo_blocks, cancel);

  if (!plan.walk_forward) return s;
  const std::vector<Span> spans = WalkForwardSpans(period, plan.walk_forward->folds);
  for (size_t k = 1; k <= plan.walk_forward->folds; ++k) {
    Fold f;
    f.fold = k;
    f.in_sample = PhaseSpan(plan, period, k);
    f.out_of_sample = spans[k];
    const std::optional<size_t> chosen =
        k < phases.size() ? BestOf(phases[k], plan.objective) : std::nullopt;
    if (!chosen) {
      f.error = "no trial succeeded in sample";
    } else {
      const TrialResult& in = phases[k][*chosen];
      f.trial = in.index;
      f.params = in.params;
      f.in_sample_objective = ObjectiveValue(*in.stats, plan.objective);
      TrialOutcome out = run_fold ? run_fold(in.params, f.out_of_sample) : TrialOutcome{};
      f.stats = std::move(out.stats);
      if (f.stats) {
        f.returns = std::move(out.returns);
      } else {
        f.error = out.error ? out.error->msg : "not run";
      }
    }
    s.folds.push_back(std::move(f));
  }
  s.stitched = Stitch(s.folds, start_cash);
  return s;
}

void WriteParams(JsonWriter& w, const strategies::Params& params) {
  w.BeginObject();
  for (const auto& [name, value] : params) w.Key(name).Number(value);
  w.EndObject();
}

void WriteSummaryFields(JsonWriter& w, const PlanSpec& plan, const Summary& summary,
                        const std::vector<TrialResult>& phase0) {
  w.Key("valid_trials").Int(static_cast<int64_t>(summary.valid));
  w.Key("failed_trials").Int(static_cast<int64_t>(summary.failed));

  w.Key("best");
  const TrialResult* best = nullptr;
  if (summary.best) {
    for (const TrialResult& r : phase0) {
      if (r.index == *summary.best) best = &r;
    }
  }
  if (best != nullptr && best->stats) {
    w.BeginObject().Key("index").Int(static_cast<int64_t>(best->index));
    w.Key("params");
    WriteParams(w, best->params);
    w.Key("objective").Number(ObjectiveValue(*best->stats, plan.objective));
    w.Key("stats");
    WriteStatsOrNull(w, best->stats);
    w.EndObject();
  } else {
    w.Null();
  }

  w.Key("dsr");
  WriteDsr(w, summary.dsr);
  w.Key("pbo");
  WritePbo(w, summary.pbo);

  if (!plan.walk_forward) return;
  w.Key("folds").BeginArray();
  for (const Fold& f : summary.folds) {
    w.BeginObject().Key("fold").Int(static_cast<int64_t>(f.fold));
    w.Key("in_sample");
    WriteSpan(w, f.in_sample);
    w.Key("trial");
    if (f.trial) {
      w.Int(static_cast<int64_t>(*f.trial));
    } else {
      w.Null();
    }
    w.Key("params");
    WriteParams(w, f.params);
    w.Key("in_sample_objective");
    if (f.trial) {
      w.Number(f.in_sample_objective);
    } else {
      w.Null();
    }
    w.Key("out_of_sample");
    WriteSpan(w, f.out_of_sample);
    w.Key("stats");
    WriteStatsOrNull(w, f.stats);
    if (!f.error.empty()) w.Key("error").String(f.error);
    w.EndObject();
  }
  w.EndArray();

  const Stitched empty;
  const Stitched& st = summary.stitched ? *summary.stitched : empty;
  w.Key("stitched").BeginObject();
  w.Key("days").Int(static_cast<int64_t>(st.returns.size()));
  w.Key("total_return").Number(st.total_return);
  w.Key("sharpe").Number(st.sharpe);
  w.Key("max_drawdown").Number(st.max_drawdown);
  w.Key("equity").BeginArray();
  for (size_t i = 0; i < st.returns.size() && i < st.equity.size(); ++i) {
    w.BeginObject().Key("day").String(FormatDay(st.returns[i].day));
    w.Key("equity").Number(st.equity[i]).EndObject();
  }
  w.EndArray().EndObject();
}

}  // namespace tapedeck::sweep
