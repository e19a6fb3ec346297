// A sweep's plan: which parameter values its trials take (a grid, or a seeded random sample of
// it), the objective that ranks them, and the walk-forward spans. Built from POST /sweeps' body
// (api) or `tapedeck sweep`'s flags (cli); the same plan gives the same trials, in the same order,
// everywhere.
//
// Thread-safety: plain values and pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "common/json_writer.h"
#include "common/time.h"
#include "engine/run_result.h"
#include "market/market.h"
#include "strategies/strategies.h"

namespace tapedeck::sweep {

// What ranks the trials; higher is better for each. The value is the run's statistic of that name
// (engine::Stats, as POST /backtests reports it); a NaN counts as the worst.
enum class Objective : uint8_t { kSharpe, kTotalReturn, kCagr, kSortino, kCalmar, kProfitFactor };
std::string_view ToString(Objective objective);  // "sharpe", "total_return", ...
std::optional<Objective> ParseObjective(std::string_view text);
double ObjectiveValue(const engine::Stats& stats, Objective objective);

// One parameter's values.
struct Axis {
  enum class Kind : uint8_t { kRange, kList, kFixed };
  std::string name;
  Kind kind = Kind::kFixed;
  // kRange: from, from + step, ... up to `to` (a value within 1e-9 · step past `to` counts as
  // `to`), each computed as from + i · step. step 0 (only allowed in a random sweep): any value
  // in [from, to], drawn uniformly (an integer parameter: any integer).
  double from = 0, to = 0, step = 0;
  std::vector<double> values;  // kList: as given; kFixed: the one value
};

enum class Method : uint8_t { kGrid, kRandom };
std::string_view ToString(Method method);  // "grid", "random"

struct WalkForward {
  size_t folds = 0;  // K >= 1
  bool anchored = false;
};

struct PlanSpec {
  std::vector<Axis> axes;  // in the order given; a parameter not named keeps its default
  Method method = Method::kGrid;
  size_t random_trials = 0;  // kRandom: how many trials
  uint64_t seed = 1;         // kRandom
  Objective objective = Objective::kSharpe;
  std::optional<WalkForward> walk_forward;
  size_t pbo_blocks = 16;  // S: even, >= 2
};

// The number of trials the plan makes, saturating at UINT64_MAX (a grid: the product of the axes'
// value counts; random: random_trials), known before any is built: the limit is checked on this.
uint64_t TrialCount(const PlanSpec& plan);

// Every trial's parameters, index 0, 1, ...: a grid is the Cartesian product of the axes, the last
// axis varying fastest; a random sweep draws `random_trials` distinct points, each axis uniformly
// and independently, from a SplitMix64 stream seeded with `seed` (the draw is pinned in
// docs/sweeps.md), rejecting a point an earlier trial has. Integer parameters (per `specs`) take
// integer values. Errors: VALIDATION with details `field`: "params.NAME" (a parameter the
// strategy does not have, a range with from > to, step <= 0 in a grid, an empty list, a value off
// the parameter's min/max), "params" (a grid of more than `max_trials`; details `trials`,
// `limit`, as POST /sweeps refuses it), "trials" (a random sweep of more than `max_trials`, or of
// more than its grid holds).
Result<std::vector<strategies::Params>> MakeTrials(const PlanSpec& plan,
                                                   const std::vector<strategies::ParamSpec>& specs,
                                                   uint64_t max_trials);

// [from, to): a period of time.
struct Span {
  Timestamp from, to;
};

// The period a sweep covers: the requested from/to, or where absent the first bar's time among
// `inputs` / one microsecond past the last bar's.
Span Period(std::span<const market::Series> inputs, std::optional<Timestamp> from,
            std::optional<Timestamp> to);

// The period cut into folds + 1 equal spans of time: span j is [from + d·j/(K+1), from +
// d·(j+1)/(K+1)) with d = to − from in microseconds, rounded down.
std::vector<Span> WalkForwardSpans(Span period, size_t folds);

// A sweep's work is phases of one run per trial: phase 0 over the whole period (these are the
// trials one sees), and with walk-forward K more, phase k (1..K) over fold k's in-sample span:
// span k−1, or spans 0..k−1 when anchored. Fold k's out-of-sample span is span k.
size_t PhaseCount(const PlanSpec& plan);  // 1 + K
Span PhaseSpan(const PlanSpec& plan, Span period, size_t phase);

// The plan as JSON (what the store keeps and GET /sweeps/{id} shows as "params" etc.), and back.
// Keys: "params" ({name: {"from","to","step"} | [values] | value}), "method", "trials",
// "seed", "objective", "walk_forward" ({"folds","anchored"} or null), "pbo_blocks".
void WritePlanFields(JsonWriter& w, const PlanSpec& plan);
Result<PlanSpec> ParsePlanJson(std::string_view json);

}  // namespace tapedeck::sweep
