// PgStore: strategy scripts. Sources live once each in script_sources, keyed by their SHA-256;
// a named script's versions are rows of strategy_versions pointing at theirs.
#include <chrono>
#include <string>

#include "store/pg_common.h"
#include "store/pg_store.h"

namespace tapedeck::store::internal {
namespace {

constexpr size_t kMaxNameBytes = 64;
// pg_advisory_xact_lock(key1, key2)'s first key for "a script's next version": "TDSV". (The
// two-key locks are a space apart from the one-key ones, such as the schema's migration lock.)
constexpr int64_t kScriptLockSpace = 0x54445356;

Error NoScript(std::string_view name) {
  return MakeError(ErrorCode::kNotFound, "no strategy script named '" + std::string(name) + "'",
                   {{"strategy", std::string(name)}});
}

#define TD_PG_VERSION_COLUMNS "name, version, sha256, params, created_us"

// Reads name, version, sha256, params, created_us from columns 0..4 of row `r`.
ScriptVersion ReadVersion(const pg::Rows& rows, int r) {
  ScriptVersion v;
  v.name = rows.Text(r, 0);
  v.version = rows.Int(r, 1);
  v.sha256 = rows.Text(r, 2);
  v.params_json = rows.Text(r, 3);
  v.created = FromMicros(rows.Int(r, 4));
  return v;
}

}  // namespace

Error PgCorrupt(const pg::Conn& conn, std::string what) {
  return MakeError(ErrorCode::kIo, "the store holds damaged data: " + std::move(what),
                   {{"server", conn.server()}});
}

Status InsertScriptSource(pg::Conn& conn, std::string_view sha256, std::string_view source) {
  const int64_t now =
      ToMicros(std::chrono::time_point_cast<Micros>(std::chrono::system_clock::now()));
  TD_TRY(
      conn.Run("INSERT INTO script_sources(sha256, source, created_us) VALUES($1, $2, $3) "
               "ON CONFLICT(sha256) DO NOTHING",
               pg::Params().Add(sha256).Add(source).Add(now)));
  return Ok();
}

Status KeepInlineSource(pg::Conn& conn, const RunSpec& spec, std::string_view sha256) {
  if (spec.script_source.empty()) return Ok();
  return InsertScriptSource(conn, sha256, spec.script_source);
}

Result<SavedScript> PgStore::SaveScript(std::string_view name, std::string_view source,
                                        std::string_view params_json) {
  if (name.empty() || name.size() > kMaxNameBytes) {
    return MakeError(ErrorCode::kValidation, "a script's name must be 1 to 64 bytes",
                     {{"field", "name"}});
  }
  const std::string sha256 = Sha256Hex(source);
  TD_ASSIGN_OR_RETURN(Lease & conn, Borrow());
  TD_ASSIGN_OR_RETURN(pg::Txn & txn, pg::Txn::Begin(*conn));
  // Saves of one name take turns (whichever process makes them): each reads the latest version
  // and writes the next. hashtext may give two names one key; they then merely wait for each other.
  TD_TRY(conn->Query("SELECT pg_advisory_xact_lock($1::integer, hashtext($2))",
                     pg::Params().Add(kScriptLockSpace).Add(name)));
  SavedScript out;
  {
    TD_ASSIGN_OR_RETURN(pg::Rows & rows,
                        conn->Query("SELECT " TD_PG_VERSION_COLUMNS " FROM strategy_versions "
                                    "WHERE name = $1 ORDER BY version DESC LIMIT 1",
                                    pg::Params().Add(name)));
    if (rows.size() > 0) {
      out.script = ReadVersion(rows, 0);
      if (out.script.sha256 == sha256) {
        out.script.source = std::string(source);
        return out;  // identical to the latest: nothing to write (the Txn rolls back)
      }
    }
  }
  TD_TRY(InsertScriptSource(*conn, sha256, source));
  out.script.name = std::string(name);
  out.script.version += 1;
  out.script.sha256 = sha256;
  out.script.source = std::string(source);
  out.script.params_json = std::string(params_json);
  out.script.created = Now();
  out.created = true;
  TD_TRY(conn->Run("INSERT INTO strategy_versions(" TD_PG_VERSION_COLUMNS
                   ") VALUES($1, $2, $3, $4, $5)",
                   pg::Params()
                       .Add(name)
                       .Add(out.script.version)
                       .Add(std::string_view(sha256))
                       .Add(params_json)
                       .Add(ToMicros(out.script.created))));
  TD_TRY(txn.Commit());
  return out;
}

Result<ScriptVersion> PgStore::GetScript(std::string_view name, std::optional<int64_t> version) {
  TD_ASSIGN_OR_RETURN(Lease & conn, Borrow());
  {
    // One statement: a version and its source are read from one snapshot.
    TD_ASSIGN_OR_RETURN(
        pg::Rows & rows,
        conn->Query("SELECT v.name, v.version, v.sha256, v.params, v.created_us, c.source "
                    "FROM strategy_versions v JOIN script_sources c ON c.sha256 = v.sha256 "
                    "WHERE v.name = $1 AND ($2::bigint IS NULL OR v.version = $2::bigint) "
                    "ORDER BY v.version DESC LIMIT 1",
                    pg::Params().Add(name).Add(version)));
    if (rows.size() > 0) {
      ScriptVersion v = ReadVersion(rows, 0);
      v.source = rows.Text(0, 5);
      return v;
    }
  }
  if (!version) return NoScript(name);
  TD_ASSIGN_OR_RETURN(pg::Rows & any,
                      conn->Query("SELECT 1 FROM strategy_versions WHERE name = $1 LIMIT 1",
                                  pg::Params().Add(name)));
  if (any.size() == 0) return NoScript(name);
  return MakeError(
      ErrorCode::kNotFound,
      "strategy '" + std::string(name) + "' has no version " + std::to_string(*version),
      {{"strategy", std::string(name)}, {"version", std::to_string(*version)}});
}

Result<std::vector<ScriptVersion>> PgStore::ListScriptVersions(std::string_view name) {
  TD_ASSIGN_OR_RETURN(Lease & conn, Borrow());
  TD_ASSIGN_OR_RETURN(pg::Rows & rows,
                      conn->Query("SELECT " TD_PG_VERSION_COLUMNS " FROM strategy_versions "
                                  "WHERE name = $1 ORDER BY version",
                                  pg::Params().Add(name)));
  std::vector<ScriptVersion> out;
  for (int r = 0; r < rows.size(); ++r) out.push_back(ReadVersion(rows, r));
  if (out.empty()) return NoScript(name);
  return out;
}

Result<std::vector<ScriptVersion>> PgStore::ListScripts() {
  TD_ASSIGN_OR_RETURN(Lease & conn, Borrow());
  // The latest version of each name; COLLATE "C": by bytes, as SQLite orders text.
  TD_ASSIGN_OR_RETURN(pg::Rows & rows,
                      conn->Query("SELECT DISTINCT ON (name COLLATE \"C\") " TD_PG_VERSION_COLUMNS
                                  " FROM strategy_versions "
                                  "ORDER BY name COLLATE \"C\", version DESC"));
  std::vector<ScriptVersion> out;
  for (int r = 0; r < rows.size(); ++r) out.push_back(ReadVersion(rows, r));
  return out;
}

Result<std::string> PgStore::GetScriptSource(std::string_view sha256) {
  TD_ASSIGN_OR_RETURN(Lease & conn, Borrow());
  TD_ASSIGN_OR_RETURN(
      pg::Rows & rows,
      conn->Query("SELECT source FROM script_sources WHERE sha256 = $1", pg::Params().Add(sha256)));
  if (rows.size() == 0) {
    return MakeError(ErrorCode::kNotFound, "no script source has this SHA-256",
                     {{"sha256", std::string(sha256)}});
  }
  return rows.Text(0, 0);
}

}  // namespace tapedeck::store::internal
