// The command line of `tapedeck serve` (and of `tapedeck` with options but no command): the
// network's settings for the server, the REST side's options for the api.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "api/options.h"
#include "common/error.h"
#include "server/settings.h"

namespace tapedeck::cli {

struct ServeOptions {
  server::Settings server;      // where to listen and every network interval and limit
  api::Options api;             // the store, workers, queue limits, synthetic runs
  std::string tokens_file;      // --tokens-file, already read into server.auth_tokens
  std::string ticket_key_file;  // --ticket-key-file, already read into server.ticket_key
};

// Parses `tapedeck serve` options from argv[first..argc): `--key value` or `--key=value`.
//   --host H  --port P  --threads N  --workers N  --store SPEC  --db PATH  --web-root DIR
//   --allow-origin ORIGIN (repeatable)
//   --auth-token TOKEN (repeatable)  --tokens-file PATH  --ticket-key-file PATH  --ticket-ttl D
//   --max-queued N  --max-queued-per-client N
//   --heartbeat D  --ping-interval D  --idle-timeout D  --write-timeout D  --handshake-timeout D
//   --header-timeout D  --body-timeout D  --shutdown-timeout D  --sse-retry D
//     (D: "250ms", "5s", "2m", or a bare number of seconds)
//   --max-ws-message BYTES  --body-limit BYTES  --json-body-limit BYTES  --header-limit BYTES
//     (BYTES: a number with an optional K, M or G suffix, powers of 1024)
//   --control-rate PER_SECOND  --max-connections N  --max-connections-per-address N
//   --synthetic-run ID:BARS[:SEED[:INTERVAL[:READY_AFTER]]] (repeatable)
// --store SPEC goes to api.store as store::OpenStore takes it; --db PATH is --store sqlite:PATH
// (giving both is an error). --threads and --workers default to one per core, resolved here (and
// nowhere else), except --workers with a PostgreSQL store: 0 (a stateless node; `tapedeck worker`
// processes execute the work), and 0 is allowed only there. --body-limit caps both what the server
// reads and what a CSV upload may hold (api.max_upload_bytes). api.sample_csv is left empty for
// the caller.
// Errors: VALIDATION naming the option in details["field"] for an unknown option, a missing or
// malformed value, or a value out of range; for --tokens-file, whatever LoadTokensFile reports;
// for --ticket-key-file, whatever server::LoadTicketKey reports (field "ticket-key-file").
// Reads the tokens file and the ticket key file, if named, into server.auth_tokens and
// server.ticket_key.
Result<ServeOptions> ParseServeArgs(int argc, char** argv, int first = 2);

// The usage text of the options above.
std::string_view ServeUsage();

// "250ms", "5s", "2m", "1.5" (seconds) -> milliseconds; nullopt for anything else or a negative.
std::optional<std::chrono::milliseconds> ParseDuration(std::string_view text);
// "4096", "4K", "64M", "1G" -> bytes; nullopt for anything else.
std::optional<uint64_t> ParseByteSize(std::string_view text);

}  // namespace tapedeck::cli
