// Retention as real processes: a site's facts older than the edge keeps leave the edge
// once central holds them, facts older than the tenant keeps are exported from central to
// its backup store and purged, and through both the two sides still agree by content and
// a drift check finds nothing to bring back. The edge's clock is set back 75 days while the
// floor works, then put right, so the facts are old by the time they are looked at.
// Usage: retention_process_tests MES_CENTRAL MES_EDGE [gtest flags]
#include <gtest/gtest.h>

#include "millrace/common/sqlite.h"
#include "process_test_main.h"
#include "sync_cluster.h"

namespace millrace::testing {
namespace {

using json = nlohmann::json;
using std::chrono::seconds;
ClusterBinaries g_bins;
constexpr std::chrono::milliseconds kBack = std::chrono::hours(24 * 75);

class RetentionProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto c = SyncCluster::Create(g_bins, "retention");
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    cluster_ = std::move(*c);
    Status s = cluster_->StartWithTenant("acme", {"lyon"});
    ASSERT_TRUE(s.ok()) << s.ToString();
    cluster_->SetEdgeSection("lyon", "retention",
                             "keep_facts_days = 30\npurge_interval_minutes = 0.01\n");
    s = cluster_->AddSite("acme", "lyon");
    ASSERT_TRUE(s.ok()) << s.ToString();
    ASSERT_TRUE(cluster_->SetEdgeClockOffset("lyon", -kBack).ok());
    ASSERT_TRUE(cluster_->StartEdge("lyon").ok());
  }

  std::int64_t EdgeCount(const std::string& table) {
    auto db = SqliteDb::OpenReadOnly(cluster_->site_dir("lyon") + "/edge.db");
    if (!db.ok()) return -1;
    auto n = db->QueryInt("SELECT count(*) FROM \"" + table + "\"");
    return n.ok() ? *n : -1;
  }
  std::int64_t CentralCount(const std::string& table) {
    auto r = cluster_->admin().Query("SELECT count(*) FROM millrace." + table +
                                     " WHERE tenant_id = 'acme' AND site_id = 'lyon'");
    return r.ok() ? std::stoll(r->GetString(0, 0)) : -1;
  }
  void ExpectConverged() {
    Status s = cluster_->WaitConverged(seconds(60));
    ASSERT_TRUE(s.ok()) << s.ToString() << cluster_->Diagnose();
  }

  std::unique_ptr<SyncCluster> cluster_;
};

TEST_F(RetentionProcessTest, OldFactsLeaveTheEdgeAndCentralAndTheSidesStillAgree) {
  // 75 days ago by the edge's clock: work started, counted and completed.
  auto op = cluster_->StartDemoWork("lyon");
  ASSERT_TRUE(op.ok()) << op.status().ToString();
  ASSERT_TRUE(cluster_->CountGood("lyon", *op, 20).ok());
  auto ana = cluster_->BadgeIn("lyon", "1001", "L1-CUT");
  ASSERT_TRUE(ana.ok());
  auto done = cluster_->EdgeCall("lyon", "POST", "/api/v1/operations/" + *op + "/complete",
                                 json::object(), *ana);
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  ExpectConverged();
  const std::int64_t events = CentralCount("production_event");
  ASSERT_GE(events, 22);  // START, 20 COUNTs, COMPLETE
  ASSERT_EQ(EdgeCount("production_event"), events);

  // The clock put right: those facts are 75 days old, central holds them, the edge lets
  // them go (the purge runs every 0.6 s here). Central keeps every one.
  ASSERT_TRUE(cluster_->SetEdgeClockOffset("lyon", std::chrono::milliseconds(0)).ok());
  ASSERT_TRUE(WaitFor(seconds(30), [&] { return EdgeCount("production_event") == 0; }))
      << EdgeCount("production_event") << " events left at the edge";
  EXPECT_EQ(CentralCount("production_event"), events);
  auto sync = cluster_->EdgeCall("lyon", "GET", "/api/v1/sync");
  ASSERT_TRUE(sync.ok());
  EXPECT_GE((*sync)["facts_purged"].get<std::int64_t>(), events);
  EXPECT_GT((*sync)["fact_horizon_ms"].get<std::int64_t>(), 0);
  EXPECT_GT((*sync)["store_bytes"].get<std::int64_t>(), 0);  // the database's size, reported
  // The two sides still agree: both leave out the facts before the edge's horizon, which
  // central heard with the edge's next Hello.
  ExpectConverged();
  json check = cluster_->RunDriftCheck("acme", "lyon");
  ASSERT_EQ(check.value("finished", 0), 1) << check.dump();
  EXPECT_EQ(check.value("drifted", -1), 0) << check.dump();
  EXPECT_EQ(EdgeCount("production_event"), 0) << "a drift check brings no purged fact back";

  // Central keeps one month: the 75-day-old facts are exported to its backup store and
  // purged there too, and the sides still agree (the edge hears central's horizon).
  std::string out;
  ASSERT_TRUE(cluster_->CentralCommand({"retention", "set", "--tenant", "acme", "--months", "1",
                                        "--reason", "a month is enough"},
                                       &out)
                  .ok())
      << out;
  ASSERT_TRUE(cluster_->CentralCommand({"retention", "run", "--tenant", "acme"}, &out).ok())
      << out;
  EXPECT_EQ(CentralCount("production_event"), 0);
  ASSERT_TRUE(cluster_->CentralCommand({"retention", "show", "--tenant", "acme", "--json"}, &out)
                  .ok())
      << out;
  auto shown = json::parse(out, nullptr, false);
  ASSERT_TRUE(shown.is_object()) << out;
  EXPECT_EQ(shown["months"], 1);
  std::int64_t exported_events = 0;
  for (const auto& e : shown["exports"])
    if (e["table"] == "production_event") exported_events += e["rows"].get<std::int64_t>();
  EXPECT_EQ(exported_events, events);
  // The operator still badged in is an open session: the edge keeps it, central exported it.
  EXPECT_GE(EdgeCount("operator_session"), 1);
  EXPECT_EQ(CentralCount("operator_session"), 0);
  ExpectConverged();
  check = cluster_->RunDriftCheck("acme", "lyon");
  ASSERT_EQ(check.value("finished", 0), 1) << check.dump();
  EXPECT_EQ(check.value("drifted", -1), 0) << check.dump();
  EXPECT_EQ(CentralCount("operator_session"), 0) << "no fact comes back from the site";
}

}  // namespace
}  // namespace millrace::testing

int main(int argc, char** argv) {
  return millrace::testing::RunProcessTests(argc, argv, &millrace::testing::g_bins);
}
