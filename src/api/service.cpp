#include "api/service.h"

#include <cstdio>

#include "api/synthetic_runs.h"

namespace tapedeck::api {

Result<std::unique_ptr<Service>> Service::Open(const Options& options) {
  auto opened = store::OpenStore(options.store);
  if (!opened.ok()) return opened.take_error();
  std::unique_ptr<Service> service(new Service());
  service->store_ = std::move(opened).value();
  if (store::IsPostgresUrl(options.store)) {
    auto queue = store::OpenPostgresJobQueue(options.store);
    if (!queue.ok()) return queue.take_error();
    service->queue_ = std::make_unique<MeteredJobQueue>(std::move(queue).value());
  }
  // SQLite: this process was the only one executing, so what the last one left queued or
  // running was interrupted. PostgreSQL: a no-op (workers elsewhere may be executing it).
  auto recovered = service->store_->RecoverOnStart();
  if (!recovered.ok()) return recovered.take_error();
  if (*recovered > 0) {
    std::fprintf(stderr, "tapedeck serve: %zu run(s) interrupted by the last stop marked failed\n",
                 *recovered);
  }

  service->resources_ =
      std::make_unique<Resources>(*service->store_, options, service->queue_.get());
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
  server::Metrics::Collector queue;
  if (queue_) queue = QueueMetricsCollector(*queue_, resources_->runner());
  return [resources = resources_.get(), queue = std::move(queue)](std::string& out) {
    resources->RenderMetrics(out);
    if (queue) queue(out);
  };
}

void Service::Stop() {
  if (resources_) resources_->runner().Stop();
}

}  // namespace tapedeck::api
