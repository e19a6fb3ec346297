// Internal: the factories of the built-in strategies, one per file, used by registry.cpp.
// registry.cpp validates parameters before calling these; each factory REQUIRES its documented
// parameter ranges.
#pragma once

#include <cstddef>
#include <memory>

#include "engine/engine.h"

namespace tapedeck::strategies::internal {

// REQUIRES: 1 <= fast < slow.
std::unique_ptr<engine::Strategy> MakeSmaCross(size_t fast, size_t slow);
// REQUIRES: 1 <= fast < slow.
std::unique_ptr<engine::Strategy> MakeEmaCross(size_t fast, size_t slow);
// REQUIRES: period >= 1, 0 <= lower < upper <= 100.
std::unique_ptr<engine::Strategy> MakeRsiReversion(size_t period, double lower, double upper);
// REQUIRES: period >= 1, k >= 0.
std::unique_ptr<engine::Strategy> MakeBollingerBreakout(size_t period, double k);
// REQUIRES: entry >= 1, exit >= 1.
std::unique_ptr<engine::Strategy> MakeDonchianBreakout(size_t entry, size_t exit);
// REQUIRES: 1 <= fast < slow, signal >= 1.
std::unique_ptr<engine::Strategy> MakeMacd(size_t fast, size_t slow, size_t signal);
std::unique_ptr<engine::Strategy> MakeBuyAndHold();

}  // namespace tapedeck::strategies::internal
