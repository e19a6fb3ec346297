#include "common/error.h"

#include <array>

namespace tapedeck {
namespace {

constexpr std::array<ErrorCodeInfo, 12> kErrorCodes{{
    {ErrorCode::kValidation, "VALIDATION", 400, false,
     "The input was malformed: a control payload, a CSV row, a request body or a parameter. "
     "`details` names the field."},
    {ErrorCode::kRange, "RANGE", 416, false,
     "A position outside what exists: an out-of-range seek, or past what a still-running "
     "backtest has produced."},
    {ErrorCode::kRunNotFound, "RUN_NOT_FOUND", 404, true, "No run has this id."},
    {ErrorCode::kNotFound, "NOT_FOUND", 404, true,
     "No such resource (dataset, strategy, file or route)."},
    {ErrorCode::kConflict, "CONFLICT", 409, false, "The resource exists already."},
    {ErrorCode::kRunFailed, "RUN_FAILED", 409, true,
     "The run failed (or was interrupted by a crash) and has nothing to play."},
    {ErrorCode::kUnauthorized, "UNAUTHORIZED", 401, true, "Missing or wrong credentials."},
    {ErrorCode::kForbidden, "FORBIDDEN", 403, true,
     "The request is not allowed from here (for example a WebSocket from another origin)."},
    {ErrorCode::kRateLimited, "RATE_LIMITED", 429, false, "Too many requests or connections."},
    {ErrorCode::kUnavailable, "UNAVAILABLE", 503, true,
     "The server cannot take this now (full queue, store unavailable, shutting down)."},
    {ErrorCode::kIo, "IO", 500, true, "Reading or writing a file or the store failed."},
    {ErrorCode::kInternal, "INTERNAL", 500, true, "A bug or an unexpected failure."},
}};

}  // namespace

std::span<const ErrorCodeInfo> AllErrorCodes() { return kErrorCodes; }

const ErrorCodeInfo& Info(ErrorCode code) {
  const ErrorCodeInfo& info = kErrorCodes[static_cast<size_t>(code)];
  assert(info.code == code);
  return info;
}

std::string_view Name(ErrorCode code) { return Info(code).name; }
int HttpStatus(ErrorCode code) { return Info(code).http_status; }

std::string Error::ToString() const {
  std::string out(Name(code));
  out += ": ";
  out += msg;
  if (!details.empty()) {
    out += " (";
    bool first = true;
    for (const auto& [k, v] : details) {
      if (!first) out += ", ";
      first = false;
      out += k;
      out += '=';
      out += v;
    }
    out += ')';
  }
  return out;
}

Error MakeError(ErrorCode code, std::string msg, std::map<std::string, std::string> details) {
  return Error{code, std::move(msg), std::move(details)};
}

}  // namespace tapedeck
