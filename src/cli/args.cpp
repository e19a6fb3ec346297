#include "cli/args.h"

#include <charconv>
#include <cmath>

namespace tapedeck::cli {

std::optional<double> ParseDouble(std::string_view s) {
  double v = 0;
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  const auto res = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || res.ec != std::errc() || res.ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

Result<Args> Args::Parse(int argc, char** argv, int first, const std::set<std::string>& options,
                         const std::set<std::string>& flags,
                         const std::set<std::string>& repeatable) {
  Args args;
  for (int i = first; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--", 0) != 0 || arg.size() == 2) {
      return MakeError(ErrorCode::kValidation, "unexpected argument '" + arg + "'",
                       {{"argument", arg}});
    }
    std::string name = arg.substr(2);
    std::optional<std::string> value;
    if (const size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
    }
    if (flags.count(name)) {
      if (value) {
        return MakeError(ErrorCode::kValidation, "--" + name + " takes no value",
                         {{"option", name}});
      }
      args.values_.emplace(name, "");
      continue;
    }
    if (!options.count(name)) {
      return MakeError(ErrorCode::kValidation, "unknown option --" + name, {{"option", name}});
    }
    if (!value) {
      if (i + 1 >= argc) {
        return MakeError(ErrorCode::kValidation, "--" + name + " needs a value",
                         {{"option", name}});
      }
      value = argv[++i];
    }
    if (args.values_.count(name) && !repeatable.count(name)) {
      return MakeError(ErrorCode::kValidation, "--" + name + " given twice", {{"option", name}});
    }
    args.values_.emplace(name, *value);
  }
  return args;
}

std::optional<std::string> Args::Get(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end()) return std::nullopt;
  return it->second;
}

std::vector<std::string> Args::GetAll(const std::string& name) const {
  std::vector<std::string> out;
  auto [b, e] = values_.equal_range(name);
  for (auto it = b; it != e; ++it) out.push_back(it->second);
  return out;
}

Result<double> Args::GetDouble(const std::string& name, double fallback) const {
  auto v = Get(name);
  if (!v) return fallback;
  auto d = ParseDouble(*v);
  if (!d || !std::isfinite(*d)) {
    return MakeError(ErrorCode::kValidation, "--" + name + " expects a number, got '" + *v + "'",
                     {{"option", name}, {"got", *v}});
  }
  return *d;
}

Result<long long> Args::GetInt(const std::string& name, long long fallback) const {
  auto v = Get(name);
  if (!v) return fallback;
  long long out = 0;
  const auto res = std::from_chars(v->data(), v->data() + v->size(), out);
  if (v->empty() || res.ec != std::errc() || res.ptr != v->data() + v->size()) {
    return MakeError(ErrorCode::kValidation,
                     "--" + name + " expects a whole number, got '" + *v + "'",
                     {{"option", name}, {"got", *v}});
  }
  return out;
}

}  // namespace tapedeck::cli
