// `tapedeck worker`: executes the runs and sweeps a PostgreSQL deployment's serve nodes queue
// (store/job_queue.h, api::Runner's queue mode), until SIGINT or SIGTERM; then it stops its work,
// gives its jobs back (queued again at once for another worker) and exits 0. With
// --metrics-listen it also answers GET /metrics and GET /healthz there.
#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <thread>

#include "api/queue_metrics.h"
#include "api/runner.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/script_budget_args.h"
#include "cli/serve_args.h"
#include "server/metrics.h"
#include "server/router.h"
#include "server/server.h"
#include "store/job_queue.h"
#include "store/store.h"

namespace tapedeck::cli {
namespace {

constexpr std::string_view kWorkerUsage =
    R"usage(usage: tapedeck worker --store postgresql://USER@HOST/DB [OPTIONS]

Executes the runs and sweeps that serve nodes on the same PostgreSQL store queue. Prints
"tapedeck worker: ready (N workers)" once it claims work; SIGINT/SIGTERM stops it, giving its
jobs back to the queue.

  --store URL                  the deployment's PostgreSQL database (postgresql:// or postgres://)
  --workers N                  jobs executed at once (default: one per core; 1 .. 1024)
  --lease D                    how long a claimed job stays ours without renewal (default 10s;
                               renewed every third of it; 1s .. 10m): a worker that dies has its
                               jobs run again by others this long after
  --metrics-listen HOST:PORT   answer GET /metrics and GET /healthz there (default: nowhere)
)usage";

struct WorkerOptions {
  std::string store;
  size_t workers = 0;
  std::chrono::milliseconds lease{10000};
  std::string metrics_host;
  uint16_t metrics_port = 0;
  bool metrics = false;
  strategies::ScriptBudgets budgets;
};

Error Invalid(const std::string& option, const std::string& msg, const std::string& got) {
  return MakeError(ErrorCode::kValidation, msg, {{"option", "--" + option}, {"got", got}});
}

Result<WorkerOptions> ParseWorkerArgs(int argc, char** argv) {
  std::set<std::string> options = {"store", "workers", "lease", "metrics-listen"};
  for (std::string_view budget : kScriptBudgetOptions) options.emplace(budget);
  auto args = Args::Parse(argc, argv, 2, options, {});
  if (!args) return args.take_error();
  WorkerOptions out;
  const auto store = args->Get("store");
  if (!store) {
    return MakeError(ErrorCode::kValidation, "--store postgresql://... is required",
                     {{"option", "--store"}});
  }
  if (!store::IsPostgresUrl(*store)) {
    // The URL is not repeated: it may hold a password.
    return MakeError(ErrorCode::kValidation,
                     "a worker needs a postgresql:// store: a SQLite store has no shared job "
                     "queue (`tapedeck serve --store sqlite:PATH` executes its own work)",
                     {{"option", "--store"}});
  }
  out.store = *store;
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  auto workers = args->GetInt("workers", cores);
  if (!workers) return workers.take_error();
  if (*workers < 1 || *workers > 1024) {
    return Invalid("workers", "--workers must be 1 .. 1024", std::to_string(*workers));
  }
  out.workers = static_cast<size_t>(*workers);
  if (const auto lease = args->Get("lease")) {
    const auto d = ParseDuration(*lease);
    if (!d || *d < std::chrono::seconds(1) || *d > std::chrono::minutes(10)) {
      return Invalid("lease", "--lease must be a duration of 1s .. 10m (10s, 500ms, 2m)", *lease);
    }
    out.lease = *d;
  }
  if (const auto listen = args->Get("metrics-listen")) {
    // HOST:PORT, or [V6]:PORT.
    const size_t colon = listen->rfind(':');
    std::string host = colon == std::string::npos ? "" : listen->substr(0, colon);
    const std::string port = colon == std::string::npos ? "" : listen->substr(colon + 1);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
      host = host.substr(1, host.size() - 2);
    }
    const auto number = ParseDouble(port);
    if (host.empty() || !number || *number < 0 || *number > 65535 ||
        *number != static_cast<double>(static_cast<int>(*number))) {
      return Invalid("metrics-listen", "--metrics-listen must be HOST:PORT", *listen);
    }
    out.metrics = true;
    out.metrics_host = host;
    out.metrics_port = static_cast<uint16_t>(*number);
  }
  for (std::string_view budget : kScriptBudgetOptions) {
    if (const auto value = args->Get(std::string(budget))) {
      TD_TRY(SetScriptBudget(budget, *value, out.budgets));
    }
  }
  return out;
}

// The worker's /metrics: the queue's and the database's families (api/queue_metrics.h), and what
// this worker got done.
void AddWorkerMetrics(server::Metrics& metrics, api::MeteredJobQueue& queue,
                      const api::Runner& runner) {
  metrics.AddCollector(api::QueueMetricsCollector(queue, runner));
  metrics.AddCollector([&runner](std::string& out) {
    server::AppendCounter(out, "tapedeck_worker_jobs_done_total", "Jobs this worker finished.",
                          static_cast<double>(runner.jobs_done()));
    server::AppendCounter(out, "tapedeck_worker_trial_runs_total",
                          "Sweep trial runs this worker stored.",
                          static_cast<double>(runner.trial_runs_done()));
  });
}

int Work(const WorkerOptions& options) {
  // SIGINT and SIGTERM are taken by sigwait below: blocked here, before any thread starts, so
  // that every thread inherits the mask and none is interrupted by them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  auto store = store::OpenStore(options.store);
  if (!store) {
    std::fprintf(stderr, "tapedeck worker: %s\n", store.error().ToString().c_str());
    return 1;
  }
  auto opened = store::OpenPostgresJobQueue(options.store);
  if (!opened) {
    std::fprintf(stderr, "tapedeck worker: %s\n", opened.error().ToString().c_str());
    return 1;
  }
  api::MeteredJobQueue queue(std::move(*opened));
  api::QueueOptions queue_options;
  queue_options.lease = options.lease;
  auto runner = std::make_unique<api::Runner>(**store, queue, options.workers, options.budgets,
                                              queue_options);

  std::unique_ptr<server::Server> metrics_server;
  std::thread metrics_thread;
  if (options.metrics) {
    auto metrics = std::make_shared<server::Metrics>();
    AddWorkerMetrics(*metrics, queue, *runner);
    server::Settings settings;
    settings.host = options.metrics_host;
    settings.port = options.metrics_port;
    settings.threads = 1;
    settings.web_root = "/nonexistent/tapedeck-worker";  // a worker serves no files
    // Only the server's own routes: /metrics and /healthz (playback finds no runs here).
    metrics_server = std::make_unique<server::Server>(settings, server::Router{}, nullptr, metrics);
    if (auto listening = metrics_server->Listen(); !listening) {
      std::fprintf(stderr, "tapedeck worker: %s\n", listening.error().ToString().c_str());
      runner->Stop();
      return 1;
    }
    std::printf("tapedeck worker: metrics on http://%s:%u/metrics\n",
                options.metrics_host.find(':') == std::string::npos
                    ? options.metrics_host.c_str()
                    : ("[" + options.metrics_host + "]").c_str(),
                static_cast<unsigned>(metrics_server->port()));
    metrics_thread = std::thread([&] { metrics_server->Run(/*handle_signals=*/false); });
  }
  std::printf("tapedeck worker: ready (%zu workers)\n", options.workers);
  std::fflush(stdout);

  int signal = 0;
  sigwait(&stop_signals, &signal);
  std::fprintf(stderr, "tapedeck worker: stopping (%s)\n", signal == SIGINT ? "SIGINT" : "SIGTERM");
  // Work stops where it is and every held job goes back to the queue.
  runner->Stop();
  if (metrics_server) {
    metrics_server->Stop();
    metrics_thread.join();
    metrics_server.reset();
  }
  runner.reset();
  std::fprintf(stderr, "tapedeck worker: stopped\n");
  return 0;
}

}  // namespace

int WorkerCommand(int argc, char** argv) {
  for (int i = 2; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::fwrite(kWorkerUsage.data(), 1, kWorkerUsage.size(), stdout);
      std::fwrite(kScriptBudgetUsage.data(), 1, kScriptBudgetUsage.size(), stdout);
      return 0;
    }
  }
  auto options = ParseWorkerArgs(argc, argv);
  if (!options) {
    std::fprintf(stderr, "tapedeck worker: %s\n\n%.*s", options.error().ToString().c_str(),
                 static_cast<int>(kWorkerUsage.size()), kWorkerUsage.data());
    return 2;
  }
  return Work(*options);
}

}  // namespace tapedeck::cli
