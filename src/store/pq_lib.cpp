#include "store/pq_lib.h"

#include <dlfcn.h>

#include <atomic>
#include <cassert>
#include <string>

namespace tapedeck::store::internal::pg {
namespace {

// Set once by LoadPq; read by Pq().
std::atomic<const PqLib*> g_loaded{nullptr};

Error LoadError(const char* soname, std::string why) {
  return MakeError(ErrorCode::kIo,
                   std::string("a PostgreSQL store needs libpq (") + soname +
                       ", Debian package libpq5, version 14 or later), which could not be loaded",
                   {{"store", "postgresql"}, {"library", soname}, {"dlerror", std::move(why)}});
}

}  // namespace

Result<const PqLib*> LoadPqFrom(const char* soname) {
  void* handle = ::dlopen(soname, RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = ::dlerror();
    return LoadError(soname, why != nullptr ? why : "unknown");
  }
  // Never closed: the table points into the library for the rest of the process.
  auto* lib = new PqLib;
  std::string missing;
#define TD_PQ_RESOLVE(name)                                                  \
  lib->name = reinterpret_cast<decltype(lib->name)>(::dlsym(handle, #name)); \
  if (lib->name == nullptr) missing += (missing.empty() ? "" : ", ") + std::string(#name);
  TD_PQ_FUNCTIONS(TD_PQ_RESOLVE)
#undef TD_PQ_RESOLVE
  if (!missing.empty()) {
    delete lib;
    ::dlclose(handle);
    return LoadError(soname, "missing " + missing);
  }
  return static_cast<const PqLib*>(lib);
}

Result<const PqLib*> LoadPq() {
  // A function-local static: loaded once, thread-safe, the outcome (a failure too) kept.
  static const Result<const PqLib*> loaded = [] {
    Result<const PqLib*> r = LoadPqFrom(kPqLibrary);
    if (r.ok()) g_loaded.store(*r, std::memory_order_release);
    return r;
  }();
  return loaded;
}

const PqLib& Pq() {
  const PqLib* lib = g_loaded.load(std::memory_order_acquire);
  assert(lib != nullptr && "Pq() before a successful LoadPq()");
  return *lib;
}

}  // namespace tapedeck::store::internal::pg
