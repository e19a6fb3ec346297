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
#include "cli/script_budget_args.h"
#include "market/market.h"
#include "strategies/script.h"
#include "strategies/strategies.h"

namespace tapedeck::cli {
namespace {

constexpr const char* kSampleRelative = "node_modules/vega-datasets/data/sp500-2000.csv";

int Fail(const Error& error, int code = 1) {
  std::fprintf(stderr, "tapedeck: %s\n", error.ToString().c_str());
  return code;
}

std::string SymbolFromPath(const std::string& path) {
  std::string stem = std::filesystem::path(path).stem().string();
  for (char& c : stem) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return stem.empty() ? "SYM" : stem;
}

struct BacktestRequest {
  // One file per symbol, in order (the first is the one `bar` describes to a script, and the one
  // a built-in trades); symbols[i] names csvs[i]'s symbol (empty or absent: from its file name).
  std::vector<std::string> csvs;
  market::CsvFormat format = market::CsvFormat::kAuto;
  std::vector<std::string> symbols;
  std::string strategy;
  std::string script;  // a Lua strategy file instead of a built-in
  strategies::ScriptBudgets budgets;
  strategies::Params params;
  engine::RunConfig config;
  std::optional<Timestamp> from, to;
  bool json = false;
};

int RunBacktest(const BacktestRequest& req) {
  std::vector<market::Series> inputs;
  for (size_t i = 0; i < req.csvs.size(); ++i) {
    const std::string& csv = req.csvs[i];
    market::CsvOptions csv_options;
    csv_options.format = req.format;
    csv_options.symbol =
        i < req.symbols.size() && !req.symbols[i].empty() ? req.symbols[i] : SymbolFromPath(csv);
    csv_options.source_name = csv;
    for (const market::Series& other : inputs) {
      if (other.symbol() == csv_options.symbol) {
        return Fail(MakeError(ErrorCode::kValidation,
                              "two --csv files have symbol " + csv_options.symbol +
                                  "; give each its own with --symbol",
                              {{"option", "symbol"}, {"file", csv}}),
                    2);
      }
    }
    ProgressBar import_bar("import " + std::filesystem::path(csv).filename().string());
    csv_options.progress = [&import_bar](size_t done, size_t total) {
      import_bar.Update(done, total);
    };
    auto series = market::ImportCsvFile(csv, csv_options);
    if (!series.ok()) return Fail(series.error());
    market::Series data = *series;
    if (req.from || req.to) {
      data = data.Slice(req.from.value_or(FromMicros(INT64_MIN)),
                        req.to.value_or(FromMicros(INT64_MAX)));
      if (data.empty()) {
        return Fail(MakeError(ErrorCode::kRange, "no bars of " + csv + " between --from and --to",
                              {{"option", "from"}, {"file", csv}}));
      }
    }
    inputs.push_back(std::move(data));
  }

  std::unique_ptr<engine::Strategy> strategy;
  std::vector<strategies::ParamSpec> schema;
  std::string name = req.strategy;
  if (!req.script.empty()) {
    auto source = ReadScript(req.script);
    if (!source.ok()) return Fail(source.error(), 2);
    name = std::filesystem::path(req.script).filename().string();
    auto made = strategies::MakeScriptStrategy(*source, req.script, req.params, req.budgets);
    if (!made.ok()) return Fail(made.error(), 2);
    schema = (*made)->info().params;
    strategy = std::move(*made);
  } else {
    auto made = strategies::Make(req.strategy, req.params);
    if (!made.ok()) return Fail(made.error(), 2);
    strategy = std::move(*made);
  }

  ProgressBar run_bar("backtest " + name);
  engine::RunHooks hooks;
  hooks.progress = [&run_bar](size_t done, size_t total) { run_bar.Update(done, total); };
  auto result = engine::Run(inputs, *strategy, req.config, hooks);
  if (!result.ok()) return Fail(result.error());

  std::string source;
  for (const std::string& csv : req.csvs) source += (source.empty() ? "" : ", ") + csv;
  ReportInput report{name,
                     req.params,
                     source,
                     inputs,
                     req.config,
                     *result,
                     req.script.empty() ? nullptr : &schema};
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
  auto args = Args::Parse(
      argc, argv, 2,
      {"csv", "format", "symbol", "strategy", "script", "param", "cash", "commission", "fixed-fee",
       "slippage", "from", "to", "script-instructions", "script-memory", "script-seconds"},
      {"json", "no-short"}, {"param", "csv", "symbol"});
  if (!args.ok()) return Fail(args.error(), 2);
  BacktestRequest req;
  if (!args->Get("csv")) {
    return Fail(MakeError(ErrorCode::kValidation, "--csv FILE is required", {{"option", "csv"}}),
                2);
  }
  req.csvs = args->GetAll("csv");
  req.symbols = args->GetAll("symbol");
  if (req.symbols.size() > req.csvs.size()) {
    return Fail(MakeError(ErrorCode::kValidation,
                          "more --symbol than --csv: each --symbol names the --csv at its place",
                          {{"option", "symbol"}}),
                2);
  }
  if (auto f = args->Get("format")) {
    auto format = market::ParseCsvFormat(*f);
    if (!format.ok()) return Fail(format.error(), 2);
    req.format = *format;
  }
  if (args->Get("strategy").has_value() == args->Get("script").has_value()) {
    return Fail(MakeError(ErrorCode::kValidation,
                          "one of --strategy NAME (see `tapedeck strategies`) or --script "
                          "FILE.lua is required",
                          {{"option", "strategy"}}),
                2);
  }
  req.strategy = args->Get("strategy").value_or("");
  req.script = args->Get("script").value_or("");
  for (std::string_view option : kScriptBudgetOptions) {
    if (auto v = args->Get(std::string(option))) {
      if (Status s = SetScriptBudget(option, *v, req.budgets); !s.ok()) return Fail(s.error(), 2);
    }
  }
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
  for (auto [option, target] : {std::pair{"cash", &req.config.cash},
                                {"commission", &req.config.costs.commission},
                                {"fixed-fee", &req.config.costs.fixed_fee},
                                {"slippage", &req.config.costs.slippage}}) {
    auto v = args->GetDouble(option, *target);
    if (!v.ok()) return Fail(v.error(), 2);
    *target = *v;
  }
  req.config.allow_short = !args->Has("no-short");
  for (auto [option, target] : {std::pair{"from", &req.from}, {"to", &req.to}}) {
    if (auto v = args->Get(option)) {
      *target = ParseIso(*v);
      if (!*target) {
        return Fail(
            MakeError(ErrorCode::kValidation,
                      std::string("--") + option + " expects an ISO-8601 time, got '" + *v + "'",
                      {{"option", option}, {"got", *v}}),
            2);
      }
    }
  }
  req.json = args->Has("json");
  return RunBacktest(req);
}

int DefaultCommand() {
  BacktestRequest req;
  req.csvs = {FindSampleCsv()};
  req.symbols = {"SPX"};
  req.strategy = "sma_cross";
  std::fprintf(stderr, "tapedeck: no command given: backtesting the bundled sample %s\n",
               req.csvs.front().c_str());
  return RunBacktest(req);
}

}  // namespace tapedeck::cli
