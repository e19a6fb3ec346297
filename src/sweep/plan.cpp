#include "sweep/plan.h"

#include <algorithm>
#include <boost/json.hpp>
#include <boost/json/basic_parser_impl.hpp>
#include <charconv>
#include <cmath>
#include <limits>
#include <set>
#include <string>
#include <system_error>
#include <utility>

namespace tapedeck::sweep {
namespace json = boost::json;

namespace {

constexpr std::pair<Objective, std::string_view> kObjectives[] = {
    {Objective::kSharpe, "sharpe"}, {Objective::kTotalReturn, "total_return"},
    {Objective::kCagr, "cagr"},     {Objective::kSortino, "sortino"},
    {Objective::kCalmar, "calmar"}, {Objective::kProfitFactor, "profit_factor"},
};

// Walk-forward folds and PBO blocks accepted by POST /sweeps.
constexpr size_t kMaxFolds = 20;
constexpr size_t kMaxPboBlocks = 32;

// The shortest text that reads back as `v` ("5", "0.1", "1e+300").
std::string Num(double v) {
  char buf[64];
  const auto res = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, res.ptr);
}

Error FieldError(const std::string& field, const std::string& msg,
                 std::map<std::string, std::string> details = {}) {
  details["field"] = field;
  return MakeError(ErrorCode::kValidation, msg, std::move(details));
}

uint64_t SaturatingMul(uint64_t a, uint64_t b) {
  if (a == 0 || b == 0) return 0;
  if (a > std::numeric_limits<uint64_t>::max() / b) return std::numeric_limits<uint64_t>::max();
  return a * b;
}

bool IsInteger(double v) { return std::isfinite(v) && v == std::floor(v); }

// The i-th value of a stepped range (from + i·step, a value just past `to` taken as `to`).
double RangeValue(const Axis& a, uint64_t i) {
  return std::min(a.from + static_cast<double>(i) * a.step, a.to);
}

// How many values a stepped range holds: i = 0, 1, ... while from + i·step <= to + 1e-9·step.
// Saturates at UINT64_MAX. REQUIRES: finite from <= to, step > 0.
uint64_t RangeCount(const Axis& a) {
  const double slack = a.to + 1e-9 * a.step;
  const double q = (a.to - a.from) / a.step;
  if (!(q < 9e18)) return std::numeric_limits<uint64_t>::max();
  auto n = static_cast<uint64_t>(std::floor(q));  // the last index, give or take rounding
  // A step or two of correction at most (bounded: with a step below from's precision the sums
  // would never move).
  for (int i = 0; i < 2 && n > 0 && a.from + static_cast<double>(n) * a.step > slack; ++i) --n;
  for (int i = 0; i < 2 && a.from + static_cast<double>(n + 1) * a.step <= slack; ++i) ++n;
  return n + 1;
}

// How many values an axis takes in a grid (a continuous range: 0, it has no grid).
uint64_t AxisCount(const Axis& a) {
  switch (a.kind) {
    case Axis::Kind::kFixed:
      return 1;
    case Axis::Kind::kList:
      return a.values.size();
    case Axis::Kind::kRange:
      if (!(a.step > 0) || !std::isfinite(a.from) || !std::isfinite(a.to) || a.from > a.to) {
        return 0;
      }
      return RangeCount(a);
  }
  return 0;
}

const strategies::ParamSpec* FindSpec(const std::vector<strategies::ParamSpec>& specs,
                                      const std::string& name) {
  for (const auto& s : specs) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

// `v` against the parameter's type and bounds; `what` names the value in the message.
Status CheckValue(const strategies::ParamSpec& spec, const std::string& field, double v,
                  const std::string& what) {
  if (!std::isfinite(v)) return FieldError(field, field + ": " + what + " must be finite");
  if (spec.kind == strategies::ParamSpec::Kind::kInt && !IsInteger(v)) {
    return FieldError(field, field + ": " + what + " must be an integer, got " + Num(v));
  }
  if (v < spec.min || v > spec.max) {
    return FieldError(field, field + ": " + what + " must be in [" + Num(spec.min) + ", " +
                                 Num(spec.max) + "], got " + Num(v));
  }
  return Ok();
}

// One axis checked against its parameter: its shape, then its values' type and bounds.
Status CheckAxis(const Axis& a, const strategies::ParamSpec& spec, Method method) {
  const std::string field = "params." + a.name;
  const bool is_int = spec.kind == strategies::ParamSpec::Kind::kInt;
  switch (a.kind) {
    case Axis::Kind::kFixed:
    case Axis::Kind::kList: {
      if (a.values.empty()) return FieldError(field, field + ": an empty list of values");
      if (a.kind == Axis::Kind::kFixed && a.values.size() != 1) {
        return FieldError(field, field + ": a fixed value must be one value");
      }
      for (double v : a.values) {
        if (Status s = CheckValue(spec, field, v, "each value"); !s.ok()) return s;
      }
      return Ok();
    }
    case Axis::Kind::kRange: {
      if (!std::isfinite(a.from) || !std::isfinite(a.to) || !std::isfinite(a.step)) {
        return FieldError(field, field + ": from, to and step must be finite");
      }
      if (a.from > a.to) {
        return FieldError(field,
                          field + ": from (" + Num(a.from) + ") is above to (" + Num(a.to) + ")");
      }
      if (a.step < 0 || (a.step == 0 && method == Method::kGrid)) {
        return FieldError(field, field + ": step must be positive" +
                                     (method == Method::kRandom
                                          ? std::string(" (or 0 for any value in a random sweep)")
                                          : std::string()));
      }
      if (a.step == 0) {  // continuous (random only)
        if (is_int && std::ceil(a.from) > std::floor(a.to)) {
          return FieldError(field,
                            field + ": no integer in [" + Num(a.from) + ", " + Num(a.to) + "]");
        }
        const double lo = is_int ? std::ceil(a.from) : a.from;
        const double hi = is_int ? std::floor(a.to) : a.to;
        if (Status s = CheckValue(spec, field, lo, "from"); !s.ok()) return s;
        return CheckValue(spec, field, hi, "to");
      }
      const uint64_t n = RangeCount(a);
      if (Status s = CheckValue(spec, field, a.from, "from"); !s.ok()) return s;
      if (is_int && n >= 2 && !IsInteger(a.step)) {
        return FieldError(field, field + ": step must be an integer, got " + Num(a.step));
      }
      const double last = n == std::numeric_limits<uint64_t>::max() ? a.to : RangeValue(a, n - 1);
      return CheckValue(spec, field, last, "the last value");
    }
  }
  return Ok();
}

// How many distinct points a random sweep can draw from (UINT64_MAX: unbounded). Continuous
// axes of a number parameter are unbounded; of an integer parameter, the integers in [from, to].
uint64_t DistinctPoints(const PlanSpec& plan, const std::vector<strategies::ParamSpec>& specs) {
  uint64_t points = 1;
  for (const Axis& a : plan.axes) {
    uint64_t n = 0;
    if (a.kind == Axis::Kind::kRange && a.step == 0) {
      const auto* spec = FindSpec(specs, a.name);
      if (spec == nullptr || spec->kind != strategies::ParamSpec::Kind::kInt) {
        return std::numeric_limits<uint64_t>::max();
      }
      const double width = std::floor(a.to) - std::ceil(a.from) + 1;
      n = width >= 1.8e19 ? std::numeric_limits<uint64_t>::max() : static_cast<uint64_t>(width);
    } else if (a.kind == Axis::Kind::kList) {
      n = std::set<double>(a.values.begin(), a.values.end()).size();
    } else {
      n = AxisCount(a);
    }
    points = SaturatingMul(points, n);
  }
  return points;
}

// SplitMix64 (Steele, Lea & Flood 2014; Vigna's reference constants).
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  // Uniform in [0, 1): the top 53 bits · 2^-53.
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }

 private:
  uint64_t state_;
};

// floor(u · count), kept below count.
uint64_t PickIndex(double u, uint64_t count) {
  const double x = std::floor(u * static_cast<double>(count));
  if (!(x < static_cast<double>(count))) return count - 1;
  return std::min(static_cast<uint64_t>(x), count - 1);
}

// ---- JSON reading ----

// Boost.JSON 1.81 reads some doubles 1 ulp off; a plan must read back bit-exact (its trials are
// rebuilt from the stored text), so numbers with a fraction or exponent are read from their text
// with std::from_chars. Otherwise the same handler as boost::json::parser's.
struct ExactHandler {
  static constexpr std::size_t max_object_size = json::object::max_size();
  static constexpr std::size_t max_array_size = json::array::max_size();
  static constexpr std::size_t max_key_size = json::string::max_size();
  static constexpr std::size_t max_string_size = json::string::max_size();

  json::value_stack st;
  std::string number;  // the text of the number being read, from its parts

  bool on_document_begin(json::error_code&) { return true; }
  bool on_document_end(json::error_code&) { return true; }
  bool on_object_begin(json::error_code&) { return true; }
  bool on_object_end(std::size_t n, json::error_code&) {
    st.push_object(n);
    return true;
  }
  bool on_array_begin(json::error_code&) { return true; }
  bool on_array_end(std::size_t n, json::error_code&) {
    st.push_array(n);
    return true;
  }
  bool on_key_part(json::string_view s, std::size_t, json::error_code&) {
    st.push_chars(s);
    return true;
  }
  bool on_key(json::string_view s, std::size_t, json::error_code&) {
    st.push_key(s);
    return true;
  }
  bool on_string_part(json::string_view s, std::size_t, json::error_code&) {
    st.push_chars(s);
    return true;
  }
  bool on_string(json::string_view s, std::size_t, json::error_code&) {
    st.push_string(s);
    return true;
  }
  bool on_number_part(json::string_view s, json::error_code&) {
    number.append(s.data(), s.size());
    return true;
  }
  bool on_int64(std::int64_t i, json::string_view, json::error_code&) {
    number.clear();
    st.push_int64(i);
    return true;
  }
  bool on_uint64(std::uint64_t u, json::string_view, json::error_code&) {
    number.clear();
    st.push_uint64(u);
    return true;
  }
  bool on_double(double d, json::string_view s, json::error_code&) {
    number.append(s.data(), s.size());
    double exact = d;
    const auto res = std::from_chars(number.data(), number.data() + number.size(), exact);
    if (res.ec != std::errc() || res.ptr != number.data() + number.size()) exact = d;
    number.clear();
    st.push_double(exact);
    return true;
  }
  bool on_bool(bool b, json::error_code&) {
    st.push_bool(b);
    return true;
  }
  bool on_null(json::error_code&) {
    st.push_null();
    return true;
  }
  bool on_comment_part(json::string_view, json::error_code&) { return true; }
  bool on_comment(json::string_view, json::error_code&) { return true; }
};

std::optional<json::value> ParseExact(std::string_view text) {
  json::basic_parser<ExactHandler> p(json::parse_options{});
  p.handler().st.reset();
  json::error_code ec;
  const std::size_t n = p.write_some(false, text.data(), text.size(), ec);
  if (ec || n != text.size()) return std::nullopt;
  return p.handler().st.release();
}

std::optional<double> AsNumber(const json::value& v) {
  if (v.is_int64()) return static_cast<double>(v.get_int64());
  if (v.is_uint64()) return static_cast<double>(v.get_uint64());
  if (v.is_double()) return v.get_double();
  return std::nullopt;
}

// A non-negative integer (an integral double too).
std::optional<uint64_t> AsCount(const json::value& v) {
  if (v.is_int64()) {
    if (v.get_int64() < 0) return std::nullopt;
    return static_cast<uint64_t>(v.get_int64());
  }
  if (v.is_uint64()) return v.get_uint64();
  if (v.is_double()) {
    const double d = v.get_double();
    if (d >= 0 && d < 1.8e19 && d == std::floor(d)) return static_cast<uint64_t>(d);
  }
  return std::nullopt;
}

Result<Axis> ParseAxis(const std::string& name, const json::value& v) {
  const std::string field = "params." + name;
  Axis axis;
  axis.name = name;
  if (auto n = AsNumber(v)) {
    axis.kind = Axis::Kind::kFixed;
    axis.values = {*n};
    return axis;
  }
  if (v.is_array()) {
    axis.kind = Axis::Kind::kList;
    for (const json::value& e : v.as_array()) {
      auto n = AsNumber(e);
      if (!n) return FieldError(field, field + ": a list must hold numbers only");
      axis.values.push_back(*n);
    }
    return axis;
  }
  if (v.is_object()) {
    axis.kind = Axis::Kind::kRange;
    const json::object& o = v.as_object();
    for (const auto& kv : o) {
      if (kv.key() != "from" && kv.key() != "to" && kv.key() != "step") {
        return FieldError(field, field + ": unknown key '" + std::string(kv.key()) +
                                     "' (a range is {\"from\", \"to\", \"step\"})");
      }
    }
    const json::value* from = o.if_contains("from");
    const json::value* to = o.if_contains("to");
    const json::value* step = o.if_contains("step");
    std::optional<double> f = from ? AsNumber(*from) : std::nullopt;
    std::optional<double> t = to ? AsNumber(*to) : std::nullopt;
    if (!f || !t) return FieldError(field, field + ": a range needs numbers \"from\" and \"to\"");
    axis.from = *f;
    axis.to = *t;
    if (step != nullptr && !step->is_null()) {
      auto s = AsNumber(*step);
      if (!s) return FieldError(field, field + ": step must be a number");
      axis.step = *s;
    }
    return axis;
  }
  return FieldError(field, field +
                               " must be a number, a list of numbers or a range {\"from\", "
                               "\"to\", \"step\"}");
}

}  // namespace

std::string_view ToString(Objective objective) {
  for (const auto& [o, name] : kObjectives) {
    if (o == objective) return name;
  }
  return "sharpe";
}

std::optional<Objective> ParseObjective(std::string_view text) {
  for (const auto& [o, name] : kObjectives) {
    if (name == text) return o;
  }
  return std::nullopt;
}

double ObjectiveValue(const engine::Stats& stats, Objective objective) {
  switch (objective) {
    case Objective::kSharpe:
      return stats.sharpe;
    case Objective::kTotalReturn:
      return stats.total_return;
    case Objective::kCagr:
      return stats.cagr;
    case Objective::kSortino:
      return stats.sortino;
    case Objective::kCalmar:
      return stats.calmar;
    case Objective::kProfitFactor:
      return stats.profit_factor;
  }
  return stats.sharpe;
}

std::string_view ToString(Method method) { return method == Method::kRandom ? "random" : "grid"; }

uint64_t TrialCount(const PlanSpec& plan) {
  if (plan.method == Method::kRandom) return plan.random_trials;
  uint64_t n = 1;
  for (const Axis& a : plan.axes) n = SaturatingMul(n, AxisCount(a));
  return n;
}

Result<std::vector<strategies::Params>> MakeTrials(const PlanSpec& plan,
                                                   const std::vector<strategies::ParamSpec>& specs,
                                                   uint64_t max_trials) {
  std::set<std::string> seen;
  for (const Axis& a : plan.axes) {
    const std::string field = "params." + a.name;
    const auto* spec = FindSpec(specs, a.name);
    if (spec == nullptr) {
      std::string known;
      for (const auto& s : specs) known += (known.empty() ? "" : ", ") + s.name;
      return FieldError(field, "unknown parameter '" + a.name +
                                   "' (parameters: " + (known.empty() ? "none" : known) + ")");
    }
    if (!seen.insert(a.name).second) {
      return FieldError(field, field + " is given twice");
    }
    if (Status s = CheckAxis(a, *spec, plan.method); !s.ok()) return s.take_error();
  }

  const uint64_t n = TrialCount(plan);
  if (plan.method == Method::kRandom && n == 0) {
    return FieldError("trials", "a random sweep needs trials >= 1");
  }
  if (n > max_trials) {
    // A grid's size comes from its params; a random sweep's from its trials.
    const std::string field = plan.method == Method::kGrid ? "params" : "trials";
    return FieldError(field,
                      "the sweep has " + std::to_string(n) + " trials, more than the limit of " +
                          std::to_string(max_trials),
                      {{"trials", std::to_string(n)}, {"limit", std::to_string(max_trials)}});
  }

  std::vector<strategies::Params> trials;
  trials.reserve(std::min<uint64_t>(n, 1 << 20));
  if (plan.method == Method::kGrid) {
    if (n == 0) return trials;
    // A mixed-radix counter over the axes' value indices, the last axis the fastest digit.
    std::vector<uint64_t> digit(plan.axes.size(), 0), radix;
    for (const Axis& a : plan.axes) radix.push_back(AxisCount(a));
    for (uint64_t t = 0; t < n; ++t) {
      strategies::Params p;
      for (size_t k = 0; k < plan.axes.size(); ++k) {
        const Axis& a = plan.axes[k];
        p[a.name] = a.kind == Axis::Kind::kRange ? RangeValue(a, digit[k]) : a.values[digit[k]];
      }
      trials.push_back(std::move(p));
      for (size_t k = plan.axes.size(); k-- > 0;) {
        if (++digit[k] < radix[k]) break;
        digit[k] = 0;
      }
    }
    return trials;
  }

  const uint64_t points = DistinctPoints(plan, specs);
  if (points < n) {
    return FieldError("trials",
                      "a random sweep of " + std::to_string(n) +
                          " distinct trials, but its parameters hold only " +
                          std::to_string(points) + " distinct points",
                      {{"trials", std::to_string(n)}, {"points", std::to_string(points)}});
  }
  // The draw (pinned in docs/sweeps.md): one SplitMix64 stream seeded with `seed`; for each
  // candidate point, every axis in the given order takes the next u64 x and u = (x >> 11) · 2^-53
  // (a fixed value takes one too and ignores it). A list or stepped range of c values takes value
  // index min(floor(u · c), c − 1); a continuous range (step 0) takes from + u · (to − from), or
  // for an integer parameter ceil(from) + min(floor(u · c), c − 1) with c = floor(to) −
  // ceil(from) + 1. A candidate equal in every axis to an earlier trial is dropped and the next
  // one drawn; trials are the kept candidates in order.
  SplitMix64 rng(plan.seed);
  std::set<std::vector<double>> drawn;
  std::vector<double> point(plan.axes.size());
  // Expected draws are at most n·H(n) (all points asked for); the bound only stops a loop whose
  // count of distinct points was wrong (ranges past a double's precision).
  const uint64_t max_draws = 64 * n + 1'000'000;
  for (uint64_t draws = 0; trials.size() < n; ++draws) {
    if (draws == max_draws) {
      return FieldError(
          "trials",
          "could not draw " + std::to_string(n) + " distinct trials from these parameters",
          {{"trials", std::to_string(n)}});
    }
    for (size_t k = 0; k < plan.axes.size(); ++k) {
      const Axis& a = plan.axes[k];
      const double u = rng.Uniform();
      switch (a.kind) {
        case Axis::Kind::kFixed:
          point[k] = a.values[0];
          break;
        case Axis::Kind::kList:
          point[k] = a.values[PickIndex(u, a.values.size())];
          break;
        case Axis::Kind::kRange:
          if (a.step > 0) {
            point[k] = RangeValue(a, PickIndex(u, RangeCount(a)));
          } else if (const auto* spec = FindSpec(specs, a.name);
                     spec->kind == strategies::ParamSpec::Kind::kInt) {
            const double lo = std::ceil(a.from);
            const auto c = static_cast<uint64_t>(std::floor(a.to) - lo + 1);
            point[k] = lo + static_cast<double>(PickIndex(u, c));
          } else {
            point[k] = a.from + u * (a.to - a.from);
          }
          break;
      }
    }
    if (!drawn.insert(point).second) continue;
    strategies::Params p;
    for (size_t k = 0; k < plan.axes.size(); ++k) p[plan.axes[k].name] = point[k];
    trials.push_back(std::move(p));
  }
  return trials;
}

Span Period(std::span<const market::Series> inputs, std::optional<Timestamp> from,
            std::optional<Timestamp> to) {
  std::optional<Timestamp> first, last;
  for (const auto& s : inputs) {
    if (s.empty()) continue;
    const Timestamp f = s.times().front(), l = s.times().back();
    if (!first || f < *first) first = f;
    if (!last || l > *last) last = l;
  }
  Span span;
  span.from = from ? *from : first.value_or(FromMicros(0));
  span.to = to ? *to : (last ? *last + Micros{1} : span.from);
  return span;
}

std::vector<Span> WalkForwardSpans(Span period, size_t folds) {
  const auto from = static_cast<__int128>(ToMicros(period.from));
  const __int128 d = std::max<__int128>(0, static_cast<__int128>(ToMicros(period.to)) - from);
  const auto parts = static_cast<__int128>(folds) + 1;
  auto at = [&](size_t j) {
    return FromMicros(static_cast<int64_t>(from + d * static_cast<__int128>(j) / parts));
  };
  std::vector<Span> spans;
  spans.reserve(folds + 1);
  for (size_t j = 0; j <= folds; ++j) spans.push_back({at(j), at(j + 1)});
  return spans;
}

size_t PhaseCount(const PlanSpec& plan) {
  return 1 + (plan.walk_forward ? plan.walk_forward->folds : 0);
}

Span PhaseSpan(const PlanSpec& plan, Span period, size_t phase) {
  if (phase == 0 || !plan.walk_forward) return period;
  const std::vector<Span> spans = WalkForwardSpans(period, plan.walk_forward->folds);
  const size_t k = std::min(phase, spans.size() - 1);
  Span span = spans[k - 1];
  if (plan.walk_forward->anchored) span.from = spans[0].from;
  return span;
}

void WritePlanFields(JsonWriter& w, const PlanSpec& plan) {
  w.Key("params").BeginObject();
  for (const Axis& a : plan.axes) {
    w.Key(a.name);
    switch (a.kind) {
      case Axis::Kind::kFixed:
        w.Number(a.values.empty() ? 0 : a.values[0]);
        break;
      case Axis::Kind::kList:
        w.BeginArray();
        for (double v : a.values) w.Number(v);
        w.EndArray();
        break;
      case Axis::Kind::kRange:
        w.BeginObject().Key("from").Number(a.from).Key("to").Number(a.to);
        w.Key("step").Number(a.step).EndObject();
        break;
    }
  }
  w.EndObject();
  w.Key("method").String(ToString(plan.method));
  w.Key("trials").Raw(std::to_string(TrialCount(plan)));
  if (plan.method == Method::kRandom) w.Key("seed").Raw(std::to_string(plan.seed));
  w.Key("objective").String(ToString(plan.objective));
  w.Key("walk_forward");
  if (plan.walk_forward) {
    w.BeginObject().Key("folds").Int(static_cast<int64_t>(plan.walk_forward->folds));
    w.Key("anchored").Bool(plan.walk_forward->anchored).EndObject();
  } else {
    w.Null();
  }
  w.Key("pbo_blocks").Int(static_cast<int64_t>(plan.pbo_blocks));
}

Result<PlanSpec> ParsePlanJson(std::string_view text) {
  std::optional<json::value> parsed = ParseExact(text);
  if (!parsed || !parsed->is_object()) {
    return FieldError("body", "the sweep's plan must be a JSON object");
  }
  const json::object& o = parsed->as_object();
  PlanSpec plan;

  if (const json::value* params = o.if_contains("params"); params && !params->is_null()) {
    if (!params->is_object()) {
      return FieldError("params",
                        "params must be an object of parameter name to value, list "
                        "or range");
    }
    // boost::json::object keeps its keys in document order: the axes stay in the order given.
    for (const auto& kv : params->as_object()) {
      auto axis = ParseAxis(std::string(kv.key()), kv.value());
      if (!axis.ok()) return axis.take_error();
      plan.axes.push_back(std::move(*axis));
    }
  }

  if (const json::value* m = o.if_contains("method"); m && !m->is_null()) {
    if (m->is_string() && m->as_string() == "grid") {
      plan.method = Method::kGrid;
    } else if (m->is_string() && m->as_string() == "random") {
      plan.method = Method::kRandom;
    } else {
      return FieldError("method", "method must be \"grid\" or \"random\"");
    }
  }

  const json::value* trials = o.if_contains("trials");
  if (trials && trials->is_null()) trials = nullptr;
  if (trials && !AsCount(*trials)) {
    return FieldError("trials", "trials must be a whole number");
  }
  if (plan.method == Method::kRandom) {
    if (!trials) return FieldError("trials", "a random sweep needs \"trials\"");
    plan.random_trials = *AsCount(*trials);
    if (plan.random_trials == 0) return FieldError("trials", "trials must be at least 1");
    if (const json::value* seed = o.if_contains("seed"); seed && !seed->is_null()) {
      auto s = AsCount(*seed);
      if (!s) return FieldError("seed", "seed must be a whole number >= 0");
      plan.seed = *s;
    }
  }

  if (const json::value* obj = o.if_contains("objective"); obj && !obj->is_null()) {
    std::optional<Objective> parsed_objective;
    if (obj->is_string()) parsed_objective = ParseObjective(std::string_view(obj->as_string()));
    if (!parsed_objective) {
      return FieldError("objective",
                        "objective must be one of sharpe, total_return, cagr, "
                        "sortino, calmar, profit_factor");
    }
    plan.objective = *parsed_objective;
  }

  if (const json::value* wf = o.if_contains("walk_forward"); wf && !wf->is_null()) {
    if (!wf->is_object()) {
      return FieldError("walk_forward", "walk_forward must be {\"folds\", \"anchored\"} or null");
    }
    const json::object& w = wf->as_object();
    for (const auto& kv : w) {
      if (kv.key() != "folds" && kv.key() != "anchored") {
        return FieldError("walk_forward",
                          "walk_forward: unknown key '" + std::string(kv.key()) + "'");
      }
    }
    WalkForward walk;
    const json::value* folds = w.if_contains("folds");
    std::optional<uint64_t> k = folds ? AsCount(*folds) : std::nullopt;
    if (!k || *k < 1 || *k > kMaxFolds) {
      return FieldError(
          "walk_forward.folds",
          "walk_forward.folds must be a whole number from 1 to " + std::to_string(kMaxFolds));
    }
    walk.folds = *k;
    if (const json::value* anchored = w.if_contains("anchored"); anchored && !anchored->is_null()) {
      if (!anchored->is_bool()) {
        return FieldError("walk_forward.anchored", "walk_forward.anchored must be true or false");
      }
      walk.anchored = anchored->get_bool();
    }
    plan.walk_forward = walk;
  }

  if (const json::value* pbo = o.if_contains("pbo_blocks"); pbo && !pbo->is_null()) {
    std::optional<uint64_t> s = AsCount(*pbo);
    if (!s || *s < 2 || *s > kMaxPboBlocks || *s % 2 != 0) {
      return FieldError("pbo_blocks", "pbo_blocks must be an even number from 2 to " +
                                          std::to_string(kMaxPboBlocks));
    }
    plan.pbo_blocks = *s;
  }
  return plan;
}

}  // namespace tapedeck::sweep
