#include "server/access.h"

#include <sys/random.h>
#include <sys/stat.h>

#include <boost/algorithm/hex.hpp>
#include <boost/beast/core/string.hpp>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>

#include "common/crypto.h"

namespace tapedeck::server {
namespace {

constexpr size_t kKeyBytes = 32;

std::string Sha256(std::string_view data) {
  const crypto::Digest digest = crypto::Sha256(data);
  return std::string(reinterpret_cast<const char*>(digest.data()), digest.size());
}

bool ConstantTimeEqual(std::string_view a, std::string_view b) {
  return crypto::ConstantTimeEqual(a, b);
}

Error Unauthorized(std::string msg, std::map<std::string, std::string> details = {}) {
  return MakeError(ErrorCode::kUnauthorized, std::move(msg), std::move(details));
}

// Fills `out` from the kernel's CSPRNG (getrandom); false when it fails.
bool KernelRandomBytes(std::string& out) {
  size_t filled = 0;
  while (filled < out.size()) {
    const ssize_t got = ::getrandom(out.data() + filled, out.size() - filled, 0);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return false;
    filled += static_cast<size_t>(got);
  }
  return true;
}

int64_t ToMillis(Access::Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

}  // namespace

Access::Access(const std::vector<std::string>& tokens, std::chrono::milliseconds ttl,
               std::string key)
    : ttl_(ttl), key_(std::move(key)) {
  for (const auto& token : tokens) digests_.push_back(Sha256(token));
}

Result<std::shared_ptr<const Access>> Access::Create(const std::vector<std::string>& tokens,
                                                     std::chrono::milliseconds ttl,
                                                     std::string key) {
  // libcrypto is loaded on first use (common/crypto.h). With tokens, here: a missing one is an
  // error at start rather than the end of the process at the first token checked. Without, it
  // is loaded by the first ticket or script, if any: a server that only plays and runs never
  // maps it (3.4 MB resident once initialised), hence the ticket key from the kernel's CSPRNG
  // rather than libcrypto's.
  if (!tokens.empty()) {
    if (Status loaded = crypto::Load(); !loaded.ok()) return loaded.take_error();
  }
  if (key.empty()) {
    key.assign(kKeyBytes, '\0');
    if (!KernelRandomBytes(key)) {
      return MakeError(ErrorCode::kInternal, "no random bytes for the ticket key");
    }
  }
  return std::shared_ptr<const Access>(std::make_shared<Access>(tokens, ttl, std::move(key)));
}

Result<std::string> Access::Authenticate(std::optional<std::string_view> authorization) const {
  if (!enabled()) return std::string();
  if (!authorization) return Unauthorized("this server needs a bearer token");
  std::string_view value = *authorization;
  constexpr std::string_view kScheme = "Bearer";
  const bool bearer = value.size() > kScheme.size() &&
                      boost::beast::iequals(value.substr(0, kScheme.size()), kScheme) &&
                      (value[kScheme.size()] == ' ' || value[kScheme.size()] == '\t');
  if (!bearer) {
    return Unauthorized("the Authorization header must be 'Bearer <token>'",
                        {{"field", "Authorization"}});
  }
  value.remove_prefix(kScheme.size());
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  // Every configured token is compared, whichever matches, so the time taken says nothing about
  // which one (or how much of one) was right.
  const std::string presented = Sha256(value);
  size_t match = 0;
  for (size_t i = 0; i < digests_.size(); ++i) {
    if (ConstantTimeEqual(presented, digests_[i]) && match == 0) match = i + 1;
  }
  if (match == 0) return Unauthorized("invalid token", {{"field", "Authorization"}});
  return "token:" + std::to_string(match);
}

std::string Access::Mac(std::string_view run_id, int64_t expiry_ms) const {
  // Length-prefixed, so no run id and expiry can be shifted into another pair's bytes.
  const std::string message = "tapedeck-ticket-v1:" + std::to_string(run_id.size()) + ":" +
                              std::string(run_id) + ":" + std::to_string(expiry_ms);
  const crypto::Digest mac = crypto::HmacSha256(key_, message);
  std::string hex;
  boost::algorithm::hex_lower(mac.begin(), mac.end(), std::back_inserter(hex));
  return hex;
}

Access::Ticket Access::Issue(std::string_view run_id, Clock::time_point now) const {
  const int64_t expiry = ToMillis(now) + ttl_.count();
  return {std::to_string(expiry) + "." + Mac(run_id, expiry),
          Clock::time_point(
              std::chrono::duration_cast<Clock::duration>(std::chrono::milliseconds(expiry)))};
}

Status Access::Verify(std::string_view ticket, std::string_view run_id,
                      Clock::time_point now) const {
  const size_t dot = ticket.find('.');
  int64_t expiry = 0;
  if (dot == std::string_view::npos) return Unauthorized("malformed ticket", {{"field", "ticket"}});
  const auto [end, ec] = std::from_chars(ticket.data(), ticket.data() + dot, expiry);
  if (ec != std::errc() || end != ticket.data() + dot) {
    return Unauthorized("malformed ticket", {{"field", "ticket"}});
  }
  if (!ConstantTimeEqual(ticket.substr(dot + 1), Mac(run_id, expiry))) {
    return Unauthorized("this ticket does not open this run", {{"field", "ticket"}});
  }
  if (ToMillis(now) >= expiry) {
    return Unauthorized("the ticket has expired; ask POST /backtests/{id}/ticket for a new one",
                        {{"field", "ticket"}});
  }
  return Ok();
}

Result<std::string> LoadTicketKey(const std::string& path) {
  const auto bad = [&](std::string msg) {
    return MakeError(ErrorCode::kValidation, "the ticket key file " + path + " " + std::move(msg),
                     {{"path", path}});
  };
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0)
    return bad("cannot be read: " + std::string(std::strerror(errno)));
  if (!S_ISREG(info.st_mode)) return bad("is not a regular file");
  // As ssh does with keys: a key every user of the machine can read lets any of them mint tickets.
  if ((info.st_mode & S_IRWXO) != 0) {
    return bad("is open to every user of this machine; chmod o-rwx it (600 or 640)");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return bad("cannot be read: " + std::string(std::strerror(errno)));
  std::ostringstream contents;
  contents << in.rdbuf();
  if (in.bad()) return bad("cannot be read: " + std::string(std::strerror(errno)));
  std::string key = std::move(contents).str();
  const auto blank = [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
  };
  while (!key.empty() && blank(key.back())) key.pop_back();
  size_t start = 0;
  while (start < key.size() && blank(key[start])) ++start;
  key.erase(0, start);
  if (key.size() < kMinTicketKeyBytes) {
    return bad("holds " + std::to_string(key.size()) +
               " byte(s) once trimmed; a ticket key needs at least " +
               std::to_string(kMinTicketKeyBytes) + " (e.g. `openssl rand -hex 32`)");
  }
  return key;
}

}  // namespace tapedeck::server
