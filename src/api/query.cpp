#include "api/query.h"

#include <charconv>
#include <string>
#include <string_view>

namespace tapedeck::api {

bool WantsCsv(const server::Request& req) {
  if (auto f = req.Query("format")) return *f == "csv";
  const auto accept = req.http[server::http::field::accept];
  return accept.find("text/csv") != std::string_view::npos;
}

Result<size_t> SizeParam(const server::Request& req, const char* name, size_t fallback) {
  auto v = req.Query(name);
  if (!v) return fallback;
  size_t out = 0;
  const auto res = std::from_chars(v->data(), v->data() + v->size(), out);
  if (v->empty() || res.ec != std::errc() || res.ptr != v->data() + v->size()) {
    return MakeError(ErrorCode::kValidation,
                     std::string(name) + " must be a non-negative integer, got '" + *v + "'",
                     {{"field", name}});
  }
  return out;
}

}  // namespace tapedeck::api
