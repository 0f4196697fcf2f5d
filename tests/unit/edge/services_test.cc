// Terminal workflows on the demo factory: every state-machine arrow and every guard,
// the refusals included, each checked against what the store then holds.
#include "millrace/edge/services.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <future>
#include <thread>

#include "millrace/common/uuid.h"
#include "millrace/edge/seed.h"

namespace millrace::edge {
namespace {

const catalog::TableSpec& T(const char* name) {
  return *catalog::MesCatalog().Find(name);
}

// Asserts a refusal: code and rule name.
#define EXPECT_RULE(expr, code_, rule_)                                               \
  do {                                                                                \
    auto millrace_r_ = (expr);                                                        \
    ASSERT_FALSE(millrace_r_.ok()) << #expr " unexpectedly succeeded";                \
    EXPECT_EQ(millrace_r_.status().code(), code_) << millrace_r_.status().ToString(); \
    EXPECT_EQ(millrace_r_.status().rule(), rule_) << millrace_r_.status().ToString(); \
  } while (0)

class WorkflowTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // Seeding hashes PINs (slow by design): build one seeded database and copy it per test.
    template_dir_ =
        std::filesystem::temp_directory_path() / ("millrace-seed-" + std::to_string(::getpid()));
    std::filesystem::create_directories(template_dir_);
    EdgeStoreOptions o;
    o.path = (template_dir_ / "edge.db").string();
    o.site_id = "plant-a";
    auto store = EdgeStore::Open(o);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    ASSERT_TRUE(SeedDemoSite(**store).ok());
  }
  static void TearDownTestSuite() { std::filesystem::remove_all(template_dir_); }

  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("millrace-wf-" + std::to_string(::getpid()) +
                                                     "-" + Uuid::NewV7().ToString().substr(24));
    std::filesystem::create_directories(dir_);
    std::filesystem::copy_file(template_dir_ / "edge.db", dir_ / "edge.db");
    EdgeStoreOptions o;
    o.path = (dir_ / "edge.db").string();
    o.site_id = "plant-a";
    o.clock = &clock_;
    auto store = EdgeStore::Open(o);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
    svc_ = std::make_unique<MesService>(store_.get());
    ana_ = BadgeIn("1001", "L1-CUT");
    sam_ = BadgeIn("2001", "L1-PRESS");
  }
  void TearDown() override {
    svc_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::string Id(const char* kind, const std::string& code) {
    return SeedId("plant-a", kind, code);
  }

  Actor BadgeIn(const char* badge, const std::string& unit) {
    auto s = svc_->BadgeIn(badge, kDemoPin, Id("equipment", unit)).Wait();
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? s->actor : Actor{};
  }

  Row Get(const char* table, const std::string& id) {
    std::optional<Row> row;
    EXPECT_TRUE(store_
                    ->Read([&](ReadTxn& txn) -> Status {
                      MILLRACE_ASSIGN_OR_RETURN(row, txn.Get(T(table), id));
                      return Status::Ok();
                    })
                    .ok());
    EXPECT_TRUE(row.has_value()) << table << " " << id;
    return row ? *row : Row(T(table));
  }

  std::vector<Row> Select(const char* table, const std::string& where,
                          const std::vector<Value>& params, const std::string& order = "") {
    std::vector<Row> rows;
    EXPECT_TRUE(store_
                    ->Read([&](ReadTxn& txn) -> Status {
                      MILLRACE_ASSIGN_OR_RETURN(rows, txn.Select(T(table), where, params, order));
                      return Status::Ok();
                    })
                    .ok());
    return rows;
  }

  std::string Wo() { return Id("work_order", "WO-1001"); }
  std::vector<Row> Ops(const std::string& wo) {
    return Select("work_order_operation", "work_order_id = ?", {wo}, "seq");
  }

  // Releases WO-1001 and returns its three operations.
  std::vector<Row> Release() {
    auto r = svc_->ReleaseWorkOrder(sam_, Wo()).Wait();
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return Ops(Wo());
  }

  static inline std::filesystem::path template_dir_;
  ManualClock clock_{1795413600000};
  std::filesystem::path dir_;
  std::unique_ptr<EdgeStore> store_;
  std::unique_ptr<MesService> svc_;
  Actor ana_, sam_;
};

// ---------------------------------------------------------------- badge in

TEST_F(WorkflowTest, BadgeInOpensASessionWhoseTokenAuthenticates) {
  auto s = svc_->BadgeIn("1002", kDemoPin, Id("equipment", "L1-PACK")).Wait();
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->token.size(), 64u);
  auto actor = svc_->Authenticate(s->token);
  ASSERT_TRUE(actor.ok());
  EXPECT_EQ(actor->user_name, "Ben Operator");
  EXPECT_EQ(actor->role, "operator");
  EXPECT_EQ(actor->work_unit_id, Id("equipment", "L1-PACK"));
  Row session = Get("operator_session", actor->session_id);
  EXPECT_TRUE(session.IsNull("badge_out_at"));
  ASSERT_TRUE(svc_->BadgeOut(*actor).Wait().ok());
  EXPECT_FALSE(Get("operator_session", actor->session_id).IsNull("badge_out_at"));
  EXPECT_RULE(svc_->Authenticate(s->token), StatusCode::kUnauthenticated, "session_expired");
}

TEST_F(WorkflowTest, BadgeInOpensTheSessionInTheCurrentShift) {
  // The clock stands at 06:00 UTC: the early shift (06:00-14:00) has just begun.
  Row session = Get("operator_session", ana_.session_id);
  ASSERT_FALSE(session.IsNull("shift_instance_id"));
  EXPECT_EQ(ana_.shift_instance_id, session.Text("shift_instance_id"));
  Row early = Get("shift_instance", ana_.shift_instance_id);
  EXPECT_EQ(early.Text("shift_pattern_id"), Id("shift_pattern", "EARLY"));
  EXPECT_EQ(early.Int("starts_at"), clock_.NowMillis());
  EXPECT_EQ(early.Int("ends_at") - early.Int("starts_at"), 8 * 3600000);
  EXPECT_EQ(sam_.shift_instance_id, ana_.shift_instance_id);  // one instance per shift and day
  // 02:00 the next day belongs to the night shift that started at 22:00 the day before.
  clock_.Advance(20 * 3600000);
  Actor ben = BadgeIn("1002", "L1-PACK");
  Row night = Get("shift_instance", ben.shift_instance_id);
  EXPECT_EQ(night.Text("shift_pattern_id"), Id("shift_pattern", "NIGHT"));
  EXPECT_EQ(night.Text("business_date"), early.Text("business_date"));
  EXPECT_EQ(night.Int("starts_at"), early.Int("starts_at") + 16 * 3600000);
  EXPECT_EQ(night.Int("ends_at") - night.Int("starts_at"), 8 * 3600000);
  // Shop-floor events carry the shift they happened in.
  auto ops = Release();
  Actor ana = BadgeIn("1001", "L1-CUT");
  ASSERT_TRUE(svc_->StartOperation(ana, ops[0].id()).Wait().ok());
  auto events = Select("production_event", "operation_id = ?", {ops[0].id()});
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].Text("shift_instance_id"), night.id());
}

TEST_F(WorkflowTest, BadgeInRefusesBadCredentialsAndNonWorkUnits) {
  EXPECT_RULE(svc_->BadgeIn("1001", "9999", Id("equipment", "L1-CUT")).Wait(),
              StatusCode::kUnauthenticated, "bad_credentials");
  EXPECT_RULE(svc_->BadgeIn("4040", kDemoPin, Id("equipment", "L1-CUT")).Wait(),
              StatusCode::kUnauthenticated, "bad_credentials");
  EXPECT_RULE(svc_->BadgeIn("", "", Id("equipment", "L1-CUT")).Wait(), StatusCode::kInvalidArgument,
              "credentials_required");
  EXPECT_RULE(svc_->BadgeIn("1001", kDemoPin, Id("equipment", "LINE-1")).Wait(),
              StatusCode::kInvalidArgument, "not_a_work_unit");
  EXPECT_RULE(svc_->BadgeIn("1001", kDemoPin, Uuid::NewV7().ToString()).Wait(), StatusCode::kNotFound,
              "work_unit_not_found");
  EXPECT_RULE(svc_->Authenticate("not-a-token"), StatusCode::kUnauthenticated, "session_expired");
}

TEST_F(WorkflowTest, BadgingInElsewhereEndsTheOperatorsOtherSession) {
  auto first = svc_->BadgeIn("1002", kDemoPin, Id("equipment", "L1-PACK")).Wait();
  auto second = svc_->BadgeIn("1002", kDemoPin, Id("equipment", "L2-PACK")).Wait();
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_FALSE(svc_->Authenticate(first->token).ok());
  EXPECT_TRUE(svc_->Authenticate(second->token).ok());
  EXPECT_FALSE(Get("operator_session", first->actor.session_id).IsNull("badge_out_at"));
}

TEST_F(WorkflowTest, SessionsExpire) {
  auto s = svc_->BadgeIn("1002", kDemoPin, Id("equipment", "L1-PACK")).Wait();
  ASSERT_TRUE(s.ok());
  clock_.Advance(13 * 3600 * 1000);
  EXPECT_RULE(svc_->Authenticate(s->token), StatusCode::kUnauthenticated, "session_expired");
}

// ---------------------------------------------------------------- work order arrows

TEST_F(WorkflowTest, ReleaseSnapshotsTheRoutingAndMakesTheFirstOperationReady) {
  auto ops = Release();
  ASSERT_EQ(ops.size(), 3u);
  EXPECT_EQ(ops[0].Text("status"), "Ready");
  EXPECT_EQ(ops[1].Text("status"), "Pending");
  EXPECT_EQ(ops[2].Text("status"), "Pending");
  EXPECT_EQ(ops[0].Text("work_unit_id"), Id("equipment", "L1-CUT"));
  EXPECT_EQ(ops[1].Text("work_unit_id"), Id("equipment", "L1-PRESS"));
  EXPECT_EQ(ops[0].Real("planned_quantity"), 50);
  Row wo = Get("work_order", Wo());
  EXPECT_EQ(wo.Text("status"), "Released");
  EXPECT_NE(wo.Text("routing_snapshot").find("\"op_code\":\"PRESS\""), std::string::npos);
  EXPECT_RULE(svc_->ReleaseWorkOrder(sam_, Wo()).Wait(), StatusCode::kConflict, "work_order_not_draft");
}

TEST_F(WorkflowTest, OnlySupervisorsManageWorkOrders) {
  EXPECT_RULE(svc_->ReleaseWorkOrder(ana_, Wo()).Wait(), StatusCode::kPermissionDenied,
              "role_not_allowed");
  EXPECT_RULE(svc_->CancelWorkOrder(ana_, Wo(), "test").Wait(), StatusCode::kPermissionDenied, "role_not_allowed");
  EXPECT_RULE(svc_->CloseWorkOrder(ana_, Wo()).Wait(), StatusCode::kPermissionDenied, "role_not_allowed");
  EXPECT_RULE(svc_->CreateWorkOrder(ana_, "WO-9", Id("material", "BRKT-100"), 5, {}).Wait(),
              StatusCode::kPermissionDenied, "role_not_allowed");
  EXPECT_EQ(Get("work_order", Wo()).Text("status"), "Draft");
}

TEST_F(WorkflowTest, AWorkOrderRunsDraftToClosedThroughEveryOperation) {
  auto ops = Release();
  Actor ben = BadgeIn("1002", "L1-PACK");
  Actor ana_press = ana_;
  // Operation 10 on the cutter.
  ASSERT_TRUE(svc_->StartOperation(ana_, ops[0].id()).Wait().ok());
  EXPECT_EQ(Get("work_order", Wo()).Text("status"), "InProgress");  // first START
  ASSERT_TRUE(svc_->ReportCount(ana_, ops[0].id(), {50, 0, 0, ""}).Wait().ok());
  ASSERT_TRUE(svc_->CompleteOperation(ana_, ops[0].id()).Wait().ok());
  EXPECT_EQ(Get("work_order_operation", ops[1].id()).Text("status"), "Ready");
  EXPECT_EQ(Get("work_order", Wo()).Real("good_quantity"), 0);  // not the last operation
  // Operation 20 on the press, Ana moves there.
  ana_press = BadgeIn("1001", "L1-PRESS");
  ASSERT_TRUE(svc_->StartOperation(ana_press, ops[1].id()).Wait().ok());
  ASSERT_TRUE(svc_->ReportCount(ana_press, ops[1].id(), {48, 2, 0, Id("reason", "SC-DIM")}).Wait().ok());
  ASSERT_TRUE(svc_->CompleteOperation(ana_press, ops[1].id()).Wait().ok());
  // Operation 30 packing.
  ASSERT_TRUE(svc_->StartOperation(ben, ops[2].id()).Wait().ok());
  ASSERT_TRUE(svc_->ReportCount(ben, ops[2].id(), {48, 0, 0, ""}).Wait().ok());
  EXPECT_EQ(Get("work_order", Wo()).Text("status"), "InProgress");
  ASSERT_TRUE(svc_->CompleteOperation(ben, ops[2].id()).Wait().ok());
  Row wo = Get("work_order", Wo());
  EXPECT_EQ(wo.Text("status"), "Completed");
  EXPECT_EQ(wo.Real("good_quantity"), 48);
  EXPECT_EQ(wo.Real("scrap_quantity"), 2);
  EXPECT_FALSE(wo.IsNull("actual_end"));
  ASSERT_TRUE(svc_->CloseWorkOrder(sam_, Wo()).Wait().ok());
  EXPECT_EQ(Get("work_order", Wo()).Text("status"), "Closed");
  EXPECT_RULE(svc_->CloseWorkOrder(sam_, Wo()).Wait(), StatusCode::kConflict, "work_order_not_completed");
  // Events: 3 starts, 3 counts, 3 completes.
  auto events = Select("production_event", "work_order_id = ?", {Wo()}, "hlc");
  EXPECT_EQ(events.size(), 9u);
  // Every write reached the outbox: facts once each.
  auto outbox_events = store_->ReadOutbox(0, 100000);
  int captured_events = 0;
  for (const auto& e : *outbox_events) captured_events += e.table == "production_event";
  EXPECT_EQ(captured_events, 9);
}

TEST_F(WorkflowTest, HoldAndResumeAWorkOrderStopsTheShopFloor) {
  auto ops = Release();
  EXPECT_RULE(svc_->HoldWorkOrder(sam_, Wo(), "test").Wait(), StatusCode::kConflict,
              "work_order_not_in_progress");  // Released
  ASSERT_TRUE(svc_->StartOperation(ana_, ops[0].id()).Wait().ok());
  ASSERT_TRUE(svc_->PauseOperation(ana_, ops[0].id()).Wait().ok());
  ASSERT_TRUE(svc_->HoldWorkOrder(sam_, Wo(), "test").Wait().ok());
  EXPECT_RULE(svc_->ResumeOperation(ana_, ops[0].id()).Wait(), StatusCode::kFailedPrecondition,
              "work_order_on_hold");
  EXPECT_RULE(svc_->HoldWorkOrder(sam_, Wo(), "test").Wait(), StatusCode::kConflict, "work_order_not_in_progress");
  ASSERT_TRUE(svc_->ResumeWorkOrder(sam_, Wo()).Wait().ok());
  EXPECT_RULE(svc_->ResumeWorkOrder(sam_, Wo()).Wait(), StatusCode::kConflict, "work_order_not_on_hold");
  ASSERT_TRUE(svc_->ResumeOperation(ana_, ops[0].id()).Wait().ok());
  EXPECT_EQ(Get("work_order_operation", ops[0].id()).Text("status"), "Running");
}

// Who did what to which row, when, from what to what and why: every supervisor and quality
// action leaves an audit record in its own transaction, and the records cannot be changed.
TEST_F(WorkflowTest, SupervisorAndQualityActionsLeaveAnAuditRecordThatCannotBeChanged) {
  auto ops = Release();
  ASSERT_TRUE(svc_->StartOperation(ana_, ops[0].id()).Wait().ok());
  ASSERT_TRUE(svc_->ReportCount(ana_, ops[0].id(), {10, 0, 0, ""}).Wait().ok());
  EXPECT_RULE(svc_->HoldWorkOrder(sam_, Wo(), "  ").Wait(), StatusCode::kInvalidArgument, "reason_required");
  EXPECT_EQ(Get("work_order", Wo()).Text("status"), "InProgress") << "refused: nothing changed";
  ASSERT_TRUE(svc_->HoldWorkOrder(sam_, Wo(), "customer asked to wait").Wait().ok());
  auto holds = Select("audit_record", "action = 'work_order.hold'", {}, "");
  ASSERT_EQ(holds.size(), 1u);
  const Row& hold = holds[0];
  EXPECT_EQ(hold.Text("actor_id"), sam_.user_id);
  EXPECT_EQ(hold.Text("actor_role"), "supervisor");
  EXPECT_EQ(hold.Text("row_id"), Wo());
  EXPECT_EQ(hold.Text("table_name"), "work_order");
  EXPECT_EQ(hold.Text("old_value"), R"({"status":"InProgress"})");
  EXPECT_EQ(hold.Text("new_value"), R"({"status":"OnHold"})");
  EXPECT_EQ(hold.Text("reason"), "customer asked to wait");
  EXPECT_GT(hold.Int("hlc"), 0);
  EXPECT_GT(hold.Int("at"), 0);
  ASSERT_TRUE(svc_->ResumeWorkOrder(sam_, Wo()).Wait().ok());
  // A count correction: signed differences as a COUNT event, totals recorded.
  ASSERT_TRUE(svc_->ResumeOperation(ana_, ops[0].id()).Wait().ok());
  EXPECT_RULE(svc_->CorrectCounts(ana_, ops[0].id(), {-2, 0, 0, ""}, "double count").Wait(),
              StatusCode::kPermissionDenied, "role_not_allowed");
  EXPECT_RULE(svc_->CorrectCounts(sam_, ops[0].id(), {-2, 0, 0, ""}, "").Wait(),
              StatusCode::kInvalidArgument, "reason_required");
  EXPECT_RULE(svc_->CorrectCounts(sam_, ops[0].id(), {-11, 0, 0, ""}, "too many").Wait(),
              StatusCode::kFailedPrecondition, "correction_below_zero");
  auto fixed = svc_->CorrectCounts(sam_, ops[0].id(), {-2, 0, 0, ""}, "double count at 10:05").Wait();
  ASSERT_TRUE(fixed.ok()) << fixed.status().ToString();
  EXPECT_EQ(fixed->Real("good_quantity"), 8);
  auto events = Select("production_event", "operation_id = ? AND kind = 'COUNT'", {ops[0].id()}, "hlc");
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events.back().Real("good_quantity"), -2);  // the events still add up to the total
  auto corrections = Select("audit_record", "action = 'work_order_operation.correct_counts'", {}, "");
  ASSERT_EQ(corrections.size(), 1u);
  EXPECT_EQ(corrections[0].Text("old_value"), R"({"good_quantity":10.0})");
  EXPECT_EQ(corrections[0].Text("new_value"), R"({"good_quantity":8.0})");
  // Quality's lot status change is on the record too.
  Actor qa = BadgeIn("3001", "L1-PACK");
  ASSERT_TRUE(svc_->SetLotStatus(qa, Id("lot", "S-0001"), "quarantine", "rust spots").Wait().ok());
  EXPECT_EQ(Select("audit_record", "action = 'material_lot.status' AND actor_role = 'quality'", {}, "").size(), 1u);
  // Every record reached the outbox with its action (it syncs like other facts), and none
  // can be changed or deleted, not even by a raw statement in the store.
  int captured = 0;
  const auto outbox = store_->ReadOutbox(0, 100000);
  ASSERT_TRUE(outbox.ok());
  for (const auto& e : *outbox) captured += e.table == "audit_record";
  EXPECT_EQ(captured, static_cast<int>(Select("audit_record", "", {}, "").size()));
  for (const char* sql : {"UPDATE audit_record SET reason = 'nothing happened'",
                          "DELETE FROM audit_record"}) {
    Status s = store_->Write([&](WriteTxn& txn) { return txn.db().Exec(sql); });
    EXPECT_FALSE(s.ok()) << sql;
    EXPECT_NE(s.message().find("never changed or deleted"), std::string::npos) << s.ToString();
  }
  EXPECT_EQ(Select("audit_record", "reason = 'customer asked to wait'", {}, "").size(), 1u);
}

TEST_F(WorkflowTest, AHoldPausesRunningOperationsAndRefusesProductionUntilResumed) {
  auto ops = Release();
  ASSERT_TRUE(svc_->StartOperation(ana_, ops[0].id()).Wait().ok());
  ASSERT_TRUE(svc_->ReportCount(ana_, ops[0].id(), {5, 0, 0, ""}).Wait().ok());
  ASSERT_TRUE(svc_->HoldWorkOrder(sam_, Wo(), "test").Wait().ok());
  // The running operation is paused by the hold, with a PAUSE event of its own.
  EXPECT_EQ(Get("work_order_operation", ops[0].id()).Text("status"), "Paused");
  auto pauses = Select("production_event", "operation_id = ? AND kind = 'PAUSE'", {ops[0].id()}, "");
  EXPECT_EQ(pauses.size(), 1u);
  // No production on a held order, whatever the operation's state: the rule names the hold.
  EXPECT_RULE(svc_->ReportCount(ana_, ops[0].id(), {1, 0, 0, ""}).Wait(), StatusCode::kFailedPrecondition,
              "work_order_on_hold");
  EXPECT_RULE(svc_->CompleteOperation(ana_, ops[0].id()).Wait(), StatusCode::kFailedPrecondition,
              "work_order_on_hold");
  EXPECT_RULE(svc_->ProduceOutput(ana_, ops[0].id(), 1).Wait(), StatusCode::kFailedPrecondition,
              "work_order_on_hold");
  EXPECT_RULE(svc_->ResumeOperation(ana_, ops[0].id()).Wait(), StatusCode::kFailedPrecondition,
              "work_order_on_hold");
  EXPECT_EQ(Get("work_order_operation", ops[0].id()).Real("good_quantity"), 5);
  // Resumed: the operation restarts on its unit and counts again.
  ASSERT_TRUE(svc_->ResumeWorkOrder(sam_, Wo()).Wait().ok());
  ASSERT_TRUE(svc_->ResumeOperation(ana_, ops[0].id()).Wait().ok());
  ASSERT_TRUE(svc_->ReportCount(ana_, ops[0].id(), {1, 0, 0, ""}).Wait().ok());
  EXPECT_EQ(Get("work_order_operation", ops[0].id()).Real("good_quantity"), 6);
}

TEST_F(WorkflowTest, CancelWorksFromDraftReleasedAndOnHoldOnly) {
  // Draft -> Cancelled
  ASSERT_TRUE(svc_->CancelWorkOrder(sam_, Id("work_order", "WO-1002"), "test").Wait().ok());
  EXPECT_EQ(Get("work_order", Id("work_order", "WO-1002")).Text("status"), "Cancelled");
  // Released -> Cancelled cancels Ready and Pending operations
  auto ops = Release();
  auto created = svc_->CreateWorkOrder(sam_, "WO-2001", Id("material", "BRKT-100"), 10, {}).Wait();
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  ASSERT_TRUE(svc_->CancelWorkOrder(sam_, Wo(), "test").Wait().ok());
  for (const Row& op : Ops(Wo())) EXPECT_EQ(op.Text("status"), "Cancelled");
  // InProgress -> Cancelled is not an arrow; OnHold -> Cancelled is, and cancels a Paused op.
  ASSERT_TRUE(svc_->ReleaseWorkOrder(sam_, created->id()).Wait().ok());
  auto ops2 = Ops(created->id());
  ASSERT_TRUE(svc_->StartOperation(ana_, ops2[0].id()).Wait().ok());
  EXPECT_RULE(svc_->CancelWorkOrder(sam_, created->id(), "test").Wait(), StatusCode::kConflict,
              "work_order_not_cancellable");
  ASSERT_TRUE(svc_->PauseOperation(ana_, ops2[0].id()).Wait().ok());
  ASSERT_TRUE(svc_->HoldWorkOrder(sam_, created->id(), "test").Wait().ok());
  ASSERT_TRUE(svc_->CancelWorkOrder(sam_, created->id(), "test").Wait().ok());
  EXPECT_EQ(Get("work_order_operation", ops2[0].id()).Text("status"), "Cancelled");
  EXPECT_RULE(svc_->StartOperation(ana_, ops2[1].id()).Wait(), StatusCode::kConflict,
              "operation_not_ready");
}

TEST_F(WorkflowTest, ShortCloseCancelsWhatIsLeftButNotARunningOperation) {
  auto ops = Release();
  EXPECT_RULE(svc_->ShortCloseWorkOrder(sam_, Wo(), "test").Wait(), StatusCode::kConflict,
              "work_order_not_started");
  ASSERT_TRUE(svc_->StartOperation(ana_, ops[0].id()).Wait().ok());
  ASSERT_TRUE(svc_->ReportCount(ana_, ops[0].id(), {10, 0, 0, ""}).Wait().ok());
  EXPECT_RULE(svc_->ShortCloseWorkOrder(sam_, Wo(), "test").Wait(), StatusCode::kFailedPrecondition,
              "operation_running");
  ASSERT_TRUE(svc_->PauseOperation(ana_, ops[0].id()).Wait().ok());
  ASSERT_TRUE(svc_->HoldWorkOrder(sam_, Wo(), "test").Wait().ok());
  ASSERT_TRUE(svc_->ShortCloseWorkOrder(sam_, Wo(), "test").Wait().ok());
  EXPECT_EQ(Get("work_order", Wo()).Text("status"), "Closed");
  for (const Row& op : Ops(Wo())) EXPECT_EQ(op.Text("status"), "Cancelled") << op.Int("seq");
}

TEST_F(WorkflowTest, CreatingAWorkOrderOfflineChecksItsInputs) {
  EXPECT_RULE(svc_->CreateWorkOrder(sam_, "WO-1001", Id("material", "BRKT-100"), 5, {}).Wait(),
              StatusCode::kAlreadyExists, "number_taken");
  EXPECT_RULE(svc_->CreateWorkOrder(sam_, "WO-3", Id("material", "BRKT-100"), -5, {}).Wait(),
              StatusCode::kInvalidArgument, "bad_quantity");
  EXPECT_RULE(svc_->CreateWorkOrder(sam_, "WO-3", Id("material", "STEEL-S235"), 5, {}).Wait(),
              StatusCode::kFailedPrecondition, "no_routing");
  EXPECT_RULE(svc_->CreateWorkOrder(sam_, "", Id("material", "BRKT-100"), 5, {}).Wait(),
              StatusCode::kInvalidArgument, "number_required");
  auto wo = svc_->CreateWorkOrder(sam_, "WO-3", Id("material", "BRKT-100"), 5, 1795500000000).Wait();
  ASSERT_TRUE(wo.ok());
  EXPECT_EQ(wo->Text("status"), "Draft");
  EXPECT_EQ(wo->Text("routing_id"), Id("routing", "BRKT-100"));
  EXPECT_EQ(wo->Text("bom_id"), Id("bom", "BRKT-100"));
}

// ---------------------------------------------------------------- operation guards

TEST_F(WorkflowTest, OperationGuardsRefuseWithTheRuleName) {
  auto ops = Release();
  EXPECT_RULE(svc_->StartOperation(ana_, ops[1].id()).Wait(), StatusCode::kFailedPrecondition,
              "previous_step_incomplete");
  Actor ben_cut = BadgeIn("1002", "L1-CUT");  // Ben is qualified for PACK only
  EXPECT_RULE(svc_->StartOperation(ben_cut, ops[0].id()).Wait(), StatusCode::kFailedPrecondition,
              "not_qualified");
  Actor ana_pack = BadgeIn("1001", "L1-PACK");
  EXPECT_RULE(svc_->StartOperation(ana_pack, ops[0].id()).Wait(), StatusCode::kFailedPrecondition,
              "wrong_work_unit");
  ana_ = BadgeIn("1001", "L1-CUT");
  EXPECT_RULE(svc_->CompleteOperation(ana_, ops[0].id()).Wait(), StatusCode::kConflict,
              "operation_not_running");
  EXPECT_RULE(svc_->PauseOperation(ana_, ops[0].id()).Wait(), StatusCode::kConflict,
              "operation_not_running");
  EXPECT_RULE(svc_->ResumeOperation(ana_, ops[0].id()).Wait(), StatusCode::kConflict,
              "operation_not_paused");
  ASSERT_TRUE(svc_->StartOperation(ana_, ops[0].id()).Wait().ok());
  EXPECT_RULE(svc_->StartOperation(ana_, ops[0].id()).Wait(), StatusCode::kConflict,
              "operation_not_ready");
  ASSERT_TRUE(svc_->PauseOperation(ana_, ops[0].id()).Wait().ok());
  EXPECT_RULE(svc_->CompleteOperation(ana_, ops[0].id()).Wait(), StatusCode::kConflict,
              "operation_not_running");
  EXPECT_RULE(svc_->StartOperation(ana_, ops[0].id()).Wait(), StatusCode::kConflict,
              "operation_not_ready");
  ASSERT_TRUE(svc_->ResumeOperation(ana_, ops[0].id()).Wait().ok());
  ASSERT_TRUE(svc_->CompleteOperation(ana_, ops[0].id()).Wait().ok());
  EXPECT_RULE(svc_->StartOperation(ana_, ops[0].id()).Wait(), StatusCode::kConflict,
              "operation_not_ready");
  EXPECT_RULE(svc_->StartOperation(ana_, Uuid::NewV7().ToString()).Wait(), StatusCode::kNotFound,
              "operation_not_found");
}

TEST_F(WorkflowTest, AWorkUnitRunsOneOperationAtATime) {
  auto ops = Release();
  auto second = svc_->CreateWorkOrder(sam_, "WO-2002", Id("material", "BRKT-100"), 10, {}).Wait();
  ASSERT_TRUE(second.ok());
  ASSERT_TRUE(svc_->ReleaseWorkOrder(sam_, second->id()).Wait().ok());
  ASSERT_TRUE(svc_->StartOperation(ana_, ops[0].id()).Wait().ok());
  EXPECT_RULE(svc_->StartOperation(ana_, Ops(second->id())[0].id()).Wait(),
              StatusCode::kFailedPrecondition, "work_unit_busy");
}

TEST_F(WorkflowTest, CountsNeedARunningOperationAndScrapNeedsAScrapReason) {
  auto ops = Release();
  EXPECT_RULE(svc_->ReportCount(ana_, ops[0].id(), {5, 0, 0, ""}).Wait(), StatusCode::kConflict,
              "operation_not_running");
  ASSERT_TRUE(svc_->StartOperation(ana_, ops[0].id()).Wait().ok());
  EXPECT_RULE(svc_->ReportCount(ana_, ops[0].id(), {0, 2, 0, ""}).Wait(), StatusCode::kInvalidArgument,
              "scrap_needs_reason");
  EXPECT_RULE(svc_->ReportCount(ana_, ops[0].id(), {0, 2, 0, Id("reason", "DT-MECH")}).Wait(),
              StatusCode::kInvalidArgument, "not_a_scrap_reason");
  EXPECT_RULE(svc_->ReportCount(ana_, ops[0].id(), {-1, 0, 0, ""}).Wait(), StatusCode::kInvalidArgument,
              "bad_quantity");
  EXPECT_RULE(svc_->ReportCount(ana_, ops[0].id(), {0, 0, 0, ""}).Wait(), StatusCode::kInvalidArgument,
              "empty_count");
  EXPECT_RULE(svc_->ReportCount(ana_, ops[0].id(), {std::nan(""), 0, 0, ""}).Wait(),
              StatusCode::kInvalidArgument, "bad_quantity");
  ASSERT_TRUE(svc_->ReportCount(ana_, ops[0].id(), {3, 1, 2, Id("reason", "SC-SURF")}).Wait().ok());
  ASSERT_TRUE(svc_->ReportCount(ana_, ops[0].id(), {4, 0, 0, ""}).Wait().ok());
  Row op = Get("work_order_operation", ops[0].id());
  EXPECT_EQ(op.Real("good_quantity"), 7);
  EXPECT_EQ(op.Real("scrap_quantity"), 1);
  EXPECT_EQ(op.Real("rework_quantity"), 2);
  auto counts =
      Select("production_event", "operation_id = ? AND kind = 'COUNT'", {ops[0].id()}, "at");
  ASSERT_EQ(counts.size(), 2u);  // refusals wrote nothing
  EXPECT_EQ(counts[0].Text("scrap_reason_id"), Id("reason", "SC-SURF"));
  EXPECT_EQ(counts[0].Text("operator_id"), ana_.user_id);
}

// A write run without waiting: answered by the store's writer once durable, with what
// Wait() would have returned; a refusal before the store is answered at once, here.
TEST_F(WorkflowTest, AWriteRunWithoutWaitingIsAnsweredByTheWriterOnceCommitted) {
  auto ops = Release();
  ASSERT_TRUE(svc_->StartOperation(ana_, ops[0].id()).Wait().ok());
  std::promise<std::pair<Result<Row>, std::thread::id>> answered;
  svc_->ReportCount(ana_, ops[0].id(), {2, 0, 0, ""}).Then([&](Result<Row> r) {
    answered.set_value({std::move(r), std::this_thread::get_id()});
  });
  auto [row, thread] = answered.get_future().get();
  ASSERT_TRUE(row.ok()) << row.status().ToString();
  EXPECT_NE(thread, std::this_thread::get_id());
  EXPECT_EQ(row->Real("good_quantity"), 2);
  // Committed by the time the answer came: another connection sees it.
  EXPECT_EQ(Get("work_order_operation", ops[0].id()).Real("good_quantity"), 2);
  EXPECT_EQ(Select("production_event", "operation_id = ? AND kind = 'COUNT'", {ops[0].id()}).size(),
            1u);

  std::thread::id refused_on;
  Status refused;
  svc_->ReportCount(ana_, ops[0].id(), {0, 0, 0, ""}).Then([&](Result<Row> r) {
    refused = r.status();
    refused_on = std::this_thread::get_id();
  });
  EXPECT_EQ(refused_on, std::this_thread::get_id());
  EXPECT_EQ(refused.rule(), "empty_count");
  // A rule broken inside the write comes back the same way, and writes nothing.
  std::promise<Status> broken;
  svc_->ReportCount(ana_, ops[1].id(), {1, 0, 0, ""}).Then([&](Result<Row> r) {
    broken.set_value(r.status());
  });
  EXPECT_EQ(broken.get_future().get().rule(), "operation_not_running");
  EXPECT_EQ(Select("production_event", "operation_id = ?", {ops[1].id()}).size(), 0u);
}

// ---------------------------------------------------------------- downtime

TEST_F(WorkflowTest, DowntimePausesTheRunningOperationAndEndingItResumes) {
  auto ops = Release();
  ASSERT_TRUE(svc_->StartOperation(ana_, ops[0].id()).Wait().ok());
  auto dt = svc_->StartDowntime(ana_, "", "", "hydraulics leaking").Wait();
  ASSERT_TRUE(dt.ok()) << dt.status().ToString();
  EXPECT_TRUE(dt->IsNull("reason_id"));  // an open stop may wait for its reason
  EXPECT_EQ(dt->Text("operation_id"), ops[0].id());
  EXPECT_EQ(Get("work_order_operation", ops[0].id()).Text("status"), "Paused");
  EXPECT_RULE(svc_->StartDowntime(ana_, "", "", "").Wait(), StatusCode::kConflict,
              "downtime_already_open");
  EXPECT_RULE(svc_->ResumeOperation(ana_, ops[0].id()).Wait(), StatusCode::kFailedPrecondition,
              "work_unit_down");
  EXPECT_RULE(svc_->ClassifyDowntime(ana_, dt->id(), Id("reason", "SC-DIM")).Wait(),
              StatusCode::kInvalidArgument, "not_a_downtime_reason");
  auto classified = svc_->ClassifyDowntime(ana_, dt->id(), Id("reason", "DT-MECH-HYD")).Wait();
  ASSERT_TRUE(classified.ok());
  EXPECT_FALSE(classified->Bool("planned"));
  clock_.Advance(600000);
  auto ended = svc_->EndDowntime(ana_, dt->id()).Wait();
  ASSERT_TRUE(ended.ok());
  EXPECT_EQ(ended->Int("ended_at") - ended->Int("started_at"), 600000);
  EXPECT_EQ(Get("work_order_operation", ops[0].id()).Text("status"), "Running");
  EXPECT_RULE(svc_->EndDowntime(ana_, dt->id()).Wait(), StatusCode::kConflict, "downtime_already_ended");
  auto kinds = Select("production_event", "operation_id = ?", {ops[0].id()}, "hlc");
  ASSERT_EQ(kinds.size(), 3u);
  EXPECT_EQ(kinds[1].Text("kind"), "PAUSE");
  EXPECT_EQ(kinds[2].Text("kind"), "RESUME");
}

TEST_F(WorkflowTest, APlannedStopTakesItsFlagFromTheReasonAndBlocksStarting) {
  auto ops = Release();
  auto dt = svc_->StartDowntime(ana_, "", Id("reason", "DT-BREAK"), "").Wait();
  ASSERT_TRUE(dt.ok());
  EXPECT_TRUE(dt->Bool("planned"));
  EXPECT_RULE(svc_->StartOperation(ana_, ops[0].id()).Wait(), StatusCode::kFailedPrecondition,
              "work_unit_down");
  ASSERT_TRUE(svc_->EndDowntime(ana_, dt->id()).Wait().ok());
  EXPECT_TRUE(svc_->StartOperation(ana_, ops[0].id()).Wait().ok());
}

// ---------------------------------------------------------------- measurements

TEST_F(WorkflowTest, MeasurementsComputeInSpecAndOutOfSpecOpensANonConformanceAndHoldsTheLot) {
  std::string lot = Id("lot", "S-0001");
  auto ok =
      svc_->RecordMeasurement(ana_, {Id("characteristic", "BRKT-HOLE"), "", lot, 8.05, {}, true}).Wait();
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_TRUE(ok->measurement.Bool("in_spec"));
  EXPECT_FALSE(ok->non_conformance.has_value());
  auto edge_case =
      svc_->RecordMeasurement(ana_, {Id("characteristic", "BRKT-HOLE"), "", "", 8.1, {}, true}).Wait();
  EXPECT_TRUE(edge_case->measurement.Bool("in_spec"));  // limits are inclusive
  auto bad =
      svc_->RecordMeasurement(ana_, {Id("characteristic", "BRKT-HOLE"), "", lot, 8.25, {}, true}).Wait();
  ASSERT_TRUE(bad.ok());
  EXPECT_FALSE(bad->measurement.Bool("in_spec"));
  ASSERT_TRUE(bad->non_conformance.has_value());
  EXPECT_EQ(bad->non_conformance->Text("status"), "open");
  EXPECT_EQ(bad->non_conformance->Text("lot_id"), lot);
  EXPECT_EQ(Get("material_lot", lot).Text("status"), "hold");
  auto visual =
      svc_->RecordMeasurement(ana_, {Id("characteristic", "BRKT-VISUAL"), "", "", {}, false, true}).Wait();
  ASSERT_TRUE(visual.ok());
  EXPECT_FALSE(visual->measurement.Bool("in_spec"));
  EXPECT_TRUE(visual->non_conformance.has_value());
  EXPECT_RULE(
      svc_->RecordMeasurement(ana_, {Id("characteristic", "BRKT-HOLE"), "", "", {}, {}, true}).Wait(),
      StatusCode::kInvalidArgument, "value_required");
  EXPECT_RULE(
      svc_->RecordMeasurement(ana_, {Id("characteristic", "BRKT-VISUAL"), "", "", 1.0, {}, true}).Wait(),
      StatusCode::kInvalidArgument, "result_required");
}

TEST_F(WorkflowTest, QualityDisposesNonConformancesAndTheLotFollows) {
  std::string lot = Id("lot", "S-0002");
  auto bad =
      svc_->RecordMeasurement(ana_, {Id("characteristic", "BRKT-HOLE"), "", lot, 7.5, {}, true}).Wait();
  ASSERT_TRUE(bad.ok() && bad->non_conformance);
  std::string nc = bad->non_conformance->id();
  Actor quinn = BadgeIn("3001", "L1-PACK");
  EXPECT_RULE(svc_->DisposeNonConformance(ana_, nc, "scrap", true).Wait(), StatusCode::kPermissionDenied,
              "role_not_allowed");
  EXPECT_RULE(svc_->DisposeNonConformance(quinn, nc, "burn", true).Wait(), StatusCode::kInvalidArgument,
              "bad_disposition");
  auto investigating = svc_->DisposeNonConformance(quinn, nc, "rework", false).Wait();
  ASSERT_TRUE(investigating.ok());
  EXPECT_EQ(investigating->Text("status"), "investigating");
  auto closed = svc_->DisposeNonConformance(quinn, nc, "use_as_is", true).Wait();
  ASSERT_TRUE(closed.ok());
  EXPECT_EQ(closed->Text("status"), "closed");
  EXPECT_EQ(Get("material_lot", lot).Text("status"), "available");  // released for use
  EXPECT_RULE(svc_->DisposeNonConformance(quinn, nc, "scrap", true).Wait(), StatusCode::kConflict,
              "non_conformance_closed");
}

TEST_F(WorkflowTest, ANonConformanceCanBeClosedStraightFromOpen) {
  auto bad = svc_->RecordMeasurement(
      ana_, {Id("characteristic", "BRKT-HOLE"), "", Id("lot", "P-0001"), 7.0, {}, true}).Wait();
  ASSERT_TRUE(bad.ok() && bad->non_conformance);
  Actor quinn = BadgeIn("3001", "L1-PACK");
  auto closed = svc_->DisposeNonConformance(quinn, bad->non_conformance->id(), "scrap", true).Wait();
  ASSERT_TRUE(closed.ok()) << closed.status().ToString();
  EXPECT_EQ(closed->Text("status"), "closed");  // open -> closed, no investigation needed
  EXPECT_EQ(Get("material_lot", Id("lot", "P-0001")).Text("status"),
            "scrapped");  // hold -> scrapped
}

TEST_F(WorkflowTest, QualityMovesLotsAlongEveryArrowOfTheLotStateMachine) {
  Actor quinn = BadgeIn("3001", "L1-PACK");
  std::string a = Id("lot", "S-0001"), b = Id("lot", "S-0002"), c = Id("lot", "B-0001");
  auto to = [&](const std::string& lot, const char* status) {
    auto r = svc_->SetLotStatus(quinn, lot, status).Wait();
    EXPECT_TRUE(r.ok()) << status << ": " << r.status().ToString();
    EXPECT_EQ(Get("material_lot", lot).Text("status"), status);
  };
  to(a, "quarantine");  // available -> quarantine
  to(a, "available");   // quarantine -> available
  to(a, "hold");        // available -> hold
  to(a, "quarantine");  // hold -> quarantine
  to(a, "hold");        // quarantine -> hold
  to(a, "available");   // hold -> available
  to(a, "scrapped");    // available -> scrapped
  to(b, "quarantine");
  to(b, "scrapped");  // quarantine -> scrapped
  to(c, "hold");
  to(c, "scrapped");  // hold -> scrapped
  // available -> consumed happens by consumption (ConsumingALot...); terminal states stay.
  EXPECT_RULE(svc_->SetLotStatus(quinn, a, "available").Wait(), StatusCode::kConflict,
              "lot_status_not_allowed");
  EXPECT_RULE(svc_->SetLotStatus(quinn, a, "consumed").Wait(), StatusCode::kInvalidArgument,
              "bad_lot_status");
  EXPECT_RULE(svc_->SetLotStatus(quinn, a, "lost").Wait(), StatusCode::kInvalidArgument, "bad_lot_status");
  EXPECT_RULE(svc_->SetLotStatus(ana_, Id("lot", "P-0001"), "hold").Wait(), StatusCode::kPermissionDenied,
              "role_not_allowed");
  EXPECT_EQ(Get("material_lot", Id("lot", "P-0001")).Text("status"), "available");
}

// ---------------------------------------------------------------- material

TEST_F(WorkflowTest, ConsumingALotChecksBomAvailabilityAndQuantityAndWritesGenealogy) {
  auto ops = Release();
  std::string steel = Id("lot", "S-0001"), bolts = Id("lot", "B-0001");
  EXPECT_RULE(svc_->ConsumeLot(ana_, ops[0].id(), steel, 10).Wait(), StatusCode::kConflict,
              "operation_not_running");
  ASSERT_TRUE(svc_->StartOperation(ana_, ops[0].id()).Wait().ok());
  EXPECT_RULE(svc_->ConsumeLot(ana_, ops[0].id(), bolts, 10).Wait(), StatusCode::kFailedPrecondition,
              "material_not_on_bom");
  EXPECT_RULE(svc_->ConsumeLot(ana_, ops[0].id(), steel, 501).Wait(), StatusCode::kFailedPrecondition,
              "insufficient_quantity");
  EXPECT_RULE(svc_->ConsumeLot(ana_, ops[0].id(), steel, 0).Wait(), StatusCode::kInvalidArgument,
              "bad_quantity");
  auto link = svc_->ConsumeLot(ana_, ops[0].id(), steel, 25).Wait();
  ASSERT_TRUE(link.ok()) << link.status().ToString();
  EXPECT_EQ(link->Text("parent_id"), steel);
  EXPECT_EQ(Get("material_lot", steel).Real("quantity"), 475);
  auto produced = svc_->ProduceOutput(ana_, ops[0].id(), 50).Wait();
  ASSERT_TRUE(produced.ok());
  EXPECT_EQ(produced->id(), link->Text("child_id"));  // consumption and output meet in one lot
  EXPECT_EQ(produced->Text("lot_no"), "WO-1001-10");
  EXPECT_EQ(produced->Real("quantity"), 50);
  EXPECT_EQ(produced->Text("material_id"), Id("material", "BRKT-100"));
  auto moves = Select("inventory_movement", "operation_id = ?", {ops[0].id()}, "hlc");
  ASSERT_EQ(moves.size(), 2u);
  // Consume the rest: the lot becomes consumed, and consumed lots are not available.
  ASSERT_TRUE(svc_->ConsumeLot(ana_, ops[0].id(), steel, 475).Wait().ok());
  EXPECT_EQ(Get("material_lot", steel).Text("status"), "consumed");
  EXPECT_RULE(svc_->ConsumeLot(ana_, ops[0].id(), steel, 1).Wait(), StatusCode::kFailedPrecondition,
              "lot_not_available");
}

TEST_F(WorkflowTest, AHeldLotCannotBeConsumed) {
  auto ops = Release();
  std::string steel = Id("lot", "S-0002");
  ASSERT_TRUE(
      svc_->RecordMeasurement(ana_, {Id("characteristic", "BRKT-HOLE"), "", steel, 9.0, {}, true}).Wait()
          .ok());
  ASSERT_TRUE(svc_->StartOperation(ana_, ops[0].id()).Wait().ok());
  EXPECT_RULE(svc_->ConsumeLot(ana_, ops[0].id(), steel, 1).Wait(), StatusCode::kFailedPrecondition,
              "lot_not_available");
}

TEST_F(WorkflowTest, MasterDataStaysReadOnlyAtTheSite) {
  Row eq = Get("equipment", Id("equipment", "L1-CUT"));
  eq.Set("name", "renamed locally");
  Status s = store_->Write([&](WriteTxn& txn) { return txn.Upsert(eq); });
  EXPECT_EQ(s.code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(Get("equipment", Id("equipment", "L1-CUT")).Text("name"), "Laser cutter");
}

TEST_F(WorkflowTest, SeedingTwiceIsRefusedAndSeedIdsAreStable) {
  EXPECT_EQ(SeedDemoSite(*store_).code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(SeedId("plant-a", "lot", "S-0001"), SeedId("plant-a", "lot", "S-0001"));
  EXPECT_NE(SeedId("plant-a", "lot", "S-0001"), SeedId("plant-b", "lot", "S-0001"));
  EXPECT_EQ(Uuid::Parse(SeedId("plant-a", "lot", "S-0001"))->version(), 7);
  EXPECT_EQ(Select("equipment", "level = 'work_unit'", {}).size(), 6u);
}

}  // namespace
}  // namespace millrace::edge
