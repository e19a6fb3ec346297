// tapedeck check FILE.lua: compiles a strategy script and prints its parameter schema, or the
// first error as FILE:LINE: msg (the form editors and compilers use).
#include <cstdio>
#include <string>

#include "cli/commands.h"
#include "strategies/script.h"

namespace tapedeck::cli {

int CheckCommand(int argc, char** argv) {
  if (argc != 3 || argv[2][0] == '-') {
    std::fprintf(stderr, "usage: tapedeck check FILE.lua\n");
    return 2;
  }
  const std::string path = argv[2];
  auto source = ReadScript(path);
  if (!source.ok()) {
    std::fprintf(stderr, "tapedeck: %s\n", source.error().ToString().c_str());
    return 2;
  }
  auto info = strategies::CompileScript(*source, path);
  if (!info.ok()) {
    const auto& details = info.error().details;
    const auto line = details.find("line");
    const auto lua_msg = details.find("msg");
    std::string msg = lua_msg != details.end() ? lua_msg->second : info.error().msg;
    // Lua's own messages start with "FILE:LINE: "; print that part once.
    std::string where = path;
    if (line != details.end()) where += ":" + line->second;
    if (msg.starts_with(where + ": ")) msg.erase(0, where.size() + 2);
    if (const auto cause = details.find("cause");
        cause != details.end() && cause->second != "error" && cause->second != "syntax") {
      msg = info.error().msg.substr(info.error().msg.rfind(": ") + 2);
    }
    std::fprintf(stderr, "%s: %s\n", where.c_str(), msg.c_str());
    return 1;
  }
  std::printf("%s: ok%s\n", path.c_str(), info->has_init ? " (init, on_bar)" : " (on_bar)");
  for (const auto& p : info->params) {
    std::printf("  --param %s=%g  (%s, %g..%g)%s%s\n", p.name.c_str(), p.default_value,
                p.kind == strategies::ParamSpec::Kind::kInt ? "int" : "number", p.min, p.max,
                p.description.empty() ? "" : " ", p.description.c_str());
  }
  return 0;
}

}  // namespace tapedeck::cli
