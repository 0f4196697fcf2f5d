// Deletes as real processes: master data and shared rows deleted at central, and a Draft
// work order deleted at the edge, leave tombstones that sync both ways, so the edge and
// central converge by content without the rows; a delete and an edit made on either side
// while the link is cut settle the same way on both, by their clocks: the tombstone loses
// to nothing older and to every newer write, and each such meeting is a recorded conflict;
// a store restored from before a delete gets the delete back.
// Usage: tombstone_process_tests MES_CENTRAL MES_EDGE MESCTL [gtest flags]
#include <gtest/gtest.h>

#include <thread>

#include "millrace/common/sqlite.h"
#include "process_test_main.h"
#include "sync_cluster.h"
#include "tcp_proxy.h"

namespace millrace::testing {
namespace {

using json = nlohmann::json;
using std::chrono::seconds;
ClusterBinaries g_bins;
std::string g_mesctl;

class TombstoneProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto c = SyncCluster::Create(g_bins, "tombstones");
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    cluster_ = std::move(*c);
    Status started = cluster_->StartWithTenant("acme", {"lyon"});
    ASSERT_TRUE(started.ok()) << started.ToString();
    auto proxy = TcpProxy::Start(cluster_->sync_port());
    ASSERT_TRUE(proxy.ok()) << proxy.status().ToString();
    proxy_ = std::move(*proxy);
    Status s =
        cluster_->AddSite("acme", "lyon", "tcp://127.0.0.1:" + std::to_string(proxy_->port()));
    ASSERT_TRUE(s.ok()) << s.ToString();
    ASSERT_TRUE(cluster_->StartEdge("lyon").ok());
    auto token = cluster_->BadgeIn("lyon", "2001", "");
    ASSERT_TRUE(token.ok()) << token.status().ToString();
    supervisor_ = *token;
  }

  // `mes-central delete`: its JSON answer, or the error it printed.
  Result<json> CentralDelete(const std::string& table, const std::string& id) {
    std::string out;
    Status s = cluster_->CentralCommand({"delete", "--tenant", "acme", "--table", table, "--id",
                                         id, "--reason", "made in error"},
                                        &out);
    if (!s.ok()) return Status(s.code(), s.message() + ": " + out);
    auto j = json::parse(out, nullptr, false);
    if (j.is_discarded()) return Status::Internal("not JSON: " + out);
    return j;
  }

  // A Draft work order made at the edge by its supervisor; its id.
  std::string EdgeWorkOrder(const std::string& number) {
    auto product = cluster_->EdgeId("lyon", "material_definition", "code", "BRKT-100");
    EXPECT_TRUE(product.ok()) << product.status().ToString();
    auto r = cluster_->EdgeCall("lyon", "POST", "/api/v1/work-orders",
                                {{"number", number}, {"material_id", *product}, {"quantity", 10}},
                                supervisor_);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r->value("id", "") : "";
  }

  // Rows of `table` with this id: at central (tenant acme), at the edge.
  int CentralRows(const std::string& table, const std::string& id) {
    auto r = cluster_->admin().Query(
        "SELECT count(*) FROM millrace." + table + " WHERE tenant_id = 'acme' AND id = $1",
        {id});
    return r.ok() ? std::stoi(r->GetString(0, 0)) : -1;
  }
  int EdgeRows(const std::string& table, const std::string& id) {
    auto db = SqliteDb::OpenReadOnly(cluster_->site_dir("lyon") + "/edge.db");
    if (!db.ok()) return -1;
    auto n = db->QueryInt("SELECT count(*) FROM \"" + table + "\" WHERE id = '" + id + "'");
    return n.ok() ? static_cast<int>(*n) : -1;
  }
  std::string TombstoneOrigin(const std::string& table, const std::string& id) {
    auto r = cluster_->admin().Query(
        "SELECT origin FROM millrace.sync_tombstone WHERE tenant_id = 'acme' AND table_name = $1 "
        "AND row_id = $2",
        {table, id});
    return r.ok() && r->rows() == 1 ? r->GetString(0, 0) : "";
  }
  // The rules of the conflicts central recorded for a row, oldest first.
  std::vector<std::string> ConflictRules(const std::string& id) {
    auto r = cluster_->admin().Query(
        "SELECT rule FROM millrace.sync_conflict WHERE tenant_id = 'acme' AND row_id = $1 AND "
        "column_name = '(row)' ORDER BY conflict_id",
        {id});
    std::vector<std::string> out;
    for (int i = 0; r.ok() && i < r->rows(); ++i) out.push_back(r->GetString(i, 0));
    return out;
  }
  void ExpectConverged() {
    Status s = cluster_->WaitConverged(seconds(60));
    ASSERT_TRUE(s.ok()) << s.ToString() << cluster_->Diagnose();
  }

  std::unique_ptr<SyncCluster> cluster_;
  std::unique_ptr<TcpProxy> proxy_;
  std::string supervisor_;
};

TEST_F(TombstoneProcessTest, DeletesAtCentralAndAtTheEdgeReachTheOtherSide) {
  ExpectConverged();
  // Master data: a reason code put and then deleted at central leaves the edge.
  auto put = cluster_->Put("acme", "reason_code",
                           {{"code", "TMP-1"}, {"name", "Made in error"}, {"category", "downtime"},
                            {"planned", false}, {"is_failure", false}, {"active", true}});
  ASSERT_TRUE(put.ok()) << put.status().ToString();
  const std::string reason = (*put)["ids"][0];
  ASSERT_TRUE(WaitFor(seconds(30), [&] { return EdgeRows("reason_code", reason) == 1; }));
  auto deleted = CentralDelete("reason_code", reason);
  ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
  EXPECT_EQ((*deleted)["deleted"], json::array({reason}));
  EXPECT_EQ(CentralRows("reason_code", reason), 0);
  EXPECT_EQ(TombstoneOrigin("reason_code", reason), "central");
  EXPECT_TRUE(WaitFor(seconds(30), [&] { return EdgeRows("reason_code", reason) == 0; }));

  // A shared row released from central, then deleted there.
  auto product = cluster_->EdgeId("lyon", "material_definition", "code", "BRKT-100");
  ASSERT_TRUE(product.ok()) << product.status().ToString();
  put = cluster_->Put("acme", "work_order",
                      {{"site_id", "lyon"}, {"number", "WO-C1"}, {"material_id", *product},
                       {"planned_quantity", 5}, {"priority", 3}, {"status", "Draft"},
                       {"good_quantity", 0}, {"scrap_quantity", 0}});
  ASSERT_TRUE(put.ok()) << put.status().ToString();
  const std::string central_order = (*put)["ids"][0];
  ASSERT_TRUE(WaitFor(seconds(30), [&] { return EdgeRows("work_order", central_order) == 1; }));
  ASSERT_TRUE(CentralDelete("work_order", central_order).ok());
  EXPECT_TRUE(WaitFor(seconds(30), [&] { return EdgeRows("work_order", central_order) == 0; }));

  // A Draft work order made in error at the edge, deleted there by its supervisor.
  const std::string edge_order = EdgeWorkOrder("WO-E1");
  ASSERT_TRUE(WaitFor(seconds(30), [&] { return CentralRows("work_order", edge_order) == 1; }));
  auto gone = cluster_->EdgeCall("lyon", "POST", "/api/v1/work-orders/" + edge_order + "/delete",
                                 {{"reason", "typed twice"}}, supervisor_);
  ASSERT_TRUE(gone.ok()) << gone.status().ToString();
  EXPECT_EQ(gone->value("number", ""), "WO-E1");
  EXPECT_EQ(EdgeRows("work_order", edge_order), 0);
  EXPECT_TRUE(WaitFor(seconds(30), [&] { return CentralRows("work_order", edge_order) == 0; }));
  EXPECT_EQ(TombstoneOrigin("work_order", edge_order), "edge:lyon");
  // The audit trail keeps the order's last value, at the edge and at central.
  EXPECT_TRUE(WaitFor(seconds(30), [&] {
    auto r = cluster_->admin().Query(
        "SELECT old_value::text FROM millrace.audit_record WHERE tenant_id = 'acme' AND row_id = "
        "$1 AND action = 'work_order.delete'",
        {edge_order});
    return r.ok() && r->rows() == 1 && r->GetString(0, 0).find("WO-E1") != std::string::npos;
  }));
  ExpectConverged();

  // What may not be deleted is refused by name, and nothing changes.
  auto fact = CentralDelete("production_event", reason);
  ASSERT_FALSE(fact.ok());
  EXPECT_NE(fact.status().message().find("append-only"), std::string::npos)
      << fact.status().message();
  auto unknown = CentralDelete("work_order", edge_order);  // deleted already
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("has no work_order row " + edge_order),
            std::string::npos)
      << unknown.status().message();
  auto not_uuid = CentralDelete("work_order", "WO-E1");
  ASSERT_FALSE(not_uuid.ok());
  EXPECT_NE(not_uuid.status().message().find("\"WO-E1\" is not a UUID"), std::string::npos)
      << not_uuid.status().message();
  auto op = cluster_->StartDemoWork("lyon");  // releases WO-1001
  ASSERT_TRUE(op.ok()) << op.status().ToString();
  auto released = cluster_->EdgeId("lyon", "work_order", "number", "WO-1001");
  ASSERT_TRUE(released.ok());
  auto refused = cluster_->EdgeCall("lyon", "POST", "/api/v1/work-orders/" + *released + "/delete",
                                    {{"reason", "no"}}, supervisor_);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("work_order_not_draft"), std::string::npos)
      << refused.status().message();
  auto no_reason = cluster_->EdgeCall("lyon", "POST", "/api/v1/work-orders/" +
                                                          EdgeWorkOrder("WO-E2") + "/delete",
                                      json::object(), supervisor_);
  ASSERT_FALSE(no_reason.ok());
  EXPECT_NE(no_reason.status().message().find("reason_required"), std::string::npos)
      << no_reason.status().message();
  ExpectConverged();
}

TEST_F(TombstoneProcessTest, ADeleteAndAnEditMadeApartSettleByTheirClocksOnBothSides) {
  // Four rows: lots L1 and L2 (seeded at the site), work orders C and D (made at the edge).
  auto l1 = cluster_->EdgeId("lyon", "material_lot", "lot_no", "S-0001");
  auto l2 = cluster_->EdgeId("lyon", "material_lot", "lot_no", "S-0002");
  ASSERT_TRUE(l1.ok() && l2.ok());
  const std::string c = EdgeWorkOrder("WO-C"), d = EdgeWorkOrder("WO-D");
  ExpectConverged();
  auto hold = [&](const std::string& lot) {
    auto r = cluster_->EdgeCall("lyon", "POST", "/api/v1/lots/" + lot + "/status",
                                {{"status", "hold"}, {"reason", "check"}}, supervisor_);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  };
  auto central_priority = [&](const std::string& order) {
    auto r = cluster_->Put("acme", "work_order", {{"id", order}, {"priority", 1}});
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  };
  auto edge_delete = [&](const std::string& order) {
    auto r = cluster_->EdgeCall("lyon", "POST", "/api/v1/work-orders/" + order + "/delete",
                                {{"reason", "not needed"}}, supervisor_);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  };
  auto pause = [] { std::this_thread::sleep_for(std::chrono::milliseconds(20)); };

  proxy_->Cut();
  // L1: deleted at central, then put on hold at the edge: the newer hold brings it back.
  ASSERT_TRUE(CentralDelete("material_lot", *l1).ok());
  pause();
  hold(*l1);
  // L2: put on hold at the edge, then deleted at central: the newer delete wins.
  hold(*l2);
  pause();
  ASSERT_TRUE(CentralDelete("material_lot", *l2).ok());
  // C: its priority changed at central, then deleted at the edge: the delete wins.
  central_priority(c);
  pause();
  edge_delete(c);
  // D: deleted at the edge, then its priority changed at central: the edit wins.
  edge_delete(d);
  pause();
  central_priority(d);
  proxy_->Heal();

  ExpectConverged();
  EXPECT_EQ(CentralRows("material_lot", *l1), 1);
  EXPECT_EQ(EdgeRows("material_lot", *l1), 1);
  EXPECT_EQ(CentralRows("material_lot", *l2), 0);
  EXPECT_EQ(EdgeRows("material_lot", *l2), 0);
  EXPECT_EQ(CentralRows("work_order", c), 0);
  EXPECT_EQ(EdgeRows("work_order", c), 0);
  EXPECT_EQ(CentralRows("work_order", d), 1);
  EXPECT_EQ(EdgeRows("work_order", d), 1);
  // The lot that came back is the edge's, on hold, and its tombstone is gone.
  auto held = cluster_->admin().Query(
      "SELECT status FROM millrace.material_lot WHERE tenant_id = 'acme' AND id = $1", {*l1});
  ASSERT_TRUE(held.ok() && held->rows() == 1);
  EXPECT_EQ(held->GetString(0, 0), "hold");
  EXPECT_EQ(TombstoneOrigin("material_lot", *l1), "");
  EXPECT_EQ(TombstoneOrigin("material_lot", *l2), "central");
  EXPECT_EQ(TombstoneOrigin("work_order", c), "edge:lyon");
  EXPECT_EQ(TombstoneOrigin("work_order", d), "");
  // Each meeting of a delete and a write it did not see is on record, with its outcome.
  EXPECT_EQ(ConflictRules(*l1), std::vector<std::string>{"write_after_delete"});
  EXPECT_EQ(ConflictRules(*l2), std::vector<std::string>{"deleted"});
  EXPECT_EQ(ConflictRules(c), std::vector<std::string>{"delete_wins"});
  EXPECT_EQ(ConflictRules(d), std::vector<std::string>{"delete_loses"});
}

// A store restored from a backup taken before a delete: central sends the delete back with
// the rows the backup lacks, so the deleted order does not live on at the site.
TEST_F(TombstoneProcessTest, ARestoredStoreGetsBackTheDeletesItsBackupPredates) {
  const std::string order = EdgeWorkOrder("WO-R1");
  ExpectConverged();
  auto backup = cluster_->EdgeCall("lyon", "POST", "/api/v1/backups", json::object(), supervisor_);
  ASSERT_TRUE(backup.ok()) << backup.status().ToString();
  auto gone = cluster_->EdgeCall("lyon", "POST", "/api/v1/work-orders/" + order + "/delete",
                                 {{"reason", "typed twice"}}, supervisor_);
  ASSERT_TRUE(gone.ok()) << gone.status().ToString();
  ASSERT_TRUE(WaitFor(seconds(30), [&] { return CentralRows("work_order", order) == 0; }));

  EXPECT_EQ(cluster_->StopEdge("lyon"), 0);
  std::string out;
  ASSERT_EQ(RunCommand({g_mesctl, "restore", "--backup", (*backup)["path"].get<std::string>(),
                        "--db", cluster_->site_dir("lyon") + "/edge.db"},
                       &out),
            0)
      << out;
  ASSERT_EQ(EdgeRows("work_order", order), 1);  // the backup predates the delete
  ASSERT_TRUE(cluster_->StartEdge("lyon").ok());
  EXPECT_TRUE(WaitFor(seconds(60), [&] { return EdgeRows("work_order", order) == 0; }))
      << cluster_->Diagnose();
  EXPECT_EQ(CentralRows("work_order", order), 0);
  ExpectConverged();
}

}  // namespace
}  // namespace millrace::testing

int main(int argc, char** argv) {
  return millrace::testing::RunProcessTests(argc, argv, &millrace::testing::g_bins,
                                            &millrace::testing::g_mesctl);
}
