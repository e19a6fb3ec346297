// tapedeck migrate --from sqlite:PATH --to postgresql://...: copies a store into a PostgreSQL
// database (store/migrate.h), then reads everything back and compares it with the source.
#include <cstdio>
#include <filesystem>
#include <string>

#include "cli/args.h"
#include "cli/commands.h"
#include "store/migrate.h"
#include "store/store.h"

namespace tapedeck::cli {
namespace {

constexpr const char* kUsage =
    "usage: tapedeck migrate --from sqlite:PATH --to postgresql://USER[:PASSWORD]@HOST[:PORT]/DB\n"
    "\n"
    "Copies every dataset, strategy script version, run (with its result) and sweep (with its\n"
    "trial records) of the SQLite store at PATH into the PostgreSQL database, keeping their ids,\n"
    "names and times, then reads them back and checks they are the same (statistics, equity,\n"
    "orders, trades, bars). Stop the server using PATH first. Runs and sweeps the source left\n"
    "queued or running are copied as failed (\"interrupted\"), as the server would mark them.\n"
    "The target may hold other data, but none of the same names or ids: if it does, nothing is\n"
    "written.\n";

int Usage(const std::string& msg) {
  std::fprintf(stderr, "tapedeck migrate: %s\n\n%s", msg.c_str(), kUsage);
  return 2;
}

int Failed(const std::string& what, const Error& e) {
  std::fprintf(stderr, "tapedeck migrate: %s: %s\n", what.c_str(), e.ToString().c_str());
  return 1;
}

}  // namespace

int MigrateCommand(int argc, char** argv) {
  for (int i = 2; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
  }
  Result<Args> args = Args::Parse(argc, argv, 2, {"from", "to"}, {});
  if (!args.ok()) return Usage(args.error().msg);
  const std::optional<std::string> from = args->Get("from");
  const std::optional<std::string> to = args->Get("to");
  if (!from || from->empty()) return Usage("--from is required (sqlite:PATH)");
  if (!to || to->empty()) return Usage("--to is required (postgresql://...)");
  if (!store::IsPostgresUrl(*to)) {
    return Usage("--to must be a PostgreSQL URL (postgresql://USER@HOST/DB), not '" + *to + "'");
  }
  // OpenStore would create a missing SQLite file: a mistyped path must not look like an empty
  // store that migrated fine.
  if (!store::IsPostgresUrl(*from)) {
    const std::string path = from->starts_with("sqlite:") ? from->substr(7) : *from;
    if (path.empty()) return Usage("--from needs a path after 'sqlite:'");
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) {
      return Usage("--from: no SQLite database at '" + path + "'");
    }
  }

  Result<std::unique_ptr<store::Store>> source = store::OpenStore(*from);
  if (!source.ok()) {
    if (source.error().code == ErrorCode::kUnavailable && !store::IsPostgresUrl(*from)) {
      return Failed(
          "cannot open the source " + *from + " (is a tapedeck server using it? stop it first)",
          source.error());
    }
    return Failed("cannot open the source " + *from, source.error());
  }
  Result<std::unique_ptr<store::Store>> target = store::OpenPostgresStore(*to);
  if (!target.ok()) {
    if (target.error().code == ErrorCode::kValidation) {
      return Usage("--to: " + target.error().ToString());
    }
    // The error's details name the server without its password; the URL may hold one.
    return Failed("cannot open the target database", target.error());
  }

  Result<store::MigrationCounts> copied = store::MigrateStore(**source, **target);
  if (!copied.ok()) {
    return Failed(copied.error().code == ErrorCode::kConflict ? "refused" : "the copy failed",
                  copied.error());
  }
  const store::MigrationCounts& c = *copied;
  std::printf(
      "tapedeck migrate: copied %zu datasets (%zu bars), %zu script versions (%zu sources), "
      "%zu runs (%zu with results), %zu sweeps (%zu trial records)\n",
      c.datasets, c.bars, c.script_versions, c.script_sources, c.runs, c.results, c.sweeps,
      c.trials);
  std::fflush(stdout);

  Result<store::MigrationCounts> checked = store::VerifyMigration(**source, **target);
  if (!checked.ok()) return Failed("the copy differs from the source", checked.error());
  const store::MigrationCounts& v = *checked;
  std::printf(
      "tapedeck migrate: checked %zu datasets (%zu bars), %zu script versions, %zu runs (%zu "
      "results: statistics, equity, orders, trades, plots), %zu sweeps (%zu trial records): "
      "the same as the source\n",
      v.datasets, v.bars, v.script_versions, v.runs, v.results, v.sweeps, v.trials);
  return 0;
}

}  // namespace tapedeck::cli
