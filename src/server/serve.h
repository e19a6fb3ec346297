// The `tapedeck serve` command: parse flags, build the application around the server, serve until
// SIGINT/SIGTERM, tear down in order.
//
// The CLI calls `return tapedeck::server::ServeMain(argc, argv, factory);` for `tapedeck serve`.
// `factory` is how the rest of tapedeck (REST handlers, the store, the worker pool) plugs in
// without the server depending on it: it runs once the settings are known, before the server
// listens; what it returns lives until the server has stopped.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "common/error.h"
#include "server/metrics.h"
#include "server/router.h"
#include "server/run_source.h"
#include "server/settings.h"

namespace tapedeck::server {

struct Application {
  Router router;                       // REST routes: /datasets, /backtests, /strategies, ...
  std::shared_ptr<RunSource> runs;     // playback's runs (nullptr: only --synthetic-run ones)
  std::vector<Metrics::Collector> collectors;  // more /metrics families (runs by status, ...)
  // Called after the server has stopped (every connection closed, I/O threads joined) and before
  // `owned` is released: stop workers here.
  std::function<void()> on_stopped;
  std::shared_ptr<void> owned;         // the store, the app, ...: released last
};

// Builds the application for these settings. An error stops `serve` with its message (exit 1).
// `metrics` is the server's registry, for collectors that want to count things themselves.
using ApplicationFactory =
    std::function<Result<Application>(const Settings& settings, Metrics& metrics)>;

// `tapedeck serve [OPTIONS]` (argv[1] is "serve"). Prints
// "tapedeck serve: listening on http://HOST:PORT" on stdout once it accepts connections (tests
// read the port from it when started with --port 0). Returns the exit status: 0 after a clean
// stop, 1 when the application or the listener could not start, 2 for bad options.
int ServeMain(int argc, char** argv, const ApplicationFactory& factory = {});
int ServeMain(const Settings& settings, const ApplicationFactory& factory = {});

}  // namespace tapedeck::server
