// The catalog's PostgreSQL DDL on a real server: migrations, roles, and row-level
// security isolating tenants through the application role.
#include <gtest/gtest.h>

#include <set>

#include "catalog_rows.h"
#include "millrace/central/provision.h"
#include "millrace/central/schema.h"
#include "millrace/common/ddl.h"
#include "test_pg.h"

namespace millrace::central {
namespace {

using catalog::MesCatalog;
using millrace::testing::Dialect;
using millrace::testing::TestDatabase;

class PgCatalogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = TestDatabase::Create();
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(db).value();
    auto admin = db_->Connect("postgres");
    ASSERT_TRUE(admin.ok()) << admin.status().ToString();
    admin_ = std::move(admin).value();
    auto state = MigrateCentralSchema(*admin_);
    ASSERT_TRUE(state.ok()) << state.status().ToString();
    auto app = db_->Connect("millrace_app");
    ASSERT_TRUE(app.ok()) << app.status().ToString();
    app_ = std::move(app).value();
  }

  // Inserts a sample row of `table` for `tenant` through connection `conn` inside a
  // transaction whose tenant context is `context_tenant`.
  Status InsertAs(PgConnection& conn, const std::string& context_tenant,
                  const std::string& row_tenant, const catalog::TableSpec& table, int n) {
    MILLRACE_RETURN_IF_ERROR(conn.Exec("BEGIN"));
    MILLRACE_RETURN_IF_ERROR(
        conn.Exec("SET LOCAL app.tenant_id = " + catalog::QuoteLiteral(context_tenant)));
    std::vector<PgParam> params{row_tenant};
    for (auto& v :
         millrace::testing::SampleRow(table, Dialect::kPostgres, "plant-" + row_tenant, n))
      params.push_back(v);
    auto res = conn.Query(millrace::testing::InsertSql(table, Dialect::kPostgres, "millrace", true),
                          params);
    if (!res.ok()) {
      (void)conn.Exec("ROLLBACK");
      return res.status();
    }
    return conn.Exec("COMMIT");
  }

  Result<long> CountAs(PgConnection& conn, const std::string& tenant, const std::string& table) {
    MILLRACE_RETURN_IF_ERROR(conn.Exec("BEGIN"));
    if (!tenant.empty()) {
      MILLRACE_RETURN_IF_ERROR(
          conn.Exec("SET LOCAL app.tenant_id = " + catalog::QuoteLiteral(tenant)));
    }
    auto res = conn.Query("SELECT count(*) FROM millrace." + catalog::QuoteIdent(table));
    (void)conn.Exec("COMMIT");
    if (!res.ok()) return res.status();
    return std::stol(res->GetString(0, 0));
  }

  std::unique_ptr<TestDatabase> db_;
  std::unique_ptr<PgConnection> admin_;
  std::unique_ptr<PgConnection> app_;
};

TEST_F(PgCatalogTest, MigrationRecordsVersionAndCatalogAndIsIdempotent) {
  auto again = MigrateCentralSchema(*admin_);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->version, kCentralSchemaVersion);
  EXPECT_EQ(again->catalog_fingerprint, MesCatalog().FingerprintHex());
  auto rows = admin_->Query("SELECT count(*) FROM millrace.schema_migrations");
  EXPECT_EQ(rows->GetString(0, 0), std::to_string(kCentralSchemaVersion));
  EXPECT_TRUE(CheckSchemaCurrent(*app_).ok());  // the app role can check readiness
}

TEST_F(PgCatalogTest, ANewerDatabaseIsRefusedAndLeftAlone) {
  ASSERT_TRUE(admin_
                  ->Exec("INSERT INTO millrace.schema_migrations (version, catalog_fingerprint) "
                         "VALUES (99, 'x')")
                  .ok());
  auto r = MigrateCentralSchema(*admin_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(CheckSchemaCurrent(*app_).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(admin_->Query("SELECT max(version) FROM millrace.schema_migrations")->GetString(0, 0),
            "99");
}

TEST_F(PgCatalogTest, AnUnmigratedDatabaseIsNotReady) {
  auto fresh = TestDatabase::Create();
  ASSERT_TRUE(fresh.ok());
  auto conn = (*fresh)->Connect("postgres");
  ASSERT_TRUE(conn.ok());
  Status s = CheckSchemaCurrent(**conn);
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("mes-central migrate"), std::string::npos);
}

TEST_F(PgCatalogTest, EveryCatalogTableExistsOwnedByTheOwnerRoleWithForcedRls) {
  auto res = admin_->Query(
      "SELECT c.relname, pg_get_userbyid(c.relowner), c.relrowsecurity, c.relforcerowsecurity "
      "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
      "WHERE n.nspname = 'millrace' AND c.relkind IN ('r', 'p') AND NOT c.relispartition "
      "AND c.relname != 'schema_migrations'");
  ASSERT_TRUE(res.ok()) << res.status().ToString();
  // The sync engine's per-tenant tables (drift checks, tombstones and fact exports too; and the alerts') carry the same policy as the
  // catalog's; the registry (tenants, sites and their keys; users, sessions and API
  // tokens; site backups; enrollment codes) has it enabled but not forced, so the owner's lookup functions
  // can find a key, a login or a session before a tenant is known, or the backups due a
  // check; admin tokens are the platform's and reachable only through functions, as are
  // the list of fact partitions and the job queue (its functions take the tenant;
  // pg_jobs_test.cc).
  // (Every partition's own policy is checked in pg_rollups_test.cc.)
  const std::set<std::string> sync_tables = {
      "sync_feed",          "sync_reject",         "sync_conflict",        "sync_column_clock",
      "sync_site_epoch",    "central_audit",       "report_time_hour",     "report_time_day",
      "report_output_hour", "report_output_day",   "report_downtime_hour", "report_downtime_day",
      "report_quality_hour", "report_quality_day", "report_time_month", "report_output_month",
      "report_downtime_month", "report_quality_month", "alert", "alert_event", "alert_rule",
      "alert_webhook", "sync_drift", "sync_tombstone", "fact_export"};
  const std::set<std::string> registry = {"sync_tenant", "sync_site",       "sync_site_key",
                                          "central_user", "central_session", "api_token",
                                          "site_backup", "sync_enrollment"};
  const std::set<std::string> platform = {"admin_token", "fact_partition", "job", "job_tenant_turn"};
  EXPECT_EQ(res->rows(), static_cast<int>(MesCatalog().tables().size() + sync_tables.size() +
                                          registry.size() + platform.size()));
  for (int r = 0; r < res->rows(); ++r) {
    const std::string name = res->GetString(r, 0);
    EXPECT_EQ(res->GetString(r, 1), "millrace_owner") << name;
    if (platform.count(name)) continue;
    if (registry.count(name)) {
      EXPECT_EQ(res->GetString(r, 2), "t") << name;
      EXPECT_EQ(res->GetString(r, 3), "f") << name;
      continue;
    }
    EXPECT_TRUE(MesCatalog().Find(name) != nullptr || sync_tables.count(name)) << name;
    EXPECT_EQ(res->GetString(r, 2), "t") << name;
    EXPECT_EQ(res->GetString(r, 3), "t") << name;
  }
}

TEST_F(PgCatalogTest, TheAppRoleOwnsNothingAndCannotBypassRls) {
  auto role = admin_->Query(
      "SELECT rolsuper, rolbypassrls, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = "
      "'millrace_app'");
  ASSERT_EQ(role->rows(), 1);
  for (int c = 0; c < 4; ++c) EXPECT_EQ(role->GetString(0, c), "f") << c;
  auto owned =
      admin_->Query("SELECT count(*) FROM pg_class WHERE relowner = 'millrace_app'::regrole");
  EXPECT_EQ(owned->GetString(0, 0), "0");
  auto member = admin_->Query("SELECT pg_has_role('millrace_app', 'millrace_owner', 'MEMBER')");
  EXPECT_EQ(member->GetString(0, 0), "f");

  // Turning RLS off is refused: the app role is not the owner.
  Status disable = app_->Exec("ALTER TABLE millrace.work_order DISABLE ROW LEVEL SECURITY");
  EXPECT_EQ(disable.code(), StatusCode::kPermissionDenied) << disable.ToString();
  Status drop = app_->Exec("DROP POLICY tenant_isolation ON millrace.work_order");
  EXPECT_EQ(drop.code(), StatusCode::kPermissionDenied) << drop.ToString();
  // row_security = off makes a query that RLS would filter fail instead of seeing all.
  ASSERT_TRUE(app_->Exec("SET row_security = off").ok());
  auto all = app_->Query("SELECT count(*) FROM millrace.work_order");
  EXPECT_FALSE(all.ok());
  EXPECT_EQ(all.status().code(), StatusCode::kPermissionDenied) << all.status().ToString();
  ASSERT_TRUE(app_->Exec("RESET row_security").ok());
  // And the app role cannot make itself anything more.
  Status escalate = app_->Exec("ALTER ROLE millrace_app BYPASSRLS");
  EXPECT_EQ(escalate.code(), StatusCode::kPermissionDenied) << escalate.ToString();
}

TEST_F(PgCatalogTest, RlsShowsEachTenantOnlyItsOwnRowsInEveryTable) {
  for (const auto& t : MesCatalog().tables()) {
    ASSERT_TRUE(InsertAs(*app_, "acme", "acme", t, 1).ok()) << t.name;
    ASSERT_TRUE(InsertAs(*app_, "acme", "acme", t, 2).ok()) << t.name;
    ASSERT_TRUE(InsertAs(*app_, "globex", "globex", t, 3).ok()) << t.name;
  }
  for (const auto& t : MesCatalog().tables()) {
    EXPECT_EQ(*CountAs(*app_, "acme", t.name), 2) << t.name;
    EXPECT_EQ(*CountAs(*app_, "globex", t.name), 1) << t.name;
    EXPECT_EQ(*CountAs(*app_, "initech", t.name), 0) << t.name;
    EXPECT_EQ(*CountAs(*app_, "", t.name), 0) << t.name << ": no tenant context must see nothing";
  }
  // The administrator (superuser) sees all three: the rows really are there.
  EXPECT_EQ(admin_->Query("SELECT count(*) FROM millrace.work_order")->GetString(0, 0), "3");
}

TEST_F(PgCatalogTest, ATenantCannotWriteIntoAnotherTenant) {
  const auto& wo = *MesCatalog().Find("work_order");
  Status forged = InsertAs(*app_, "acme", "globex", wo, 1);
  EXPECT_EQ(forged.code(), StatusCode::kPermissionDenied) << forged.ToString();
  EXPECT_NE(forged.message().find("row-level security"), std::string::npos);
  Status no_context = InsertAs(*app_, "", "acme", wo, 1);
  EXPECT_EQ(no_context.code(), StatusCode::kPermissionDenied) << no_context.ToString();

  ASSERT_TRUE(InsertAs(*app_, "globex", "globex", wo, 2).ok());
  // acme cannot update, move or delete globex's row: it simply does not see it.
  for (const char* sql :
       {"UPDATE millrace.work_order SET priority = 99", "DELETE FROM millrace.work_order"}) {
    ASSERT_TRUE(app_->Exec("BEGIN").ok());
    ASSERT_TRUE(app_->Exec("SET LOCAL app.tenant_id = 'acme'").ok());
    auto res = app_->Query(sql);
    ASSERT_TRUE(res.ok()) << res.status().ToString();
    EXPECT_EQ(res->affected(), 0) << sql;
    ASSERT_TRUE(app_->Exec("COMMIT").ok());
  }
  // globex may not hand its row to acme either (WITH CHECK on UPDATE).
  ASSERT_TRUE(app_->Exec("BEGIN").ok());
  ASSERT_TRUE(app_->Exec("SET LOCAL app.tenant_id = 'globex'").ok());
  auto moved = app_->Query("UPDATE millrace.work_order SET tenant_id = 'acme'");
  EXPECT_EQ(moved.status().code(), StatusCode::kPermissionDenied);
  ASSERT_TRUE(app_->Exec("ROLLBACK").ok());
  EXPECT_EQ(*CountAs(*app_, "globex", "work_order"), 1);
  EXPECT_EQ(*CountAs(*app_, "acme", "work_order"), 0);
}

// The registry through the application role: only the tenant of the transaction, no key
// changes, no re-activation of a revoked site; keys are found through the owner's function.
TEST_F(PgCatalogTest, TheRegistryShowsTheAppRoleOnlyItsTenantAndARevokedSiteStaysRevoked) {
  for (const char* t : {"acme", "globex"}) ASSERT_TRUE(CreateTenant(*app_, t, t).ok());
  auto add_site = [&](const std::string& tenant, const std::string& site, const std::string& key) {
    ASSERT_TRUE(admin_->Exec("INSERT INTO millrace.sync_site (tenant_id, site_id) VALUES ('" +
                             tenant + "', '" + site + "'); INSERT INTO millrace.sync_site_key "
                             "(tenant_id, site_id, public_key) VALUES ('" + tenant + "', '" +
                             site + "', '" + key + "')")
                    .ok());
  };
  add_site("acme", "lyon", "key-lyon");
  add_site("globex", "tokyo", "key-tokyo");
  auto count = [&](const std::string& tenant, const std::string& sql) -> std::string {
    EXPECT_TRUE(app_->Exec("BEGIN").ok());
    if (!tenant.empty()) {
      EXPECT_TRUE(app_->Exec("SET LOCAL app.tenant_id = '" + tenant + "'").ok());
    }
    auto r = app_->Query(sql);
    (void)app_->Exec("COMMIT");
    if (!r.ok()) return r.status().ToString();
    return r->rows() == 0 ? "" : r->GetString(0, 0);
  };
  for (const char* table : {"sync_tenant", "sync_site", "sync_site_key"}) {
    EXPECT_EQ(count("acme", std::string("SELECT count(*) FROM millrace.") + table), "1") << table;
    EXPECT_EQ(count("", std::string("SELECT count(*) FROM millrace.") + table), "0")
        << table << ": no tenant context sees no tenant";
  }
  EXPECT_EQ(count("acme", "SELECT count(*) FROM millrace.sync_site WHERE site_id = 'tokyo'"), "0");
  EXPECT_EQ(count("acme", "UPDATE millrace.sync_site SET active = false WHERE site_id = 'tokyo' "
                          "RETURNING 1"),
            "") << "acme cannot revoke globex's site";
  // Keys are not the app role's to change, and admin tokens not its to read.
  ASSERT_TRUE(app_->Exec("BEGIN; SET LOCAL app.tenant_id = 'acme'").ok());
  auto rekey = app_->Query("UPDATE millrace.sync_site_key SET public_key = 'mine'");
  EXPECT_EQ(rekey.status().code(), StatusCode::kPermissionDenied) << rekey.status().ToString();
  ASSERT_TRUE(app_->Exec("ROLLBACK").ok());
  auto tokens = app_->Query("SELECT count(*) FROM millrace.admin_token");
  EXPECT_EQ(tokens.status().code(), StatusCode::kPermissionDenied);
  // The handshake's lookup works without a tenant: the owner's function.
  auto owner = app_->Query("SELECT tenant_id || '/' || site_id FROM millrace.sync_key_owner($1)",
                           {std::string("key-tokyo")});
  ASSERT_TRUE(owner.ok()) << owner.status().ToString();
  EXPECT_EQ(owner->GetString(0, 0), "globex/tokyo");
  // Revoked stays revoked, even for the site's own tenant.
  ASSERT_TRUE(RevokeSite(*app_, "acme", "lyon").ok());
  ASSERT_TRUE(app_->Exec("BEGIN; SET LOCAL app.tenant_id = 'acme'").ok());
  auto again = app_->Query("UPDATE millrace.sync_site SET active = true WHERE site_id = 'lyon'");
  EXPECT_EQ(again.status().code(), StatusCode::kPermissionDenied) << again.status().ToString();
  EXPECT_NE(again.status().message().find("stays revoked"), std::string::npos);
  ASSERT_TRUE(app_->Exec("ROLLBACK").ok());
  auto gone = app_->Query("SELECT count(*) FROM millrace.sync_key_owner('key-lyon')");
  EXPECT_EQ(gone->GetString(0, 0), "0");
}

// Audit records are evidence: the application role may read and add them, never change or
// delete them, and the triggers refuse even the tables' owner.
TEST_F(PgCatalogTest, AuditRecordsCannotBeUpdatedOrDeletedThroughTheAppRoleOrByTheOwner) {
  ASSERT_TRUE(CreateTenant(*app_, "acme", "Acme", {"tester", ""}).ok());  // a central record
  ASSERT_TRUE(InsertAs(*app_, "acme", "acme", *MesCatalog().Find("audit_record"), 1).ok());
  for (const char* table : {"audit_record", "central_audit"}) {
    EXPECT_EQ(*CountAs(*app_, "acme", table), 1) << table;
    for (const std::string& sql : {std::string("UPDATE millrace.") + table + " SET action = 'x'",
                                  std::string("DELETE FROM millrace.") + table}) {
      ASSERT_TRUE(app_->Exec("BEGIN; SET LOCAL app.tenant_id = 'acme'").ok());
      auto r = app_->Query(sql);
      EXPECT_EQ(r.status().code(), StatusCode::kPermissionDenied) << sql << ": " << r.status().ToString();
      ASSERT_TRUE(app_->Exec("ROLLBACK").ok());
      // The owner role is no better off: the trigger refuses it.
      ASSERT_TRUE(admin_->Exec("BEGIN; SET LOCAL ROLE millrace_owner; SET LOCAL app.tenant_id = 'acme'").ok());
      auto o = admin_->Query(sql);
      EXPECT_FALSE(o.ok()) << sql;
      EXPECT_NE(o.status().message().find("never changed or deleted"), std::string::npos)
          << o.status().ToString();
      ASSERT_TRUE(admin_->Exec("ROLLBACK").ok());
    }
    EXPECT_EQ(*CountAs(*app_, "acme", table), 1) << table;
  }
}

TEST_F(PgCatalogTest, TenantContextIsTransactionLocalSoPooledConnectionsDoNotLeak) {
  const auto& t = *MesCatalog().Find("production_event");
  ASSERT_TRUE(InsertAs(*app_, "acme", "acme", t, 1).ok());
  // After COMMIT the SET LOCAL is gone: the same connection sees nothing.
  EXPECT_EQ(*CountAs(*app_, "", "production_event"), 0);
}

TEST_F(PgCatalogTest, EnumChecksHoldInPostgresToo) {
  ASSERT_TRUE(app_->Exec("BEGIN").ok());
  ASSERT_TRUE(app_->Exec("SET LOCAL app.tenant_id = 'acme'").ok());
  const auto& t = *MesCatalog().Find("work_order_operation");
  auto row = millrace::testing::SampleRow(t, Dialect::kPostgres, "plant-a", 1);
  std::vector<PgParam> params{std::string("acme")};
  for (std::size_t i = 0; i < row.size(); ++i) {
    params.push_back(t.columns[i].name == "status" ? PgParam("Done") : row[i]);
  }
  auto res =
      app_->Query(millrace::testing::InsertSql(t, Dialect::kPostgres, "millrace", true), params);
  EXPECT_EQ(res.status().code(), StatusCode::kInvalidArgument) << res.status().ToString();
  EXPECT_NE(res.status().message().find("23514"), std::string::npos);  // check_violation
  (void)app_->Exec("ROLLBACK");
}

}  // namespace
}  // namespace millrace::central
