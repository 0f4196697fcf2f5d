#include "millrace/edge/schema.h"

#include <spdlog/spdlog.h>

#include "millrace/common/ddl.h"

namespace millrace::edge {
namespace {

Status Migrate(SqliteDb& db) {
  const auto& steps = EdgeMigrations();
  if (steps.size() != static_cast<std::size_t>(kEdgeSchemaVersion))
    return Status::Internal("this build has " + std::to_string(steps.size()) +
                            " edge migrations but kEdgeSchemaVersion is " +
                            std::to_string(kEdgeSchemaVersion));
  MILLRACE_ASSIGN_OR_RETURN(auto version, db.QueryInt("PRAGMA user_version"));
  if (version > kEdgeSchemaVersion) {
    return Status::FailedPrecondition("edge database " + db.path() + " is at schema version " +
                                      std::to_string(version) + ", newer than this build's " +
                                      std::to_string(kEdgeSchemaVersion) + ": upgrade mes-edge");
  }
  for (const Migration& step : steps) {
    if (step.version <= version) continue;
    spdlog::info("applying edge schema migration {} to {}", step.name, db.path());
    MILLRACE_RETURN_IF_ERROR(
        db.Exec(std::string(step.sql))
                                 .WithContext("edge migration " + std::to_string(step.version) +
                                              " (" + std::string(step.name) + ")"));
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
