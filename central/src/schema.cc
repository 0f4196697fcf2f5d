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

Status ApplyVersion1(PgConnection& conn, const catalog::PostgresDdlOptions& o) {
  return ExecAll(conn, catalog::PostgresDdl(catalog::MesCatalog(), o));
}

// The sync engine's own tables. The registry (tenants, sites and their keys) is platform
// data read before any tenant is known (the Curve handshake looks a key up), so it has no
// row-level security; everything else here is per tenant and carries the same policy as
// the catalog tables.
Status ApplyVersion2(PgConnection& conn, const catalog::PostgresDdlOptions& o) {
  const std::string s = QuoteIdent(o.schema) + ".";
  const std::string app = QuoteIdent(o.app_role);
  std::vector<std::string> sql = {
      "CREATE TABLE " + s +
          "sync_tenant (tenant_id text PRIMARY KEY CHECK (tenant_id ~ '^[a-z0-9][a-z0-9-]{0,31}$'),"
          " name text NOT NULL, feed_head bigint NOT NULL DEFAULT 0,"
          " created_at timestamptz NOT NULL DEFAULT now())",
      "CREATE TABLE " + s +
          "sync_site (tenant_id text NOT NULL REFERENCES " + s +
          "sync_tenant, site_id text NOT NULL CHECK (site_id ~ '^[a-z0-9][a-z0-9-]{0,31}$'),"
          " public_key text NOT NULL UNIQUE, active boolean NOT NULL DEFAULT true,"
          " applied_seq bigint NOT NULL DEFAULT 0, last_ack_at timestamptz,"
          " batches_applied bigint NOT NULL DEFAULT 0, rows_applied bigint NOT NULL DEFAULT 0,"
          " created_at timestamptz NOT NULL DEFAULT now(), revoked_at timestamptz,"
          " PRIMARY KEY (tenant_id, site_id))",
      "CREATE TABLE " + s +
          "sync_feed (tenant_id text NOT NULL, pos bigint NOT NULL, table_name text NOT NULL,"
          " row_id uuid NOT NULL, route_site text, hlc bigint NOT NULL, change bytea NOT NULL,"
          " PRIMARY KEY (tenant_id, pos))",
      "CREATE TABLE " + s +
          "sync_reject (tenant_id text NOT NULL, reject_id bigserial, site_id text NOT NULL,"
          " seq bigint NOT NULL, table_name text NOT NULL, row_id text, reason text NOT NULL,"
          " change bytea NOT NULL, rejected_at timestamptz NOT NULL DEFAULT now(),"
          " PRIMARY KEY (tenant_id, reject_id))",
      "CREATE TABLE " + s +
          "sync_conflict (tenant_id text NOT NULL, conflict_id bigserial, table_name text NOT NULL,"
          " row_id uuid NOT NULL, column_name text NOT NULL, rule text NOT NULL,"
          " winner text NOT NULL, kept_value text, lost_value text,"
          " kept_hlc bigint NOT NULL, kept_origin text NOT NULL,"
          " lost_hlc bigint NOT NULL, lost_origin text NOT NULL,"
          " detected_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (tenant_id, conflict_id))",
      "CREATE TABLE " + s +
          "sync_column_clock (tenant_id text NOT NULL, table_name text NOT NULL, row_id uuid NOT NULL,"
          " hlcs bigint[] NOT NULL, origins text[] NOT NULL,"
          " PRIMARY KEY (tenant_id, table_name, row_id))",
      "GRANT SELECT, INSERT, UPDATE ON " + s + "sync_tenant, " + s + "sync_site TO " + app,
  };
  const std::string tenant_expr = "tenant_id = current_setting('app.tenant_id', true)";
  for (const char* t : {"sync_feed", "sync_reject", "sync_conflict", "sync_column_clock"}) {
    const std::string table = s + t;
    sql.push_back("ALTER TABLE " + table + " ENABLE ROW LEVEL SECURITY");
    sql.push_back("ALTER TABLE " + table + " FORCE ROW LEVEL SECURITY");
    sql.push_back("CREATE POLICY tenant_isolation ON " + table + " USING (" + tenant_expr +
                  ") WITH CHECK (" + tenant_expr + ")");
    sql.push_back("GRANT SELECT, INSERT, UPDATE, DELETE ON " + table + " TO " + app);
  }
  sql.push_back("GRANT USAGE ON SEQUENCE " + s + "sync_reject_reject_id_seq, " + s +
                "sync_conflict_conflict_id_seq TO " + app);
  return ExecAll(conn, sql);
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
  struct Step {
    int version;
    Status (*apply)(PgConnection&, const catalog::PostgresDdlOptions&);
  };
  static constexpr Step kSteps[] = {{1, &ApplyVersion1}, {2, &ApplyVersion2}};
  for (const auto& step : kSteps) {
    if (step.version <= state->version) continue;
    spdlog::info("applying central schema migration {}", step.version);
    MILLRACE_RETURN_IF_ERROR(
        step.apply(conn, o).WithContext("migration " + std::to_string(step.version)));
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
