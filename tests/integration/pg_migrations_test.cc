// Central's frozen migrations on a real PostgreSQL: released steps never change, the
// newest step makes exactly the tables, policies and grants the catalog describes (a
// catalog change without a new step fails here), and every release fixture's database
// migrates to the newest schema with its rows.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>

#include "millrace/central/schema.h"
#include "millrace/common/ddl.h"
#include "migration_checks.h"
#include "test_pg.h"

namespace millrace::central {
namespace {

namespace fs = std::filesystem;
using millrace::testing::TestDatabase;

// What a released step's text hashes to. A released step never changes: a schema change
// is a new file in central/migrations, whose digest is added here when it is released.
const std::map<std::string, std::string>& ReleasedDigests() {
  static const std::map<std::string, std::string> kDigests = {
      {"0001_catalog", "941ed4ccf92f31b664664887efc5e82f14d60ba904e23a16faec3f7ee7cad52e"},
      {"0002_sync", "d4331c8f93da28d3956916e6e8e7b4967ff5b756fe8c1f9120e6cfa2a2f00ad5"},
      {"0003_store_epochs", "c45b68553ba0ce866143ef3c7cd46111d18d4423e12aff80e235af04511e8291"},
      {"0004_registry_rls_keys_tokens",
       "258e8f34cfa86c188eb55663658ded990d732d27244fb9ccd8eb71f22e37f29d"},
      {"0005_audit", "56a54ac0f052962ce5251c208f1f1f26f90e561b196ea6921781a86ae6669089"},
      {"0006_partitions_rollups_time_zones",
       "79836c90ceb67b2610ba3a98a41938d08235fe8aff21a749492acb557943519e"},
      {"0007_people", "c024d39ff021c08056ddf799d80641123ffa40785bdabb339c5336e3e3ea46c1"},
      {"0008_month_rollups", "7a77539805367e7bb3fa2e4c6e2a993b6472403365d7c2291d7fa1a7f1556d7a"},
      {"0009_static_rollup_triggers",
       "8f6fa57056a6030530b4cf71e55e1e07a0bf90b5525b62924bc3753c2c341da5"},
      {"0010_jobs", "e2250829a4f64e98249e7435bebaa2c8c37a84fd502788571f7decec1739f893"},
      {"0011_site_backups", "0c4db5235c8ab61f84bc4a7fb4eb48946b2c6e63c1d65cb93aeed7085d53709f"},
      {"0012_backup_sweep", "c7dc38030dfa5f1d58d5bf341da8fc7a4784868261010756dbb63445d53c27cd"},
      {"0013_alerts", "225e1662e9b649cc8071e6215d68f2e67c19e46734c0ceeece0095331a50bca3"},
      {"0014_drift_checks", "1ded888d5ad48792e97fdc438063bce8816825c80e353ff0def17028dc1564e2"},
      {"0015_tombstones", "a37e3f6795122114a69902de7fca90a853b62ba14f333d6db7e55ed75db3c0b8"},
      {"0016_retention", "39c5d0fda8e6c6e112be7ffcc67813a043c83bda7eb1a0077efbcc3deb3fd865"},
      {"0017_edge_versions", "98b9938de3897df49024f986cd8187ef9aa4b779bc9988d279c757405cef93a9"},
      {"0018_enrollment", "8bf9a2d78a5ac26ea1117dc7e8cdbffa8c0bd0b8683d564f0c4789fc74c4259e"},
      {"0019_production_event_note",
       "6c5c383b67062c38d06b0bc9524ace7721f58629cbf84a878401d619d41b1c96"},
  };
  return kDigests;
}

TEST(CentralMigrationsTest, ReleasedStepsNeverChange) {
  ASSERT_EQ(CentralMigrations().size(), static_cast<std::size_t>(kCentralSchemaVersion));
  millrace::testing::ExpectReleasedStepsUnchanged(CentralMigrations(), ReleasedDigests());
}

// Everything PostgreSQL holds about one catalog table that the DDL decides, with the
// schema name taken out so two schemas compare.
std::multiset<std::string> ShapeOf(PgConnection& conn, const std::string& schema,
                                   const std::string& table) {
  std::multiset<std::string> out;
  const std::vector<std::pair<std::string, std::string>> queries = {
      {"column", "SELECT column_name || ' ' || data_type || ' ' || is_nullable || ' ' || "
                 "coalesce(column_default, '') FROM information_schema.columns WHERE "
                 "table_schema = $1 AND table_name = $2"},
      {"constraint", "SELECT contype::text || ' ' || pg_get_constraintdef(c.oid) FROM pg_constraint c "
                     "JOIN pg_class t ON t.oid = c.conrelid JOIN pg_namespace n ON n.oid = "
                     "t.relnamespace WHERE n.nspname = $1 AND t.relname = $2"},
      {"index", "SELECT replace(indexdef, $1 || '.', '') FROM pg_indexes WHERE schemaname = $1 "
                "AND tablename = $2"},
      {"kind", "SELECT t.relkind::text || ' ' || coalesce(pg_get_partkeydef(t.oid), '') FROM "
               "pg_class t JOIN pg_namespace n ON n.oid = t.relnamespace WHERE n.nspname = $1 "
               "AND t.relname = $2"},
      {"rls", "SELECT relrowsecurity::text || ' ' || relforcerowsecurity::text FROM pg_class t "
              "JOIN pg_namespace n ON n.oid = t.relnamespace WHERE n.nspname = $1 AND "
              "t.relname = $2"},
      {"policy", "SELECT policyname || ' ' || permissive || ' ' || cmd || ' ' || array_to_string(roles, ',') || ' ' || "
                 "replace(coalesce(qual, ''), $1 || '.', '') || ' ' || coalesce(with_check, '') FROM pg_policies WHERE "
                 "schemaname = $1 AND tablename = $2"},
      {"grant", "SELECT grantee || ' ' || privilege_type FROM information_schema.role_table_grants "
                "WHERE table_schema = $1 AND table_name = $2 AND grantee <> grantor"},
      {"trigger", "SELECT tgname || ' ' || replace(pg_get_triggerdef(g.oid), $1 || '.', '') FROM "
                  "pg_trigger g JOIN pg_class t ON t.oid = g.tgrelid JOIN pg_namespace n ON "
                  "n.oid = t.relnamespace WHERE n.nspname = $1 AND t.relname = $2 AND NOT "
                  "g.tgisinternal AND g.tgname NOT LIKE 'report\\_%'"},  // the rollups' own
  };
  for (const auto& [kind, sql] : queries) {
    auto r = conn.Query(sql, {schema, table});
    EXPECT_TRUE(r.ok()) << kind << ": " << r.status().ToString();
    if (!r.ok()) continue;
    for (int i = 0; i < r->rows(); ++i) out.insert(kind + " " + r->GetString(i, 0));
  }
  return out;
}

TEST(CentralMigrationsTest, NewestStepMakesExactlyTheCatalogsTables) {
  auto db = TestDatabase::Create();
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  auto admin = (*db)->Connect();
  ASSERT_TRUE(admin.ok());
  ASSERT_TRUE(MigrateCentralSchema(**admin).ok());
  // The reference: what the catalog's DDL makes today, in a schema of its own.
  catalog::PostgresDdlOptions ref;
  ref.schema = "catalog_reference";
  for (const auto& sql : catalog::PostgresAdminDdl(ref)) ASSERT_TRUE((*admin)->Exec(sql).ok());
  ASSERT_TRUE((*admin)->Exec("SET ROLE " + catalog::QuoteIdent(ref.owner_role)).ok());
  for (const auto& sql : catalog::PostgresDdl(catalog::MesCatalog(), ref))
    ASSERT_TRUE((*admin)->Exec(sql).ok()) << sql;
  ASSERT_TRUE((*admin)->Exec("RESET ROLE").ok());
  for (const auto& t : catalog::MesCatalog().tables()) {
    auto want = ShapeOf(**admin, ref.schema, t.name);
    auto got = ShapeOf(**admin, "millrace", t.name);
    ASSERT_FALSE(want.empty()) << t.name;
    EXPECT_EQ(got, want) << "table " << t.name << ": the catalog and the newest central migration "
                         << "disagree; a catalog change needs a new step in central/migrations";
  }
}

// Every release fixture's central database (a pg_dump) migrates to the newest schema and
// keeps its rows.
TEST(CentralMigrationsTest, ReleaseFixturesMigrateAndKeepTheirRows) {
  const fs::path fixtures = fs::path(MILLRACE_SOURCE_DIR) / "tests/fixtures/schema";
  int seen = 0;
  for (const auto& entry : fs::directory_iterator(fixtures)) {
    if (!entry.is_directory()) continue;
    ++seen;
    auto db = TestDatabase::Create();
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    auto admin = (*db)->Connect();
    ASSERT_TRUE(admin.ok());
    for (const auto& sql : catalog::PostgresAdminDdl({})) {
      if (sql.find("CREATE SCHEMA") != std::string::npos) continue;  // the dump makes it
      ASSERT_TRUE((*admin)->Exec(sql).ok()) << sql;
    }
    const std::string cmd = "psql '" + (*db)->ConnInfo() + "' -q -v ON_ERROR_STOP=1 -f '" +
                            (entry.path() / "central.sql").string() + "' >/dev/null";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    auto before = ReadSchemaState(**admin);
    ASSERT_TRUE(before.ok());
    EXPECT_LT(before->version, kCentralSchemaVersion + 1);
    auto after = MigrateCentralSchema(**admin);
    ASSERT_TRUE(after.ok()) << entry.path() << ": " << after.status().ToString();
    EXPECT_EQ(after->version, kCentralSchemaVersion);
    auto app = (*db)->Connect("millrace_app");
    ASSERT_TRUE(app.ok());
    EXPECT_TRUE(CheckSchemaCurrent(**app).ok());
    auto good = (*admin)->Query(
        "SELECT sum(good_quantity)::bigint FROM millrace.production_event WHERE site_id = 'lyon'");
    ASSERT_TRUE(good.ok());
    EXPECT_GT(std::stol(good->GetString(0, 0)), 0) << "the fixture's counts survived";
    // ... and are in the report rollups the migration built from them.
    auto rolled = (*admin)->Query(
        "SELECT sum(good)::bigint FROM millrace.report_output_day WHERE site_id = 'lyon'");
    ASSERT_TRUE(rolled.ok());
    EXPECT_EQ(rolled->GetString(0, 0), good->GetString(0, 0));
    // ... and in the month rollups (central schema 8 fills them from the days).
    auto months = (*admin)->Query(
        "SELECT (SELECT sum(good)::bigint FROM millrace.report_output_month WHERE site_id = 'lyon'), "
        "(SELECT sum(shift_ms) FROM millrace.report_time_month WHERE site_id = 'lyon') IS NOT DISTINCT FROM "
        "(SELECT sum(shift_ms) FROM millrace.report_time_day WHERE site_id = 'lyon')");
    ASSERT_TRUE(months.ok()) << months.status().ToString();
    EXPECT_EQ(months->GetString(0, 0), good->GetString(0, 0)) << entry.path();
    EXPECT_EQ(months->GetString(0, 1), "t") << entry.path();
  }
  EXPECT_GE(seen, 1) << "no release fixtures under " << fixtures;
}

}  // namespace
}  // namespace millrace::central
