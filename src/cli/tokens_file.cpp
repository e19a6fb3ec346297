#include "cli/tokens_file.h"

#include <sys/stat.h>

#include <cctype>
#include <fstream>
#include <map>

namespace tapedeck::cli {
namespace {

// RFC 6750's b64token: what a bearer token may hold so it travels in the header unchanged.
bool IsTokenChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~' || c == '+' || c == '/';
}

constexpr size_t kMinTokenLength = 16;

}  // namespace

Status CheckToken(std::string_view token) {
  size_t n = 0;
  while (n < token.size() && IsTokenChar(token[n])) ++n;
  const size_t body = n;
  while (n < token.size() && token[n] == '=') ++n;
  if (body == 0 || n != token.size()) {
    return MakeError(ErrorCode::kValidation,
                     "a token may hold only letters, digits and -._~+/ (then = padding)");
  }
  if (token.size() < kMinTokenLength) {
    return MakeError(ErrorCode::kValidation, "a token must have at least " +
                                                 std::to_string(kMinTokenLength) + " characters");
  }
  return Ok();
}

Result<std::vector<std::string>> LoadTokensFile(const std::string& path) {
  const auto bad = [&](std::string msg, std::map<std::string, std::string> details = {}) {
    details["field"] = "tokens-file";
    details["path"] = path;
    return MakeError(ErrorCode::kValidation, std::move(msg), std::move(details));
  };
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) return bad("cannot read the tokens file " + path);
  if ((info.st_mode & S_IRWXO) != 0) {
    return bad("the tokens file " + path +
               " is open to every user of this machine; chmod o-rwx it (600 or 640)");
  }
  std::ifstream in(path);
  if (!in) return bad("cannot read the tokens file " + path);
  std::vector<std::string> tokens;
  std::string line;
  for (size_t number = 1; std::getline(in, line); ++number) {
    std::string_view token = line;
    while (!token.empty() && std::isspace(static_cast<unsigned char>(token.front()))) {
      token.remove_prefix(1);
    }
    while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back()))) {
      token.remove_suffix(1);
    }
    if (token.empty() || token.starts_with('#')) continue;
    if (auto ok = CheckToken(token); !ok) {
      return bad(path + ":" + std::to_string(number) + ": " + ok.error().msg,
                 {{"line", std::to_string(number)}});
    }
    tokens.emplace_back(token);
  }
  if (tokens.empty()) return bad("the tokens file " + path + " holds no token");
  return tokens;
}

}  // namespace tapedeck::cli
