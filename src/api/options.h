// api's options: what `tapedeck serve` tells the REST side and its worker pool. The command line
// fills them (src/cli/serve_args.h); the network's own settings are server::Settings.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "api/synthetic_runs.h"
#include "strategies/script.h"

namespace tapedeck::api {

// The cap on a posted script's check. Its top level runs on an I/O thread, where every stream of
// that thread waits for it, so the cap is small: a top level should only define params and
// functions (heavy set-up belongs in init(), which runs on a worker).
inline constexpr uint64_t kCheckInstructions = 1'000'000;
inline constexpr double kCheckSeconds = 0.1;

struct Options {
  // The store, as store::OpenStore takes it: "sqlite:PATH" or a bare PATH (the embedded,
  // single-process mode), or "postgresql://..." (a node of a deployment sharing that database and
  // its job queue).
  std::string store = "tapedeck.db";
  // The bundled sample CSV, imported as dataset "sp500" at start when that dataset is absent;
  // empty: none.
  std::string sample_csv;
  // Backtests executing at once. The command line's default (one per core; none with a
  // PostgreSQL store) is resolved there. With SQLite 0 is taken as 1; with PostgreSQL 0 makes a
  // stateless node that only queues work (`tapedeck worker` processes execute it).
  size_t workers = 1;
  // Jobs waiting (runs, and sweeps not started: one job each), in total; beyond: UNAVAILABLE.
  size_t max_queued = 256;
  size_t max_queued_per_client = 16;  // jobs waiting of one client; beyond: RATE_LIMITED
  // Trials one sweep may have (`tapedeck serve --max-sweep-trials`); beyond: VALIDATION, before
  // anything is stored or run.
  uint64_t max_sweep_trials = 100'000;
  size_t max_upload_bytes = 64u << 20;  // a CSV upload (POST /datasets); beyond: VALIDATION
  // A strategy script's source (POST /strategies, an inline script of POST /backtests); beyond:
  // VALIDATION (413).
  size_t max_script_bytes = 256u << 10;
  // Each script run's budgets (`tapedeck serve --script-instructions/-memory/-seconds`). A
  // script checked when it is posted runs its top level on an I/O thread, under these budgets
  // capped at kCheckInstructions and kCheckSeconds.
  strategies::ScriptBudgets script_budgets;
  // Runs played from memory ahead of the store's (tests and demos).
  std::vector<SyntheticRun> synthetic_runs;
};

}  // namespace tapedeck::api
