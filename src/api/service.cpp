#include "api/service.h"

#include <cstdio>

#include "api/synthetic_runs.h"

namespace tapedeck::api {

Result<std::unique_ptr<Service>> Service::Open(const Options& options) {
  auto opened = store::OpenSqliteStore(options.db_path);
  if (!opened.ok()) return opened.take_error();
  std::unique_ptr<Service> service(new Service());
  service->store_ = std::move(opened).value();
  auto recovered = service->store_->RecoverOnStart();
  if (!recovered.ok()) return recovered.take_error();
  if (*recovered > 0) {
    std::fprintf(stderr, "tapedeck serve: %zu run(s) interrupted by the last stop marked failed\n",
                 *recovered);
  }

  service->resources_ = std::make_unique<Resources>(*service->store_, options);
  if (!options.sample_csv.empty()) {
    if (auto st = service->resources_->EnsureDataset("sp500", "SPX", options.sample_csv);
        !st.ok()) {
      std::fprintf(stderr, "tapedeck serve: the bundled sample was not imported: %s\n",
                   st.error().ToString().c_str());
    }
  }
  auto runs = MakeSyntheticRunSource(options.synthetic_runs, service->resources_->runs());
  if (!runs.ok()) return runs.take_error();
  service->runs_ = std::move(runs).value();
  return service;
}

Service::~Service() { Stop(); }

server::Metrics::Collector Service::MetricsCollector() const {
  return [resources = resources_.get()](std::string& out) { resources->RenderMetrics(out); };
}

void Service::Stop() {
  if (resources_) resources_->runner().Stop();
}

}  // namespace tapedeck::api
