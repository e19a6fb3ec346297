#include <cstdio>
#include <fstream>

#include "cli/args.h"
#include "cli/commands.h"
#include "market/market.h"

namespace tapedeck::cli {

// tapedeck gen --bars N --seed S [--interval 1m] [--start ISO] [--price P] [--symbol S] [--out F]
// Writes deterministic synthetic bars as generic CSV to stdout or --out.
int GenCommand(int argc, char** argv) {
  auto fail = [](const Error& e) {
    std::fprintf(stderr, "tapedeck gen: %s\n", e.ToString().c_str());
    return 2;
  };
  auto args = Args::Parse(argc, argv, 2,
                          {"bars", "seed", "interval", "start", "price", "symbol", "out"}, {});
  if (!args.ok()) return fail(args.error());
  market::GenOptions options;
  auto bars = args->GetInt("bars", static_cast<long long>(options.bars));
  if (!bars.ok()) return fail(bars.error());
  if (*bars < 1 || *bars > 100'000'000) {
    return fail(MakeError(ErrorCode::kValidation, "--bars must be between 1 and 100000000",
                          {{"option", "bars"}}));
  }
  options.bars = static_cast<size_t>(*bars);
  auto seed = args->GetInt("seed", static_cast<long long>(options.seed));
  if (!seed.ok()) return fail(seed.error());
  options.seed = static_cast<uint64_t>(*seed);
  if (auto v = args->Get("interval")) {
    auto interval = market::ParseInterval(*v);
    if (!interval.ok()) return fail(interval.error());
    options.interval = *interval;
  }
  if (auto v = args->Get("start")) {
    auto start = ParseIso(*v);
    if (!start) {
      return fail(MakeError(ErrorCode::kValidation, "--start expects an ISO-8601 time, got '" +
                                                        *v + "'",
                            {{"option", "start"}, {"got", *v}}));
    }
    options.start = *start;
  }
  auto price = args->GetDouble("price", options.start_price);
  if (!price.ok()) return fail(price.error());
  if (*price <= 0) {
    return fail(MakeError(ErrorCode::kValidation, "--price must be positive", {{"option", "price"}}));
  }
  options.start_price = *price;
  if (auto v = args->Get("symbol")) options.symbol = *v;

  const std::string csv = market::ToGenericCsv(market::Generate(options));
  if (auto out = args->Get("out")) {
    // Write beside the target and rename, so an interrupted gen never leaves half a file.
    const std::string tmp = *out + ".tmp";
    {
      std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
      f.write(csv.data(), static_cast<std::streamsize>(csv.size()));
      if (!f) {
        std::remove(tmp.c_str());
        return fail(MakeError(ErrorCode::kIo, "cannot write " + tmp, {{"path", *out}}));
      }
    }
    if (std::rename(tmp.c_str(), out->c_str()) != 0) {
      std::remove(tmp.c_str());
      return fail(MakeError(ErrorCode::kIo, "cannot write " + *out, {{"path", *out}}));
    }
  } else {
    std::fwrite(csv.data(), 1, csv.size(), stdout);
  }
  return 0;
}

}  // namespace tapedeck::cli
