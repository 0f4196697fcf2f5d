#include "millrace/central/schema.h"

#include <spdlog/spdlog.h>

namespace millrace::central {

using catalog::QuoteIdent;
using catalog::QuoteLiteral;

namespace {

Status ExecAll(PgConnection& conn, const std::vector<std::string>& statements) {
  for (const auto& sql : statements) MILLRACE_RETURN_IF_ERROR(conn.Exec(sql));
  return Status::Ok();
}

std::string MigrationsTable(const catalog::PostgresDdlOptions& o) {
  return QuoteIdent(o.schema) + ".schema_migrations";
}

// A frozen step's SQL with the deployment's schema and role names in place of @SCHEMA@,
// @OWNER@, @APP@ and @REPORT@ (each written inside double quotes in the step).
std::string Instantiate(std::string_view sql, const catalog::PostgresDdlOptions& o) {
  std::string out(sql);
  for (const auto& [from, to] : {std::pair<std::string, std::string>{"@SCHEMA@", o.schema},
                                 {"@OWNER@", o.owner_role},
                                 {"@APP@", o.app_role},
                                 {"@REPORT@", o.report_role}}) {
    for (std::size_t at = out.find(from); at != std::string::npos; at = out.find(from, at + to.size()))
      out.replace(at, from.size(), to);
  }
  return out;
}

Status Migrate(PgConnection& conn, const catalog::PostgresDdlOptions& o, SchemaState* state) {
  MILLRACE_RETURN_IF_ERROR(
      conn.Exec("SELECT pg_advisory_xact_lock(hashtext('millrace.schema_migrate'))"));
  MILLRACE_RETURN_IF_ERROR(ExecAll(conn, catalog::PostgresAdminDdl(o)));
  MILLRACE_RETURN_IF_ERROR(conn.Exec("SET LOCAL ROLE " + QuoteIdent(o.owner_role)));
  MILLRACE_RETURN_IF_ERROR(
      conn.Exec("CREATE TABLE IF NOT EXISTS " + MigrationsTable(o) +
                " (version integer PRIMARY KEY, catalog_fingerprint text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"));
  MILLRACE_RETURN_IF_ERROR(
      conn.Exec("GRANT SELECT ON " + MigrationsTable(o) + " TO " + QuoteIdent(o.app_role)));
  MILLRACE_ASSIGN_OR_RETURN(*state, ReadSchemaState(conn, o));
  if (state->version > kCentralSchemaVersion) {
    return Status::FailedPrecondition(
        "database schema is at version " + std::to_string(state->version) +
        ", newer than this build's " + std::to_string(kCentralSchemaVersion) +
        ": upgrade mes-central");
  }
  const std::string fingerprint = catalog::MesCatalog().FingerprintHex();
  const auto& steps = CentralMigrations();
  if (steps.size() != static_cast<std::size_t>(kCentralSchemaVersion))
    return Status::Internal("this build has " + std::to_string(steps.size()) +
                            " central migrations but kCentralSchemaVersion is " +
                            std::to_string(kCentralSchemaVersion));
  for (const Migration& step : steps) {
    if (step.version <= state->version) continue;
    spdlog::info("applying central schema migration {}", step.name);
    MILLRACE_RETURN_IF_ERROR(conn.Exec(Instantiate(step.sql, o))
                                 .WithContext("migration " + std::to_string(step.version) + " (" +
                                              std::string(step.name) + ")"));
    MILLRACE_RETURN_IF_ERROR(
        conn.Exec("INSERT INTO " + MigrationsTable(o) + " (version, catalog_fingerprint) VALUES (" +
                  std::to_string(step.version) + ", " + QuoteLiteral(fingerprint) + ")"));
    state->version = step.version;
    state->catalog_fingerprint = fingerprint;
  }
  return Status::Ok();
}

}  // namespace

Result<SchemaState> MigrateCentralSchema(PgConnection& admin,
                                         const catalog::PostgresDdlOptions& o) {
  // Cluster-wide catalog rows (roles, the schema's namespace) can still collide with a
  // migration of another database in the same cluster; the whole transaction is retried.
  Status s;
  for (int attempt = 1; attempt <= 5; ++attempt) {
    MILLRACE_RETURN_IF_ERROR(admin.Exec("BEGIN"));
    SchemaState state;
    s = Migrate(admin, o, &state);
    if (s.ok()) s = admin.Exec("COMMIT");
    if (s.ok()) return state;
    (void)admin.Exec("ROLLBACK");
    bool transient = s.code() == StatusCode::kConflict || s.code() == StatusCode::kAlreadyExists ||
                     s.message().find("concurrently") != std::string::npos;
    if (!transient) return s;
    spdlog::warn("central schema migration collided with a concurrent one (attempt {}): {}",
                 attempt, s.ToString());
  }
  return s;
}

Result<SchemaState> ReadSchemaState(PgConnection& conn, const catalog::PostgresDdlOptions& o) {
  MILLRACE_ASSIGN_OR_RETURN(auto exists, conn.Query("SELECT to_regclass($1) IS NOT NULL",
                                                    {o.schema + ".schema_migrations"}));
  SchemaState state;
  if (exists.Get(0, 0) != "t") return state;
  MILLRACE_ASSIGN_OR_RETURN(
      auto res, conn.Query("SELECT version, catalog_fingerprint FROM " + MigrationsTable(o) +
                           " ORDER BY version DESC LIMIT 1"));
  if (res.rows() == 0) return state;
  state.version = std::stoi(res.GetString(0, 0));
  state.catalog_fingerprint = res.GetString(0, 1);
  return state;
}

Result<int> EnsureFactPartitions(PgConnection& conn, int months_ahead) {
  MILLRACE_ASSIGN_OR_RETURN(auto r, conn.Query("SELECT millrace.fact_partitions_ensure($1)",
                                               {std::to_string(months_ahead)}));
  return std::stoi(r.GetString(0, 0));
}

Status CheckSchemaCurrent(PgConnection& conn, const catalog::PostgresDdlOptions& o) {
  MILLRACE_ASSIGN_OR_RETURN(auto state, ReadSchemaState(conn, o));
  if (state.version != kCentralSchemaVersion) {
    return Status::FailedPrecondition(
        "database schema is at version " + std::to_string(state.version) + ", this build needs " +
        std::to_string(kCentralSchemaVersion) + ": run 'mes-central migrate'");
  }
  if (state.catalog_fingerprint != catalog::MesCatalog().FingerprintHex()) {
    return Status::FailedPrecondition("database was migrated from catalog " +
                                      state.catalog_fingerprint + ", this build's catalog is " +
                                      catalog::MesCatalog().FingerprintHex());
  }
  return Status::Ok();
}

}  // namespace millrace::central
