// Command-line parsing for the tapedeck binary: `--key value`, `--key=value` and bare `--flag`s.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace tapedeck::cli {

class Args {
 public:
  // Parses argv[first..argc). `flags` take no value, `repeatable` may occur more than once; every
  // other option in `options` takes one value. Unknown options and missing values are VALIDATION
  // errors naming the option.
  static Result<Args> Parse(int argc, char** argv, int first, const std::set<std::string>& options,
                            const std::set<std::string>& flags,
                            const std::set<std::string>& repeatable = {});

  bool Has(const std::string& name) const { return values_.count(name) > 0; }
  std::optional<std::string> Get(const std::string& name) const;
  std::vector<std::string> GetAll(const std::string& name) const;

  // Typed getters: VALIDATION naming the option when the value does not parse.
  Result<double> GetDouble(const std::string& name, double fallback) const;
  Result<long long> GetInt(const std::string& name, long long fallback) const;

 private:
  std::multimap<std::string, std::string> values_;
};

// Parses a whole decimal number (no trailing garbage); nullopt otherwise.
std::optional<double> ParseDouble(std::string_view s);

}  // namespace tapedeck::cli
