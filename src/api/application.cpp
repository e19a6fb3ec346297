#include <thread>

#include "api/api.h"
#include "api/api_docs.h"

namespace tapedeck::api {

Result<server::Application> MakeApplication(const server::Settings& settings,
                                            server::Metrics& metrics,
                                            const std::string& sample_csv) {
  auto opened = store::OpenSqliteStore(settings.db_path);
  if (!opened.ok()) return opened.take_error();
  std::shared_ptr<store::Store> store = std::move(opened).value();
  auto recovered = store->RecoverOnStart();
  if (!recovered.ok()) return recovered.take_error();
  if (*recovered > 0) {
    std::fprintf(stderr, "tapedeck serve: %zu run(s) interrupted by the last stop marked failed\n",
                 *recovered);
  }

  Options options;
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  options.workers = settings.workers > 0 ? static_cast<size_t>(settings.workers) : cores;
  options.max_upload_bytes = settings.body_limit;
  options.max_queued = settings.max_queued;
  options.max_queued_per_client = settings.max_queued_per_client;
  auto app = std::make_shared<App>(*store, options);
  if (!sample_csv.empty()) {
    if (auto st = app->EnsureDataset("sp500", "SPX", sample_csv); !st.ok()) {
      std::fprintf(stderr, "tapedeck serve: the bundled sample was not imported: %s\n",
                   st.error().ToString().c_str());
    }
  }

  server::Application out;
  app->RegisterRoutes(out.router);
  RegisterApiDocs(out.router);  // GET /api/openapi.yaml, /api/asyncapi.yaml
  out.runs = app->runs();
  out.collectors.push_back([app = app.get()](std::string& text) { app->RenderMetrics(text); });
  (void)metrics;
  out.on_stopped = [app = app.get()] { app->runner().Stop(); };
  // Released last; members go in reverse order, so the app before the store it refers to.
  struct Owned {
    std::shared_ptr<store::Store> store;
    std::shared_ptr<App> app;
  };
  out.owned = std::make_shared<Owned>(Owned{store, app});
  return out;
}

}  // namespace tapedeck::api
