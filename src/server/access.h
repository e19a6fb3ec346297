// Who may use the server: optional bearer tokens for REST, and
// short-lived playback tickets for the WebSocket and SSE endpoints, whose browser APIs cannot set
// an Authorization header.
//
// Tokens are compared in constant time (their SHA-256 digests, with CRYPTO_memcmp, against every
// configured token). A ticket is "EXPIRY.MAC": EXPIRY in milliseconds since the Unix epoch, MAC
// the hex HMAC-SHA256 (OpenSSL) of the run id and EXPIRY under the ticket key: by default a random
// one that lives only in this process, so tickets die with it; or a key shared by every node of a
// deployment (LoadTicketKey), so a ticket issued by one node opens the stream on another. Neither
// tokens, tickets nor the key are ever logged or put into errors.
//
// Thread-safety: const after construction; every method may run on any thread.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace tapedeck::server {

class Access {
 public:
  using Clock = std::chrono::system_clock;

  struct Ticket {
    std::string value;          // for ?ticket=
    Clock::time_point expires;  // when it stops opening streams
  };

  // `tokens`: the accepted bearer tokens (none: access control is off). `ttl`: a ticket's life.
  // `key`: the HMAC key of tickets (tests pass a fixed one; Create draws a random one).
  Access(const std::vector<std::string>& tokens, std::chrono::milliseconds ttl, std::string key);

  // An Access with `key` as the ticket key or, when `key` is empty, a random 256-bit one
  // (the kernel's getrandom; libcrypto is loaded here only when `tokens` is not empty, else on
  // first use). Errors: INTERNAL when the random generator fails; IO when tokens are given and
  // libcrypto cannot be loaded (common/crypto.h).
  static Result<std::shared_ptr<const Access>> Create(const std::vector<std::string>& tokens,
                                                      std::chrono::milliseconds ttl,
                                                      std::string key = {});

  // Whether any token is configured. When not, Authenticate passes everyone and streams need no
  // ticket (tickets are still issued, and Verify still checks them).
  bool enabled() const { return !digests_.empty(); }

  // Checks an Authorization header value ("Bearer <token>"; nullopt when the request has none).
  // Returns who the request counts as for per-client limits: "token:N" for the N-th configured
  // token (1-based; never the token itself), or "" when access control is off.
  // Errors: UNAUTHORIZED, without the presented value in the error.
  Result<std::string> Authenticate(std::optional<std::string_view> authorization) const;

  // A ticket for run `run_id`, valid until now + ttl.
  Ticket Issue(std::string_view run_id, Clock::time_point now) const;

  // Checks a ticket for run `run_id` at `now`. Errors: UNAUTHORIZED naming `ticket` in details
  // when it is malformed, made for another run or under another key (the MAC does not match), or
  // expired.
  Status Verify(std::string_view ticket, std::string_view run_id, Clock::time_point now) const;

  std::chrono::milliseconds ttl() const { return ttl_; }

 private:
  std::string Mac(std::string_view run_id, int64_t expiry_ms) const;

  std::vector<std::string> digests_;  // SHA-256 of each token, in configuration order
  std::chrono::milliseconds ttl_;
  std::string key_;
};

// The shortest ticket key LoadTicketKey accepts: HMAC-SHA256's own block of strength.
inline constexpr size_t kMinTicketKeyBytes = 32;

// The ticket key held in the file at `path`: its contents with surrounding whitespace (spaces,
// tabs, newlines) trimmed, taken as bytes (any text; e.g. `openssl rand -hex 32`). Errors
// (VALIDATION, the path in the message and details["path"], the key never quoted): the file
// cannot be read (the system's reason, e.g. "No such file or directory"); it is readable or
// writable by others than its owner and group (chmod 600 or 640); it holds fewer than
// kMinTicketKeyBytes bytes once trimmed (how many it holds is said).
Result<std::string> LoadTicketKey(const std::string& path);

}  // namespace tapedeck::server
