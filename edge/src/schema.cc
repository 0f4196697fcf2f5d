#include "millrace/edge/schema.h"

#include <spdlog/spdlog.h>

#include "millrace/common/ddl.h"

namespace millrace::edge {
namespace {

Status ApplyVersion1(SqliteDb& db) {
  for (const auto& sql : catalog::SqliteDdl(catalog::MesCatalog()))
    MILLRACE_RETURN_IF_ERROR(db.Exec(sql));
  return db.Exec(
      "CREATE TABLE IF NOT EXISTS edge_meta (key TEXT NOT NULL PRIMARY KEY, value TEXT NOT NULL) "
      "STRICT");
}

// The outbox: every captured change, in seq order, until central acknowledges it.
// AUTOINCREMENT keeps seq increasing even after every row has been purged.
Status ApplyVersion2(SqliteDb& db) {
  return db.Exec(
      "CREATE TABLE IF NOT EXISTS outbox ("
      " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
      " table_name TEXT NOT NULL,"
      " row_id TEXT NOT NULL,"
      " op INTEGER NOT NULL,"
      " hlc INTEGER NOT NULL,"
      " captured_at INTEGER NOT NULL,"
      " payload BLOB NOT NULL) STRICT;"
      "CREATE TABLE IF NOT EXISTS sync_state (key TEXT NOT NULL PRIMARY KEY, value INTEGER NOT "
      "NULL) STRICT;");
}

// Terminal sessions: local to the edge, never synced. Only a hash of each token is kept.
Status ApplyVersion3(SqliteDb& db) {
  return db.Exec(
      "CREATE TABLE IF NOT EXISTS terminal_session ("
      " token_hash TEXT NOT NULL PRIMARY KEY,"
      " operator_session_id TEXT NOT NULL,"
      " user_id TEXT NOT NULL,"
      " work_unit_id TEXT NOT NULL,"
      " expires_at INTEGER NOT NULL) STRICT;"
      "CREATE INDEX IF NOT EXISTS terminal_session_operator_session_idx ON terminal_session "
      "(operator_session_id);");
}

// Sync: the downstream apply looks up pending local changes by row.
Status ApplyVersion4(SqliteDb& db) {
  return db.Exec("CREATE INDEX IF NOT EXISTS outbox_row_idx ON outbox (row_id)");
}

Status Migrate(SqliteDb& db) {
  MILLRACE_ASSIGN_OR_RETURN(auto version, db.QueryInt("PRAGMA user_version"));
  if (version > kEdgeSchemaVersion) {
    return Status::FailedPrecondition("edge database " + db.path() + " is at schema version " +
                                      std::to_string(version) + ", newer than this build's " +
                                      std::to_string(kEdgeSchemaVersion) + ": upgrade mes-edge");
  }
  struct Step {
    int version;
    Status (*apply)(SqliteDb&);
  };
  static constexpr Step kSteps[] = {{1, &ApplyVersion1}, {2, &ApplyVersion2}, {3, &ApplyVersion3}, {4, &ApplyVersion4}};
  for (const auto& step : kSteps) {
    if (step.version <= version) continue;
    spdlog::info("applying edge schema migration {} to {}", step.version, db.path());
    MILLRACE_RETURN_IF_ERROR(
        step.apply(db).WithContext("edge migration " + std::to_string(step.version)));
    MILLRACE_RETURN_IF_ERROR(db.Exec("PRAGMA user_version = " + std::to_string(step.version)));
  }
  return db.Exec("INSERT INTO edge_meta (key, value) VALUES ('catalog_fingerprint', " +
                 catalog::QuoteLiteral(catalog::MesCatalog().FingerprintHex()) +
                 ") ON CONFLICT (key) DO UPDATE SET value = excluded.value");
}

}  // namespace

Status MigrateEdgeSchema(SqliteDb& db) {
  MILLRACE_RETURN_IF_ERROR(db.Exec("BEGIN IMMEDIATE"));
  Status s = Migrate(db);
  if (!s.ok()) {
    (void)db.Exec("ROLLBACK");
    return s;
  }
  return db.Exec("COMMIT");
}

Status CheckEdgeSchemaCurrent(SqliteDb& db) {
  MILLRACE_ASSIGN_OR_RETURN(auto version, db.QueryInt("PRAGMA user_version"));
  if (version != kEdgeSchemaVersion) {
    return Status::FailedPrecondition("edge database is at schema version " +
                                      std::to_string(version) + ", this build needs " +
                                      std::to_string(kEdgeSchemaVersion));
  }
  MILLRACE_ASSIGN_OR_RETURN(
      auto fp, db.QueryText("SELECT value FROM edge_meta WHERE key = 'catalog_fingerprint'"));
  if (fp != catalog::MesCatalog().FingerprintHex()) {
    return Status::FailedPrecondition("edge database was made from catalog " + fp +
                                      ", this build's is " +
                                      catalog::MesCatalog().FingerprintHex());
  }
  return Status::Ok();
}

}  // namespace millrace::edge
