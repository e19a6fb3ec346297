#include "cli/serve_args.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <thread>

#include "cli/script_budget_args.h"
#include "cli/tokens_file.h"
#include "common/strings.h"
#include "market/market.h"
#include "server/access.h"
#include "store/store.h"

namespace tapedeck::cli {
namespace {

using Millis = std::chrono::milliseconds;

constexpr std::string_view kUsage = R"(usage: tapedeck serve [OPTIONS]
       tapedeck [OPTIONS]          (no command: serve)

  --host H                     address to listen on (default 127.0.0.1)
  --port P                     port (default 8080; 0 picks a free one, printed on start)
  --threads N                  I/O threads (default: one per core)
  --workers N                  backtest worker threads (default: one per core; with a
                               PostgreSQL store 0: `tapedeck worker` processes execute)
  --store SPEC                 the store: sqlite:PATH (or a bare PATH; the default is
                               tapedeck.db), or postgresql://USER@HOST[:PORT]/DB shared by
                               every node and worker of a deployment
  --db PATH                    the same as --store sqlite:PATH
  --web-root DIR               static files served at / (default web/)
  --allow-origin ORIGIN        another origin allowed to open streams and read REST/SSE
                               responses (repeatable)
  --auth-token TOKEN           require this bearer token on REST (repeatable; prefer
                               --tokens-file: a command line is visible to every local user)
  --tokens-file PATH           bearer tokens, one a line, '#' comments; the file must not be
                               readable by others (chmod 600 or 640)
  --ticket-key-file PATH       the playback tickets' key (at least 32 bytes; the same file on
                               every node, so a ticket from one opens streams on another;
                               default: a random key per process)
  --ticket-ttl D               life of a playback ticket for ?ticket= (default 60s)
  --max-queued-per-client N    backtests and sweeps waiting per client (address, or token)
                               (default 16)
  --max-queued N               backtests and sweeps waiting in total (default 256)
  --max-sweep-trials N         trials one sweep may have (default 100000)
  --heartbeat D                {"t":"hb"} after D without a message (default 5s)
  --ping-interval D            WebSocket ping period (default 5s)
  --idle-timeout D             close a WebSocket silent for D (default 30s)
  --write-timeout D            close a channel whose write takes longer (default 10s)
  --handshake-timeout D        WebSocket upgrade deadline (default 10s)
  --header-timeout D           request header and keep-alive idle deadline (default 15s)
  --body-timeout D             request body deadline (default 120s)
  --shutdown-timeout D         grace for in-flight work on SIGINT/SIGTERM (default 5s)
  --sse-retry D                EventSource reconnect delay (default 2s)
  --max-ws-message BYTES       largest control message (default 4K)
  --control-rate N             control messages per second per connection (default 20)
  --pacing-phases N            instants per frame interval at which streams' frames go out,
                               1-4: 1 costs the least CPU per frame, each stream's frames then
                               up to 33 ms behind its own start (default 2: up to 17 ms)
  --body-limit BYTES           largest CSV upload (default 64M)
  --json-body-limit BYTES      largest other request body (default 1M)
  --header-limit BYTES         largest request header (default 16K)
  --max-connections N          connections in total (default 10000)
  --max-connections-per-address N   (default 2000)
  --synthetic-run ID:BARS[:SEED[:INTERVAL[:READY_AFTER]]]
                               serve a synthetic sma_cross run (tests, demos)
)";
constexpr std::string_view kUsageEnd = R"(
durations: 250ms, 5s, 2m, or a number of seconds
)";

Error Invalid(std::string_view option, std::string msg) {
  return MakeError(ErrorCode::kValidation, std::move(msg), {{"field", std::string(option)}});
}

template <typename T>
std::optional<T> ParseInteger(std::string_view text) {
  T value{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::optional<double> ParseNumber(std::string_view text) {
  double value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() ||
      !std::isfinite(value)) {
    return std::nullopt;
  }
  return value;
}

Result<api::SyntheticRun> ParseSyntheticRun(std::string_view text) {
  const auto parts = Split(text, ':');
  const auto bad = [&] {
    return Invalid("synthetic-run", "expected ID:BARS[:SEED[:INTERVAL[:READY_AFTER]]], got '" +
                                        std::string(text) + "'");
  };
  if (parts.size() < 2 || parts.size() > 5 || parts[0].empty()) return bad();
  api::SyntheticRun run;
  run.id = std::string(parts[0]);
  const auto bars = ParseInteger<size_t>(parts[1]);
  if (!bars || *bars == 0) return bad();
  run.bars = *bars;
  if (parts.size() > 2) {
    const auto seed = ParseInteger<uint64_t>(parts[2]);
    if (!seed) return bad();
    run.seed = *seed;
  }
  if (parts.size() > 3) {
    // Checked here, at the edge, so that a bad interval is a usage error like the rest.
    if (!market::ParseInterval(parts[3])) return bad();
    run.interval = std::string(parts[3]);
  }
  if (parts.size() > 4) {
    const auto ready_after = ParseDuration(parts[4]);
    if (!ready_after) return bad();
    run.ready_after = *ready_after;
  }
  return run;
}

}  // namespace

std::string_view ServeUsage() {
  static const std::string usage =
      std::string(kUsage) + std::string(kScriptBudgetUsage) + std::string(kUsageEnd);
  return usage;
}

std::optional<Millis> ParseDuration(std::string_view text) {
  double scale = 1000;  // a bare number is seconds
  if (text.ends_with("ms")) {
    scale = 1;
    text.remove_suffix(2);
  } else if (text.ends_with("s")) {
    text.remove_suffix(1);
  } else if (text.ends_with("m")) {
    scale = 60'000;
    text.remove_suffix(1);
  }
  const auto value = ParseNumber(text);
  if (!value || *value < 0 || *value * scale > 1e12) return std::nullopt;
  return Millis{static_cast<int64_t>(std::llround(*value * scale))};
}

std::optional<uint64_t> ParseByteSize(std::string_view text) {
  uint64_t scale = 1;
  if (!text.empty()) {
    switch (text.back()) {
      case 'K':
      case 'k':
        scale = 1ull << 10;
        break;
      case 'M':
      case 'm':
        scale = 1ull << 20;
        break;
      case 'G':
      case 'g':
        scale = 1ull << 30;
        break;
      default:
        break;
    }
    if (scale != 1) text.remove_suffix(1);
  }
  const auto value = ParseInteger<uint64_t>(text);
  if (!value || *value > (uint64_t{1} << 40) / scale) return std::nullopt;
  return *value * scale;
}

Result<ServeOptions> ParseServeArgs(int argc, char** argv, int first) {
  ServeOptions options;
  server::Settings& s = options.server;
  api::Options& a = options.api;
  int workers = -1;  // not given
  std::string db_path;
  bool store_given = false;
  const auto duration = [](Millis& out) {
    return [&out](std::string_view v) {
      const auto d = ParseDuration(v);
      if (d) out = *d;
      return d.has_value();
    };
  };
  const auto bytes = [](auto& out) {
    return [&out](std::string_view v) {
      const auto b = ParseByteSize(v);
      if (!b || *b == 0 || *b > std::numeric_limits<std::decay_t<decltype(out)>>::max()) {
        return false;
      }
      out = static_cast<std::decay_t<decltype(out)>>(*b);
      return true;
    };
  };
  const auto count = [](auto& out, long long min, long long max) {
    return [&out, min, max](std::string_view v) {
      const auto n = ParseInteger<long long>(v);
      if (!n || *n < min || *n > max) return false;
      out = static_cast<std::decay_t<decltype(out)>>(*n);
      return true;
    };
  };
  const auto text = [](std::string& out) {
    return [&out](std::string_view v) {
      out = std::string(v);
      return !v.empty();
    };
  };
  bool ok_synthetic = true;
  Error synthetic_error;
  const std::map<std::string_view, std::function<bool(std::string_view)>> parsers = {
      {"host", text(s.host)},
      {"port", count(s.port, 0, 65535)},
      {"threads", count(s.threads, 1, 1024)},
      {"workers", count(workers, 0, 1024)},
      {"store",
       [&](std::string_view v) {
         store_given = true;
         return text(a.store)(v);
       }},
      {"db", text(db_path)},
      {"web-root", text(s.web_root)},
      {"allow-origin",
       [&](std::string_view v) {
         if (v.empty()) return false;
         while (v.ends_with('/')) v.remove_suffix(1);  // "http://a.b/" is the origin "http://a.b"
         s.allow_origins.emplace_back(v);
         return true;
       }},
      {"auth-token",
       [&](std::string_view v) {
         if (!CheckToken(v).ok()) return false;
         s.auth_tokens.emplace_back(v);
         return true;
       }},
      {"tokens-file", text(options.tokens_file)},
      {"ticket-key-file", text(options.ticket_key_file)},
      {"ticket-ttl", duration(s.ticket_ttl)},
      {"max-queued", count(a.max_queued, 1, 10'000'000)},
      {"max-queued-per-client", count(a.max_queued_per_client, 1, 10'000'000)},
      {"max-sweep-trials", count(a.max_sweep_trials, 1, 100'000'000)},
      {"heartbeat", duration(s.heartbeat_interval)},
      {"ping-interval", duration(s.ping_interval)},
      {"idle-timeout", duration(s.idle_timeout)},
      {"write-timeout", duration(s.write_timeout)},
      {"handshake-timeout", duration(s.handshake_timeout)},
      {"header-timeout", duration(s.header_timeout)},
      {"body-timeout", duration(s.body_timeout)},
      {"shutdown-timeout", duration(s.shutdown_timeout)},
      {"sse-retry", duration(s.sse_retry)},
      {"max-ws-message", bytes(s.max_ws_message)},
      {"body-limit", bytes(s.body_limit)},
      {"json-body-limit", bytes(s.json_body_limit)},
      {"header-limit", bytes(s.header_limit)},
      {"control-rate",
       [&](std::string_view v) {
         const auto r = ParseNumber(v);
         if (!r || *r <= 0) return false;
         s.control_rate = *r;
         return true;
       }},
      {"pacing-phases", count(s.pacing_phases, 1, 4)},
      {"max-connections", count(s.max_connections, 1, 10'000'000)},
      {"max-connections-per-address", count(s.max_connections_per_address, 1, 10'000'000)},
      {"synthetic-run",
       [&](std::string_view v) {
         auto run = ParseSyntheticRun(v);
         if (!run) {
           ok_synthetic = false;
           synthetic_error = run.error();
           return false;
         }
         a.synthetic_runs.push_back(std::move(*run));
         return true;
       }},
  };

  for (int i = first; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (!arg.starts_with("--"))
      return Invalid(arg, "unexpected argument '" + std::string(arg) + "'");
    arg.remove_prefix(2);
    std::string_view value;
    bool has_value = false;
    if (const size_t eq = arg.find('='); eq != std::string_view::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
      has_value = true;
    }
    if (IsScriptBudgetOption(arg)) {
      if (!has_value) {
        if (i + 1 >= argc) return Invalid(arg, "option '--" + std::string(arg) + "' needs a value");
        value = argv[++i];
      }
      if (Status st = SetScriptBudget(arg, value, a.script_budgets); !st.ok()) return st.error();
      continue;
    }
    const auto it = parsers.find(arg);
    if (it == parsers.end()) {
      return Invalid(arg, "unknown option '--" + std::string(arg) + "'");
    }
    if (!has_value) {
      if (i + 1 >= argc) return Invalid(arg, "option '--" + std::string(arg) + "' needs a value");
      value = argv[++i];
    }
    if (!it->second(value)) {
      if (!ok_synthetic) return synthetic_error;
      if (arg == "auth-token") {  // never echo a secret, even a malformed one
        return Invalid(arg, "bad value for '--auth-token': " + CheckToken(value).error().msg);
      }
      return Invalid(arg,
                     "bad value '" + std::string(value) + "' for '--" + std::string(arg) + "'");
    }
  }
  if (!options.tokens_file.empty()) {
    auto tokens = LoadTokensFile(options.tokens_file);
    if (!tokens) return tokens.error();
    s.auth_tokens.insert(s.auth_tokens.end(), tokens->begin(), tokens->end());
  }
  if (!options.ticket_key_file.empty()) {
    auto key = server::LoadTicketKey(options.ticket_key_file);
    if (!key) {
      Error e = key.take_error();
      e.details["field"] = "ticket-key-file";
      return e;
    }
    s.ticket_key = std::move(key).value();
  }
  if (!db_path.empty()) {
    if (store_given) {
      return Invalid("db",
                     "--db and --store both name the store; give one (--db PATH is --store "
                     "sqlite:PATH)");
    }
    a.store = "sqlite:" + db_path;
  }
  const bool postgres = store::IsPostgresUrl(a.store);
  if (workers == 0 && !postgres) {
    return Invalid("workers",
                   "--workers 0 needs a PostgreSQL store (--store postgresql://...): with SQLite "
                   "this process alone executes the runs");
  }
  if (s.ticket_ttl.count() == 0) return Invalid("ticket-ttl", "a ticket's life must be positive");
  if (s.ping_interval.count() == 0 || s.heartbeat_interval.count() == 0 ||
      s.idle_timeout.count() == 0 || s.write_timeout.count() == 0) {
    return Invalid("interval", "heartbeat, ping, idle and write intervals must be positive");
  }
  // The one place the default of both is computed.
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (s.threads == 0) s.threads = cores;
  a.workers = static_cast<size_t>(workers >= 0 ? workers : postgres ? 0 : cores);
  a.max_upload_bytes = static_cast<size_t>(s.body_limit);
  return options;
}

}  // namespace tapedeck::cli
