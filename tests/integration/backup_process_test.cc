// Site backups as real processes: an edge ships its scheduled backups to central over the
// sync link, through a proxy whose cut mid-upload the upload survives (it resumes where
// central's copy ends); central keeps them, verifies each with a job, prunes by its
// retention, lists them, and finds a stored backup damaged behind its back; and a dead
// edge replaced from central's newest backup while the floor keeps counting.
// Usage: backup_process_tests MES_CENTRAL MES_EDGE [gtest flags]
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "millrace/common/files.h"
#include "process_test_main.h"
#include "sync_cluster.h"
#include "tcp_proxy.h"

namespace millrace::testing {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;
ClusterBinaries g_bins;

constexpr int kChunk = 4096;  // the edge's upload chunk (the least): a demo site's backup is 3-4

class BackupProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto c = SyncCluster::Create(g_bins, "backups");
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    cluster_ = std::move(*c);
    Status started = cluster_->StartWithTenant("acme", {"lyon"});
    ASSERT_TRUE(started.ok()) << started.ToString();
    auto proxy = TcpProxy::Start(cluster_->sync_port());
    ASSERT_TRUE(proxy.ok()) << proxy.status().ToString();
    proxy_ = std::move(*proxy);
    cluster_->SetBackupSection("lyon", "interval_minutes = 0.05\nship_chunk_kib = " +
                                           std::to_string(kChunk / 1024) + "\n");
    Status s =
        cluster_->AddSite("acme", "lyon", "tcp://127.0.0.1:" + std::to_string(proxy_->port()));
    ASSERT_TRUE(s.ok()) << s.ToString();
  }

  json Sync() {
    auto r = cluster_->EdgeCall("lyon", "GET", "/api/v1/sync");
    return r.ok() ? *r : json::object();
  }

  // `mes-central backups list --json` for lyon, newest first.
  std::vector<json> Backups() {
    std::string out;
    Status s = cluster_->CentralCommand(
        {"backups", "list", "--tenant", "acme", "--site", "lyon", "--json"}, &out);
    EXPECT_TRUE(s.ok()) << s.ToString() << out;
    std::vector<json> list;
    std::istringstream lines(out);
    for (std::string line; std::getline(lines, line);)
      if (!line.empty() && line[0] == '{') list.push_back(json::parse(line));
    return list;
  }



  std::unique_ptr<SyncCluster> cluster_;
  std::unique_ptr<TcpProxy> proxy_;
};

TEST_F(BackupProcessTest, BackupsShipResumeAfterACutAreVerifiedPrunedAndDamageIsFound) {
  // Slow the link so an upload of many chunks takes a while, and cut it mid-upload once
  // central holds a few chunks.
  proxy_->SetDelay(milliseconds(30));
  ASSERT_TRUE(cluster_->StartEdge("lyon").ok());
  std::uint64_t held_at_cut = 0;
  std::string cut_backup;
  ASSERT_TRUE(WaitFor(seconds(60), [&] {
    const json s = Sync();
    if (s.value("backup_shipping", std::string()).empty() ||
        s.value("backup_shipping_offset", std::uint64_t{0}) < kChunk)
      return false;
    proxy_->Cut();
    held_at_cut = Sync().value("backup_shipping_offset", std::uint64_t{0});
    cut_backup = s["backup_shipping"];
    return true;
  })) << cluster_->Diagnose();
  const std::uint64_t sent_at_cut = Sync().value("backup_bytes_sent", std::uint64_t{0});
  std::this_thread::sleep_for(seconds(2));  // the edge notices and reconnects, in vain
  EXPECT_EQ(Sync().value("backups_shipped", 0), 0);
  proxy_->SetDelay(milliseconds(0));
  proxy_->Heal();

  // The upload resumed: the backup that was cut arrives whole, having sent the bytes
  // central held only once (a restart from zero would send them again).
  // (The count of bytes sent is read as the first backup completes: the next one waits a
  // poll of the client, 5 s.)
  std::uint64_t sent = 0;
  ASSERT_TRUE(WaitFor(seconds(60), [&] {
    const json s = Sync();
    sent = s.value("backup_bytes_sent", std::uint64_t{0});
    return s.value("backups_shipped", 0) >= 1;
  })) << cluster_->Diagnose();
  std::vector<json> list;
  ASSERT_TRUE(WaitFor(seconds(60),
                      [&] {
                        list = Backups();
                        for (const json& b : list)
                          if (b["backup_id"] == cut_backup && b["state"] == "verified") return true;
                        return false;
                      }))
      << "backups: " << json(list).dump();
  json first;
  for (const json& b : list)
    if (b["backup_id"] == cut_backup) first = b;
  const std::uint64_t bytes = first["bytes"];
  EXPECT_GT(held_at_cut, 0u);
  EXPECT_LT(sent, sent_at_cut + bytes) << "resent the part central held";
  EXPECT_GE(sent, bytes);
  std::cerr << "backup " << cut_backup << ": " << bytes << " bytes compressed ("
            << first["raw_bytes"] << " expanded); cut with " << held_at_cut << " at central; "
            << sent << " bytes sent for it\n";

  // Verified against central: the site's acknowledged rows in the backup are at central.
  const json& tables = first["verify_result"]["tables"];
  ASSERT_TRUE(tables.contains("production_event")) << first.dump();
  for (auto it = tables.begin(); it != tables.end(); ++it)
    EXPECT_LE((*it)["backup_acknowledged"].get<std::int64_t>(),
              (*it)["central"].get<std::int64_t>() + (*it)["central_parked"].get<std::int64_t>())
        << it.key();
  EXPECT_GT(tables["work_order"]["backup_acknowledged"].get<std::int64_t>(), 0);
  const std::string lyon = "{tenant=\"acme\",site=\"lyon\"}";
  EXPECT_GT(cluster_->CentralMetric("mes_central_site_backup_verified_timestamp_seconds" + lyon), 1.7e9);
  EXPECT_EQ(cluster_->CentralMetric("mes_central_site_backups_failed" + lyon), 0);
  const fs::path stored = cluster_->dir() / "backups" / first["store_key"].get<std::string>();
  EXPECT_TRUE(fs::exists(stored)) << stored;

  // Retention (the newest of each hour): once a newer backup is verified, the first one
  // goes from the list and from the store.
  ASSERT_TRUE(WaitFor(seconds(90),
                      [&] {
                        list = Backups();
                        for (const json& b : list)
                          if (b["backup_id"] == cut_backup) return false;
                        return !list.empty();
                      }))
      << "backups: " << json(list).dump();
  EXPECT_FALSE(fs::exists(stored));

  // A stored backup damaged behind central's back: its next verification finds it.
  cluster_->StopEdge("lyon");
  ASSERT_TRUE(WaitFor(seconds(30), [&] {
    list = Backups();
    return !list.empty() && list[0]["state"] == "verified";
  })) << json(list).dump();
  const json victim = list[0];
  const fs::path file = cluster_->dir() / "backups" / victim["store_key"].get<std::string>();
  {
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(fs::file_size(file) / 2));
    f.put('\x5a');
  }
  // The hourly sweep, asked to verify everything again now, finds it.
  std::string out;
  Status enq = cluster_->CentralCommand(
      {"jobs", "enqueue", "backup_sweep", "--payload", R"({"reverify_days":0})", "--wait"}, &out);
  ASSERT_TRUE(enq.ok()) << enq.ToString() << out;
  ASSERT_TRUE(WaitFor(seconds(30), [&] {
    for (const json& b : Backups())
      if (b["backup_id"] == victim["backup_id"] && b["state"] == "failed") {
        EXPECT_NE(b["verify_error"].get<std::string>().find("sha256"), std::string::npos)
            << b.dump();
        return true;
      }
    return false;
  })) << json(Backups()).dump();
  // MillraceSiteBackupFailed's series (central reads it at most every 15 s).
  EXPECT_TRUE(WaitFor(seconds(30), [&] {
    return cluster_->CentralMetric("mes_central_site_backups_failed" + lyon) == 1;
  }));

  // An enqueue with a field the kind does not take is refused by name.
  enq = cluster_->CentralCommand({"jobs", "enqueue", "backup_verify", "--tenant", "acme",
                                  "--payload", R"({"site":"lyon","backup_id":"x","extra":1})"},
                                 &out);
  EXPECT_FALSE(enq.ok());
  EXPECT_NE(out.find("extra"), std::string::npos) << out;
}

double CentralGood(SyncCluster& c) {
  auto r = c.admin().Query(
      "SELECT coalesce(sum(good_quantity), 0) FROM millrace.production_event WHERE tenant_id = "
      "'acme' AND site_id = 'lyon' AND kind = 'COUNT'");
  return r.ok() ? std::stod(r->GetString(0, 0)) : -1;
}

// The edge's machine dies with its disk. A new one starts from `mes-central restore-site`
// (the newest verified backup, fresh keys), the floor keeps counting on it, and it
// converges with central by content: nothing the terminals were told was saved is lost,
// before the backup, after it (central sends those back), or on the new machine.
TEST_F(BackupProcessTest, ADeadEdgeIsReplacedFromCentralsBackupWithItsCountsIntact) {
  ASSERT_TRUE(cluster_->StartEdge("lyon").ok());
  auto op = cluster_->StartDemoWork("lyon");
  ASSERT_TRUE(op.ok()) << op.status().ToString();
  ASSERT_TRUE(cluster_->CountGood("lyon", *op, 10).ok());
  // A backup taken after the counts (the second one shipped from now on), verified.
  const int shipped = Sync().value("backups_shipped", 0);
  ASSERT_TRUE(WaitFor(seconds(60), [&] {
    return Sync().value("backups_shipped", 0) >= shipped + 2;
  })) << cluster_->Diagnose();
  std::vector<json> list;
  ASSERT_TRUE(WaitFor(seconds(60), [&] {
    list = Backups();
    return !list.empty() && list[0]["state"] == "verified";
  })) << json(list).dump();
  // Counts after that backup, which central has when the machine dies.
  ASSERT_TRUE(cluster_->CountGood("lyon", *op, 5).ok());
  ASSERT_TRUE(WaitFor(seconds(30), [&] { return CentralGood(*cluster_) == 15; }))
      << CentralGood(*cluster_);
  cluster_->StopEdge("lyon", SIGKILL);
  fs::remove_all(cluster_->site_dir("lyon"));

  std::string out;
  const std::vector<std::string> restore_lyon = {
      "restore-site", "--tenant", "acme", "--site", "lyon", "--out", cluster_->site_dir("lyon"),
      "--endpoint", "tcp://127.0.0.1:" + std::to_string(proxy_->port())};
  // Central heard from the edge a moment ago: not taken for dead without --force.
  Status live = cluster_->CentralCommand(restore_lyon, &out);
  EXPECT_FALSE(live.ok());
  EXPECT_NE(out.find("its edge is not dead"), std::string::npos) << out;
  EXPECT_FALSE(fs::exists(cluster_->site_dir("lyon")));
  std::vector<std::string> forced = restore_lyon;
  forced.push_back("--force");
  Status restored = cluster_->CentralCommand(forced, &out);
  ASSERT_TRUE(restored.ok()) << restored.ToString() << out;
  std::cerr << out;
  auto manifest = ReadFile(cluster_->site_dir("lyon") + "/bundle.json");
  ASSERT_TRUE(manifest.ok());
  const json bundle = json::parse(*manifest);
  EXPECT_EQ(bundle["backup"]["state"], "verified");
  EXPECT_TRUE(bundle["fresh_keys"].get<bool>());
  // The dead machine's key is refused from now on; only the bundle's is current.
  auto keys = cluster_->admin().Query(
      "SELECT count(*) FILTER (WHERE retire_at IS NULL OR retire_at > now()), count(*) FROM "
      "millrace.sync_site_key WHERE tenant_id = 'acme' AND site_id = 'lyon'");
  ASSERT_TRUE(keys.ok());
  EXPECT_EQ(keys->GetString(0, 0), "1");
  EXPECT_EQ(keys->GetString(0, 1), "2");
  // A second bundle into the same place is refused, naming it.
  Status again =
      cluster_->CentralCommand({"restore-site", "--tenant", "acme", "--site", "lyon", "--out",
                                cluster_->site_dir("lyon"), "--endpoint", "tcp://127.0.0.1:1"},
                               &out);
  EXPECT_FALSE(again.ok());
  EXPECT_NE(out.find("already exists"), std::string::npos) << out;
  // So is a site without a verified backup.
  Status none = cluster_->CentralCommand(
      {"restore-site", "--tenant", "acme", "--site", "nowhere", "--out",
       cluster_->site_dir("lyon") + "-nowhere", "--endpoint", "tcp://127.0.0.1:1"},
      &out);
  EXPECT_FALSE(none.ok());
  EXPECT_NE(out.find("has no verified backup"), std::string::npos) << out;
  EXPECT_FALSE(fs::exists(cluster_->site_dir("lyon") + "-nowhere"));
  // Keeping a key: the bundle's own is one the site holds; central's is not.
  const std::string kept = cluster_->site_dir("lyon") + "-kept";
  ASSERT_TRUE(cluster_
                  ->CentralCommand({"restore-site", "--tenant", "acme", "--site", "lyon", "--out",
                                    kept, "--endpoint", "tcp://127.0.0.1:1", "--force",
                                    "--keep-key", cluster_->site_dir("lyon") + "/site.key"},
                                   &out)
                  .ok())
      << out;
  EXPECT_FALSE(json::parse(*ReadFile(kept + "/bundle.json"))["fresh_keys"].get<bool>());
  EXPECT_EQ(*ReadFile(kept + "/site.pub"), *ReadFile(cluster_->site_dir("lyon") + "/site.pub"));
  const std::string central_key =
      (fs::path(cluster_->site_dir("lyon")).parent_path() / "central.key").string();
  Status foreign = cluster_->CentralCommand(
      {"restore-site", "--tenant", "acme", "--site", "lyon", "--out", kept + "2", "--endpoint",
       "tcp://127.0.0.1:1", "--force", "--keep-key", central_key},
      &out);
  EXPECT_FALSE(foreign.ok());
  EXPECT_NE(out.find("is not a current key of site acme/lyon"), std::string::npos) << out;
  EXPECT_FALSE(fs::exists(kept + "2"));

  std::ofstream(cluster_->site_dir("lyon") + "/edge.toml", std::ios::app)
      << "[log]\nlevel = \"warn\"\n[backup]\ninterval_minutes = 0\n[clock]\noffset_file = "
         "\"clock-offset-ms\"\n";
  ASSERT_TRUE(cluster_->StartEdge("lyon").ok());
  // The floor works on at once, whether or not central has taken the new store yet.
  ASSERT_TRUE(cluster_->CountGood("lyon", *op, 7).ok());
  Status converged = cluster_->WaitConverged(seconds(90));
  ASSERT_TRUE(converged.ok()) << converged.ToString() << cluster_->Diagnose();
  EXPECT_EQ(CentralGood(*cluster_), 22);
  // The operation's total is its events' sum, though the new machine counted on the
  // backup's total before central sent the rest back; and the operator is badged in once.
  auto op_good = cluster_->admin().Query(
      "SELECT good_quantity FROM millrace.work_order_operation WHERE tenant_id = 'acme' AND "
      "id = '" + *op + "'");
  ASSERT_TRUE(op_good.ok() && op_good->rows() == 1);
  EXPECT_EQ(std::stod(op_good->GetString(0, 0)), 22);
  auto open = cluster_->admin().Query(
      "SELECT user_id, count(*) FROM millrace.operator_session WHERE tenant_id = 'acme' AND "
      "site_id = 'lyon' AND badge_out_at IS NULL GROUP BY user_id HAVING count(*) > 1");
  ASSERT_TRUE(open.ok());
  EXPECT_EQ(open->rows(), 0);

  // The same bundle as a job on a central node: refused while the site is live, then
  // forced, into the node's export directory.
  const std::string payload = R"({"site":"lyon","endpoint":"tcp://127.0.0.1:1")";
  Status refused = cluster_->CentralCommand(
      {"jobs", "enqueue", "site_restore", "--tenant", "acme", "--payload", payload + "}", "--wait"},
      &out);
  EXPECT_FALSE(refused.ok());
  EXPECT_NE(out.find("its edge is not dead"), std::string::npos) << out;
  ASSERT_TRUE(cluster_
                  ->CentralCommand({"jobs", "enqueue", "site_restore", "--tenant", "acme",
                                    "--payload", payload + R"(,"force":true})", "--wait"},
                                   &out)
                  .ok())
      << out;
  json job;  // the line --wait prints when the job ends
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);)
    if (!line.empty() && line[0] == '{') job = json::parse(line);
  const std::string job_dir = job["result"]["dir"];
  EXPECT_NE(job_dir.find("/exports/acme/"), std::string::npos) << job_dir;
  EXPECT_TRUE(fs::exists(job_dir + "/edge.db"));
  EXPECT_EQ(json::parse(*ReadFile(job_dir + "/bundle.json"))["public_key"],
            job["result"]["public_key"]);
  const json s = Sync();
  EXPECT_NE(s["store_epoch"], bundle["backup"]["store_epoch"]);  // a new incarnation
  EXPECT_EQ(s.value("backlog_rows", -1), 0);
}

}  // namespace
}  // namespace millrace::testing

int main(int argc, char** argv) {
  return millrace::testing::RunProcessTests(argc, argv, &millrace::testing::g_bins);
}
