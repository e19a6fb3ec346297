// tapedeck check FILE.lua: compiles a strategy script and prints its parameter schema, or the
// first error as FILE:LINE: msg (the form editors and compilers use).
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/script_budget_args.h"
#include "strategies/script.h"

namespace tapedeck::cli {

int CheckCommand(int argc, char** argv) {
  constexpr const char* kUsage =
      "usage: tapedeck check [--script-instructions N] [--script-memory MiB] "
      "[--script-seconds S] FILE.lua\n";
  strategies::ScriptBudgets budgets;
  std::string path;
  for (int i = 2; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (!arg.starts_with("--")) {
      if (!path.empty() || arg.empty() || arg[0] == '-') {
        std::fputs(kUsage, stderr);
        return 2;
      }
      path = std::string(arg);
      continue;
    }
    arg.remove_prefix(2);
    std::string_view value;
    if (const size_t eq = arg.find('='); eq != std::string_view::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
    } else if (IsScriptBudgetOption(arg) && i + 1 < argc) {
      value = argv[++i];
    } else {
      std::fprintf(stderr, "tapedeck: %s --%.*s\n",
                   IsScriptBudgetOption(arg) ? "a value is needed after" : "unknown option",
                   static_cast<int>(arg.size()), arg.data());
      std::fputs(kUsage, stderr);
      return 2;
    }
    if (!IsScriptBudgetOption(arg)) {
      std::fprintf(stderr, "tapedeck: unknown option --%.*s\n", static_cast<int>(arg.size()),
                   arg.data());
      std::fputs(kUsage, stderr);
      return 2;
    }
    if (Status s = SetScriptBudget(arg, value, budgets); !s.ok()) {
      std::fprintf(stderr, "tapedeck: %s\n", s.error().msg.c_str());
      return 2;
    }
  }
  if (path.empty()) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  auto source = ReadScript(path);
  if (!source.ok()) {
    std::fprintf(stderr, "tapedeck: %s\n", source.error().ToString().c_str());
    return 2;
  }
  auto info = strategies::CompileScript(*source, path, budgets);
  if (!info.ok()) {
    const auto& details = info.error().details;
    const auto line = details.find("line");
    const auto lua_msg = details.find("msg");
    std::string msg = lua_msg != details.end() ? lua_msg->second : info.error().msg;
    std::string where = path;
    if (line != details.end()) where += ":" + line->second;
    if (const auto cause = details.find("cause");
        cause != details.end() && cause->second != "error" && cause->second != "syntax") {
      msg = info.error().msg.substr(info.error().msg.rfind(": ") + 2);
    }
    std::fprintf(stderr, "%s: %s\n", where.c_str(), msg.c_str());
    return 1;
  }
  std::printf("%s: ok%s\n", path.c_str(), info->has_init ? " (init, on_bar)" : " (on_bar)");
  for (const auto& p : info->params) {
    // A bare default (`k = 2.5`) has no bounds: none are printed.
    const bool has_min = p.min != std::numeric_limits<double>::lowest();
    const bool has_max = p.max != std::numeric_limits<double>::max();
    char range[96] = "";
    if (has_min && has_max) {
      std::snprintf(range, sizeof(range), ", %g..%g", p.min, p.max);
    } else if (has_min) {
      std::snprintf(range, sizeof(range), ", >= %g", p.min);
    } else if (has_max) {
      std::snprintf(range, sizeof(range), ", <= %g", p.max);
    }
    std::printf("  --param %s=%g  (%s%s)%s%s\n", p.name.c_str(), p.default_value,
                p.kind == strategies::ParamSpec::Kind::kInt ? "int" : "number", range,
                p.description.empty() ? "" : " ", p.description.c_str());
  }
  return 0;
}

}  // namespace tapedeck::cli
