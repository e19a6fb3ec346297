// Small string helpers shared by modules that parse text (CSV headers, command-line specs).
#pragma once

#include <string_view>
#include <vector>

namespace tapedeck {

// The pieces of `text` between occurrences of `sep`, empty ones included: "a::b" -> {"a", "", "b"},
// "" -> {""}. The views point into `text`, which must outlive them.
std::vector<std::string_view> Split(std::string_view text, char sep);

}  // namespace tapedeck
