// Sync as real processes: mes-central over a fresh PostgreSQL database, three provisioned
// mes-edge daemons (two sites of one tenant, one of another) talking CurveZMQ over
// loopback. Convergence is asserted by content: per table and site, the rows on the
// edge's SQLite and in central's PostgreSQL hash the same.
// Usage: sync_process_tests MES_CENTRAL MES_EDGE MESCTL [gtest flags]
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <filesystem>
#include <sstream>
#include <thread>
#include <zmq.hpp>

#include "millrace/common/catalog.h"
#include "millrace/common/schema_versions.h"
#include "millrace/sync/transport.h"
#include "millrace/sync/wire.h"
#include "sync_cluster.h"

namespace millrace::testing {
namespace {

using json = nlohmann::json;
ClusterBinaries g_bins;
std::string g_mesctl;

class SyncProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto c = SyncCluster::Create(g_bins, "sync");
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    cluster_ = std::move(*c);
    ASSERT_TRUE(cluster_->StartCentral().ok());
    for (const char* t : {"acme", "globex"}) ASSERT_TRUE(cluster_->CreateTenant(t).ok());
    Status s = cluster_->SeedDemo("acme", {"lyon", "porto"});
    ASSERT_TRUE(s.ok()) << s.ToString();
    s = cluster_->SeedDemo("globex", {"tokyo"});
    ASSERT_TRUE(s.ok()) << s.ToString();
    cluster_->SetTimeZone("lyon", "Europe/Paris");
    cluster_->SetTimeZone("porto", "Europe/Lisbon");
    cluster_->SetTimeZone("tokyo", "Asia/Tokyo");
    for (auto [tenant, site] : {std::pair{"acme", "lyon"}, {"acme", "porto"}, {"globex", "tokyo"}}) {
      s = cluster_->AddSite(tenant, site);
      ASSERT_TRUE(s.ok()) << s.ToString();
      s = cluster_->StartEdge(site);
      ASSERT_TRUE(s.ok()) << s.ToString();
    }
  }

  // A supervisor releases WO-1001; an operator runs its first step with counts and a
  // downtime. Every call must succeed, with or without central.
  void Shift(const std::string& site, int counts) {
    auto sam = cluster_->BadgeIn(site, "2001", "L1-PRESS");
    ASSERT_TRUE(sam.ok()) << sam.status().ToString();
    auto wo = cluster_->EdgeId(site, "work_order", "number", "WO-1001");
    ASSERT_TRUE(wo.ok());
    auto order = cluster_->EdgeCall(site, "GET", "/api/v1/work-orders/" + *wo, nullptr, *sam);
    ASSERT_TRUE(order.ok()) << order.status().ToString();
    if ((*order)["status"] == "Draft") {
      auto r = cluster_->EdgeCall(site, "POST", "/api/v1/work-orders/" + *wo + "/release",
                                  json::object(), *sam);
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      order = cluster_->EdgeCall(site, "GET", "/api/v1/work-orders/" + *wo, nullptr, *sam);
    }
    const std::string op = (*order)["operations"][0]["id"];
    auto ana = cluster_->BadgeIn(site, "1001", "L1-CUT");
    ASSERT_TRUE(ana.ok()) << ana.status().ToString();
    if ((*order)["operations"][0]["status"] == "Ready") {
      auto r = cluster_->EdgeCall(site, "POST", "/api/v1/operations/" + op + "/start",
                                  json::object(), *ana);
      ASSERT_TRUE(r.ok()) << r.status().ToString();
    }
    auto scrap_reason = cluster_->EdgeId(site, "reason_code", "code", "SC-DIM");
    ASSERT_TRUE(scrap_reason.ok());
    for (int i = 0; i < counts; ++i) {
      json body = i % 5 == 4 ? json{{"scrap", 1}, {"scrap_reason_id", *scrap_reason}}
                             : json{{"good", 2}};
      auto r = cluster_->EdgeCall(site, "POST", "/api/v1/operations/" + op + "/counts", body, *ana);
      ASSERT_TRUE(r.ok()) << r.status().ToString();
    }
    auto unit = cluster_->EdgeId(site, "equipment", "code", "L1-CUT");
    auto jam = cluster_->EdgeId(site, "reason_code", "code", "DT-MECH-JAM");
    auto down = cluster_->EdgeCall(site, "POST", "/api/v1/downtime",
                                   {{"work_unit_id", *unit}, {"reason_id", *jam}}, *ana);
    ASSERT_TRUE(down.ok()) << down.status().ToString();
    auto up = cluster_->EdgeCall(site, "POST",
                                 "/api/v1/downtime/" + (*down)["id"].get<std::string>() + "/end",
                                 json::object(), *ana);
    ASSERT_TRUE(up.ok()) << up.status().ToString();
  }

  std::string CentralText(const std::string& sql, const std::vector<central::PgParam>& p = {}) {
    auto r = cluster_->admin().Query(sql, p);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() && r->rows() > 0 ? r->GetString(0, 0) : "";
  }

  std::unique_ptr<SyncCluster> cluster_;
};

TEST_F(SyncProcessTest, ThreeSitesTwoTenantsAndCentralEditsConvergeByContent) {
  for (const char* site : {"lyon", "porto", "tokyo"}) Shift(site, 20);
  // Central edits: a new reason for acme only, and WO-1002 released to lyon from central.
  auto put = cluster_->Put("acme", "reason_code",
                           json{{"code", "DT-POWER"}, {"name", "Power cut"}, {"category", "downtime"},
                                {"planned", false}, {"is_failure", true}, {"active", true},
                                {"oee_bucket", "availability"}, {"loss_class", "breakdown"}});
  ASSERT_TRUE(put.ok()) << put.status().ToString();
  auto wo2 = cluster_->EdgeId("lyon", "work_order", "number", "WO-1002");
  ASSERT_TRUE(wo2.ok());
  ASSERT_TRUE(cluster_->WaitConverged(std::chrono::seconds(30)).ok());  // WO-1002 is central's now
  auto release = cluster_->Put("acme", "work_order", json{{"id", *wo2}, {"status", "Released"}});
  ASSERT_TRUE(release.ok()) << release.status().ToString();

  Status s = cluster_->WaitConverged(std::chrono::seconds(30));
  ASSERT_TRUE(s.ok()) << s.ToString();

  // What converged is what the shop floor did: 16 counts of 2 good and 4 of 1 scrap per site.
  for (const char* site : {"lyon", "porto", "tokyo"}) {
    EXPECT_EQ(CentralText("SELECT sum(good_quantity)::int FROM millrace.production_event WHERE "
                          "site_id = $1",
                          {site}),
              "32")
        << site;
  }
  auto sam = cluster_->BadgeIn("lyon", "2001", "L2-PRESS");
  ASSERT_TRUE(sam.ok());
  auto order = cluster_->EdgeCall("lyon", "GET", "/api/v1/work-orders/" + *wo2, nullptr, *sam);
  ASSERT_TRUE(order.ok());
  EXPECT_EQ((*order)["status"], "Released");  // central's release reached the site
  EXPECT_TRUE(cluster_->EdgeId("porto", "reason_code", "code", "DT-POWER").ok());
  EXPECT_FALSE(cluster_->EdgeId("tokyo", "reason_code", "code", "DT-POWER").ok());  // other tenant
  EXPECT_EQ(CentralText("SELECT count(*) FROM millrace.sync_reject"), "0");

  // The edge reports its link: `mesctl sync status` and central's per-site metrics.
  std::string out;
  json status;
  for (int i = 0; i < 50; ++i) {  // the outbox is purged just after the last ack
    ASSERT_EQ(RunCommand({g_mesctl, "--edge", cluster_->edge_url("lyon"), "--json", "sync",
                          "status"},
                         &out),
              0)
        << out;
    status = json::parse(out);
    if (status["backlog_rows"] == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(status["connected"], true);
  EXPECT_EQ(status["backlog_rows"], 0);
  EXPECT_EQ(status["acked_seq"], status["head_seq"]);
  EXPECT_GT(status["batches_acked"].get<int>(), 0);
  ASSERT_EQ(RunCommand({g_mesctl, "--edge", cluster_->edge_url("lyon"), "sync", "status"}, &out), 0);
  EXPECT_NE(out.find("backlog_rows"), std::string::npos) << out;
  // Central's content endpoint answers what the edge's does.
  // Central's digests need an admin token: without one, or with a wrong one, 401.
  const std::string path = "/api/v1/tenants/acme/sites/lyon/content";
  EXPECT_EQ(HttpCall(cluster_->central_http(), "GET", path)->status, 401);
  EXPECT_EQ(HttpCall(cluster_->central_http(), "GET", path, "",
                     {{"authorization", "Bearer 00ff"}})
                ->status,
            401);
  const std::map<std::string, std::string> admin = {
      {"authorization", "Bearer " + cluster_->admin_token()}};
  auto central_content = HttpCall(cluster_->central_http(), "GET", path, "", admin);
  auto edge_content = cluster_->EdgeCall("lyon", "GET", "/api/v1/sync/content", nullptr,
                                         *cluster_->BadgeIn("lyon", "2001", ""));
  ASSERT_TRUE(central_content.ok() && edge_content.ok());
  EXPECT_EQ(json::parse(central_content->body), *edge_content);
  EXPECT_NE((*edge_content)["production_event"], "0:cbf29ce484222325");  // not empty
  // Per-tenant series are an admin's; without a token /metrics names no tenant or site.
  auto open_metrics = HttpCall(cluster_->central_http(), "GET", "/metrics");
  ASSERT_TRUE(open_metrics.ok());
  EXPECT_EQ(open_metrics->status, 200);
  for (const char* secret : {"acme", "globex", "lyon", "tenant=", "site="})
    EXPECT_EQ(open_metrics->body.find(secret), std::string::npos) << secret;
  EXPECT_NE(open_metrics->body.find("mes_central_info"), std::string::npos);
  auto metrics = HttpCall(cluster_->central_http(), "GET", "/metrics", "", admin);
  ASSERT_TRUE(metrics.ok());
  for (const char* name :
       {"mes_sync_rows_applied_total{tenant=\"acme\",site=\"lyon\"}",
        "mes_sync_site_backlog_rows{tenant=\"globex\",site=\"tokyo\"}",
        "mes_sync_site_last_ack_timestamp_seconds{tenant=\"acme\",site=\"porto\"}",
        "mes_sync_site_last_seen_timestamp_seconds{tenant=\"globex\",site=\"tokyo\"}",
        "mes_sync_apply_seconds_count{tenant=\"acme\",site=\"lyon\"}"})
    EXPECT_NE(metrics->body.find(name), std::string::npos) << name;
}

// A site's shifts are its own local time's, and central's report rollups hold what its floor
// did by those shifts; a rebuild from the raw facts gives the same.
TEST_F(SyncProcessTest, ASitesCountsRollUpAtCentralByTheShiftsOfItsTimeZone) {
  Shift("tokyo", 20);
  Status s = cluster_->WaitConverged(std::chrono::seconds(30));
  ASSERT_TRUE(s.ok()) << s.ToString();
  // The edge made the shift instance by Tokyo's clock: it starts at a pattern's start
  // there (06:00, 14:00 or 22:00), on the business date it names, and every event and
  // the operator's session name it.
  const std::string start = CentralText(
      "SELECT to_char(starts_at AT TIME ZONE 'Asia/Tokyo', 'HH24:MI') FROM millrace.shift_instance "
      "WHERE site_id = 'tokyo'");
  EXPECT_TRUE(start == "06:00" || start == "14:00" || start == "22:00") << start;
  EXPECT_EQ(CentralText("SELECT count(*) FROM millrace.shift_instance WHERE site_id = 'tokyo' AND "
                        "business_date = to_char(starts_at AT TIME ZONE 'Asia/Tokyo', 'YYYY-MM-DD')"),
            CentralText("SELECT count(*) FROM millrace.shift_instance WHERE site_id = 'tokyo'"));
  EXPECT_EQ(CentralText("SELECT count(*) FROM millrace.production_event e WHERE site_id = 'tokyo' "
                        "AND NOT EXISTS (SELECT 1 FROM millrace.shift_instance s WHERE s.tenant_id = "
                        "e.tenant_id AND s.id = e.shift_instance_id AND e.at >= s.starts_at AND "
                        "e.at < s.ends_at)"),
            "0");
  // The rollups: 16 counts of 2 good and 4 of 1 scrap, the shift planned for every work
  // unit, the stop recorded.
  EXPECT_EQ(CentralText("SELECT sum(good)::int || ' ' || sum(scrap)::int || ' ' || sum(events) FROM "
                        "millrace.report_output_day WHERE site_id = 'tokyo'"),
            "32 4 " + CentralText("SELECT count(*) FROM millrace.production_event WHERE site_id = 'tokyo'"));
  EXPECT_EQ(CentralText("SELECT count(DISTINCT work_unit_id) FROM millrace.report_time_day WHERE "
                        "site_id = 'tokyo' AND shift_ms > 0"),
            CentralText("SELECT count(*) FROM millrace.equipment WHERE site_id = 'tokyo' AND level = "
                        "'work_unit' AND active"));
  EXPECT_EQ(CentralText("SELECT sum(stops) FROM millrace.report_downtime_day WHERE site_id = 'tokyo'"),
            "1");
  const std::string rollups =
      "SELECT string_agg(r::text, ';' ORDER BY r::text) FROM (SELECT * FROM "
      "millrace.report_output_day WHERE site_id = 'tokyo' UNION ALL SELECT tenant_id, site_id, "
      "work_unit_id, business_date, shift_instance_id, NULL, '', NULL, shift_ms, break_ms, 0, 0, 0, 0 "
      "FROM millrace.report_time_day WHERE site_id = 'tokyo') r";
  const std::string before = CentralText(rollups);
  std::string out;
  s = cluster_->CentralCommand({"rebuild-rollups", "--tenant", "globex", "--site", "tokyo"}, &out);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_NE(out.find("rebuilt the report rollups of globex/tokyo"), std::string::npos) << out;
  EXPECT_NE(out.find("100%"), std::string::npos) << out;  // progress
  EXPECT_EQ(CentralText(rollups), before);
  // The reporting API says the same: 32 good at tokyo, by work unit.
  auto oee = HttpCall(cluster_->central_http(), "GET",
                      "/api/v1/reports/oee?tenant=globex&group=unit&granularity=none", "",
                      {{"authorization", "Bearer " + cluster_->admin_token()}});
  ASSERT_TRUE(oee.ok());
  ASSERT_EQ(oee->status, 200) << oee->body;
  const json answer = json::parse(oee->body);
  double good = 0;
  for (const auto& row : answer["rows"]) good += row["good"].get<double>();
  EXPECT_EQ(good, 32) << oee->body;
  EXPECT_FALSE(answer["data_as_of"].is_null());
  EXPECT_EQ(HttpCall(cluster_->central_http(), "GET", "/api/v1/reports/oee?tenant=globex")->status, 401);
  EXPECT_FALSE(cluster_->CentralCommand({"rebuild-rollups", "--tenant", "globex", "--site", "tokyo",
                                         "--from", "yesterday"}, &out).ok());
  EXPECT_NE(out.find("--from expects YYYY-MM-DD"), std::string::npos) << out;
}

// Key rotation while the floor writes: central asks, the edge makes a new pair and sends its
// public key over the link its old key authenticated, reconnects with the new one; no count
// is lost; after the grace the old key is refused at the handshake.
TEST_F(SyncProcessTest, ASiteKeyRotatedWhileTheFloorWritesLosesNothingAndTheOldKeyDiesAfterTheGrace) {
  Shift("lyon", 1);
  ASSERT_TRUE(cluster_->WaitConverged(std::chrono::seconds(30)).ok());
  const std::string key_file = cluster_->site_dir("lyon") + "/site.key";
  auto old_secret = sync::ReadKeyFile(key_file, true);
  ASSERT_TRUE(old_secret.ok());
  auto wo = cluster_->EdgeId("lyon", "work_order", "number", "WO-1001");
  auto ana = cluster_->BadgeIn("lyon", "1001", "L1-CUT");
  auto order = cluster_->EdgeCall("lyon", "GET", "/api/v1/work-orders/" + *wo, nullptr, *ana);
  const std::string op = (*order)["operations"][0]["id"];
  auto good = [&] {
    return std::stoi(CentralText("SELECT coalesce(sum(good_quantity), 0)::int FROM "
                                 "millrace.production_event WHERE site_id = 'lyon'"));
  };
  const int before = good();
  std::atomic<bool> stop{false};
  std::atomic<int> saved{0};
  std::thread floor([&] {
    while (!stop) {
      auto r = cluster_->EdgeCall("lyon", "POST", "/api/v1/operations/" + op + "/counts",
                                  {{"good", 1}}, *ana);
      if (r.ok()) ++saved;  // answered 201: the terminal was told it is saved
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  std::string out;
  const int rc = RunCommand({g_bins.mes_central, "rotate-site-key", "-c",
                             (cluster_->dir() / "central.toml").string(), "--tenant", "acme",
                             "--site", "lyon", "--grace-seconds", "3", "--wait", "30"},
                            &out);
  const auto rotated_at = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  stop = true;
  floor.join();
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("rotated: the site's key is now"), std::string::npos) << out;
  auto new_secret = sync::ReadKeyFile(key_file, true);
  ASSERT_TRUE(new_secret.ok());
  EXPECT_NE(*new_secret, *old_secret);
  EXPECT_FALSE(std::filesystem::exists(key_file + ".next"));
  EXPECT_EQ(*sync::ReadKeyFile(cluster_->site_dir("lyon") + "/site.pub", false),
            *sync::CurvePublicKey(*new_secret));
  Status s = cluster_->WaitConverged(std::chrono::seconds(30));
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_GT(saved.load(), 20);
  EXPECT_EQ(good(), before + saved.load()) << "every count answered 201 is at central, once";
  auto status = cluster_->EdgeCall("lyon", "GET", "/api/v1/sync");
  EXPECT_EQ((*status)["key_rotations"], 1);
  // After the grace the old key cannot even finish a handshake; the new one can.
  std::this_thread::sleep_until(rotated_at + std::chrono::seconds(4));
  auto answers = [&](const std::string& secret) {
    zmq::context_t ctx(1);
    zmq::socket_t dealer(ctx, zmq::socket_type::dealer);
    dealer.set(zmq::sockopt::linger, 0);
    dealer.set(zmq::sockopt::curve_serverkey,
               *sync::ReadKeyFile((cluster_->dir() / "central.pub").string(), false));
    dealer.set(zmq::sockopt::curve_secretkey, secret);
    dealer.set(zmq::sockopt::curve_publickey, *sync::CurvePublicKey(secret));
    dealer.connect(cluster_->sync_endpoint());
    sync::v1::Envelope hello;
    hello.mutable_hello()->set_site_id("lyon");
    hello.mutable_hello()->set_catalog_fingerprint(catalog::MesCatalog().FingerprintHex());
    hello.mutable_hello()->set_schema_version(kEdgeSchemaVersion);
    hello.mutable_hello()->set_store_epoch("probe");
    (void)dealer.send(zmq::buffer(sync::EncodeFrame(hello)), zmq::send_flags::dontwait);
    zmq::pollitem_t item{dealer.handle(), 0, ZMQ_POLLIN, 0};
    zmq::poll(&item, 1, std::chrono::milliseconds(2000));
    return (item.revents & ZMQ_POLLIN) != 0;
  };
  EXPECT_FALSE(answers(*old_secret)) << "the old key still completes a handshake";
  EXPECT_TRUE(answers(*new_secret)) << "the new key does not";
  // And the edge, restarted, comes back with the new key.
  EXPECT_EQ(cluster_->StopEdge("lyon"), 0);
  ASSERT_TRUE(cluster_->StartEdge("lyon").ok());
  Shift("lyon", 1);
  s = cluster_->WaitConverged(std::chrono::seconds(30));
  EXPECT_TRUE(s.ok()) << s.ToString();
}

// The audit trail end to end: a supervisor's actions at lyon are recorded at the edge,
// sync to central like other facts, and central lists them per site and per row next to
// its own writes; the listing needs an admin token.
TEST_F(SyncProcessTest, TheSitesAuditRecordsReachCentralAndAreListedPerSiteAndPerRow) {
  Shift("lyon", 2);  // a supervisor releases WO-1001
  auto sam = cluster_->BadgeIn("lyon", "2001", "");
  auto wo = cluster_->EdgeId("lyon", "work_order", "number", "WO-1001");
  auto refused = cluster_->EdgeCall("lyon", "POST", "/api/v1/work-orders/" + *wo + "/hold",
                                    json::object(), *sam);
  EXPECT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("reason_required"), std::string::npos);
  auto held = cluster_->EdgeCall("lyon", "POST", "/api/v1/work-orders/" + *wo + "/hold",
                                 {{"reason", "waiting for steel"}}, *sam);
  ASSERT_TRUE(held.ok()) << held.status().ToString();
  auto put = cluster_->Put("acme", "work_order", json{{"id", *wo}, {"priority", 7}});
  ASSERT_TRUE(put.ok()) << put.status().ToString();
  ASSERT_TRUE(cluster_->WaitConverged(std::chrono::seconds(30)).ok());
  std::string out;
  ASSERT_EQ(RunCommand({g_bins.mes_central, "audit", "-c", (cluster_->dir() / "central.toml").string(),
                        "--tenant", "acme", "--row", *wo, "--json"},
                       &out),
            0)
      << out;
  std::vector<json> records;
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);)
    if (!line.empty() && line[0] == '{') records.push_back(json::parse(line));
  auto find = [&](const std::string& action) -> const json* {
    for (const auto& r : records)
      if (r["action"] == action) return &r;
    return nullptr;
  };
  const json* hold = find("work_order.hold");
  ASSERT_NE(hold, nullptr) << out;
  EXPECT_EQ((*hold)["source"], "site");
  EXPECT_EQ((*hold)["site_id"], "lyon");
  EXPECT_EQ((*hold)["actor"], "Sam Supervisor");
  EXPECT_EQ((*hold)["reason"], "waiting for steel");
  EXPECT_EQ((*hold)["new_value"]["status"], "OnHold");
  ASSERT_NE(find("work_order.release"), nullptr) << out;
  const json* central_put = find("put");
  ASSERT_NE(central_put, nullptr) << out;
  EXPECT_EQ((*central_put)["source"], "central");
  EXPECT_EQ((*central_put)["new_value"]["priority"], 7);
  for (const auto& r : records) EXPECT_EQ(r["row_id"], *wo) << r.dump();
  // Per site: porto's trail holds none of lyon's records.
  ASSERT_EQ(RunCommand({g_bins.mes_central, "audit", "-c", (cluster_->dir() / "central.toml").string(),
                        "--tenant", "acme", "--site", "porto", "--json"},
                       &out),
            0);
  EXPECT_EQ(out.find("waiting for steel"), std::string::npos);
  // Over HTTP with an admin token, and not without one.
  const std::string path = "/api/v1/tenants/acme/audit?site=lyon&row=" + *wo;
  EXPECT_EQ(HttpCall(cluster_->central_http(), "GET", path)->status, 401);
  auto http = HttpCall(cluster_->central_http(), "GET", path, "",
                       {{"authorization", "Bearer " + cluster_->admin_token()}});
  ASSERT_TRUE(http.ok() && http->status == 200);
  EXPECT_NE(http->body.find("waiting for steel"), std::string::npos);
}

TEST_F(SyncProcessTest, CentralDownWhileSitesWorkThenEverythingArrivesOnce) {
  Shift("lyon", 5);
  ASSERT_TRUE(cluster_->WaitConverged(std::chrono::seconds(30)).ok());
  EXPECT_EQ(cluster_->StopCentral(SIGKILL), 128 + SIGKILL);
  for (const char* site : {"lyon", "porto", "tokyo"}) Shift(site, 25);  // no central
  auto status = cluster_->EdgeCall("porto", "GET", "/api/v1/sync");
  ASSERT_TRUE(status.ok());
  EXPECT_GT((*status)["backlog_rows"].get<int>(), 0);
  // A failure at this point explains itself: per site the edge's link and backlog,
  // central's cursor, the rows each side holds, that central does not answer, the logs.
  const std::string why = cluster_->Diagnose(std::chrono::milliseconds(200));
  const auto porto = why.find("site acme/porto\n");
  ASSERT_NE(porto, std::string::npos) << why;
  const auto backlog = why.find("  edge backlog_rows = ", porto);
  ASSERT_NE(backlog, std::string::npos) << why;
  EXPECT_GT(std::stoi(why.substr(backlog + std::string("  edge backlog_rows = ").size())), 0)
      << why;
  EXPECT_LT(why.find("  edge state = ", porto), why.find("site globex/tokyo")) << why;
  EXPECT_LT(why.find("  central applied_seq = ", porto), why.find("site globex/tokyo")) << why;
  EXPECT_LT(why.find("  rows of production_event: edge ", porto), why.find("site globex/tokyo"))
      << why;
  EXPECT_NE(why.find("central /metrics: "), std::string::npos) << why;
  EXPECT_NE(why.find("---- sample 2 ----"), std::string::npos) << why;
  EXPECT_NE(why.find("---- porto/edge.log (end) ----\n  | "), std::string::npos) << why;
  ASSERT_TRUE(cluster_->StartCentral().ok());
  Status s = cluster_->WaitConverged(std::chrono::seconds(60));
  ASSERT_TRUE(s.ok()) << s.ToString();
  // No loss and no duplicate: every production event the sites wrote, exactly once.
  EXPECT_EQ(CentralText("SELECT sum(good_quantity)::int FROM millrace.production_event WHERE "
                        "site_id = 'lyon'"),
            "48");  // 4 + 20 + 20 + 4 good from two shifts of 5 and 25 counts
}

TEST_F(SyncProcessTest, SiteDownWhileCentralEditsMasterDataCatchesUpOnRestart) {
  ASSERT_TRUE(cluster_->WaitConverged(std::chrono::seconds(30)).ok());
  EXPECT_EQ(cluster_->StopEdge("porto", SIGKILL), 128 + SIGKILL);
  for (int i = 0; i < 3; ++i) {
    auto put = cluster_->Put(
        "acme", "reason_code",
        json{{"code", "DT-X" + std::to_string(i)}, {"name", "Extra " + std::to_string(i)},
             {"category", "downtime"}, {"planned", false}, {"is_failure", false}, {"active", true}});
    ASSERT_TRUE(put.ok()) << put.status().ToString();
  }
  ASSERT_TRUE(cluster_->StartEdge("porto").ok());
  Status s = cluster_->WaitConverged(std::chrono::seconds(30));
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_TRUE(cluster_->EdgeId("porto", "reason_code", "code", "DT-X2").ok());
}

TEST_F(SyncProcessTest, AnEdgeFailsOverToTheNextCentralEndpoint) {
  EXPECT_EQ(cluster_->StopEdge("porto"), 0);
  // The first endpoint answers nothing; the second is central.
  const std::string toml = cluster_->site_dir("porto") + "/edge.toml";
  std::string out;
  ASSERT_EQ(RunCommand({"/usr/bin/sed", "-i",
                        "s|^endpoints = \\[|endpoints = [\"tcp://127.0.0.1:9\", |", toml},
                       &out),
            0)
      << out;
  ASSERT_TRUE(cluster_->StartEdge("porto").ok());
  Shift("porto", 5);
  Status s = cluster_->WaitConverged(std::chrono::seconds(60));
  ASSERT_TRUE(s.ok()) << s.ToString();
  auto status = cluster_->EdgeCall("porto", "GET", "/api/v1/sync");
  ASSERT_TRUE(status.ok());
  EXPECT_EQ((*status)["endpoint"], cluster_->sync_endpoint());
  EXPECT_GE((*status)["reconnects"].get<int>(), 1);
}

}  // namespace
}  // namespace millrace::testing

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (argc < 4) {
    fprintf(stderr, "usage: sync_process_tests MES_CENTRAL MES_EDGE MESCTL [gtest flags]\n");
    return 2;
  }
  millrace::testing::g_bins = {argv[1], argv[2]};
  millrace::testing::g_mesctl = argv[3];
  return RUN_ALL_TESTS();
}
