// Who may use the server: optional bearer tokens for REST, and
// short-lived playback tickets for the WebSocket and SSE endpoints, whose browser APIs cannot set
// an Authorization header.
//
// Tokens are compared in constant time (their SHA-256 digests, with CRYPTO_memcmp, against every
// configured token). A ticket is "EXPIRY.MAC": EXPIRY in milliseconds since the Unix epoch, MAC
// the hex HMAC-SHA256 (OpenSSL) of the run id and EXPIRY under a key that lives only in this
// process, so tickets die with it. Neither tokens nor tickets are ever logged or put into errors.
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

  // An Access with a random 256-bit key (OpenSSL's RAND_bytes).
  // Errors: INTERNAL when the random generator fails.
  static Result<std::shared_ptr<const Access>> Create(const std::vector<std::string>& tokens,
                                                      std::chrono::milliseconds ttl);

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
  // when it is malformed, made for another run or by another process (the MAC does not match), or
  // expired.
  Status Verify(std::string_view ticket, std::string_view run_id, Clock::time_point now) const;

  std::chrono::milliseconds ttl() const { return ttl_; }

 private:
  std::string Mac(std::string_view run_id, int64_t expiry_ms) const;

  std::vector<std::string> digests_;  // SHA-256 of each token, in configuration order
  std::chrono::milliseconds ttl_;
  std::string key_;
};

}  // namespace tapedeck::server
