// Internal to src/store: libpq's functions, taken from libpq.so.5 when a PostgreSQL store is first
// opened (dlopen) instead of at the process's start. The binary is not linked against libpq: a
// process that never opens a postgresql:// store (`tapedeck backtest`, `tapedeck serve` over
// SQLite) does not map libpq and the ~20 libraries it pulls in (Kerberos, LDAP, GnuTLS, SASL, ...),
// which were ~3.5 ms of every start (docs/perf.md, "Whole backtest from CSV").
//
// libpq-fe.h still gives the types and constants; only the calls go through the table. Each
// member has the name and type of the libpq function it points to: `Pq().PQclear(res)`.
//
// Errors: LoadPq fails with IO when libpq.so.5 cannot be loaded or lacks a function this layer
// calls (libpq before 14 has no pipeline mode): the message names libpq.so.5 and the package that
// holds it, details `library`, `dlerror`.
//
// Thread-safety: LoadPq may be called from any thread; the first call loads, every later call
// returns the same outcome. Pq() is only for code running after a successful LoadPq (a Conn
// exists): it does not load.
#pragma once

#include <libpq-fe.h>

#include "common/error.h"

namespace tapedeck::store::internal::pg {

struct PqLib {
// clang-format off
#define TD_PQ_FUNCTIONS(X)                                                                      \
  X(PQclear) X(PQcmdStatus) X(PQcmdTuples) X(PQconnectdbParams) X(PQconninfoFree)               \
  X(PQconninfoParse) X(PQconsumeInput) X(PQenterPipelineMode) X(PQerrorMessage) X(PQexec)       \
  X(PQexecPrepared) X(PQexitPipelineMode) X(PQfinish) X(PQfreemem) X(PQftype) X(PQgetResult)    \
  X(PQgetisnull) X(PQgetlength) X(PQgetvalue) X(PQnfields) X(PQnotifies) X(PQntuples)          \
  X(PQpipelineSync) X(PQprepare) X(PQresultErrorField) X(PQresultErrorMessage)                 \
  X(PQresultStatus) X(PQsendPrepare) X(PQsendQueryPrepared) X(PQsetNoticeProcessor) X(PQsocket) \
  X(PQstatus)
// clang-format on
#define TD_PQ_MEMBER(name) decltype(&::name) name = nullptr;
  TD_PQ_FUNCTIONS(TD_PQ_MEMBER)
#undef TD_PQ_MEMBER
};

// The shared object loaded: libpq's soname.
inline constexpr const char* kPqLibrary = "libpq.so.5";

// Loads libpq (once per process) and resolves every function of PqLib.
Result<const PqLib*> LoadPq();

// Loads `soname` into a new table each call, without caching (for tests of the failure).
Result<const PqLib*> LoadPqFrom(const char* soname);

// REQUIRES: an earlier LoadPq() succeeded.
const PqLib& Pq();

}  // namespace tapedeck::store::internal::pg
