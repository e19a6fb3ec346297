// Placeholder until the built-ins land (same session): lists nothing.
#include "strategies/strategies.h"
namespace tapedeck::strategies {
const std::vector<StrategyInfo>& List() { static const std::vector<StrategyInfo> kNone; return kNone; }
}  // namespace tapedeck::strategies
