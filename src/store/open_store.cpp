// OpenStore: the one place that turns a --store value into a Store; and the Store defaults that
// belong to no one store (LastCompleteTimings, CreateRunAdmitted).
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "store/store.h"

namespace tapedeck::store {

bool IsPostgresUrl(std::string_view spec) {
  return spec.starts_with("postgresql://") || spec.starts_with("postgres://");
}

Result<std::unique_ptr<Store>> OpenStore(const std::string& spec, StoreOptions options) {
  if (IsPostgresUrl(spec)) return OpenPostgresStore(spec, std::move(options));
  constexpr std::string_view kSqlite = "sqlite:";
  std::string path = spec.starts_with(kSqlite) ? spec.substr(kSqlite.size()) : spec;
  // "mysql://..." is a scheme we do not speak, not a relative path to create a file at.
  const bool other_scheme = path.find("://") != std::string::npos;
  if (path.empty() || other_scheme) {
    return MakeError(ErrorCode::kValidation,
                     other_scheme ? "the store must be postgresql://..., postgres://..., "
                                    "sqlite:PATH or a PATH"
                                  : "the store's path is empty",
                     {{"field", "store"}});
  }
  return OpenSqliteStore(path, std::move(options));
}

Store::CompleteTimings& Store::LastCompleteTimings() {
  thread_local CompleteTimings timings;
  return timings;
}

Result<std::string> Store::CreateRunAdmitted(
    const RunSpec& spec, const std::function<Status(const std::string& id)>& admit) {
  TD_ASSIGN_OR_RETURN(std::string id, CreateRun(spec));
  if (Status admitted = admit(id); !admitted.ok()) {
    (void)DeleteRun(id);
    return admitted.take_error();
  }
  return id;
}

}  // namespace tapedeck::store
