#include "common/crypto.h"

#include <dlfcn.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace tapedeck::crypto {
namespace {

// libcrypto's functions used here, each with its name and type.
struct Lib {
#define TD_CRYPTO_FUNCTIONS(X) X(EVP_Digest) X(EVP_sha256) X(HMAC) X(RAND_bytes) X(CRYPTO_memcmp)
#define TD_CRYPTO_MEMBER(name) decltype(&::name) name = nullptr;
  TD_CRYPTO_FUNCTIONS(TD_CRYPTO_MEMBER)
#undef TD_CRYPTO_MEMBER
};

Error LoadError(const char* soname, std::string why) {
  return MakeError(ErrorCode::kIo,
                   std::string("tapedeck needs OpenSSL's libcrypto (") + soname +
                       ", Debian package libssl3), which could not be loaded",
                   {{"library", soname}, {"dlerror", std::move(why)}});
}

// A new table from `soname` (never unloaded), or the error.
Result<const Lib*> Open(const char* soname) {
  void* handle = ::dlopen(soname, RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = ::dlerror();
    return LoadError(soname, why != nullptr ? why : "unknown");
  }
  auto* lib = new Lib;
  std::string missing;
#define TD_CRYPTO_RESOLVE(name)                                              \
  lib->name = reinterpret_cast<decltype(lib->name)>(::dlsym(handle, #name)); \
  if (lib->name == nullptr) missing += (missing.empty() ? "" : ", ") + std::string(#name);
  TD_CRYPTO_FUNCTIONS(TD_CRYPTO_RESOLVE)
#undef TD_CRYPTO_RESOLVE
  if (!missing.empty()) {
    delete lib;
    ::dlclose(handle);
    return LoadError(soname, "missing " + missing);
  }
  return static_cast<const Lib*>(lib);
}

const Result<const Lib*>& Loaded() {
  static const Result<const Lib*> loaded = Open(kLibrary);
  return loaded;
}

// The table, loading it if need be; ends the process when libcrypto cannot be loaded.
const Lib& Get() {
  const Result<const Lib*>& lib = Loaded();
  if (!lib.ok()) {
    std::fprintf(stderr, "tapedeck: %s\n", lib.error().ToString().c_str());
    std::abort();
  }
  return **lib;
}

}  // namespace

Status Load() {
  const Result<const Lib*>& lib = Loaded();
  if (!lib.ok()) return lib.error();
  return Ok();
}

Status LoadFrom(const char* soname) {
  Result<const Lib*> lib = Open(soname);
  if (!lib.ok()) return lib.take_error();
  delete *lib;  // its library stays loaded; only this table goes
  return Ok();
}

Digest Sha256(std::string_view data) {
  const Lib& lib = Get();
  Digest out{};
  unsigned int size = 0;
  lib.EVP_Digest(data.data(), data.size(), out.data(), &size, lib.EVP_sha256(), nullptr);
  return out;
}

Digest HmacSha256(std::string_view key, std::string_view data) {
  const Lib& lib = Get();
  Digest out{};
  unsigned int size = 0;
  lib.HMAC(lib.EVP_sha256(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data(), &size);
  return out;
}

bool RandomBytes(std::span<char> out) {
  return Get().RAND_bytes(reinterpret_cast<unsigned char*>(out.data()),
                          static_cast<int>(out.size())) == 1;
}

bool ConstantTimeEqual(std::string_view a, std::string_view b) {
  return a.size() == b.size() && Get().CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace tapedeck::crypto
