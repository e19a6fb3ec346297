// The tapedeck subcommands. Each returns the process exit code: 0 on success, 1 when the work
// failed (bad data, failed run), 2 on a usage error. Messages go to stderr.
#pragma once

#include <string>

namespace tapedeck::cli {

int BacktestCommand(int argc, char** argv);    // tapedeck backtest ...
int GenCommand(int argc, char** argv);         // tapedeck gen ...
int StrategiesCommand(int argc, char** argv);  // tapedeck strategies [--json]
// With no arguments: a backtest of the bundled sample data, printed as a report.
int DefaultCommand();

// Where the bundled sample (S&P 500 daily bars, npm vega-datasets) lives: $TAPEDECK_SAMPLE, else
// node_modules/ next to the working directory, the binary's parent or the source tree.
std::string FindSampleCsv();

}  // namespace tapedeck::cli
