#include <cstdio>

#include "api/json.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "common/json_writer.h"
#include "strategies/strategies.h"

namespace tapedeck::cli {

int StrategiesCommand(int argc, char** argv) {
  auto args = Args::Parse(argc, argv, 2, {}, {"json"});
  if (!args.ok()) {
    std::fprintf(stderr, "tapedeck strategies: %s\n", args.error().ToString().c_str());
    return 2;
  }
  const auto& list = strategies::List();
  if (args->Has("json")) {
    JsonWriter w;
    api::WriteStrategies(w);
    std::printf("%s\n", w.str().c_str());
    return 0;
  }
  for (const auto& s : list) {
    std::printf("%s\n  %s\n", s.name.c_str(), s.description.c_str());
    for (const auto& p : s.params) {
      std::printf("    --param %s=%g  (%s, %g..%g) %s\n", p.name.c_str(), p.default_value,
                  p.kind == strategies::ParamSpec::Kind::kInt ? "int" : "number", p.min, p.max,
                  p.description.c_str());
    }
  }
  return 0;
}

}  // namespace tapedeck::cli
