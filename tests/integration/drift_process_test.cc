// Drift checks as real processes: rows changed behind the sync engine's back on either side
// (the edge's SQLite edited while it is stopped, central's PostgreSQL edited directly) are
// found by a drift_check job over the sync link and repaired from the side that owns each,
// so the two converge by content again; the check is recorded with its round trips, shown
// on /metrics and raised as an alert. Under the `long` label, one row wrong among 100,000.
// Usage: drift_process_tests MES_CENTRAL MES_EDGE [gtest flags]
#include <gtest/gtest.h>

#include <thread>

#include "catalog_rows.h"
#include "millrace/central/central_store.h"
#include "millrace/common/sqlite.h"
#include "process_test_main.h"
#include "sync_cluster.h"

namespace millrace::testing {
namespace {

using json = nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;
ClusterBinaries g_bins;

class DriftProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto c = SyncCluster::Create(g_bins, "drift");
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    cluster_ = std::move(*c);
    Status started = cluster_->StartWithTenant("acme", {"lyon"});
    ASSERT_TRUE(started.ok()) << started.ToString();
    Status s = cluster_->AddSite("acme", "lyon");
    ASSERT_TRUE(s.ok()) << s.ToString();
    // The daily drift_sweep runs when central first starts: let it ask for its check and
    // be superseded by the test's own, not land in the middle of the test.
    ASSERT_TRUE(WaitFor(seconds(30), [&] {
      auto r = cluster_->admin().Query(
          "SELECT count(*) FROM millrace.job WHERE kind = 'drift_sweep' AND state = 'succeeded'");
      return r.ok() && r->GetString(0, 0) != "0";
    }));
  }

  // Runs SQL on the stopped edge's store, behind its back.
  void EdgeSql(const std::string& sql) {
    auto db = SqliteDb::Open(cluster_->site_dir("lyon") + "/edge.db");
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    Status s = db->Exec(sql);
    ASSERT_TRUE(s.ok()) << s.ToString() << "\n" << sql;
  }
  // Runs SQL on central's PostgreSQL in tenant acme, behind the sync engine's back.
  void CentralSql(const std::string& sql) {
    Status s = cluster_->TenantSql("acme", sql);
    ASSERT_TRUE(s.ok()) << s.ToString() << "\n" << sql;
  }

  json RunDriftCheck() { return cluster_->RunDriftCheck("acme", "lyon"); }

  std::vector<std::string> DifferingTables() {
    auto e = cluster_->EdgeContent("lyon");
    auto c = cluster_->CentralContent("acme", "lyon");
    std::vector<std::string> out;
    if (!e.ok() || !c.ok()) return {"(content unavailable)"};
    for (const auto& [table, digest] : *e)
      if (c->count(table) == 0 || c->at(table) != digest) out.push_back(table);
    return out;
  }

  json Check(std::int64_t id) {
    auto r = cluster_->admin().Query(
        "SELECT row_to_json(d)::text FROM millrace.sync_drift d WHERE check_id = $1",
        {std::to_string(id)});
    if (!r.ok() || r->rows() != 1) return json::object();
    return json::parse(r->GetString(0, 0));
  }

  std::unique_ptr<SyncCluster> cluster_;
};

TEST_F(DriftProcessTest, RowsChangedBehindTheEnginesBackAreFoundAndRepairedFromTheirOwner) {
  ASSERT_TRUE(cluster_->StartEdge("lyon").ok());
  auto op = cluster_->StartDemoWork("lyon");
  ASSERT_TRUE(op.ok()) << op.status().ToString();
  ASSERT_TRUE(cluster_->CountGood("lyon", *op, 60).ok());
  Status converged = cluster_->WaitConverged(seconds(60));
  ASSERT_TRUE(converged.ok()) << converged.ToString() << cluster_->Diagnose();

  // A check of equal sides finds nothing and costs one round trip.
  json clean = RunDriftCheck();
  ASSERT_EQ(clean.value("finished", 0), 1) << clean.dump();
  EXPECT_EQ(clean.value("drifted", -1), 0) << clean.dump();
  EXPECT_EQ(clean["checks"][0].value("round_trips", 0), 1) << clean.dump();

  // Behind the engine's back: at the edge a master-data row edited and a fact deleted;
  // at central a fact's count changed, another fact deleted and a shared work order's
  // priority changed.
  ASSERT_EQ(cluster_->StopEdge("lyon"), 0);
  EdgeSql(
      "UPDATE equipment SET name = name || ' (edited at the edge)' WHERE id = (SELECT id "
      "FROM equipment ORDER BY id LIMIT 1)");
  EdgeSql(
      "DELETE FROM production_event WHERE id = (SELECT id FROM production_event WHERE kind "
      "= 'COUNT' ORDER BY id LIMIT 1 OFFSET 5)");
  CentralSql(
      "UPDATE millrace.production_event SET good_quantity = good_quantity + 41 WHERE id = "
      "(SELECT id FROM millrace.production_event WHERE tenant_id = 'acme' AND kind = "
      "'COUNT' ORDER BY id LIMIT 1 OFFSET 10)");
  CentralSql(
      "DELETE FROM millrace.production_event WHERE id = (SELECT id FROM "
      "millrace.production_event WHERE tenant_id = 'acme' AND kind = 'COUNT' ORDER BY id "
      "LIMIT 1 OFFSET 20)");
  CentralSql(
      "UPDATE millrace.work_order SET priority = 97 WHERE id = (SELECT id FROM "
      "millrace.work_order WHERE tenant_id = 'acme' AND site_id = 'lyon' ORDER BY id "
      "LIMIT 1)");
  ASSERT_TRUE(cluster_->StartEdge("lyon").ok());
  std::this_thread::sleep_for(seconds(2));
  const auto differing = DifferingTables();
  EXPECT_EQ(differing, (std::vector<std::string>{"equipment", "production_event", "work_order"}));

  json r = RunDriftCheck();
  ASSERT_EQ(r.value("finished", 0), 1) << r.dump();
  EXPECT_EQ(r.value("drifted", 0), 5) << r.dump();
  EXPECT_EQ(r.value("repaired", 0), 5) << r.dump();
  const json c = r["checks"][0];
  EXPECT_EQ(c.value("state", ""), "done") << c.dump();
  EXPECT_EQ(c.value("left_to_sync", -1), 0) << c.dump();
  std::cout << "drift check: " << c.dump() << "\n";
  Status again = cluster_->WaitConverged(seconds(30));
  EXPECT_TRUE(again.ok()) << again.ToString() << cluster_->Diagnose();

  auto sync = cluster_->EdgeCall("lyon", "GET", "/api/v1/sync");
  ASSERT_TRUE(sync.ok());
  EXPECT_EQ((*sync).value("drift_rows_found", 0), 5) << sync->dump();
  EXPECT_EQ((*sync).value("drift_rows_repaired", 0), 5) << sync->dump();

  // Recorded per table: who had what, and where it was repaired.
  const json rec = Check(c.value("check_id", std::int64_t{0}));
  ASSERT_TRUE(rec.contains("tables")) << rec.dump();
  std::map<std::string, json> by_table;
  for (const auto& t : rec["tables"]) by_table[t["table"]] = t;
  EXPECT_EQ(by_table["equipment"].value("repaired_at_edge", 0), 1) << rec.dump();
  EXPECT_EQ(by_table["production_event"].value("only_central", 0), 1) << rec.dump();
  EXPECT_EQ(by_table["production_event"].value("repaired_at_edge", 0), 1) << rec.dump();
  EXPECT_EQ(by_table["production_event"].value("only_edge", 0), 1) << rec.dump();
  EXPECT_EQ(by_table["production_event"].value("repaired_at_central", 0), 2) << rec.dump();
  EXPECT_EQ(by_table["work_order"].value("repaired_at_edge", 0), 1) << rec.dump();
  // The fact took the edge's count back; the work order took central's priority.
  auto q = cluster_->admin().Query(
      "SELECT count(*) FROM millrace.production_event WHERE tenant_id = 'acme' AND kind = "
      "'COUNT' AND good_quantity <> 1");
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->GetString(0, 0), "0");

  // Shown on /metrics and raised as an alert.
  // (read from PostgreSQL at most every 30 s)
  const std::string lyon = "{tenant=\"acme\",site=\"lyon\"}";
  EXPECT_TRUE(WaitFor(seconds(40), [&] {
    return cluster_->CentralMetric("mes_central_drift_rows" + lyon) == 5;
  })) << cluster_->CentralMetric("mes_central_drift_rows" + lyon);
  EXPECT_EQ(cluster_->CentralMetric("mes_central_drift_repaired_rows" + lyon), 5);
  EXPECT_EQ(cluster_->CentralMetric("mes_central_drift_check_failed" + lyon), 0);
  std::string out;
  ASSERT_TRUE(cluster_->CentralCommand({"jobs", "enqueue", "alert_evaluate", "--wait"}, &out).ok())
      << out;
  ASSERT_TRUE(cluster_->CentralCommand({"alerts", "list", "--tenant", "acme"}, &out).ok()) << out;
  EXPECT_NE(out.find("drift"), std::string::npos) << out;
}

// One row wrong at central among 100,000 of the site's inventory movements, written on both sides
// behind the engine's back (the same sample rows), found and repaired in a few round trips.
TEST_F(DriftProcessTest, LongOneRowInAHundredThousandIsFoundAndRepaired) {
  constexpr int kRows = 100000;
  const auto* t = catalog::MesCatalog().Find("inventory_movement");
  ASSERT_NE(t, nullptr);
  std::vector<Row> rows;  // the sample's ids are random: one sample for both sides
  for (int n = 0; n < kRows; ++n) rows.push_back(SampleTypedRow(*t, "lyon", n));
  {
    auto db = SqliteDb::Open(cluster_->site_dir("lyon") + "/edge.db");
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE(db->Exec("BEGIN").ok());
    auto stmt = db->Prepare(InsertSql(*t, Dialect::kSqlite));
    ASSERT_TRUE(stmt.ok()) << stmt.status().ToString();
    for (const Row& row : rows) {
      ASSERT_TRUE((*stmt)->BindAll(row.values()).ok());
      ASSERT_TRUE((*stmt)->Run().ok());
      (*stmt)->Reset();
    }
    ASSERT_TRUE(db->Exec("COMMIT").ok());
  }
  // The same rows at central, through central's own writer.
  auto& pg = cluster_->admin();
  for (int from = 0; from < kRows; from += 5000) {
    const std::vector<Row> part(rows.begin() + from, rows.begin() + from + 5000);
    Status s = central::InTenantTransaction(
        pg, "acme", [&] { return central::CopyRows(pg, "acme", *t, part); });
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  auto victim = pg.Query(
      "SELECT id FROM millrace.inventory_movement WHERE tenant_id = 'acme' ORDER BY id LIMIT 1 "
      "OFFSET "
      "54321");
  ASSERT_TRUE(victim.ok() && victim->rows() == 1);
  CentralSql(
      "UPDATE millrace.inventory_movement SET quantity = quantity + 1 WHERE tenant_id = 'acme' AND "
      "id = '" +
      victim->GetString(0, 0) + "'");
  ASSERT_TRUE(cluster_->StartEdge("lyon").ok());
  // The site's seeded work reaches the edge; the movements stay one row apart.
  const auto until = std::chrono::steady_clock::now() + seconds(60);
  while (DifferingTables() != std::vector<std::string>{"inventory_movement"} &&
         std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(milliseconds(200));
  ASSERT_EQ(DifferingTables(), std::vector<std::string>{"inventory_movement"})
      << cluster_->Diagnose();

  json r = RunDriftCheck();
  ASSERT_EQ(r.value("finished", 0), 1) << r.dump();
  const json c = r["checks"][0];
  EXPECT_EQ(c.value("drifted", 0), 1) << c.dump();
  EXPECT_EQ(c.value("repaired", 0), 1) << c.dump();
  EXPECT_LE(c.value("round_trips", 99), 6) << c.dump();
  EXPECT_GE(c.value("central_rows", 0), kRows) << c.dump();
  const json rec = Check(c.value("check_id", std::int64_t{0}));
  std::cout << "one row in " << kRows << ": " << c.dump() << "\nranges compared "
            << rec.value("ranges_compared", 0) << ", rows listed " << rec.value("rows_listed", 0)
            << "\n";
  Status converged = cluster_->WaitConverged(seconds(30));
  EXPECT_TRUE(converged.ok()) << converged.ToString();
}

}  // namespace
}  // namespace millrace::testing

int main(int argc, char** argv) {
  return millrace::testing::RunProcessTests(argc, argv, &millrace::testing::g_bins);
}
