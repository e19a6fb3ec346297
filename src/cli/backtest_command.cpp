#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/progress.h"
#include "cli/report.h"
#include "cli/run_inputs.h"
#include "market/market.h"
#include "strategies/script.h"
#include "strategies/strategies.h"

namespace tapedeck::cli {
namespace {

constexpr const char* kSampleRelative = "node_modules/vega-datasets/data/sp500-2000.csv";

struct BacktestRequest {
  RunInputs inputs;
  strategies::Params params;
  bool json = false;
};

int RunBacktest(const BacktestRequest& req) {
  auto inputs = LoadRunInputs(req.inputs);
  if (!inputs.ok()) return Fail(inputs.error());
  auto strategy = MakeStrategy(req.inputs, req.params);
  if (!strategy.ok()) return Fail(strategy.error(), 2);
  std::vector<strategies::ParamSpec> schema;
  if (auto* script = dynamic_cast<strategies::ScriptStrategy*>(strategy->get())) {
    schema = script->info().params;
  }

  const std::string name = StrategyName(req.inputs);
  ProgressBar run_bar("backtest " + name);
  engine::RunHooks hooks;
  hooks.progress = [&run_bar](size_t done, size_t total) { run_bar.Update(done, total); };
  // The report shows no plotted series and no log lines: none are recorded (a script's Plot and
  // Log calls cost nothing then), and a built-in records what its series are, not their values.
  // Nor the equity curve, the timeline or the order events: it shows statistics and trades, which
  // are the same without them.
  engine::RunConfig config = req.inputs.config;
  config.record_plots = false;
  config.derive_plots = true;
  config.record_history = false;
  auto result = engine::Run(*inputs, **strategy, config, hooks);
  if (!result.ok()) return Fail(result.error());

  std::string source;
  for (const std::string& csv : req.inputs.csvs) source += (source.empty() ? "" : ", ") + csv;
  ReportInput report{name,
                     req.params,
                     source,
                     *inputs,
                     req.inputs.config,
                     *result,
                     req.inputs.script.empty() ? nullptr : &schema};
  const std::string text = req.json ? ReportJson(report) : ReportText(report);
  std::fwrite(text.data(), 1, text.size(), stdout);
  return 0;
}

}  // namespace

Result<std::string> ReadScript(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return MakeError(ErrorCode::kNotFound, "cannot open script " + path, {{"file", path}});
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return MakeError(ErrorCode::kIo, "cannot read script " + path, {{"file", path}});
  return text.str();
}

std::string FindSampleCsv() {
  namespace fs = std::filesystem;
  if (const char* env = std::getenv("TAPEDECK_SAMPLE")) return env;
  std::vector<fs::path> roots = {fs::current_path()};
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    roots.push_back(exe.parent_path().parent_path());
    roots.push_back(exe.parent_path());
    // An installed binary (the .deb: /usr/bin/tapedeck): /usr/share/tapedeck/node_modules/...
    roots.push_back(exe.parent_path().parent_path() / "share/tapedeck");
  }
#ifdef TAPEDECK_SOURCE_DIR
  roots.push_back(TAPEDECK_SOURCE_DIR);
#endif
  for (const fs::path& root : roots) {
    const fs::path candidate = root / kSampleRelative;
    if (fs::exists(candidate, ec)) return candidate.string();
  }
  return (fs::path(roots.back()) / kSampleRelative).string();
}

int BacktestCommand(int argc, char** argv) {
  std::set<std::string> options = kRunInputOptions;
  options.insert("param");
  std::set<std::string> repeatable = kRunInputRepeatable;
  repeatable.insert("param");
  auto args = Args::Parse(argc, argv, 2, options, {"json", "no-short"}, repeatable);
  if (!args.ok()) return Fail(args.error(), 2);
  auto inputs = ParseRunInputs(*args);
  if (!inputs.ok()) return Fail(inputs.error(), 2);
  BacktestRequest req{std::move(*inputs), {}, args->Has("json")};
  for (const std::string& kv : args->GetAll("param")) {
    const size_t eq = kv.find('=');
    auto value = eq == std::string::npos ? std::nullopt : ParseDouble(kv.substr(eq + 1));
    if (!value) {
      return Fail(MakeError(ErrorCode::kValidation, "--param expects name=number, got '" + kv + "'",
                            {{"option", "param"}, {"got", kv}}),
                  2);
    }
    req.params[kv.substr(0, eq)] = *value;
  }
  return RunBacktest(req);
}

int DefaultCommand() {
  BacktestRequest req;
  req.inputs.csvs = {FindSampleCsv()};
  req.inputs.symbols = {"SPX"};
  req.inputs.strategy = "sma_cross";
  std::fprintf(stderr, "tapedeck: no command given: backtesting the bundled sample %s\n",
               req.inputs.csvs.front().c_str());
  return RunBacktest(req);
}

}  // namespace tapedeck::cli
