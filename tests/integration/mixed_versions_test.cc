// installers.mixed_versions: an edge of the release before (its own build, on its release's
// fixture store) syncs with this build's central, one edge schema behind, then is upgraded
// in place. Central reads its changes without the columns it does not know, drift checks
// walk both shapes and repair both ways, and the content converges by digest throughout.
//
// Usage: mixed_versions_tests MES_CENTRAL MES_EDGE PREVIOUS_MES_EDGE FIXTURE_DIR
//   PREVIOUS_MES_EDGE and FIXTURE_DIR are of the same release (mixed_versions_test.sh
//   builds the former from the commit that added the latter).
#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

#include "millrace/common/schema_versions.h"
#include "millrace/common/sqlite.h"
#include "sync_cluster.h"

namespace millrace::testing {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using std::chrono::seconds;

ClusterBinaries g_bins;
std::string g_previous_edge, g_fixture;

class MixedVersionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto c = SyncCluster::CreateFromFixture(g_bins, "mixed-versions", g_fixture);
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    cluster_ = std::move(*c);
    ASSERT_TRUE(cluster_->StartCentral().ok());
    ASSERT_TRUE(cluster_->AddFixtureSite("acme", "lyon", g_fixture).ok());
    // The daily drift_sweep runs when central first starts: let it be done before the
    // test's own checks.
    ASSERT_TRUE(WaitFor(seconds(30), [&] {
      auto r = cluster_->admin().Query(
          "SELECT count(*) FROM millrace.job WHERE kind = 'drift_sweep' AND state = 'succeeded'");
      return r.ok() && r->GetString(0, 0) != "0";
    }));
  }

  std::string CentralText(const std::string& sql) {
    auto r = cluster_->admin().Query(sql);
    return r.ok() && r->rows() > 0 ? r->GetString(0, 0) : "error: " + r.status().ToString();
  }
  void CentralSql(const std::string& sql) {
    Status s = cluster_->TenantSql("acme", sql);
    ASSERT_TRUE(s.ok()) << s.ToString() << "\n" << sql;
  }
  void EdgeSql(const std::string& sql) {
    auto db = SqliteDb::Open(cluster_->site_dir("lyon") + "/edge.db");
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    Status s = db->Exec(sql);
    ASSERT_TRUE(s.ok()) << s.ToString() << "\n" << sql;
  }
  std::string EdgeText(const std::string& sql) {
    auto db = SqliteDb::Open(cluster_->site_dir("lyon") + "/edge.db");
    if (!db.ok()) return db.status().ToString();
    auto v = db->QueryText(sql);
    return v.ok() ? *v : v.status().ToString();
  }
  // The first operation of WO-1001 at lyon, started by operator 1001.
  std::string RunningOperation(std::string* token) {
    auto t = cluster_->BadgeIn("lyon", "1001", "L1-CUT");
    EXPECT_TRUE(t.ok()) << t.status().ToString();
    *token = t.ok() ? *t : "";
    auto wo = cluster_->EdgeId("lyon", "work_order", "number", "WO-1001");
    EXPECT_TRUE(wo.ok());
    auto detail = cluster_->EdgeCall("lyon", "GET", "/api/v1/work-orders/" + *wo, nullptr, *token);
    EXPECT_TRUE(detail.ok()) << detail.status().ToString();
    for (const auto& o : (*detail)["operations"])
      if (o["seq"] == 10) return o["id"];
    return "";
  }
  Status Count(const std::string& op, const std::string& token, json body) {
    return cluster_->EdgeCall("lyon", "POST", "/api/v1/operations/" + op + "/counts", body, token)
        .status();
  }

  std::unique_ptr<SyncCluster> cluster_;
};

TEST_F(MixedVersionsTest, AnEdgeOneSchemaBehindSyncsDriftsAndUpgradesWithThisCentral) {
  const int older = kEdgeSchemaVersion - 1;
  ASSERT_EQ(EdgeText("PRAGMA user_version"), std::to_string(older)) << "the fixture's schema";
  cluster_->SetEdgeBinary("lyon", g_previous_edge);
  ASSERT_TRUE(cluster_->StartEdge("lyon").ok());

  // Served one schema behind: the changes its store held arrive, its content converges
  // with central's, and central records its schema.
  Status converged = cluster_->WaitConverged(seconds(60));
  ASSERT_TRUE(converged.ok()) << converged.ToString() << cluster_->Diagnose();
  EXPECT_EQ(CentralText("SELECT edge_schema::text || ' ' || coalesce(edge_refusal, '-') FROM "
                        "millrace.sync_site WHERE site_id = 'lyon'"),
            std::to_string(older) + " -");
  EXPECT_EQ(EdgeText("PRAGMA user_version"), std::to_string(older)) << "the old build migrated";

  // Its counts reach central with no note; the old terminal knows no note.
  std::string token;
  const std::string op = RunningOperation(&token);
  ASSERT_FALSE(op.empty());
  Status refused = Count(op, token, {{"good", 1}, {"note", "a note"}});
  EXPECT_FALSE(refused.ok()) << "edge schema " << older << " has no note";
  ASSERT_TRUE(Count(op, token, {{"good", 3}}).ok());
  converged = cluster_->WaitConverged(seconds(60));
  ASSERT_TRUE(converged.ok()) << converged.ToString() << cluster_->Diagnose();
  EXPECT_EQ(CentralText("SELECT count(*) FROM millrace.production_event WHERE site_id = 'lyon' "
                        "AND note IS NOT NULL"),
            "0");
  EXPECT_EQ(CentralText("SELECT count(*) FROM millrace.sync_reject"), "0");

  // A drift check walks the two shapes and finds them equal, then repairs both ways: a
  // fact the edge lost comes back from central in the edge's shape, and one central lost
  // goes up from the edge's.
  json clean = cluster_->RunDriftCheck("acme", "lyon");
  ASSERT_EQ(clean.value("finished", 0), 1) << clean.dump();
  EXPECT_EQ(clean.value("drifted", -1), 0) << clean.dump();
  ASSERT_EQ(cluster_->StopEdge("lyon"), 0);
  const std::string lost_at_edge = EdgeText(
      "SELECT id FROM production_event WHERE kind = 'COUNT' ORDER BY id LIMIT 1");
  const std::string lost_at_central = EdgeText(
      "SELECT id FROM production_event WHERE kind = 'COUNT' ORDER BY id DESC LIMIT 1");
  ASSERT_NE(lost_at_edge, lost_at_central);
  EdgeSql("DELETE FROM production_event WHERE id = '" + lost_at_edge + "'");
  CentralSql("DELETE FROM millrace.production_event WHERE id = '" + lost_at_central + "'");
  ASSERT_TRUE(cluster_->StartEdge("lyon").ok());
  json repaired = cluster_->RunDriftCheck("acme", "lyon");
  ASSERT_EQ(repaired.value("finished", 0), 1) << repaired.dump();
  EXPECT_EQ(repaired.value("drifted", 0), 2) << repaired.dump();
  EXPECT_EQ(repaired.value("repaired", 0), 2) << repaired.dump();
  converged = cluster_->WaitConverged(seconds(30));
  ASSERT_TRUE(converged.ok()) << converged.ToString() << cluster_->Diagnose();
  EXPECT_EQ(EdgeText("SELECT count(*) FROM production_event WHERE id = '" + lost_at_edge + "'"),
            "1");

  // Upgraded in place to this build: the store migrates, and a note goes through.
  ASSERT_EQ(cluster_->StopEdge("lyon"), 0);
  const fs::path store = cluster_->site_dir("lyon") + "/edge.db";
  ASSERT_FALSE(fs::exists(store.string() + "-wal") && fs::file_size(store.string() + "-wal") > 0);
  fs::copy_file(store, store.string() + ".schema6", fs::copy_options::overwrite_existing);
  cluster_->SetEdgeBinary("lyon", g_bins.mes_edge);
  ASSERT_TRUE(cluster_->StartEdge("lyon").ok());
  EXPECT_EQ(EdgeText("PRAGMA user_version"), std::to_string(kEdgeSchemaVersion));
  const std::string op2 = RunningOperation(&token);
  ASSERT_TRUE(Count(op2, token, {{"good", 2}, {"note", "two from the rework bin"}}).ok());
  converged = cluster_->WaitConverged(seconds(60));
  ASSERT_TRUE(converged.ok()) << converged.ToString() << cluster_->Diagnose();
  EXPECT_EQ(CentralText("SELECT string_agg(note, ',') FROM millrace.production_event WHERE "
                        "site_id = 'lyon' AND note IS NOT NULL"),
            "two from the rework bin");
  EXPECT_TRUE(WaitFor(seconds(15), [&] {
    return CentralText("SELECT edge_schema FROM millrace.sync_site WHERE site_id = 'lyon'") ==
           std::to_string(kEdgeSchemaVersion);
  }));
  json after = cluster_->RunDriftCheck("acme", "lyon");
  EXPECT_EQ(after.value("drifted", -1), 0) << after.dump();

  // Rolled back to the old build on its pre-upgrade store (a copy: a new store epoch).
  // Central sends back the count the copy lacks, without its note, and a drift check
  // compares in the old store's shape: the note it cannot hold is no difference, and
  // central keeps it.
  const std::string noted = CentralText(
      "SELECT id::text FROM millrace.production_event WHERE note IS NOT NULL");
  ASSERT_EQ(cluster_->StopEdge("lyon"), 0);
  for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(store.string() + suffix);
  fs::copy_file(store.string() + ".schema6", store);
  cluster_->SetEdgeBinary("lyon", g_previous_edge);
  ASSERT_TRUE(cluster_->StartEdge("lyon").ok());
  EXPECT_TRUE(WaitFor(seconds(90), [&] {
    return EdgeText("SELECT count(*) FROM production_event WHERE id = '" + noted + "'") == "1";
  })) << "the noted count did not come back to the old store";
  EXPECT_EQ(EdgeText("PRAGMA user_version"), std::to_string(older));
  json rolled_back = cluster_->RunDriftCheck("acme", "lyon");
  ASSERT_EQ(rolled_back.value("finished", 0), 1) << rolled_back.dump();
  EXPECT_EQ(rolled_back.value("drifted", -1), 0) << rolled_back.dump();
  EXPECT_EQ(CentralText("SELECT note FROM millrace.production_event WHERE id = '" + noted + "'"),
            "two from the rework bin");
}

}  // namespace
}  // namespace millrace::testing

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (argc != 5) {
    std::fprintf(stderr, "usage: %s MES_CENTRAL MES_EDGE PREVIOUS_MES_EDGE FIXTURE_DIR\n",
                 argv[0]);
    return 2;
  }
  millrace::testing::g_bins = {argv[1], argv[2]};
  millrace::testing::g_previous_edge = argv[3];
  millrace::testing::g_fixture = argv[4];
  return RUN_ALL_TESTS();
}
