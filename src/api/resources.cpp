#include "api/resources.h"

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <charconv>
#include <optional>

#include "api/api_docs.h"
#include "api/json.h"
#include "api/query.h"
#include "api/resources.h"
#include "server/metrics.h"
#include "strategies/script.h"
#include "strategies/strategies.h"

namespace tapedeck::api {
namespace {

using server::ErrorResponse;
using server::HttpResponse;
using server::JsonResponse;
using server::Request;
namespace http = server::http;
namespace json = boost::json;

constexpr size_t kMaxHistoryFrames = 20'000;

// "3" -> 3; anything but a positive decimal integer -> nullopt.
std::optional<int64_t> ParseVersion(std::string_view text) {
  int64_t n = 0;
  const auto res = std::from_chars(text.data(), text.data() + text.size(), n);
  if (text.empty() || res.ec != std::errc() || res.ptr != text.data() + text.size() || n < 1) {
    return std::nullopt;
  }
  return n;
}

// A script's name: [A-Za-z0-9_-]{1,64}, and no built-in's.
Status CheckScriptName(std::string_view name) {
  const bool ok =
      !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
      });
  if (!ok) {
    return MakeError(ErrorCode::kValidation,
                     "name must be 1 to 64 letters, digits, '_' or '-', got '" +
                         std::string(name.substr(0, 80)) + "'",
                     {{"field", "name"}});
  }
  if (strategies::Find(name).ok()) {
    return MakeError(ErrorCode::kValidation,
                     "'" + std::string(name) + "' is a built-in strategy's name; choose another",
                     {{"field", "name"}});
  }
  return Ok();
}

// A script's compile or parameter error as a request's: VALIDATION naming the field (`params.X`
// for a parameter of the run, else `field`) with the script's details (line, msg, cause, param).
Error ScriptError(Error e, const char* field) {
  e.code = ErrorCode::kValidation;
  const auto param = e.details.find("param");
  const auto cause = e.details.find("cause");
  if (cause == e.details.end()) {
    // ResolveParams' errors: a run's parameter that the script's schema refuses.
    e.details["cause"] = "params";
    if (param != e.details.end()) e.details["field"] = "params." + param->second;
    if (!e.details.contains("msg")) e.details["msg"] = e.msg;
    if (!e.details.contains("field")) e.details["field"] = field;
    return e;
  }
  // A malformed `params` table in the script.
  if (param != e.details.end() && cause->second == "error") cause->second = "params";
  e.details["field"] = field;
  if (!e.details.contains("msg")) e.details["msg"] = e.msg;
  return e;
}

// A posted script's check runs on an I/O thread: the server's budgets, capped.
strategies::ScriptBudgets CheckBudgetsFrom(const strategies::ScriptBudgets& b) {
  strategies::ScriptBudgets out = b;
  out.instructions = std::min<uint64_t>(b.instructions, kCheckInstructions);
  out.wall_seconds = std::min(b.wall_seconds, kCheckSeconds);
  return out;
}

// A body part over its limit: 413, as the server answers a body over --json-body-limit.
HttpResponse TooLarge(const Request& req, const Error& e) {
  return JsonResponse(req.http, http::status::payload_too_large, server::ErrorJson(e));
}

}  // namespace

namespace {

std::unique_ptr<Runner> MakeRunner(store::Store& store, const Options& options,
                                   store::JobQueue* queue) {
  if (queue == nullptr) {
    return std::make_unique<Runner>(store, options.workers, options.script_budgets);
  }
  return std::make_unique<Runner>(store, *queue, options.workers, options.script_budgets);
}

}  // namespace

Resources::Resources(store::Store& store, const Options& options, store::JobQueue* queue)
    : store_(store),
      options_(options),
      runs_(std::make_shared<StoreRunSource>(store)),
      runner_(MakeRunner(store, options, queue)),
      sweeps_(store, *runner_, options,
              [this](store::RunSpec& s, const std::optional<std::string>& script,
                     const strategies::Params& params, std::vector<strategies::ParamSpec>* schema) {
                return CheckScriptRun(s, script, params, schema);
              }) {
  // Streams waiting for a run learn here that it ended, rather than by asking the store. An
  // empty id: the queue's listener reconnected and may have missed some.
  runner_->OnFinished([runs = runs_](const std::string& id) { runs->Finished(id); });
}

Status ResolveSymbols(store::Store& store, store::RunSpec& spec, const std::string& field) {
  // Each dataset is one symbol of the run, in order; two of the same symbol could not be told
  // apart in the run's orders and trades.
  spec.symbols.clear();
  for (const std::string& name : spec.datasets) {
    auto dataset = store.GetDataset(name);
    if (!dataset.ok()) {
      Error e = dataset.take_error();
      if (e.code == ErrorCode::kNotFound) {
        e = MakeError(ErrorCode::kValidation, "no dataset named '" + name + "'",
                      {{"field", field}, {"dataset", name}});
      }
      return e;
    }
    if (auto same = std::find(spec.symbols.begin(), spec.symbols.end(), dataset->symbol);
        same != spec.symbols.end()) {
      const std::string& other = spec.datasets[same - spec.symbols.begin()];
      return MakeError(ErrorCode::kValidation,
                       field + " '" + other + "' and '" + name + "' both hold symbol '" +
                           dataset->symbol + "': a run's datasets must hold distinct symbols",
                       {{"field", field}, {"dataset", name}, {"symbol", dataset->symbol}});
    }
    spec.symbols.push_back(dataset->symbol);
  }
  return Ok();
}

HttpResponse AcceptRun(const Request& req, Runner& runner, const Options& options,
                       const store::RunSpec& spec) {
  // Refused: no trace is left, or a client held back by its limit would fill the store with runs.
  auto id =
      runner.CreateAndEnqueue(spec, req.client, options.max_queued_per_client, options.max_queued);
  if (!id.ok()) return ErrorResponse(req.http, id.error());
  JsonWriter w;
  w.BeginObject().Key("id").String(*id).Key("status").String("queued").EndObject();
  HttpResponse res = JsonResponse(req.http, http::status::accepted, w.Take());
  res.set(http::field::location, "/backtests/" + *id);
  return res;
}

HttpResponse NoContent(const Request& req) {
  HttpResponse res = JsonResponse(req.http, http::status::no_content, "");
  res.body().clear();
  res.erase(http::field::content_type);
  res.prepare_payload();
  return res;
}

void Resources::RegisterRoutes(server::Router& router) {
  auto bind = [this](HttpResponse (Resources::*fn)(const Request&)) {
    return [this, fn](const Request& req) { return (this->*fn)(req); };
  };
  RegisterApiDocs(router);  // GET /api/openapi.yaml, /api/asyncapi.yaml
  router.Add(http::verb::post, "/datasets", bind(&Resources::PostDataset),
             {.body = server::BodyLimit::kUpload});
  router.Add(http::verb::get, "/datasets", bind(&Resources::ListDatasets));
  router.Add(http::verb::get, "/datasets/{name}", bind(&Resources::GetDataset));
  router.Add(http::verb::delete_, "/datasets/{name}", bind(&Resources::DeleteDataset));
  router.Add(http::verb::post, "/backtests", bind(&Resources::PostBacktest));
  router.Add(http::verb::get, "/backtests", bind(&Resources::ListBacktests));
  router.Add(http::verb::get, "/backtests/{id}", bind(&Resources::GetBacktest));
  router.Add(http::verb::delete_, "/backtests/{id}", bind(&Resources::DeleteBacktest));
  router.Add(http::verb::get, "/backtests/{id}/trades", bind(&Resources::GetTrades));
  router.Add(http::verb::get, "/backtests/{id}/equity", bind(&Resources::GetEquity));
  router.Add(http::verb::get, "/backtests/{id}/frames", bind(&Resources::GetFrames));
  router.Add(http::verb::get, "/strategies", bind(&Resources::ListStrategies));
  router.Add(http::verb::post, "/strategies", bind(&Resources::PostStrategy));
  router.Add(http::verb::get, "/strategies/{name}", bind(&Resources::GetStrategy));
  sweeps_.RegisterRoutes(router);
}

Status Resources::EnsureDataset(const std::string& name, const std::string& symbol,
                                const std::string& csv_path) {
  if (store_.GetDataset(name).ok()) return Ok();
  market::CsvOptions options;
  options.symbol = symbol;
  options.source_name = csv_path;
  auto series = market::ImportCsvFile(csv_path, options);
  if (!series.ok()) return series.take_error();
  auto put = store_.PutDataset(name, *series);
  // CONFLICT: another node sharing the store imported it meanwhile.
  if (!put.ok() && put.error().code != ErrorCode::kConflict) return put.take_error();
  return Ok();
}

HttpResponse Resources::PostDataset(const Request& req) {
  auto name = req.Query("name");
  if (!name || name->empty()) {
    return ErrorResponse(req.http,
                         MakeError(ErrorCode::kValidation, "the query parameter name is required",
                                   {{"field", "name"}}));
  }
  market::CsvOptions options;
  options.symbol = req.Query("symbol").value_or(*name);
  options.source_name = *name;
  if (auto f = req.Query("format")) {
    auto format = market::ParseCsvFormat(*f);
    if (!format.ok()) return ErrorResponse(req.http, format.error());
    options.format = *format;
  }
  if (req.http.body().size() > options_.max_upload_bytes) {
    // 413, as the server answers a body over --body-limit before it reaches us.
    return JsonResponse(
        req.http, http::status::payload_too_large,
        server::ErrorJson(
            MakeError(ErrorCode::kValidation, "the CSV body is too large",
                      {{"field", "body"}, {"limit", std::to_string(options_.max_upload_bytes)}})));
  }
  if (store_.GetDataset(*name).ok()) {
    return ErrorResponse(req.http,
                         MakeError(ErrorCode::kConflict, "a dataset named '" + *name + "' exists",
                                   {{"dataset", *name}}));
  }
  auto series = market::ParseCsv(req.http.body(), options);
  if (!series.ok()) return ErrorResponse(req.http, series.error());
  auto info = store_.PutDataset(*name, *series);
  if (!info.ok()) return ErrorResponse(req.http, info.error());
  JsonWriter w;
  WriteDataset(w, *info);
  HttpResponse res = JsonResponse(req.http, http::status::created, w.Take());
  res.set(http::field::location, "/datasets/" + *name);
  return res;
}

HttpResponse Resources::ListDatasets(const Request& req) {
  auto list = store_.ListDatasets();
  if (!list.ok()) return ErrorResponse(req.http, list.error());
  JsonWriter w;
  w.BeginArray();
  for (const auto& d : *list) WriteDataset(w, d);
  w.EndArray();
  return JsonResponse(req.http, http::status::ok, w.Take());
}

HttpResponse Resources::GetDataset(const Request& req) {
  auto info = store_.GetDataset(req.path_params.at("name"));
  if (!info.ok()) return ErrorResponse(req.http, info.error());
  JsonWriter w;
  WriteDataset(w, *info);
  return JsonResponse(req.http, http::status::ok, w.Take());
}

HttpResponse Resources::DeleteDataset(const Request& req) {
  const std::string& name = req.path_params.at("name");
  // Runs play back over their dataset's bars: deleting it would lose what they show.
  auto runs = store_.ListRuns();
  if (!runs.ok()) return ErrorResponse(req.http, runs.error());
  for (const store::RunInfo& run : *runs) {
    if (std::find(run.spec.datasets.begin(), run.spec.datasets.end(), name) !=
        run.spec.datasets.end()) {
      return ErrorResponse(req.http, MakeError(ErrorCode::kConflict,
                                               "dataset '" + name + "' is used by run " + run.id +
                                                   "; delete its runs first",
                                               {{"dataset", name}, {"run", run.id}}));
    }
  }
  auto done = store_.DeleteDataset(name);
  if (!done.ok()) return ErrorResponse(req.http, done.error());
  HttpResponse res = JsonResponse(req.http, http::status::no_content, "");
  res.body().clear();
  res.erase(http::field::content_type);
  res.prepare_payload();
  return res;
}

HttpResponse Resources::PostBacktest(const Request& req) {
  auto spec = ParseBacktestRequest(
      req.http.body(),
      [this](store::RunSpec& s, const std::optional<std::string>& script,
             const strategies::Params& params, std::vector<strategies::ParamSpec>* schema) {
        return CheckScriptRun(s, script, params, schema);
      });
  if (!spec.ok()) {
    if (spec.error().details.contains("limit")) return TooLarge(req, spec.error());
    return ErrorResponse(req.http, spec.error());
  }
  std::error_code ec;
  const json::value body = json::parse(req.http.body(), ec);
  const std::string field =
      !ec && body.is_object() && body.as_object().contains("datasets") ? "datasets" : "dataset";
  if (Status s = ResolveSymbols(store_, *spec, field); !s.ok()) {
    return ErrorResponse(req.http, s.error());
  }
  return AcceptRun(req, *runner_, options_, *spec);
}

HttpResponse Resources::ListBacktests(const Request& req) {
  auto limit = SizeParam(req, "limit", 0);
  if (!limit.ok()) return ErrorResponse(req.http, limit.error());
  auto offset = SizeParam(req, "offset", 0);
  if (!offset.ok()) return ErrorResponse(req.http, offset.error());
  auto runs = store_.ListRuns(*limit, *offset);
  if (!runs.ok()) return ErrorResponse(req.http, runs.error());
  JsonWriter w;
  w.BeginArray();
  for (const auto& r : *runs) WriteRun(w, r);
  w.EndArray();
  return JsonResponse(req.http, http::status::ok, w.Take());
}

HttpResponse Resources::GetBacktest(const Request& req) {
  auto run = store_.GetRun(req.path_params.at("id"));
  if (!run.ok()) return ErrorResponse(req.http, run.error());
  JsonWriter w;
  WriteRun(w, *run);
  return JsonResponse(req.http, http::status::ok, w.Take());
}

HttpResponse Resources::DeleteBacktest(const Request& req) {
  const std::string& id = req.path_params.at("id");
  auto done = store_.DeleteRun(id);
  if (!done.ok()) return ErrorResponse(req.http, done.error());
  runs_->Forget(id);
  return NoContent(req);
}

HttpResponse Resources::GetTrades(const Request& req) {
  const std::string& id = req.path_params.at("id");
  auto run = store_.GetRun(id);
  if (!run.ok()) return ErrorResponse(req.http, run.error());
  auto trades = store_.LoadTrades(id);
  if (!trades.ok()) return ErrorResponse(req.http, trades.error());
  if (WantsCsv(req)) {
    return server::TextResponse(req.http, http::status::ok, TradesCsv(*trades, run->spec.symbols),
                                "text/csv; charset=utf-8");
  }
  JsonWriter w;
  w.BeginArray();
  for (const auto& t : *trades) WriteTrade(w, t, run->spec.symbols);
  w.EndArray();
  return JsonResponse(req.http, http::status::ok, w.Take());
}

HttpResponse Resources::GetEquity(const Request& req) {
  auto result = store_.LoadRunResult(req.path_params.at("id"));
  if (!result.ok()) return ErrorResponse(req.http, result.error());
  if (WantsCsv(req)) {
    return server::TextResponse(req.http, http::status::ok, EquityCsv(*result),
                                "text/csv; charset=utf-8");
  }
  JsonWriter w;
  w.BeginArray();
  for (size_t i = 0; i < result->times.size(); ++i) {
    w.BeginObject().Key("ts").String(FormatIso(result->times[i]));
    w.Key("equity").Number(result->equity[i]).EndObject();
  }
  w.EndArray();
  return JsonResponse(req.http, http::status::ok, w.Take());
}

HttpResponse Resources::GetFrames(const Request& req) {
  const std::string& id = req.path_params.at("id");
  playback::Speed speed;
  if (auto v = req.Query("speed")) {
    auto parsed = playback::Speed::Parse(*v);
    if (!parsed.ok()) return ErrorResponse(req.http, parsed.error());
    speed = *parsed;
  }
  std::optional<int64_t> bounds[2];
  const char* names[2] = {"from", "to"};
  for (int i = 0; i < 2; ++i) {
    auto v = req.Query(names[i]);
    if (!v) continue;
    int64_t k = 0;
    const auto res = std::from_chars(v->data(), v->data() + v->size(), k);
    if (v->empty() || res.ec != std::errc() || res.ptr != v->data() + v->size()) {
      return ErrorResponse(
          req.http, MakeError(ErrorCode::kValidation,
                              std::string(names[i]) + " must be a window index, got '" + *v + "'",
                              {{"field", names[i]}, {"got", *v}}));
    }
    bounds[i] = k;
  }
  auto tape = runs_->Open(id);
  if (!tape.ok()) return ErrorResponse(req.http, tape.error());
  if (!*tape) {
    return ErrorResponse(
        req.http, MakeError(ErrorCode::kRange, "run " + id + " has not finished: no frames yet",
                            {{"id", id}}));
  }
  // A history reads the whole run: wait for the rest of a tape opened on its first bars.
  if (Status rest = (*tape)->WaitComplete(); !rest.ok()) {
    return ErrorResponse(req.http, rest.error());
  }
  // A history is encoded per request, not shared: cap it so one request cannot build hundreds of
  // megabytes (a whole year at speed 0.01 is over half a million frames).
  const auto timeline = playback::Timeline::Create(*tape, speed);
  const int64_t n = static_cast<int64_t>(timeline.window_count());
  const auto from_k = static_cast<size_t>(std::clamp<int64_t>(bounds[0].value_or(0), 0, n));
  const auto to_k = static_cast<size_t>(std::clamp<int64_t>(bounds[1].value_or(n), 0, n));
  if (from_k < to_k) {
    const size_t frames =
        timeline.CountWindows({timeline.FirstBarOf(from_k), timeline.FirstBarOf(to_k)});
    if (frames > kMaxHistoryFrames) {
      return ErrorResponse(
          req.http,
          MakeError(ErrorCode::kValidation,
                    "that range holds " + std::to_string(frames) + " frames; ask for at most " +
                        std::to_string(kMaxHistoryFrames) + " at a time with from and to",
                    {{"field", "to"}, {"max_frames", std::to_string(kMaxHistoryFrames)}}));
    }
  }
  return JsonResponse(req.http, http::status::ok,
                      playback::EncodeHistory(*tape, speed, bounds[0], bounds[1]));
}

void Resources::RenderMetrics(std::string& out) const {
  AppendStatusCounts(out, "tapedeck_runs", "Backtest runs in the store, by status.",
                     store_.CountRuns());
  server::AppendGauge(out, "tapedeck_runs_waiting",
                      "Jobs (runs, sweeps not started) waiting: in this process's worker pool, "
                      "or with a PostgreSQL store in the deployment's queue.",
                      static_cast<double>(runner_->queued()));
  sweeps_.RenderMetrics(out);
}

HttpResponse Resources::ListStrategies(const Request& req) {
  auto scripts = store_.ListScripts();
  if (!scripts.ok()) return ErrorResponse(req.http, scripts.error());
  JsonWriter w;
  WriteStrategies(w, *scripts);
  return JsonResponse(req.http, http::status::ok, w.Take());
}

strategies::ScriptBudgets Resources::CheckBudgets() const {
  return CheckBudgetsFrom(options_.script_budgets);
}

Status Resources::CheckSourceSize(std::string_view source, const char* field) const {
  if (source.size() <= options_.max_script_bytes) return Ok();
  return MakeError(ErrorCode::kValidation,
                   std::string(field) + " is " + std::to_string(source.size()) +
                       " bytes; a script may have at most " +
                       std::to_string(options_.max_script_bytes),
                   {{"field", field}, {"limit", std::to_string(options_.max_script_bytes)}});
}

HttpResponse Resources::PostStrategy(const Request& req) {
  std::error_code ec;
  const json::value body = json::parse(req.http.body(), ec);
  if (ec || !body.is_object()) {
    return ErrorResponse(
        req.http, MakeError(ErrorCode::kValidation, "the body must be a JSON object {name, source}",
                            {{"field", "body"}}));
  }
  const json::object& o = body.as_object();
  for (const auto& kv : o) {
    if (kv.key() != "name" && kv.key() != "source") {
      const std::string field(kv.key());
      return ErrorResponse(
          req.http,
          MakeError(ErrorCode::kValidation, field + " is not a known field", {{"field", field}}));
    }
  }
  std::string fields[2];
  const char* names[2] = {"name", "source"};
  for (int i = 0; i < 2; ++i) {
    const auto it = o.find(names[i]);
    if (it == o.end() || !it->value().is_string()) {
      return ErrorResponse(
          req.http, MakeError(ErrorCode::kValidation, std::string(names[i]) + " must be a string",
                              {{"field", names[i]}}));
    }
    fields[i] = std::string(it->value().as_string());
  }
  const std::string& name = fields[0];
  const std::string& source = fields[1];
  if (Status s = CheckScriptName(name); !s.ok()) return ErrorResponse(req.http, s.error());
  if (Status s = CheckSourceSize(source, "source"); !s.ok()) return TooLarge(req, s.error());
  auto info = strategies::CompileScript(source, name, CheckBudgets());
  if (!info.ok()) return ErrorResponse(req.http, ScriptError(info.take_error(), "source"));
  JsonWriter pw;
  WriteParamSpecs(pw, info->params);
  auto saved = store_.SaveScript(name, source, pw.str());
  if (!saved.ok()) return ErrorResponse(req.http, saved.error());
  JsonWriter w;
  w.BeginObject();
  WriteScriptFields(w, saved->script);
  w.EndObject();
  HttpResponse res =
      JsonResponse(req.http, saved->created ? http::status::created : http::status::ok, w.Take());
  res.set(http::field::location,
          "/strategies/" + name + "?version=" + std::to_string(saved->script.version));
  return res;
}

HttpResponse Resources::GetStrategy(const Request& req) {
  const std::string& name = req.path_params.at("name");
  std::optional<int64_t> version;
  if (auto v = req.Query("version")) {
    version = ParseVersion(*v);
    if (!version) {
      return ErrorResponse(
          req.http,
          MakeError(ErrorCode::kValidation, "version must be a positive integer, got '" + *v + "'",
                    {{"field", "version"}}));
    }
  }
  if (auto builtin = strategies::Find(name); builtin.ok()) {
    if (version) {
      return ErrorResponse(req.http,
                           MakeError(ErrorCode::kNotFound,
                                     "'" + name + "' is a built-in strategy: it has no versions",
                                     {{"strategy", name}, {"version", std::to_string(*version)}}));
    }
    JsonWriter w;
    WriteBuiltinStrategy(w, **builtin);
    return JsonResponse(req.http, http::status::ok, w.Take());
  }
  auto script = store_.GetScript(name, version);
  if (!script.ok()) return ErrorResponse(req.http, script.error());
  auto versions = store_.ListScriptVersions(name);
  if (!versions.ok()) return ErrorResponse(req.http, versions.error());
  JsonWriter w;
  w.BeginObject();
  WriteScriptFields(w, *script);
  w.Key("source").String(script->source);
  w.Key("versions").BeginArray();
  for (const store::ScriptVersion& v : *versions) {
    w.BeginObject().Key("version").Int(v.version).Key("sha256").String(v.sha256);
    w.Key("created").String(FormatIso(v.created)).EndObject();
  }
  w.EndArray().EndObject();
  return JsonResponse(req.http, http::status::ok, w.Take());
}

Status Resources::CheckScriptRun(store::RunSpec& spec, const std::optional<std::string>& script,
                                 const strategies::Params& params,
                                 std::vector<strategies::ParamSpec>* schema) {
  std::string source;
  std::string chunk = "script";
  const char* field = "script";
  if (script) {
    if (Status s = CheckSourceSize(*script, "script"); !s.ok()) return s;
    source = *script;
    spec.strategy = std::string(store::kInlineStrategy);
    spec.strategy_version.reset();
    spec.script_source = source;
    spec.strategy_sha256 = store::Sha256Hex(source);
  } else {
    field = "strategy";
    std::string name = spec.strategy;
    std::optional<int64_t> version;
    if (const size_t at = name.rfind('@'); at != std::string::npos) {
      version = ParseVersion(std::string_view(name).substr(at + 1));
      if (!version) {
        return MakeError(ErrorCode::kValidation,
                         "strategy '" + name + "': the version after @ must be a positive integer",
                         {{"field", "strategy"}});
      }
      name.resize(at);
    }
    auto stored = store_.GetScript(name, version);
    if (!stored.ok()) {
      Error e = stored.take_error();
      if (e.code != ErrorCode::kNotFound) return e;
      e.code = ErrorCode::kValidation;
      if (!version || !e.details.contains("version")) {
        e.msg = "no strategy named '" + name + "' (GET /strategies lists them)";
      }
      e.details["field"] = "strategy";
      return e;
    }
    source = std::move(stored->source);
    chunk = name;
    spec.strategy = name;
    spec.strategy_version = stored->version;
    spec.strategy_sha256 = stored->sha256;
    spec.script_source.clear();
  }
  // Compiled and given its parameters now, so a syntax error or a bad parameter is a 400 here
  // rather than a failed run later.
  auto made = strategies::MakeScriptStrategy(source, chunk, params, CheckBudgets());
  if (!made.ok()) return ScriptError(made.take_error(), field);
  if (schema) *schema = (*made)->info().params;
  return Ok();
}

}  // namespace tapedeck::api
