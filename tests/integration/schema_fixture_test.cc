// schema.fixture_upgrade: every released schema fixture (tests/fixtures/schema/release-N),
// run by this build. Central's database is migrated by `mes-central migrate`, the site's
// store by mes-edge when it opens it; then they sync: the changes the site still held in
// its outbox reach central, new work flows, and both sides converge by content.
//
// Usage: schema_fixture_tests MES_CENTRAL MES_EDGE FIXTURES_DIR
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "sync_cluster.h"

namespace millrace::testing {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

ClusterBinaries g_bins;
fs::path g_fixtures;

std::map<std::string, std::string> ReadVersions(const fs::path& dir) {
  std::map<std::string, std::string> out;
  std::ifstream in(dir / "versions.txt");
  std::string key, value;
  while (in >> key >> value) out[key] = value;
  return out;
}

double CentralSum(SyncCluster& c, const std::string& column) {
  auto r = c.admin().Query("SELECT coalesce(sum(" + column +
                           "), 0) FROM millrace.production_event WHERE site_id = 'lyon'");
  return r.ok() ? std::stod(r->GetString(0, 0)) : -1;
}

TEST(SchemaFixtureTest, EveryReleaseMigratesAndSyncsWithThisBuild) {
  int seen = 0;
  for (const auto& entry : fs::directory_iterator(g_fixtures)) {
    if (!entry.is_directory()) continue;
    ++seen;
    SCOPED_TRACE(entry.path().string());
    const auto versions = ReadVersions(entry.path());
    ASSERT_TRUE(versions.count("edge_good_lyon")) << "versions.txt is incomplete";
    auto cluster = SyncCluster::CreateFromFixture(g_bins, "fixture-" + entry.path().filename().string(),
                                                  entry.path().string());
    ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
    SyncCluster& c = **cluster;
    const double central_good_before = CentralSum(c, "good_quantity");
    EXPECT_EQ(central_good_before, std::stod(versions.at("central_good_lyon")));
    ASSERT_TRUE(c.StartCentral().ok());
    ASSERT_TRUE(c.AddFixtureSite("acme", "lyon", entry.path().string()).ok());
    ASSERT_TRUE(c.StartEdge("lyon").ok());

    // The changes that waited in the old store's outbox arrive.
    Status converged = c.WaitConverged(std::chrono::seconds(60));
    ASSERT_TRUE(converged.ok()) << converged.ToString();
    EXPECT_EQ(CentralSum(c, "good_quantity"), std::stod(versions.at("edge_good_lyon")));
    EXPECT_EQ(CentralSum(c, "scrap_quantity"), std::stod(versions.at("edge_scrap_lyon")));

    // And the floor goes on: a new count on the migrated store syncs too.
    auto token = c.BadgeIn("lyon", "1001", "L1-CUT");
    ASSERT_TRUE(token.ok()) << token.status().ToString();
    auto wo = c.EdgeId("lyon", "work_order", "number", "WO-1001");
    ASSERT_TRUE(wo.ok());
    auto detail = c.EdgeCall("lyon", "GET", "/api/v1/work-orders/" + *wo, nullptr, *token);
    ASSERT_TRUE(detail.ok()) << detail.status().ToString();
    std::string op;
    for (const auto& o : (*detail)["operations"])
      if (o["seq"] == 10) op = o["id"];
    ASSERT_FALSE(op.empty());
    auto counted = c.EdgeCall("lyon", "POST", "/api/v1/operations/" + op + "/counts",
                              {{"good", 4}}, *token);
    ASSERT_TRUE(counted.ok()) << counted.status().ToString();
    converged = c.WaitConverged(std::chrono::seconds(60));
    ASSERT_TRUE(converged.ok()) << converged.ToString();
    EXPECT_EQ(CentralSum(c, "good_quantity"), std::stod(versions.at("edge_good_lyon")) + 4);
  }
  EXPECT_GE(seen, 1) << "no fixtures under " << g_fixtures;
}

}  // namespace
}  // namespace millrace::testing

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s MES_CENTRAL MES_EDGE FIXTURES_DIR\n", argv[0]);
    return 2;
  }
  millrace::testing::g_bins = {argv[1], argv[2]};
  millrace::testing::g_fixtures = argv[3];
  return RUN_ALL_TESTS();
}
