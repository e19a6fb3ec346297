// tapedeck: backtests trading strategies on bar data and plays the runs back like a tape.
#include <cstdio>
#include <cstring>
#include <string_view>

#include "cli/commands.h"

namespace {

constexpr const char* kUsage = R"(usage: tapedeck [COMMAND] [OPTIONS]

With no command, serves on http://127.0.0.1:8080 with ./tapedeck.db and the bundled sample;
options without a command are serve's (`tapedeck --port 9000` is `tapedeck serve --port 9000`).

commands:
  serve    [--host H] [--port P] [--db PATH] [--threads N] [--workers N] ...
           (`tapedeck serve --help` lists every option)
  worker   --store postgresql://... [--workers N] [--lease D] [--metrics-listen HOST:PORT]
           execute the runs and sweeps of a PostgreSQL deployment (`tapedeck worker --help`)
  sample   backtest sma_cross on the bundled sample data and print the report
  backtest --csv FILE (--strategy NAME | --script FILE.lua) [--format auto|yahoo|binance|mt5|generic] [--symbol S]
           [--csv FILE [--symbol S]]...  (one --csv per symbol, in order; a built-in trades the first)
           [--param k=v]... [--cash X] [--commission RATE] [--fixed-fee X] [--slippage RATE]
           [--from ISO] [--to ISO] [--no-short] [--json]
           [--script-instructions N] [--script-memory MiB] [--script-seconds S]
  sweep    --csv FILE (--strategy NAME | --script FILE.lua) --grid NAME=FROM:TO:STEP|V1,V2,..|V ...
           [--method grid|random] [--trials N] [--seed S]
           [--objective sharpe|total_return|cagr|sortino|calmar|profit_factor]
           [--walk-forward K [--anchored]] [--pbo-blocks S] [--threads N] [--max-trials N]
           [--json] and backtest's data, cost and period options
  gen      --bars N --seed S [--interval 1m] [--start ISO] [--price P] [--symbol S] [--out FILE]
  strategies [--json]      list built-in strategies and their parameters
  check    FILE.lua        compile a strategy script and print its parameters
           [--script-instructions N] [--script-memory MiB] [--script-seconds S]
  migrate  --from sqlite:PATH --to postgresql://USER@HOST/DB
           copy a store into PostgreSQL and check the copy (`tapedeck migrate --help`)
  help                     this text
)";

}  // namespace

int main(int argc, char** argv) {
  using namespace tapedeck::cli;
  // The embedded default: serve on 127.0.0.1:8080 with ./tapedeck.db and the bundled sample.
  if (argc < 2) return ServeCommand(argc, argv, 1);
  const std::string_view cmd = argv[1];
  if (cmd == "serve") return ServeCommand(argc, argv, 2);
  if (cmd == "backtest") return BacktestCommand(argc, argv);
  if (cmd == "sample") return DefaultCommand();
  if (cmd == "gen") return GenCommand(argc, argv);
  if (cmd == "strategies") return StrategiesCommand(argc, argv);
  if (cmd == "check") return CheckCommand(argc, argv);
  if (cmd == "sweep") return SweepCommand(argc, argv);
  if (cmd == "worker") return WorkerCommand(argc, argv);
  if (cmd == "migrate") return MigrateCommand(argc, argv);
  if (cmd == "help" || cmd == "--help" || cmd == "-h") {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (cmd == "--version") {
    std::puts("tapedeck 0.1.0");
    return 0;
  }
  // No command, only options: serve's.
  if (cmd.starts_with('-')) return ServeCommand(argc, argv, 1);
  std::fprintf(stderr, "tapedeck: unknown command '%s'\n\n%s", argv[1], kUsage);
  return 2;
}
