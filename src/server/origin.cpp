#include "server/origin.h"

#include <algorithm>
#include <cctype>

namespace tapedeck::server {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// "host:80" for http and "host:443" for https name the same authority as "host".
std::string WithoutDefaultPort(std::string authority, std::string_view scheme) {
  const std::string_view default_port = scheme == "https" ? ":443" : ":80";
  if (authority.ends_with(default_port)) authority.resize(authority.size() - default_port.size());
  return authority;
}

bool Listed(std::string_view origin, const std::vector<std::string>& allowed) {
  std::string wanted = Lower(origin);
  while (wanted.ends_with('/')) wanted.pop_back();
  return std::any_of(allowed.begin(), allowed.end(), [&](const std::string& entry) {
    std::string listed = Lower(entry);
    while (listed.ends_with('/')) listed.pop_back();
    return listed == "*" || listed == wanted;
  });
}

}  // namespace

bool OriginAllowed(std::optional<std::string_view> origin, std::string_view host,
                   const std::vector<std::string>& allowed) {
  if (!origin) return true;
  if (Listed(*origin, allowed) && Lower(*origin) != "null") return true;
  const std::string lower = Lower(*origin);
  std::string_view scheme;
  std::string_view authority(lower);
  if (authority.starts_with("http://")) {
    scheme = "http";
    authority.remove_prefix(7);
  } else if (authority.starts_with("https://")) {
    scheme = "https";
    authority.remove_prefix(8);
  } else {
    return false;
  }
  if (authority.empty() || authority.find_first_of("/?#@") != std::string_view::npos) return false;
  return WithoutDefaultPort(std::string(authority), scheme) ==
         WithoutDefaultPort(Lower(host), scheme);
}

std::optional<std::string> CorsOrigin(std::optional<std::string_view> origin,
                                      const std::vector<std::string>& allowed) {
  if (!origin || Lower(*origin) == "null" || !Listed(*origin, allowed)) return std::nullopt;
  return std::string(*origin);
}

}  // namespace tapedeck::server
