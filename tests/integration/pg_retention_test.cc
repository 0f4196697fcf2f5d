// Central's retention on a real PostgreSQL: a tenant's facts older than its retention are
// exported to the backup store (gzip CSV, checked by SHA-256, recorded in fact_export) and
// purged, the report rollups keep their sums, audit records go only this way, another
// tenant's rows stay, and a monthly partition no tenant's rows are left in is dropped.
#include "millrace/central/retention.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "millrace/central/central_store.h"
#include "millrace/common/digest.h"
#include "millrace/common/gzip.h"
#include "millrace/common/uuid.h"
#include "test_pg.h"

namespace millrace::central {
namespace {

class PgRetentionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto central = millrace::testing::CreateCentralDatabase();
    ASSERT_TRUE(central.ok()) << central.status().ToString();
    db_ = std::move(central->db);
    admin_ = std::move(central->admin);
    app_ = std::move(central->app);
    dir_ = std::filesystem::temp_directory_path() /
           ("millrace-retention-" + std::to_string(::getpid()) + "-" +
            Uuid::NewV7().ToString().substr(24));
    auto store = OpenDirectoryBackupStore((dir_ / "store").string());
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
    // Ids whose first 48 bits are the time they name, as a site makes them (UUIDv7).
    Admin("CREATE FUNCTION public.v7(t timestamptz) RETURNS uuid LANGUAGE sql AS $$ SELECT "
          "(substr(millrace.uuid7_floor(t)::text, 1, 14) || '7' || substr(md5(random()::text), 1, "
          "3) || '-8' || substr(md5(random()::text), 1, 3) || '-' || "
          "substr(md5(random()::text), 1, 12))::uuid $$");
    // A deployment whose measurement partitions began 15 months ago: the history partition
    // ends there and a partition per month follows.
    Admin("ALTER TABLE millrace.measurement DETACH PARTITION millrace.measurement_history");
    Admin("DO $$ DECLARE p text; BEGIN FOR p IN SELECT partition_name FROM millrace.fact_partition "
          "WHERE table_name = 'measurement' AND from_month IS NOT NULL LOOP EXECUTE "
          "format('DROP TABLE millrace.%I', p); END LOOP; END $$");
    Admin("DELETE FROM millrace.fact_partition WHERE table_name = 'measurement' AND from_month IS "
          "NOT NULL");
    Admin("UPDATE millrace.fact_partition SET to_month = " + Month(-15) +
          " WHERE partition_name = 'measurement_history'");
    Admin("ALTER TABLE millrace.measurement ATTACH PARTITION millrace.measurement_history FOR "
          "VALUES FROM (MINVALUE) TO (millrace.uuid7_floor(" + Month(-15) + "))");
    Admin("SELECT millrace.fact_partitions_ensure(3)");
    for (const char* t : {"acme", "globex"})
      Admin(std::string("INSERT INTO millrace.sync_tenant (tenant_id, name) VALUES ('") + t +
            "', '" + t + "')");
    Admin("INSERT INTO millrace.sync_site (tenant_id, site_id) VALUES ('acme', 'lyon'), "
          "('globex', 'tokyo')");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  void Admin(const std::string& sql) {
    Status s = admin_->Exec(sql);
    ASSERT_TRUE(s.ok()) << s.ToString() << "\n" << sql;
  }
  // The first day of the UTC month `delta` months from this one, as SQL.
  static std::string Month(int delta) {
    return "(date_trunc('month', now() AT TIME ZONE 'UTC') + make_interval(months => " +
           std::to_string(delta) + "))::date";
  }
  // `n` measurements of `tenant`'s site made on the 10th of the month `delta` from this one.
  void Measure(const std::string& tenant, const std::string& site, int delta, int n) {
    for (int i = 0; i < n; ++i)
      Admin("INSERT INTO millrace.measurement (tenant_id, id, site_id, characteristic_id, value, "
            "in_spec, at, hlc, origin) SELECT '" + tenant + "', public.v7(t), '" + site +
            "', '00000000-0000-7000-8000-0000000000e1', " + std::to_string(10 + i) +
            ", true, t, 1, 'edge:" + site + "' FROM (SELECT (" + Month(delta) +
            " + interval '9 days 3 hours')::timestamptz AS t) x");
  }
  std::int64_t Count(const std::string& sql) {
    auto r = admin_->Query(sql);
    EXPECT_TRUE(r.ok()) << r.status().ToString() << "\n" << sql;
    return r.ok() && !r->IsNull(0, 0) ? std::stoll(r->GetString(0, 0)) : -1;
  }
  std::string Text(const std::string& sql) {
    auto r = admin_->Query(sql);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() && r->rows() == 1 && !r->IsNull(0, 0) ? r->GetString(0, 0) : "";
  }

  std::unique_ptr<millrace::testing::TestDatabase> db_;
  std::unique_ptr<PgConnection> admin_, app_;
  std::filesystem::path dir_;
  std::unique_ptr<BackupStore> store_;
};

TEST_F(PgRetentionTest, OldMonthsAreExportedThenPurgedAndTheRollupsStay) {
  Measure("acme", "lyon", -14, 3);
  Measure("acme", "lyon", -13, 2);
  Measure("acme", "lyon", -2, 4);
  Measure("globex", "tokyo", -13, 1);
  // An audit record from long ago: changed or deleted by no one, but retention.
  Admin("INSERT INTO millrace.audit_record (tenant_id, id, site_id, actor_name, actor_role, "
        "action, table_name, at, hlc, origin) SELECT 'acme', public.v7(t), 'lyon', 'sam', "
        "'supervisor', 'work_order.hold', 'work_order', t, 1, 'edge:lyon' FROM (SELECT (" +
        Month(-20) + " + interval '1 day')::timestamptz AS t) x");
  const std::string rollups =
      "SELECT sum(n)::text || '/' || sum(sum_v)::text FROM millrace.report_quality_day WHERE "
      "tenant_id = 'acme'";
  const std::string before = Text(rollups);
  ASSERT_EQ(before, "9/100");  // 10+11+12, 10+11, 10+11+12+13
  const std::string month14 = Text("SELECT partition_name FROM millrace.fact_partition WHERE "
                                   "table_name = 'measurement' AND from_month = " + Month(-14));
  ASSERT_FALSE(month14.empty());

  // Without a retention nothing runs; with twelve months, the months before go.
  EXPECT_EQ(RunFactRetention(*app_, *store_, (dir_ / "work").string(), "acme", "test").status().code(),
            StatusCode::kFailedPrecondition);
  Status set = SetFactRetention(*app_, "acme", 12, {"test", "keep a year"});
  ASSERT_TRUE(set.ok()) << set.ToString();
  EXPECT_EQ(SetFactRetention(*app_, "acme", 0).code(), StatusCode::kInvalidArgument);
  auto horizon = [&] {
    std::int64_t h = 0;
    EXPECT_TRUE(InTenantTransaction(*app_, "acme", [&]() -> Status {
                  MILLRACE_ASSIGN_OR_RETURN(h, TenantFactHorizon(*app_, "acme"));
                  return Status::Ok();
                }).ok());
    return h;
  }();
  EXPECT_EQ(horizon, Count("SELECT (extract(epoch FROM (" + Month(-12) +
                           ")::timestamp AT TIME ZONE 'UTC') * 1000)::bigint"));

  std::vector<std::pair<std::int64_t, std::int64_t>> progress;
  auto outcome = RunFactRetention(*app_, *store_, (dir_ / "work").string(), "acme", "test",
                                  [&](std::int64_t d, std::int64_t t) { progress.emplace_back(d, t); });
  ASSERT_TRUE(outcome.ok()) << outcome.status().ToString();
  EXPECT_EQ(outcome->months, 3);  // measurement 14 and 13 months ago, audit 20 months ago
  EXPECT_EQ(outcome->rows, 6);
  ASSERT_FALSE(progress.empty());
  EXPECT_EQ(progress.back().first, progress.back().second);

  EXPECT_EQ(Count("SELECT count(*) FROM millrace.measurement WHERE tenant_id = 'acme'"), 4);
  EXPECT_EQ(Count("SELECT count(*) FROM millrace.measurement WHERE tenant_id = 'globex'"), 1);
  EXPECT_EQ(Count("SELECT count(*) FROM millrace.audit_record WHERE tenant_id = 'acme'"), 0);
  EXPECT_EQ(Text(rollups), before) << "the report rollups keep the purged months' sums";
  // Month -14 held acme's rows only: its partition is gone. Month -13 still holds globex's.
  EXPECT_EQ(Count("SELECT count(*) FROM pg_class WHERE relname = '" + month14 + "'"), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM millrace.fact_partition WHERE table_name = 'measurement' "
                  "AND from_month = " + Month(-13)),
            1);
  // A row of a dropped month arriving late still has somewhere to go.
  Measure("globex", "tokyo", -14, 1);
  EXPECT_EQ(Count("SELECT count(*) FROM millrace.measurement_default"), 1);

  // Each export: in the store, whole, and holding exactly the rows purged.
  auto shown = ShowFactRetention(*app_, "acme");
  ASSERT_TRUE(shown.ok()) << shown.status().ToString();
  ASSERT_EQ(shown->exports.size(), 3u);
  std::int64_t exported_rows = 0;
  for (const auto& e : shown->exports) {
    const std::string key = e["key"];
    EXPECT_EQ(key.rfind("acme/_facts/" + e["table"].get<std::string>() + "/", 0), 0u) << key;
    const std::string gz = (dir_ / "fetched.gz").string(), csv = (dir_ / "fetched.csv").string();
    ASSERT_TRUE(store_->Fetch(key, gz).ok());
    EXPECT_EQ(*FileSha256Hex(gz), e["sha256"].get<std::string>());
    ASSERT_TRUE(GunzipFile(gz, csv, 1 << 20).ok());
    std::ifstream in(csv);
    std::string header, line;
    std::getline(in, header);
    EXPECT_EQ(header.rfind("id,site_id,", 0), 0u) << header;
    std::int64_t lines = 0;
    while (std::getline(in, line)) {
      ++lines;
      EXPECT_NE(line.find(",lyon,"), std::string::npos) << line;  // acme's rows only
    }
    EXPECT_EQ(lines, e["rows"].get<std::int64_t>());
    exported_rows += lines;
  }
  EXPECT_EQ(exported_rows, 6);

  // A second run finds nothing left to do.
  outcome = RunFactRetention(*app_, *store_, (dir_ / "work").string(), "acme", "test");
  ASSERT_TRUE(outcome.ok()) << outcome.status().ToString();
  EXPECT_EQ(outcome->months, 0);
  // The setting is audited.
  EXPECT_EQ(Count("SELECT count(*) FROM millrace.central_audit WHERE tenant_id = 'acme' AND "
                  "action = 'tenant.retention'"),
            1);
}

// The app role purges only in a tenant's context, only its own rows, and only ids before
// what the tenant keeps.
TEST_F(PgRetentionTest, APurgeIsHeldToItsTenantsRowsBeforeItsRetention) {
  Measure("acme", "lyon", -14, 1);
  Measure("globex", "tokyo", -14, 1);
  const std::string range = "'measurement', millrace.uuid7_floor((" + Month(-14) +
                            ")::timestamp AT TIME ZONE 'UTC'), millrace.uuid7_floor((" +
                            Month(-13) + ")::timestamp AT TIME ZONE 'UTC')";
  auto purge = [&](const std::string& tenant, const std::string& args) {
    return InTenantTransaction(*app_, tenant, [&]() -> Status {
      return app_->Query("SELECT millrace.fact_range_purge(" + args + ")").status();
    });
  };
  EXPECT_FALSE(app_->Query("SELECT millrace.fact_range_purge(" + range + ")").ok());  // no tenant
  // globex keeps every fact: nothing of it may go.
  EXPECT_EQ(purge("globex", range).code(), StatusCode::kInvalidArgument);
  ASSERT_TRUE(SetFactRetention(*app_, "globex", 12).ok());
  EXPECT_EQ(purge("globex", "'production_events'" + range.substr(range.find(','))).code(),
            StatusCode::kInvalidArgument);
  // Not the months it keeps either.
  EXPECT_EQ(purge("globex", "'measurement', millrace.uuid7_floor((" + Month(-14) +
                                ")::timestamp AT TIME ZONE 'UTC'), millrace.uuid7_floor(now())")
                .code(),
            StatusCode::kInvalidArgument);
  Status s = purge("globex", range);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(Count("SELECT count(*) FROM millrace.measurement WHERE tenant_id = 'acme'"), 1);
  EXPECT_EQ(Count("SELECT count(*) FROM millrace.measurement WHERE tenant_id = 'globex'"), 0);
}

}  // namespace
}  // namespace millrace::central
