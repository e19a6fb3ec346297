// SqliteStore: strategy scripts. Sources live once each in script_sources, keyed by their SHA-256;
// a named script's versions are rows of strategy_versions pointing at theirs.
#include <mutex>
#include <string>

#include "common/crypto.h"
#include "store/sqlite_store.h"

namespace tapedeck::store {

std::string Sha256Hex(std::string_view data) {
  const crypto::Digest digest = crypto::Sha256(data);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(digest.size() * 2);
  for (size_t i = 0; i < digest.size(); ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 15];
  }
  return out;
}

}  // namespace tapedeck::store

namespace tapedeck::store::internal {
namespace {

constexpr size_t kMaxNameBytes = 64;

Error NoScript(std::string_view name) {
  return MakeError(ErrorCode::kNotFound, "no strategy script named '" + std::string(name) + "'",
                   {{"strategy", std::string(name)}});
}

// Reads name, version, sha256, params, created_us from columns 0..4.
ScriptVersion ReadVersion(const Stmt& s) {
  ScriptVersion v;
  v.name = s.Text(0);
  v.version = s.Int(1);
  v.sha256 = s.Text(2);
  v.params_json = s.Text(3);
  v.created = FromMicros(s.Int(4));
  return v;
}

}  // namespace

Status InsertScriptSource(Db& db, std::string_view sha256, std::string_view source) {
  TD_ASSIGN_OR_RETURN(Stmt & s, db.Prepare("INSERT INTO script_sources(sha256, source, created_us) "
                                           "VALUES(?1, ?2, ?3) ON CONFLICT(sha256) DO NOTHING"));
  const int64_t now =
      ToMicros(std::chrono::time_point_cast<Micros>(std::chrono::system_clock::now()));
  return s.Bind(1, sha256).Bind(2, source).Bind(3, now).Run();
}

Result<SavedScript> SqliteStore::SaveScript(std::string_view name, std::string_view source,
                                            std::string_view params_json) {
  if (name.empty() || name.size() > kMaxNameBytes) {
    return MakeError(ErrorCode::kValidation, "a script's name must be 1 to 64 bytes",
                     {{"field", "name"}});
  }
  const std::string sha256 = Sha256Hex(source);
  std::lock_guard lock(write_mu_);
  Db& db = *writer_;
  // Durable: the 201 that follows promises the version exists.
  TD_ASSIGN_OR_RETURN(Txn & txn, Txn::BeginDurable(db));
  SavedScript out;
  {
    TD_ASSIGN_OR_RETURN(Stmt & s, db.Prepare("SELECT name, version, sha256, params, created_us "
                                             "FROM strategy_versions WHERE name = ?1 "
                                             "ORDER BY version DESC LIMIT 1"));
    s.Bind(1, name);
    TD_ASSIGN_OR_RETURN(const bool row, s.Step());
    if (row) {
      out.script = ReadVersion(s);
      if (out.script.sha256 == sha256) {
        out.script.source = std::string(source);
        return out;  // identical to the latest: nothing to write (the Txn rolls back)
      }
    }
  }
  TD_TRY(InsertScriptSource(db, sha256, source));
  out.script.name = std::string(name);
  out.script.version += 1;
  out.script.sha256 = sha256;
  out.script.source = std::string(source);
  out.script.params_json = std::string(params_json);
  out.script.created = Now();
  out.created = true;
  {
    TD_ASSIGN_OR_RETURN(Stmt & s,
                        db.Prepare("INSERT INTO strategy_versions(name, version, sha256, params, "
                                   "created_us) VALUES(?1, ?2, ?3, ?4, ?5)"));
    TD_TRY(s.Bind(1, name)
               .Bind(2, out.script.version)
               .Bind(3, std::string_view(sha256))
               .Bind(4, params_json)
               .Bind(5, ToMicros(out.script.created))
               .Run());
  }
  TD_TRY(txn.Commit());
  return out;
}

Result<ScriptVersion> SqliteStore::GetScript(std::string_view name,
                                             std::optional<int64_t> version) {
  TD_ASSIGN_OR_RETURN(Reader & reader, BorrowReader());
  Db& db = *reader;
  TD_ASSIGN_OR_RETURN(Txn & txn, Txn::Begin(db, /*write=*/false));
  ScriptVersion v;
  {
    TD_ASSIGN_OR_RETURN(
        Stmt & s, db.Prepare("SELECT v.name, v.version, v.sha256, v.params, v.created_us, "
                             "c.source FROM strategy_versions v JOIN script_sources c "
                             "ON c.sha256 = v.sha256 WHERE v.name = ?1 AND "
                             "(?2 IS NULL OR v.version = ?2) ORDER BY v.version DESC LIMIT 1"));
    s.Bind(1, name).Bind(2, version);
    TD_ASSIGN_OR_RETURN(const bool row, s.Step());
    if (!row) {
      if (!version) return NoScript(name);
      TD_ASSIGN_OR_RETURN(Stmt & any,
                          db.Prepare("SELECT 1 FROM strategy_versions WHERE name = ?1 LIMIT 1"));
      any.Bind(1, name);
      TD_ASSIGN_OR_RETURN(const bool exists, any.Step());
      if (!exists) return NoScript(name);
      return MakeError(
          ErrorCode::kNotFound,
          "strategy '" + std::string(name) + "' has no version " + std::to_string(*version),
          {{"strategy", std::string(name)}, {"version", std::to_string(*version)}});
    }
    v = ReadVersion(s);
    v.source = s.Text(5);
  }
  TD_TRY(txn.Commit());
  return v;
}

Result<std::vector<ScriptVersion>> SqliteStore::ListScriptVersions(std::string_view name) {
  TD_ASSIGN_OR_RETURN(Reader & db, BorrowReader());
  TD_ASSIGN_OR_RETURN(Stmt & s, db->Prepare("SELECT name, version, sha256, params, created_us "
                                            "FROM strategy_versions WHERE name = ?1 "
                                            "ORDER BY version"));
  s.Bind(1, name);
  std::vector<ScriptVersion> out;
  for (;;) {
    TD_ASSIGN_OR_RETURN(const bool row, s.Step());
    if (!row) break;
    out.push_back(ReadVersion(s));
  }
  if (out.empty()) return NoScript(name);
  return out;
}

Result<std::vector<ScriptVersion>> SqliteStore::ListScripts() {
  TD_ASSIGN_OR_RETURN(Reader & db, BorrowReader());
  // SQLite's bare-column rule: with MAX(), the other columns come from the row holding the max.
  TD_ASSIGN_OR_RETURN(Stmt & s, db->Prepare("SELECT name, MAX(version), sha256, params, "
                                            "created_us FROM strategy_versions GROUP BY name "
                                            "ORDER BY name"));
  std::vector<ScriptVersion> out;
  for (;;) {
    TD_ASSIGN_OR_RETURN(const bool row, s.Step());
    if (!row) break;
    out.push_back(ReadVersion(s));
  }
  return out;
}

Result<std::string> SqliteStore::GetScriptSource(std::string_view sha256) {
  TD_ASSIGN_OR_RETURN(Reader & db, BorrowReader());
  TD_ASSIGN_OR_RETURN(Stmt & s, db->Prepare("SELECT source FROM script_sources WHERE sha256 = ?1"));
  s.Bind(1, sha256);
  TD_ASSIGN_OR_RETURN(const bool row, s.Step());
  if (!row) {
    return MakeError(ErrorCode::kNotFound, "no script source has this SHA-256",
                     {{"sha256", std::string(sha256)}});
  }
  return s.Text(0);
}

}  // namespace tapedeck::store::internal
