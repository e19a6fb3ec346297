// Who may open a playback stream or read a response from a browser page: the server's own origin
// and the --allow-origin list (against cross-site WebSocket hijacking; CORS follows the same list).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tapedeck::server {

// Whether a WebSocket upgrade with this Origin header may proceed. No Origin header (nullopt):
// a non-browser client, allowed. Otherwise the origin must be the server's own — scheme http or
// https and the authority equal to the Host header (case-insensitive; default ports implied) — or
// one of `allowed` (compared case-insensitively, trailing slash ignored). "null" is refused.
bool OriginAllowed(std::optional<std::string_view> origin, std::string_view host,
                   const std::vector<std::string>& allowed);

// The origin to echo in Access-Control-Allow-Origin for a cross-origin request: `origin` when it
// is in `allowed`, else nullopt (same-origin requests need no CORS header).
std::optional<std::string> CorsOrigin(std::optional<std::string_view> origin,
                                      const std::vector<std::string>& allowed);

}  // namespace tapedeck::server
