// Store epochs as real processes: an edge restored from a backup with `mesctl restore`,
// and a store copied to a second place and started next to the original. Nothing the
// terminals were told was saved may be lost, and two stores claiming one site are refused
// loudly, never merged silently.
// Usage: store_epoch_process_tests MES_CENTRAL MES_EDGE MESCTL [gtest flags]
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "millrace/common/files.h"
#include "process_test_main.h"
#include "sync_cluster.h"

namespace millrace::testing {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
ClusterBinaries g_bins;
std::string g_mesctl;

class StoreEpochProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto c = SyncCluster::Create(g_bins, "epochs");
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    cluster_ = std::move(*c);
    Status started = cluster_->StartWithTenant("acme", {"lyon"});
    ASSERT_TRUE(started.ok()) << started.ToString();
    Status s = cluster_->AddSite("acme", "lyon");
    ASSERT_TRUE(s.ok()) << s.ToString();
    ASSERT_TRUE(cluster_->StartEdge("lyon").ok());
  }

  // Releases WO-1001 and starts its first operation at L1-CUT; returns the operation id.
  std::string StartWork() {
    auto op = cluster_->StartDemoWork("lyon");
    EXPECT_TRUE(op.ok()) << op.status().ToString();
    return op.ok() ? *op : "";
  }

  // `n` counts of one good each, every one answered 201 (the terminal was told: saved).
  void Count(const std::string& op, int n) {
    Status s = cluster_->CountGood("lyon", op, n);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }

  double CentralGood(const std::string& where = "") {
    auto r = cluster_->admin().Query(
        "SELECT coalesce(sum(good_quantity), 0) FROM millrace.production_event WHERE site_id = "
        "'lyon' AND kind = 'COUNT'" + where);
    return r.ok() ? std::stod(r->GetString(0, 0)) : -1;
  }

  std::unique_ptr<SyncCluster> cluster_;
};

// The report that started this: back up, write 10 counts that sync, stop, restore the
// backup, start, write 30 counts. Central used to end with 20 of the 30 and the edge with
// a backlog of 0: the new counts reused seqs central had applied, and were acknowledged
// away unsent.
TEST_F(StoreEpochProcessTest, ARestoredEdgeLosesNoAcknowledgedWriteAndGetsBackWhatItsBackupLacked) {
  const std::string op = StartWork();
  auto sam = cluster_->BadgeIn("lyon", "2001", "L1-PRESS");
  auto backup = cluster_->EdgeCall("lyon", "POST", "/api/v1/backups", json::object(), *sam);
  ASSERT_TRUE(backup.ok()) << backup.status().ToString();
  Count(op, 10);
  Status s = cluster_->WaitConverged(std::chrono::seconds(30));
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(CentralGood(), 10);

  EXPECT_EQ(cluster_->StopEdge("lyon"), 0);
  std::string out;
  ASSERT_EQ(RunCommand({g_mesctl, "restore", "--backup", (*backup)["path"].get<std::string>(),
                        "--db", cluster_->site_dir("lyon") + "/edge.db"},
                       &out),
            0)
      << out;
  EXPECT_NE(out.find("starts epoch"), std::string::npos) << out;
  ASSERT_TRUE(cluster_->StartEdge("lyon").ok());
  // Central takes the restored store once the old one has been silent for the grace, and
  // sends back the 10 counts the backup lacks: the two converge by content.
  s = cluster_->WaitConverged(std::chrono::seconds(60));
  ASSERT_TRUE(s.ok()) << s.ToString();
  auto status = cluster_->EdgeCall("lyon", "GET", "/api/v1/sync");
  ASSERT_TRUE(status.ok());
  EXPECT_EQ((*status)["last_error"], "");

  Count(op, 30);
  s = cluster_->WaitConverged(std::chrono::seconds(30));
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(CentralGood(), 40) << "every count a terminal was told was saved is at central";
  status = cluster_->EdgeCall("lyon", "GET", "/api/v1/sync");
  EXPECT_EQ((*status)["backlog_rows"], 0);
  // The edge reports its store's size and the disk free beside it (what a disk budget alert
  // reads on its /metrics).
  EXPECT_GT((*status).value("store_bytes", std::int64_t{0}), 4096);
  EXPECT_GT((*status).value("disk_free_bytes", std::int64_t{0}), 0);
  // Central holds both as of the edge's last Hello (what its disk_free alert reads).
  auto reported = cluster_->admin().Query(
      "SELECT coalesce(reported_disk_free_bytes, 0), coalesce(reported_store_bytes, 0) FROM "
      "millrace.sync_site WHERE tenant_id = 'acme' AND site_id = 'lyon'");
  ASSERT_TRUE(reported.ok()) << reported.status().ToString();
  EXPECT_GT(std::stoll(reported->GetString(0, 0)), 0);
  EXPECT_GT(std::stoll(reported->GetString(0, 1)), 4096);
  auto opr = cluster_->admin().Query(
      "SELECT good_quantity FROM millrace.work_order_operation WHERE id = '" + op + "'");
  ASSERT_TRUE(opr.ok());
  EXPECT_EQ(std::stod(opr->GetString(0, 0)), 40) << "the operation's total counts all 40";
  EXPECT_EQ(cluster_->CentralMetric("mes_sync_store_epochs_started_total{tenant=\"acme\",site=\"lyon\"}"), 1);
}

// A store copied to a second place and started while the original runs: the copy is
// refused while the original is live; once the original has been silent for the grace the
// copy becomes the site's store, and the original is refused from then on. Central never
// holds a row the refused store wrote while refused.
TEST_F(StoreEpochProcessTest, AStoreCopiedToASecondMachineIsRefusedLoudlyNotMerged) {
  const std::string op = StartWork();
  Count(op, 3);
  ASSERT_TRUE(cluster_->WaitConverged(std::chrono::seconds(30)).ok());
  EXPECT_EQ(cluster_->StopEdge("lyon"), 0);
  const fs::path original = cluster_->site_dir("lyon");
  const fs::path copy = cluster_->dir() / "lyon-copy";
  fs::copy(original, copy, fs::copy_options::recursive);
  fs::remove(copy / "port");
  // A provisioned edge.toml names its store relative to itself, so the copied directory
  // runs on its own copy of the store without an edit.
  auto toml = ReadFile((copy / "edge.toml").string());
  ASSERT_TRUE(toml.ok());
  ASSERT_NE(toml->find("path = \"edge.db\""), std::string::npos) << *toml;
  ASSERT_TRUE(cluster_->StartEdge("lyon").ok());
  Count(op, 2);  // the original works on

  ChildProcess second({g_bins.mes_edge, "serve", "-c", (copy / "edge.toml").string(),
                       "--http-port", "0", "--port-file", (copy / "port").string()},
                      copy / "edge.log");
  ASSERT_TRUE(second.Start().ok());
  std::string port;
  for (int i = 0; i < 100 && port.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    std::ifstream(copy / "port") >> port;
  }
  ASSERT_FALSE(port.empty()) << "the copy did not start";
  const HttpEndpoint copy_http{"127.0.0.1", static_cast<std::uint16_t>(std::stoi(port))};
  auto copy_error = [&]() -> std::string {
    auto r = HttpCall(copy_http, "GET", "/api/v1/sync", "", {});
    if (!r.ok()) return "";
    return json::parse(r->body).value("last_error", "");
  };
  std::string error;
  for (int i = 0; i < 100 && error.find("site_live_elsewhere") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    error = copy_error();
  }
  EXPECT_NE(error.find("site_live_elsewhere"), std::string::npos) << "copy's sync error: " << error;
  EXPECT_GE(cluster_->CentralMetric("mes_sync_store_refusals_total{tenant=\"acme\",site=\"lyon\",reason=\"site_live_elsewhere\"}"), 1);
  // Counts on the copy stay on the copy while it is refused; the original keeps syncing.
  std::string ana_copy;
  {
    auto r = HttpCall(copy_http, "POST", "/api/v1/sessions",
                      json{{"badge_id", "1001"}, {"pin", "1234"}, {"work_unit", "L1-CUT"}}.dump(),
                      {});
    ASSERT_TRUE(r.ok() && r->status == 201) << (r.ok() ? r->body : r.status().ToString());
    ana_copy = json::parse(r->body)["token"];
    auto counted = HttpCall(copy_http, "POST", "/api/v1/operations/" + op + "/counts",
                            json{{"good", 100}}.dump(), {{"authorization", "Bearer " + ana_copy}});
    ASSERT_TRUE(counted.ok() && counted->status == 201);
  }
  Count(op, 1);
  ASSERT_TRUE(cluster_->WaitConverged(std::chrono::seconds(30)).ok());
  EXPECT_EQ(CentralGood(), 6) << "the copy's count of 100 did not reach central";

  // The original stops for good; after the grace the copy is the site's store, and its
  // count arrives.
  EXPECT_EQ(cluster_->StopEdge("lyon"), 0);
  bool took_over = false;
  for (int i = 0; i < 400 && !took_over; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    took_over = CentralGood() == 106;
  }
  EXPECT_TRUE(took_over) << "copy's sync error: " << copy_error();
  // The original comes back: refused by name, and nothing it writes reaches central.
  ASSERT_TRUE(cluster_->StartEdge("lyon").ok());
  Count(op, 1);
  std::string refused;
  for (int i = 0; i < 100 && refused.find("store_superseded") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    auto st = cluster_->EdgeCall("lyon", "GET", "/api/v1/sync");
    if (st.ok()) refused = st->value("last_error", "");
  }
  EXPECT_NE(refused.find("store_superseded"), std::string::npos) << refused;
  std::this_thread::sleep_for(std::chrono::seconds(1));
  EXPECT_EQ(CentralGood(), 106);
  second.Signal(SIGTERM);
}

}  // namespace
}  // namespace millrace::testing

int main(int argc, char** argv) {
  return millrace::testing::RunProcessTests(argc, argv, &millrace::testing::g_bins,
                                            &millrace::testing::g_mesctl);
}
