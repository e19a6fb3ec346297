#include "api/json.h"

#include <algorithm>
#include <boost/json.hpp>
#include <cmath>
#include <limits>
#include <set>

#include "engine/stats_json.h"

namespace tapedeck::api {
namespace json = boost::json;

void WriteDataset(JsonWriter& w, const store::DatasetInfo& d) {
  w.BeginObject();
  w.Key("name").String(d.name).Key("symbol").String(d.symbol);
  w.Key("bars").Int(static_cast<int64_t>(d.bars));
  w.Key("from").String(FormatIso(d.from)).Key("to").String(FormatIso(d.to));
  w.Key("created").String(FormatIso(d.created));
  w.EndObject();
}

void WriteStatsFields(JsonWriter& w, const engine::Stats& s) { engine::WriteStatsFields(w, s); }

void WriteStats(JsonWriter& w, const engine::Stats& s) {
  w.BeginObject();
  engine::WriteStatsFields(w, s);
  w.EndObject();
}

void WriteParamSpecs(JsonWriter& w, const std::vector<strategies::ParamSpec>& params) {
  w.BeginArray();
  for (const auto& p : params) {
    w.BeginObject().Key("name").String(p.name);
    w.Key("type").String(p.kind == strategies::ParamSpec::Kind::kInt ? "int" : "number");
    w.Key("default").Number(p.default_value);
    // A script's parameter given as a bare default has no bounds: null, not ±1.8e308.
    w.Key("min");
    if (p.min == std::numeric_limits<double>::lowest()) {
      w.Null();
    } else {
      w.Number(p.min);
    }
    w.Key("max");
    if (p.max == std::numeric_limits<double>::max()) {
      w.Null();
    } else {
      w.Number(p.max);
    }
    w.Key("description").String(p.description).EndObject();
  }
  w.EndArray();
}

void WriteBuiltinStrategy(JsonWriter& w, const strategies::StrategyInfo& s) {
  w.BeginObject().Key("name").String(s.name).Key("kind").String("builtin");
  w.Key("description").String(s.description).Key("params");
  WriteParamSpecs(w, s.params);
  w.EndObject();
}

void WriteScriptFields(JsonWriter& w, const store::ScriptVersion& v) {
  w.Key("name").String(v.name).Key("kind").String("script");
  w.Key("version").Int(v.version).Key("sha256").String(v.sha256);
  w.Key("params").Raw(v.params_json);
  w.Key("created").String(FormatIso(v.created));
}

void WriteStrategies(JsonWriter& w, const std::vector<store::ScriptVersion>& scripts) {
  w.BeginArray();
  for (const auto& s : strategies::List()) WriteBuiltinStrategy(w, s);
  for (const auto& v : scripts) {
    w.BeginObject();
    WriteScriptFields(w, v);
    w.EndObject();
  }
  w.EndArray();
}

void WriteRunError(JsonWriter& w, const store::RunError& e) {
  w.Key("error").BeginObject().Key("msg").String(e.msg);
  w.Key("cause").String(e.cause.empty() ? "error" : e.cause);
  if (e.line) w.Key("line").Int(*e.line);
  if (e.bar_time) w.Key("bar_time").String(FormatIso(*e.bar_time));
  w.EndObject();
}

void WriteSpecFields(JsonWriter& w, const store::RunSpec& spec) {
  w.Key("dataset").String(spec.dataset);
  w.Key("datasets").BeginArray();
  for (const std::string& d : spec.datasets) w.String(d);
  w.EndArray();
  w.Key("symbols").BeginArray();
  for (const std::string& s : spec.symbols) w.String(s);
  w.EndArray();
  w.Key("strategy").String(spec.strategy);
  if (spec.strategy_version) w.Key("strategy_version").Int(*spec.strategy_version);
  if (!spec.strategy_sha256.empty()) w.Key("strategy_sha256").String(spec.strategy_sha256);
  w.Key("cash").Number(spec.config.cash);
  w.Key("commission").Number(spec.config.costs.commission);
  w.Key("fixed_fee").Number(spec.config.costs.fixed_fee);
  w.Key("slippage").Number(spec.config.costs.slippage);
  w.Key("allow_short").Bool(spec.config.allow_short);
  if (spec.from) w.Key("from").String(FormatIso(*spec.from));
  if (spec.to) w.Key("to").String(FormatIso(*spec.to));
}

void WriteRun(JsonWriter& w, const store::RunInfo& run) {
  w.BeginObject();
  w.Key("id").String(run.id);
  w.Key("status").String(store::ToString(run.status));
  w.Key("progress").Number(run.progress);
  WriteSpecFields(w, run.spec);
  w.Key("params").Raw(run.spec.params_json);
  w.Key("created").String(FormatIso(run.created));
  if (run.started) w.Key("started").String(FormatIso(*run.started));
  if (run.finished) w.Key("finished").String(FormatIso(*run.finished));
  if (!run.error.msg.empty()) WriteRunError(w, run.error);
  if (run.stats) {
    w.Key("stats");
    WriteStats(w, *run.stats);
  }
  w.Key("plots").Raw(run.plots_json);
  w.EndObject();
}

void WriteTrade(JsonWriter& w, const engine::Trade& t, const std::vector<std::string>& symbols) {
  w.BeginObject();
  w.Key("sym").String(t.symbol < symbols.size() ? symbols[t.symbol] : "");
  w.Key("side").String(t.side == engine::Side::kBuy ? "long" : "short");
  w.Key("entry_ts").String(FormatIso(t.entry_time)).Key("exit_ts").String(FormatIso(t.exit_time));
  w.Key("qty").Number(t.qty).Key("entry_px").Number(t.entry_px).Key("exit_px").Number(t.exit_px);
  w.Key("pnl").Number(t.pnl).Key("ret").Number(t.ret).Key("open").Bool(t.open);
  w.EndObject();
}

namespace {

void AppendCsvNumber(std::string& out, double v) {
  if (std::isfinite(v)) AppendJsonNumber(out, v);
}

}  // namespace

std::string TradesCsv(const std::vector<engine::Trade>& trades,
                      const std::vector<std::string>& symbols) {
  std::string out = "sym,side,entry_ts,exit_ts,qty,entry_px,exit_px,pnl,ret,open\n";
  for (const engine::Trade& t : trades) {
    out += t.symbol < symbols.size() ? symbols[t.symbol] : "";
    out += t.side == engine::Side::kBuy ? ",long," : ",short,";
    out += FormatIso(t.entry_time) + ',' + FormatIso(t.exit_time) + ',';
    for (double v : {t.qty, t.entry_px, t.exit_px, t.pnl, t.ret}) {
      AppendCsvNumber(out, v);
      out += ',';
    }
    out += t.open ? "true\n" : "false\n";
  }
  return out;
}

std::string EquityCsv(const engine::RunResult& result) {
  std::string out = "ts,equity\n";
  out.reserve(result.times.size() * 40);
  for (size_t i = 0; i < result.times.size(); ++i) {
    out += FormatIso(result.times[i]);
    out += ',';
    AppendCsvNumber(out, result.equity[i]);
    out += '\n';
  }
  return out;
}

Result<strategies::Params> ParseParams(std::string_view text) {
  std::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) {
    return MakeError(ErrorCode::kValidation, "params must be a JSON object of numbers",
                     {{"field", "params"}});
  }
  strategies::Params params;
  for (const auto& [key, value] : v.as_object()) {
    if (!value.is_number()) {
      return MakeError(ErrorCode::kValidation, "params." + std::string(key) + " must be a number",
                       {{"field", "params." + std::string(key)}});
    }
    params[std::string(key)] = value.to_number<double>();
  }
  return params;
}

Error FieldError(const std::string& field, const std::string& what) {
  return MakeError(ErrorCode::kValidation, field + " " + what, {{"field", field}});
}

namespace {

Result<double> NumberField(const json::object& o, const char* field, double fallback, double min,
                           double max) {
  auto it = o.find(field);
  if (it == o.end() || it->value().is_null()) return fallback;
  if (!it->value().is_number()) return FieldError(field, "must be a number");
  const double v = it->value().to_number<double>();
  if (!std::isfinite(v) || v < min || v > max) {
    char range[96];
    std::snprintf(range, sizeof range, "must be between %g and %g", min, max);
    return FieldError(field, range);
  }
  return v;
}

Result<std::optional<Timestamp>> TimeField(const json::object& o, const char* field) {
  auto it = o.find(field);
  if (it == o.end() || it->value().is_null()) return std::optional<Timestamp>();
  if (!it->value().is_string()) return FieldError(field, "must be an ISO-8601 time string");
  auto t = ParseIso(std::string_view(it->value().as_string()));
  if (!t) return FieldError(field, "must be an ISO-8601 time, like 2020-01-31T00:00:00Z");
  return std::optional<Timestamp>(*t);
}

}  // namespace

Result<RunFields> ParseRunFields(const json::object& o) {
  RunFields out;
  store::RunSpec& spec = out.spec;
  std::optional<std::string>& script = out.script;
  if (auto it = o.find("script"); it != o.end() && !it->value().is_null()) {
    if (!it->value().is_string() || it->value().as_string().empty()) {
      return FieldError("script", "must be a non-empty string (a script's source)");
    }
    if (o.contains("strategy")) return FieldError("script", "and strategy cannot both be given");
    script = std::string(it->value().as_string());
  }
  if (auto it = o.find("datasets"); it != o.end()) {
    if (o.contains("dataset")) return FieldError("datasets", "and dataset cannot both be given");
    if (!it->value().is_array()) {
      return FieldError("datasets", "must be an array of dataset names");
    }
    const json::array& names = it->value().as_array();
    if (names.empty() || names.size() > kMaxRunDatasets) {
      return FieldError("datasets",
                        "must name 1 to " + std::to_string(kMaxRunDatasets) + " datasets");
    }
    for (const json::value& n : names) {
      if (!n.is_string() || n.as_string().empty()) {
        return FieldError("datasets", "must hold non-empty strings (dataset names)");
      }
      std::string name(n.as_string());
      if (std::find(spec.datasets.begin(), spec.datasets.end(), name) != spec.datasets.end()) {
        return FieldError("datasets", "names dataset '" + name + "' twice");
      }
      spec.datasets.push_back(std::move(name));
    }
    spec.dataset = spec.datasets.front();
  }
  for (auto [field, target] :
       {std::pair{"dataset", &spec.dataset}, std::pair{"strategy", &spec.strategy}}) {
    if (script && target == &spec.strategy) continue;
    if (target == &spec.dataset && !spec.datasets.empty()) continue;
    auto it = o.find(field);
    if (it == o.end()) {
      if (target == &spec.strategy) return FieldError(field, "or script is required");
      if (target == &spec.dataset) return FieldError(field, "or datasets is required");
      return FieldError(field, "is required");
    }
    if (!it->value().is_string() || it->value().as_string().empty()) {
      return FieldError(field, "must be a non-empty string");
    }
    *target = std::string(it->value().as_string());
  }
  auto cash = NumberField(o, "cash", 100'000, 1e-6, 1e15);
  if (!cash.ok()) return cash.take_error();
  auto commission = NumberField(o, "commission", 0, 0, 0.5);
  if (!commission.ok()) return commission.take_error();
  auto fixed_fee = NumberField(o, "fixed_fee", 0, 0, 1e9);
  if (!fixed_fee.ok()) return fixed_fee.take_error();
  auto slippage = NumberField(o, "slippage", 0, 0, 0.5);
  if (!slippage.ok()) return slippage.take_error();
  spec.config.cash = *cash;
  spec.config.costs = {*commission, *fixed_fee, *slippage};
  if (auto it = o.find("allow_short"); it != o.end() && !it->value().is_null()) {
    if (!it->value().is_bool()) return FieldError("allow_short", "must be true or false");
    spec.config.allow_short = it->value().as_bool();
  }
  auto from = TimeField(o, "from");
  if (!from.ok()) return from.take_error();
  auto to = TimeField(o, "to");
  if (!to.ok()) return to.take_error();
  spec.from = *from;
  spec.to = *to;
  if (spec.from && spec.to && *spec.from >= *spec.to) return FieldError("to", "must be after from");
  if (spec.datasets.empty()) spec.datasets = {spec.dataset};
  return out;
}

Result<json::object> ParseBodyObject(std::string_view body) {
  std::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec) {
    return MakeError(ErrorCode::kValidation, "the body is not JSON: " + ec.message(),
                     {{"field", "body"}});
  }
  if (!v.is_object()) {
    return MakeError(ErrorCode::kValidation, "the body must be a JSON object", {{"field", "body"}});
  }
  return std::move(v.as_object());
}

bool IsRunField(std::string_view key) {
  static const std::set<std::string_view> kKnown = {
      "dataset",   "datasets", "strategy", "script", "cash",       "commission",
      "fixed_fee", "slippage", "from",     "to",     "allow_short"};
  return kKnown.count(key) > 0;
}

Result<store::RunSpec> ParseBacktestRequest(std::string_view body,
                                            const ScriptCheck& check_script) {
  auto parsed = ParseBodyObject(body);
  if (!parsed.ok()) return parsed.take_error();
  const json::object& o = *parsed;
  for (const auto& kv : o) {
    if (!IsRunField(kv.key()) && kv.key() != "params") {
      return FieldError(std::string(kv.key()), "is not a known field");
    }
  }
  auto fields = ParseRunFields(o);
  if (!fields.ok()) return fields.take_error();
  store::RunSpec spec = std::move(fields->spec);
  const std::optional<std::string>& script = fields->script;
  strategies::Params params;
  if (auto it = o.find("params"); it != o.end() && !it->value().is_null()) {
    if (!it->value().is_object()) return FieldError("params", "must be an object of numbers");
    auto parsed_params = ParseParams(json::serialize(it->value()));
    if (!parsed_params.ok()) return parsed_params.take_error();
    params = *parsed_params;
  }
  // Build the strategy once now, so bad parameters are a 400 here rather than a failed run later.
  // A script (inline, or a name that is no built-in's) is the caller's to resolve and check.
  if (script || (!strategies::Find(spec.strategy).ok() && check_script)) {
    if (!check_script) return FieldError("script", "is not accepted here");
    if (Status s = check_script(spec, script, params, nullptr); !s.ok()) return s.take_error();
  } else if (auto strategy = strategies::Make(spec.strategy, params); !strategy.ok()) {
    return StrategyFieldError(strategy.take_error());
  }
  JsonWriter pw;
  pw.BeginObject();
  for (const auto& [k, val] : params) pw.Key(k).Number(val);
  pw.EndObject();
  spec.params_json = pw.Take();
  spec.request_json = std::string(body);
  return spec;
}

Error StrategyFieldError(Error e) {
  // In a request body an unknown strategy or a bad parameter is a bad field, not a missing page.
  e.code = ErrorCode::kValidation;
  if (auto p = e.details.find("param"); p != e.details.end()) {
    e.details["field"] = "params." + p->second;
  } else {
    e.details["field"] = "strategy";
  }
  return e;
}

}  // namespace tapedeck::api
