// Bearer tokens as `tapedeck serve` takes them (--auth-token, --tokens-file): what a usable token
// looks like and how a tokens file is read. The server compares the tokens it is given
// (server::Settings::auth_tokens); which tokens are acceptable to configure is decided here, where
// they enter.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace tapedeck::cli {

// The tokens of a tokens file: one per line, surrounding blanks trimmed; empty lines and lines
// starting with '#' are skipped. Errors (VALIDATION naming `tokens-file`, never quoting a
// token): the file cannot be read; it is readable or writable by others than its owner and group
// (as ssh does with keys: a token anyone on the machine can read is no secret); it holds no token;
// a token fails CheckToken (details: line).
Result<std::vector<std::string>> LoadTokensFile(const std::string& path);

// A usable bearer token: at least 16 characters of RFC 6750's token68 alphabet (letters, digits,
// "-._~+/", then optional "=" padding), so it fits the header as is. Errors: VALIDATION without
// the token in the message.
Status CheckToken(std::string_view token);

}  // namespace tapedeck::cli
