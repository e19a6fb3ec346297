// The tapedeck subcommands. Each returns the process exit code: 0 on success, 1 when the work
// failed (bad data, failed run), 2 on a usage error. Messages go to stderr.
#pragma once

#include <string>

#include "common/error.h"

namespace tapedeck::cli {

int BacktestCommand(int argc, char** argv);    // tapedeck backtest ...
int GenCommand(int argc, char** argv);         // tapedeck gen ...
int StrategiesCommand(int argc, char** argv);  // tapedeck strategies [--json]
int CheckCommand(int argc, char** argv);       // tapedeck check FILE.lua
int SweepCommand(int argc, char** argv);       // tapedeck sweep ...
// `tapedeck worker --store postgresql://...`: executes queued jobs until SIGINT/SIGTERM (exit 0).
int WorkerCommand(int argc, char** argv);
int MigrateCommand(int argc, char** argv);     // tapedeck migrate --from ... --to ...
// `tapedeck serve` with its options in argv[first..argc) (see serve_args.h): 2 is "tapedeck serve
// OPTIONS", 1 is "tapedeck OPTIONS" (no command means serve). Prints
// "tapedeck serve: listening on http://HOST:PORT" on stdout once it accepts connections (tests read
// the port from it when started with --port 0), serves until SIGINT/SIGTERM. Returns 0 after a
// clean stop, 1 when the store, a synthetic run or the listener could not start, 2 for bad options.
int ServeCommand(int argc, char** argv, int first);
// With no arguments: a backtest of the bundled sample data, printed as a report.
int DefaultCommand();

// Where the bundled sample (S&P 500 daily bars, npm vega-datasets) lives: $TAPEDECK_SAMPLE, else
// node_modules/ in the working directory, the binary's parent or its directory, an installed tree's
// <binary>/../share/tapedeck (the .deb's /usr/share/tapedeck), or the source tree.
std::string FindSampleCsv();
// The text of a script file. Errors: NOT_FOUND (details: file), IO.
Result<std::string> ReadScript(const std::string& path);

}  // namespace tapedeck::cli
