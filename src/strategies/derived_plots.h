// Internal: how a built-in names the series it plots as derivations (Context::DeclareDerivedPlot),
// in the format strategies.h documents for MaterialisePlots.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>

namespace tapedeck::strategies::internal {

// "KIND:A,B,...": each argument in its shortest round-trip form, so that parsing it gives back
// the same double (a Bollinger k of 0.1 stays 0.1 to the bit).
std::string Derivation(std::string_view kind, std::initializer_list<double> args);

}  // namespace tapedeck::strategies::internal
