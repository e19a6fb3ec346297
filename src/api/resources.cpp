#include <boost/json.hpp>
#include <algorithm>
#include <charconv>

#include "api/resources.h"
#include "api/api_docs.h"
#include "api/json.h"
#include "server/metrics.h"
#include "strategies/strategies.h"

namespace tapedeck::api {
namespace {

using server::ErrorResponse;
using server::HttpResponse;
using server::JsonResponse;
using server::Request;
namespace http = server::http;

constexpr size_t kMaxHistoryFrames = 20'000;

bool WantsCsv(const Request& req) {
  if (auto f = req.Query("format")) return *f == "csv";
  const auto accept = req.http[http::field::accept];
  return accept.find("text/csv") != std::string_view::npos;
}

Result<size_t> SizeParam(const Request& req, const char* name, size_t fallback) {
  auto v = req.Query(name);
  if (!v) return fallback;
  size_t out = 0;
  const auto res = std::from_chars(v->data(), v->data() + v->size(), out);
  if (v->empty() || res.ec != std::errc() || res.ptr != v->data() + v->size()) {
    return MakeError(ErrorCode::kValidation,
                     std::string(name) + " must be a non-negative integer, got '" + *v + "'",
                     {{"field", name}});
  }
  return out;
}

}  // namespace

Resources::Resources(store::Store& store, const Options& options)
    : store_(store),
      options_(options),
      runs_(std::make_shared<StoreRunSource>(store)),
      runner_(store, options.workers) {}

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
  if (!put.ok()) return put.take_error();
  return Ok();
}

HttpResponse Resources::PostDataset(const Request& req) {
  auto name = req.Query("name");
  if (!name || name->empty()) {
    return ErrorResponse(req.http, MakeError(ErrorCode::kValidation,
                                             "the query parameter name is required",
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
    return ErrorResponse(req.http, MakeError(ErrorCode::kConflict,
                                             "a dataset named '" + *name + "' exists",
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
    if (run.spec.dataset == name) {
      return ErrorResponse(req.http,
                           MakeError(ErrorCode::kConflict,
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
  auto spec = ParseBacktestRequest(req.http.body());
  if (!spec.ok()) return ErrorResponse(req.http, spec.error());
  auto dataset = store_.GetDataset(spec->dataset);
  if (!dataset.ok()) {
    Error e = dataset.take_error();
    if (e.code == ErrorCode::kNotFound) {
      e = MakeError(ErrorCode::kValidation, "no dataset named '" + spec->dataset + "'",
                    {{"field", "dataset"}});
    }
    return ErrorResponse(req.http, e);
  }
  spec->symbols = {dataset->symbol};
  auto id = store_.CreateRun(*spec);
  if (!id.ok()) return ErrorResponse(req.http, id.error());
  if (auto queued =
          runner_.Enqueue(*id, req.client, options_.max_queued_per_client, options_.max_queued);
      !queued.ok()) {
    // Refused: leave no trace, or a client held back by its limit would fill the store with runs.
    (void)store_.DeleteRun(*id);
    return ErrorResponse(req.http, queued.error());
  }
  JsonWriter w;
  w.BeginObject().Key("id").String(*id).Key("status").String("queued").EndObject();
  HttpResponse res = JsonResponse(req.http, http::status::accepted, w.Take());
  res.set(http::field::location, "/backtests/" + *id);
  return res;
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
  HttpResponse res = JsonResponse(req.http, http::status::no_content, "");
  res.body().clear();
  res.erase(http::field::content_type);
  res.prepare_payload();
  return res;
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
      return ErrorResponse(req.http,
                           MakeError(ErrorCode::kValidation,
                                     std::string(names[i]) + " must be a window index, got '" +
                                         *v + "'",
                                     {{"field", names[i]}, {"got", *v}}));
    }
    bounds[i] = k;
  }
  auto tape = runs_->Open(id);
  if (!tape.ok()) return ErrorResponse(req.http, tape.error());
  if (!*tape) {
    return ErrorResponse(req.http, MakeError(ErrorCode::kRange,
                                             "run " + id + " has not finished: no frames yet",
                                             {{"id", id}}));
  }
  // A history is encoded per request, not shared: cap it so one request cannot build hundreds of
  // megabytes (a whole year at speed 0.01 is over half a million frames).
  const auto timeline = playback::Timeline::Create(*tape, speed);
  const int64_t n = static_cast<int64_t>(timeline.window_count());
  const auto from_k = static_cast<size_t>(std::clamp<int64_t>(bounds[0].value_or(0), 0, n));
  const auto to_k = static_cast<size_t>(std::clamp<int64_t>(bounds[1].value_or(n), 0, n));
  if (from_k < to_k) {
    const size_t frames = timeline.CountWindows(
        {timeline.FirstBarOf(from_k), timeline.FirstBarOf(to_k)});
    if (frames > kMaxHistoryFrames) {
      return ErrorResponse(
          req.http, MakeError(ErrorCode::kValidation,
                              "that range holds " + std::to_string(frames) +
                                  " frames; ask for at most " + std::to_string(kMaxHistoryFrames) +
                                  " at a time with from and to",
                              {{"field", "to"}, {"max_frames", std::to_string(kMaxHistoryFrames)}}));
    }
  }
  return JsonResponse(req.http, http::status::ok,
                      playback::EncodeHistory(*tape, speed, bounds[0], bounds[1]));
}

void Resources::RenderMetrics(std::string& out) const {
  std::vector<std::pair<std::vector<std::pair<std::string, std::string>>, double>> samples;
  std::map<std::string, double> counts = {
      {"queued", 0}, {"running", 0}, {"done", 0}, {"failed", 0}};
  if (auto runs = store_.ListRuns(); runs.ok()) {
    for (const auto& r : *runs) counts[std::string(store::ToString(r.status))] += 1;
  }
  for (const auto& [status, n] : counts) samples.push_back({{{"status", status}}, n});
  server::AppendFamily(out, "tapedeck_runs", "gauge", "Backtest runs in the store, by status.",
                       samples);
  server::AppendGauge(out, "tapedeck_runs_waiting", "Runs queued in this process's worker pool.",
                      static_cast<double>(runner_.queued()));
}

HttpResponse Resources::ListStrategies(const Request& req) {
  JsonWriter w;
  WriteStrategies(w);
  return JsonResponse(req.http, http::status::ok, w.Take());
}

}  // namespace tapedeck::api
