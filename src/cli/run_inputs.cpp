#include "cli/run_inputs.h"

#include <cstdio>
#include <filesystem>

#include "cli/commands.h"
#include "cli/progress.h"
#include "cli/script_budget_args.h"

namespace tapedeck::cli {
namespace {

std::string SymbolFromPath(const std::string& path) {
  std::string stem = std::filesystem::path(path).stem().string();
  for (char& c : stem) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return stem.empty() ? "SYM" : stem;
}

std::string SymbolOf(const RunInputs& in, size_t i) {
  return i < in.symbols.size() && !in.symbols[i].empty() ? in.symbols[i]
                                                          : SymbolFromPath(in.csvs[i]);
}

Error Usage(std::string msg, const char* option) {
  return MakeError(ErrorCode::kValidation, std::move(msg), {{"option", option}});
}

Status ParseStrategy(const Args& args, RunInputs& in) {
  if (args.Get("strategy").has_value() == args.Get("script").has_value()) {
    return Usage(
        "one of --strategy NAME (see `tapedeck strategies`) or --script FILE.lua is required",
        "strategy");
  }
  in.strategy = args.Get("strategy").value_or("");
  in.script = args.Get("script").value_or("");
  if (!in.script.empty()) {
    auto source = ReadScript(in.script);
    if (!source.ok()) return source.error();
    in.script_source = std::move(*source);
  }
  for (std::string_view option : kScriptBudgetOptions) {
    if (auto v = args.Get(std::string(option))) {
      if (Status s = SetScriptBudget(option, *v, in.budgets); !s.ok()) return s.error();
    }
  }
  return Ok();
}

Status ParseCostsAndPeriod(const Args& args, RunInputs& in) {
  for (auto [option, target] : {std::pair{"cash", &in.config.cash},
                                {"commission", &in.config.costs.commission},
                                {"fixed-fee", &in.config.costs.fixed_fee},
                                {"slippage", &in.config.costs.slippage}}) {
    auto v = args.GetDouble(option, *target);
    if (!v.ok()) return v.error();
    *target = *v;
  }
  in.config.allow_short = !args.Has("no-short");
  for (auto [option, target] : {std::pair{"from", &in.from}, {"to", &in.to}}) {
    if (auto v = args.Get(option)) {
      *target = ParseIso(*v);
      if (!*target) {
        return MakeError(ErrorCode::kValidation,
                         std::string("--") + option + " expects an ISO-8601 time, got '" + *v + "'",
                         {{"option", option}, {"got", *v}});
      }
    }
  }
  return Ok();
}

}  // namespace

const std::set<std::string> kRunInputOptions = {
    "csv",  "format", "symbol", "strategy", "script",         "cash",         "commission",
    "fixed-fee", "slippage", "from", "to", "script-instructions", "script-memory", "script-seconds"};
const std::set<std::string> kRunInputRepeatable = {"csv", "symbol"};

int Fail(const Error& error, int code) {
  std::fprintf(stderr, "tapedeck: %s\n", error.ToString().c_str());
  return code;
}

Result<RunInputs> ParseRunInputs(const Args& args) {
  RunInputs in;
  if (!args.Get("csv")) return Usage("--csv FILE is required", "csv");
  in.csvs = args.GetAll("csv");
  in.symbols = args.GetAll("symbol");
  if (in.symbols.size() > in.csvs.size()) {
    return Usage("more --symbol than --csv: each --symbol names the --csv at its place", "symbol");
  }
  for (size_t i = 0; i < in.csvs.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (SymbolOf(in, i) == SymbolOf(in, j)) {
        return MakeError(ErrorCode::kValidation,
                         "two --csv files have symbol " + SymbolOf(in, i) +
                             "; give each its own with --symbol",
                         {{"option", "symbol"}, {"file", in.csvs[i]}});
      }
    }
  }
  if (auto f = args.Get("format")) {
    auto format = market::ParseCsvFormat(*f);
    if (!format.ok()) return format.error();
    in.format = *format;
  }
  if (Status s = ParseStrategy(args, in); !s.ok()) return s.error();
  if (Status s = ParseCostsAndPeriod(args, in); !s.ok()) return s.error();
  return in;
}

Result<std::vector<market::Series>> LoadRunInputs(const RunInputs& in) {
  std::vector<market::Series> inputs;
  for (size_t i = 0; i < in.csvs.size(); ++i) {
    const std::string& csv = in.csvs[i];
    market::CsvOptions csv_options;
    csv_options.format = in.format;
    csv_options.symbol = SymbolOf(in, i);
    csv_options.source_name = csv;
    ProgressBar import_bar("import " + std::filesystem::path(csv).filename().string());
    csv_options.progress = [&import_bar](size_t done, size_t total) {
      import_bar.Update(done, total);
    };
    auto series = market::ImportCsvFile(csv, csv_options);
    if (!series.ok()) return series.error();
    market::Series data = *series;
    if (in.from || in.to) {
      data = data.Slice(in.from.value_or(FromMicros(INT64_MIN)),
                        in.to.value_or(FromMicros(INT64_MAX)));
      if (data.empty()) {
        return MakeError(ErrorCode::kRange, "no bars of " + csv + " between --from and --to",
                         {{"option", "from"}, {"file", csv}});
      }
    }
    inputs.push_back(std::move(data));
  }
  return inputs;
}

std::string StrategyName(const RunInputs& in) {
  return in.script.empty() ? in.strategy : std::filesystem::path(in.script).filename().string();
}

Result<std::unique_ptr<engine::Strategy>> MakeStrategy(const RunInputs& in,
                                                       const strategies::Params& params) {
  if (in.script.empty()) return strategies::Make(in.strategy, params);
  auto made = strategies::MakeScriptStrategy(in.script_source, in.script, params, in.budgets);
  if (!made.ok()) return made.error();
  return std::unique_ptr<engine::Strategy>(std::move(*made));
}

Result<std::vector<strategies::ParamSpec>> StrategyParams(const RunInputs& in) {
  if (in.script.empty()) {
    auto info = strategies::Find(in.strategy);
    if (!info.ok()) return info.error();
    return (*info)->params;
  }
  auto info = strategies::CompileScript(in.script_source, in.script, in.budgets);
  if (!info.ok()) return info.error();
  return info->params;
}

}  // namespace tapedeck::cli
