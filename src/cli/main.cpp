// tapedeck: backtests trading strategies on bar data and plays the runs back like a tape.
#include <cstdio>
#include <cstring>
#include <string_view>

#include "cli/commands.h"

namespace {

constexpr const char* kUsage = R"(usage: tapedeck [COMMAND] [OPTIONS]

With no command, backtests sma_cross on the bundled sample data and prints the report.

commands:
  backtest --csv FILE --strategy NAME [--format auto|yahoo|binance|mt5|generic] [--symbol S]
           [--param k=v]... [--cash X] [--commission RATE] [--fixed-fee X] [--slippage RATE]
           [--from ISO] [--to ISO] [--no-short] [--json]
  gen      --bars N --seed S [--interval 1m] [--start ISO] [--price P] [--symbol S] [--out FILE]
  strategies [--json]      list built-in strategies and their parameters
  help                     this text
)";

}  // namespace

int main(int argc, char** argv) {
  using namespace tapedeck::cli;
  if (argc < 2) return DefaultCommand();
  const std::string_view cmd = argv[1];
  if (cmd == "backtest") return BacktestCommand(argc, argv);
  if (cmd == "gen") return GenCommand(argc, argv);
  if (cmd == "strategies") return StrategiesCommand(argc, argv);
  if (cmd == "help" || cmd == "--help" || cmd == "-h") {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (cmd == "--version") {
    std::puts("tapedeck 0.1.0");
    return 0;
  }
  std::fprintf(stderr, "tapedeck: unknown command '%s'\n\n%s", argv[1], kUsage);
  return 2;
}
