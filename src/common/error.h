// tapedeck's one set of error codes, and the value-or-error type every fallible call returns.
//
// Errors are values from a small, closed set of codes (after leveldb's Status). No exception
// crosses a module boundary: a fallible call returns Result<T>, which holds either a T or an
// Error{code, msg, details}. `details` names what was wrong (a field, a file and line, ...) as
// key/value strings, so the server can put it verbatim into `{"code","msg","details"}`.
//
// docs/api/error-codes.md mirrors kErrorCodes below; a unit test fails when they drift.
#pragma once

#include <cassert>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace tapedeck {

enum class ErrorCode {
  kValidation,   // bad input: a control payload, a CSV row, a request body, a parameter
  kRange,        // a position outside what exists (yet)
  kRunNotFound,  // unknown run id
  kNotFound,     // any other unknown resource (dataset, strategy, file)
  kConflict,     // the resource exists already
  kRunFailed,    // the run ended in failure
  kUnauthorized,
  kForbidden,
  kRateLimited,
  kUnavailable,
  kIo,           // the file system or the store failed
  kInternal,
};

struct ErrorCodeInfo {
  ErrorCode code;
  std::string_view name;  // as on the wire: "VALIDATION", "RUN_NOT_FOUND", ...
  int http_status;
  bool fatal_on_stream;  // a stream sends {"t":"err"} then closes
  std::string_view meaning;
};

// Every code, in enum order.
std::span<const ErrorCodeInfo> AllErrorCodes();
const ErrorCodeInfo& Info(ErrorCode code);
std::string_view Name(ErrorCode code);
int HttpStatus(ErrorCode code);

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string msg;
  std::map<std::string, std::string> details;

  // "VALIDATION: msg (k=v, k=v)": for logs and the CLI's stderr.
  std::string ToString() const;
};

Error MakeError(ErrorCode code, std::string msg,
                std::map<std::string, std::string> details = {});

// Holds either a value or an Error. Accessing the wrong side is a programming error (asserted).
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { assert(ok()); return std::get<0>(v_); }
  const T& value() const& { assert(ok()); return std::get<0>(v_); }
  T&& value() && { assert(ok()); return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const { assert(!ok()); return std::get<1>(v_); }
  Error&& take_error() { assert(!ok()); return std::get<1>(std::move(v_)); }

 private:
  std::variant<T, Error> v_;
};

// Result for calls that return nothing on success.
struct Unit {};
using Status = Result<Unit>;
inline Status Ok() { return Unit{}; }

}  // namespace tapedeck

// Propagates the error of a Result/Status expression.
#define TD_TRY(expr)                              \
  do {                                            \
    if (auto td_try_r = (expr); !td_try_r.ok()) { \
      return td_try_r.take_error();               \
    }                                             \
  } while (0)

// Declares `decl` bound to the value of a Result expression, or returns its error.
// Usage: TD_ASSIGN_OR_RETURN(Stmt& s, db.Prepare("...")); — the Result lives on in the scope (a
// move-only value such as a pg::Txn is bound by reference: TD_ASSIGN_OR_RETURN(pg::Txn& txn, ...)).
#define TD_CONCAT_INNER_(a, b) a##b
#define TD_CONCAT_(a, b) TD_CONCAT_INNER_(a, b)
#define TD_ASSIGN_OR_RETURN(decl, expr) TD_ASSIGN_IMPL_(TD_CONCAT_(td_r_, __LINE__), decl, expr)
#define TD_ASSIGN_IMPL_(tmp, decl, expr)  \
  auto tmp = (expr);                      \
  if (!tmp.ok()) return tmp.take_error(); \
  decl = *tmp
