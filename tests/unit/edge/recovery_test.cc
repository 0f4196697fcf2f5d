// A restored store taking back the site's rows central sends it (Change.recovered): only
// rows newer than its own are taken (as for any feed row but a clamped one), and the totals and
// sessions the floor kept on the backup's state are put right (recovery.h), also after a crash
// between the two.
#include "millrace/edge/recovery.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "catalog_rows.h"
#include "millrace/common/hlc.h"
#include "millrace/common/uuid.h"
#include "millrace/edge/sync_adapter.h"
#include "millrace/sync/row_codec.h"

namespace millrace::edge {
namespace {

const catalog::TableSpec& T(const char* name) {
  return *catalog::MesCatalog().Find(name);
}

class RecoveryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("millrace-recovery-" + std::to_string(::getpid()) + "-" +
            Uuid::NewV7().ToString().substr(24));
    std::filesystem::create_directories(dir_);
    Open();
  }
  void TearDown() override {
    Close();
    std::filesystem::remove_all(dir_);
  }
  void Open() {
    EdgeStoreOptions o;
    o.path = (dir_ / "edge.db").string();
    o.site_id = "plant-a";
    o.node_id = "edge:plant-a";
    auto s = EdgeStore::Open(o);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(s).value();
    adapter_ = std::make_unique<EdgeSyncAdapter>(store_.get());
  }
  void Close() {
    adapter_.reset();
    store_.reset();
  }

  // The rows as central sends them back to a new store, at the next feed positions.
  Status SendBack(const std::vector<Row>& rows) {
    sync::v1::FeedBatch b;
    for (const Row& r : rows) {
      sync::v1::Change* c = b.add_changes();
      *c = sync::EncodeChange(r, sync::v1::OP_UPSERT);
      c->set_seq(++pos_);
      c->set_recovered(true);
    }
    b.set_to_cursor(pos_);
    return adapter_->ApplyFeed(b);
  }

  // One row on the feed as a merge of this site's changes through its seq 2 publishes it.
  Status Feed(const Row& row, bool clamped) {
    sync::v1::FeedBatch b;
    sync::v1::Change* c = b.add_changes();
    *c = sync::EncodeChange(row, sync::v1::OP_UPSERT);
    c->set_seq(++pos_);
    c->set_reflects_site("plant-a");
    c->set_reflects_seq(2);
    c->set_reflects_epoch(store_->epoch().id);
    c->set_clamped(clamped);
    b.set_to_cursor(pos_);
    return adapter_->ApplyFeed(b);
  }

  Row Local(const char* table, int n) {
    Row r = testing::SampleTypedRow(T(table), "plant-a", n);
    return r;
  }
  Status Write(Row& row) {
    return store_->Write([&](WriteTxn& txn) { return txn.Upsert(row); });
  }
  std::optional<Row> Stored(const char* table, const std::string& id) {
    std::optional<Row> out;
    EXPECT_TRUE(store_
                    ->Read([&](ReadTxn& txn) -> Status {
                      MILLRACE_ASSIGN_OR_RETURN(out, txn.Get(T(table), id));
                      return Status::Ok();
                    })
                    .ok());
    return out;
  }
  // A row written at another machine `ms` milliseconds before (negative) or after this
  // store's clock: what central sends back carries the dead machine's clock.
  static Row Stamped(Row row, std::int64_t ms) {
    const std::int64_t physical = static_cast<std::int64_t>(
        HlcTimestamp::FromPacked(static_cast<std::uint64_t>(row.Int("hlc"))).physical_ms());
    row.Set("hlc", static_cast<std::int64_t>(
                       HlcTimestamp(static_cast<std::uint64_t>(physical + ms), 0).packed()));
    row.Set("origin", std::string("edge:plant-a"));
    return row;
  }
  // A COUNT event of `op` with `good` units.
  Row Count(const Row& op, double good, int n) {
    Row ev = testing::SampleTypedRow(T("production_event"), "plant-a", n);
    ev.Set("kind", std::string("COUNT"))
        .Set("operation_id", op.id())
        .Set("work_order_id", op.Text("work_order_id"))
        .Set("good_quantity", good)
        .Set("scrap_quantity", 0.0)
        .Set("rework_quantity", 0.0);
    return ev;
  }

  std::filesystem::path dir_;
  std::unique_ptr<EdgeStore> store_;
  std::unique_ptr<EdgeSyncAdapter> adapter_;
  std::uint64_t pos_ = 0;
};

TEST_F(RecoveryTest, ASentBackRowIsTakenOnlyWhenNewerThanTheStoresOwn) {
  // The new machine badged the operator out of a session the backup held open.
  Row session = Local("operator_session", 1);
  session.Set("badge_out_at", std::int64_t{1'000'000});
  ASSERT_TRUE(Write(session).ok());
  ASSERT_TRUE(adapter_->Acknowledged(1).ok());
  adapter_->FlushPurges();
  Row earlier = Stamped(*Stored("operator_session", session.id()), -60'000);
  earlier.Set("badge_out_at", std::int64_t{900'000});
  ASSERT_TRUE(SendBack({earlier}).ok());
  EXPECT_EQ(Stored("operator_session", session.id())->Int("badge_out_at"), 1'000'000);
  Row later = Stamped(*Stored("operator_session", session.id()), 60'000);
  later.Set("badge_out_at", std::int64_t{1'100'000});
  ASSERT_TRUE(SendBack({later}).ok());
  EXPECT_EQ(Stored("operator_session", session.id())->Int("badge_out_at"), 1'100'000);

  // A shared row with no change pending (acknowledged): an older copy is not taken, sent
  // back or published by a merge before central had the store's write; a copy whose clock
  // central clamped (the store's ran ahead) is.
  Row wo = Local("work_order", 2);
  wo.Set("priority", std::int64_t{3});
  ASSERT_TRUE(Write(wo).ok());
  ASSERT_TRUE(adapter_->Acknowledged(2).ok());
  Row old_wo = Stamped(*Stored("work_order", wo.id()), -60'000);
  old_wo.Set("priority", std::int64_t{9});
  ASSERT_TRUE(SendBack({old_wo}).ok());
  EXPECT_EQ(Stored("work_order", wo.id())->Int("priority"), 3);
  ASSERT_TRUE(Feed(old_wo, false).ok());
  EXPECT_EQ(Stored("work_order", wo.id())->Int("priority"), 3);
  ASSERT_TRUE(Feed(old_wo, true).ok());
  EXPECT_EQ(Stored("work_order", wo.id())->Int("priority"), 9);
}

TEST_F(RecoveryTest, SentBackCountsAreAddedToTheOperationAndOrderAndOneSessionStaysOpen) {
  // The backup: an order whose only operation counted 10, in one event.
  Row wo = Local("work_order", 1);
  wo.Set("good_quantity", 10.0).Set("scrap_quantity", 0.0);
  Row op = Local("work_order_operation", 1);
  op.Set("work_order_id", wo.id())
      .Set("status", std::string("Running"))
      .Set("good_quantity", 10.0)
      .Set("scrap_quantity", 0.0)
      .Set("rework_quantity", 0.0);
  Row ten = Count(op, 10, 1);
  ASSERT_TRUE(store_
                  ->Write([&](WriteTxn& txn) -> Status {
                    MILLRACE_RETURN_IF_ERROR(txn.Upsert(wo));
                    MILLRACE_RETURN_IF_ERROR(txn.Upsert(op));
                    return txn.Insert(ten);
                  })
                  .ok());
  // On the new machine the floor counts 7 more, on the backup's 10, and badges in anew.
  Row seven = Count(op, 7, 2);
  Row now = Local("operator_session", 3);
  now.Set("badge_in_at", std::int64_t{2'000'000}).Set("badge_out_at", Value{});
  ASSERT_TRUE(store_
                  ->Write([&](WriteTxn& txn) -> Status {
                    MILLRACE_ASSIGN_OR_RETURN(auto o, txn.Get(T("work_order_operation"), op.id()));
                    MILLRACE_ASSIGN_OR_RETURN(auto w, txn.Get(T("work_order"), wo.id()));
                    Row o2 = *o, w2 = *w;
                    o2.Set("good_quantity", 17.0);
                    w2.Set("good_quantity", 17.0);
                    MILLRACE_RETURN_IF_ERROR(txn.Update(o2, *o));
                    MILLRACE_RETURN_IF_ERROR(txn.Update(w2, *w));
                    MILLRACE_RETURN_IF_ERROR(txn.Insert(seven));
                    return txn.Insert(now);
                  })
                  .ok());
  // Central sends back the dead machine's 5 counts after the backup, its older copy of
  // the operation (15), and the session the operator was in there, still open.
  Row five = Stamped(Count(op, 5, 4), -30'000);
  Row old_op = Stamped(*Stored("work_order_operation", op.id()), -30'000);
  old_op.Set("good_quantity", 15.0);
  Row there = Stamped(Local("operator_session", 5), -30'000);
  there.Set("user_id", now.Text("user_id"))
      .Set("badge_in_at", std::int64_t{1'500'000})
      .Set("badge_out_at", Value{});
  ASSERT_TRUE(SendBack({old_op, five, there}).ok());

  EXPECT_EQ(Stored("work_order_operation", op.id())->Real("good_quantity"), 22);
  EXPECT_EQ(Stored("work_order", wo.id())->Real("good_quantity"), 22);  // its last operation
  EXPECT_EQ(Stored("operator_session", there.id())->Int("badge_out_at"), 2'000'000);
  EXPECT_TRUE(Stored("operator_session", now.id())->IsNull("badge_out_at"));
  // Written like any edit on the floor, so central gets them.
  std::vector<std::string> captured;
  ASSERT_TRUE(
      store_
          ->Read([&](ReadTxn& txn) -> Status {
            MILLRACE_ASSIGN_OR_RETURN(
                Statement * s,
                txn.db().Prepare("SELECT table_name FROM outbox ORDER BY seq DESC LIMIT 3"));
            for (;;) {
              MILLRACE_ASSIGN_OR_RETURN(bool row, s->Step());
              if (!row) break;
              captured.push_back(std::get<std::string>(s->Column(0)));
            }
            s->Reset();
            return Status::Ok();
          })
          .ok());
  EXPECT_EQ(captured,
            (std::vector<std::string>{"operator_session", "work_order", "work_order_operation"}));
  // Sending the same rows again changes nothing.
  ASSERT_TRUE(SendBack({five, there}).ok());
  EXPECT_EQ(Stored("work_order_operation", op.id())->Real("good_quantity"), 22);
}

TEST_F(RecoveryTest, AnOrderIsRecountedFromItsEventsWhicheverSentBackCopiesWereTaken) {
  // The backup: an order of two operations; its last one (seq 20) counted 10.
  Row wo = Local("work_order", 1);
  wo.Set("good_quantity", 10.0).Set("scrap_quantity", 0.0);
  Row cut = Local("work_order_operation", 1), press = Local("work_order_operation", 2);
  for (Row* op : {&cut, &press})
    op->Set("work_order_id", wo.id())
        .Set("status", std::string("Running"))
        .Set("good_quantity", 0.0)
        .Set("scrap_quantity", 0.0)
        .Set("rework_quantity", 0.0);
  cut.Set("seq", std::int64_t{10});
  press.Set("seq", std::int64_t{20}).Set("good_quantity", 10.0);
  Row ten = Count(press, 10, 1);
  ASSERT_TRUE(store_
                  ->Write([&](WriteTxn& txn) -> Status {
                    for (Row* r : {&wo, &cut, &press}) MILLRACE_RETURN_IF_ERROR(txn.Upsert(*r));
                    return txn.Insert(ten);
                  })
                  .ok());
  // The dead machine counted 5 more on the last operation; the new one only paused it,
  // so its copy of the operation is newer and central's copy of the order is.
  Row sent_order = Stamped(*Stored("work_order", wo.id()), 1);
  sent_order.Set("good_quantity", 15.0);
  Row paused = *Stored("work_order_operation", press.id());
  paused.Set("status", std::string("Paused"));
  ASSERT_TRUE(Write(paused).ok());
  Row sent_press = Stamped(*Stored("work_order_operation", press.id()), -30'000);
  sent_press.Set("good_quantity", 15.0).Set("status", std::string("Running"));
  Row five = Stamped(Count(press, 5, 2), -30'000);
  ASSERT_TRUE(SendBack({sent_order, sent_press, five}).ok());
  EXPECT_EQ(Stored("work_order_operation", press.id())->Real("good_quantity"), 15);
  EXPECT_EQ(Stored("work_order_operation", press.id())->Text("status"), "Paused");
  EXPECT_EQ(Stored("work_order", wo.id())->Real("good_quantity"), 15);  // not 20
}

TEST_F(RecoveryTest, ANoteLeftByACrashIsTakenIntoAccountAtTheNextStart) {
  Row op = Local("work_order_operation", 1);
  op.Set("good_quantity", 0.0).Set("scrap_quantity", 0.0).Set("rework_quantity", 0.0);
  ASSERT_TRUE(Write(op).ok());
  // The feed batch committed with its note; the machine died before the recount.
  Row four = Count(op, 4, 2);
  ASSERT_TRUE(store_
                  ->ApplyDownstream([&](WriteTxn& txn) -> Status {
                    MILLRACE_RETURN_IF_ERROR(txn.Upsert(four));
                    RecoveredRows rows;
                    rows.operations.insert(op.id());
                    return NoteRecovered(txn, rows);
                  })
                  .ok());
  Close();
  Open();
  EXPECT_EQ(Stored("work_order_operation", op.id())->Real("good_quantity"), 0);
  auto done = ReconcileRecovered(*store_);
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  EXPECT_EQ(done->operations, 1);
  EXPECT_EQ(Stored("work_order_operation", op.id())->Real("good_quantity"), 4);
  // The note is gone: a second start does nothing.
  done = ReconcileRecovered(*store_);
  ASSERT_TRUE(done.ok());
  EXPECT_EQ(done->operations, 0);
}

}  // namespace
}  // namespace millrace::edge
