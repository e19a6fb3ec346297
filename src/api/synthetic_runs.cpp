#include "api/synthetic_runs.h"

#include "market/market.h"
#include "strategies/strategies.h"

namespace tapedeck::api {
namespace {

// The synthetic runs first, then the store's.
class LayeredRunSource final : public server::RunSource {
 public:
  LayeredRunSource(std::shared_ptr<server::RunSource> first,
                   std::shared_ptr<server::RunSource> second)
      : first_(std::move(first)), second_(std::move(second)) {}

  Result<std::shared_ptr<const playback::Tape>> Open(std::string_view id) override {
    auto found = first_->Open(id);
    if (found || found.error().code != ErrorCode::kRunNotFound || !second_) return found;
    return second_->Open(id);
  }

 private:
  std::shared_ptr<server::RunSource> first_, second_;
};

}  // namespace

Result<std::shared_ptr<const playback::Tape>> MakeSyntheticTape(const SyntheticRun& spec) {
  const auto interval = market::ParseInterval(spec.interval);
  if (!interval) return interval.error();
  market::GenOptions gen;
  gen.bars = spec.bars;
  gen.seed = spec.seed;
  gen.interval = *interval;
  gen.symbol = "SYN";
  market::Series series = market::Generate(gen);

  auto strategy = strategies::Make("sma_cross", {{"fast", 10}, {"slow", 30}});
  if (!strategy) return strategy.error();
  auto run = engine::Run({&series, 1}, **strategy, engine::RunConfig{});
  if (!run) return run.error();
  return playback::Tape::Create(std::make_shared<const engine::RunResult>(std::move(*run)),
                                {series});
}

Result<std::shared_ptr<server::RunSource>> MakeSyntheticRunSource(
    const std::vector<SyntheticRun>& runs, std::shared_ptr<server::RunSource> fallback) {
  if (runs.empty()) return fallback;
  auto memory = std::make_shared<server::MemoryRunSource>();
  for (const auto& spec : runs) {
    auto tape = MakeSyntheticTape(spec);
    if (!tape) {
      Error e = tape.take_error();
      e.msg = "synthetic run '" + spec.id + "': " + e.msg;
      e.details["id"] = spec.id;
      return e;
    }
    memory->Add(spec.id, std::move(*tape), spec.ready_after);
  }
  return std::shared_ptr<server::RunSource>(
      std::make_shared<LayeredRunSource>(std::move(memory), std::move(fallback)));
}

}  // namespace tapedeck::api
