// EdgeStore: durable group commit, change capture, ownership refusals, outbox purging.
#include "millrace/edge/store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "millrace/common/uuid.h"
#include "millrace/sync/row_codec.h"

namespace millrace::edge {
namespace {

using catalog::MesCatalog;

const catalog::TableSpec& T(const char* name) {
  return *MesCatalog().Find(name);
}

constexpr std::int64_t kT0 = 1795413600000;

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ =
        std::filesystem::temp_directory_path() / ("millrace-store-" + std::to_string(::getpid()) +
                                                  "-" + Uuid::NewV7().ToString().substr(24));
    std::filesystem::create_directories(dir_);
    Reopen();
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  void Reopen() {
    store_.reset();
    EdgeStoreOptions o;
    o.path = (dir_ / "edge.db").string();
    o.site_id = "plant-a";
    o.clock = &clock_;
    auto s = EdgeStore::Open(o);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(s).value();
  }

  Row Event(int good) {
    Row r(T("production_event"));
    r.Set("id", Uuid::NewV7(&clock_).ToString())
        .Set("kind", "COUNT")
        .Set("at", kT0)
        .Set("work_order_id", Uuid::NewV7().ToString())
        .Set("operation_id", Uuid::NewV7().ToString())
        .Set("work_unit_id", Uuid::NewV7().ToString())
        .Set("good_quantity", static_cast<double>(good))
        .Set("scrap_quantity", 0.0)
        .Set("rework_quantity", 0.0);
    return r;
  }

  Row WorkOrder(const std::string& status) {
    Row r(T("work_order"));
    r.Set("id", Uuid::NewV7(&clock_).ToString())
        .Set("number", "WO-1")
        .Set("material_id", Uuid::NewV7().ToString())
        .Set("planned_quantity", 100.0)
        .Set("priority", std::int64_t{1})
        .Set("status", status)
        .Set("good_quantity", 0.0)
        .Set("scrap_quantity", 0.0);
    return r;
  }

  std::int64_t CountRows(const char* table) {
    std::int64_t n = -1;
    EXPECT_TRUE(store_
                    ->Read([&](ReadTxn& txn) -> Status {
                      MILLRACE_ASSIGN_OR_RETURN(n, txn.Count(T(table)));
                      return Status::Ok();
                    })
                    .ok());
    return n;
  }

  ManualClock clock_{kT0};
  std::filesystem::path dir_;
  std::unique_ptr<EdgeStore> store_;
};

TEST_F(StoreTest, CapturesAWriteAndItsOutboxEntryTogether) {
  Row ev = Event(5);
  ASSERT_TRUE(store_->Write([&](WriteTxn& txn) { return txn.Insert(ev); }).ok());
  auto entries = store_->ReadOutbox(0, 10);
  ASSERT_TRUE(entries.ok());
  ASSERT_EQ(entries->size(), 1u);
  const OutboxEntry& e = entries->front();
  EXPECT_EQ(e.seq, 1);
  EXPECT_EQ(e.table, "production_event");
  EXPECT_EQ(e.row_id, ev.id());
  EXPECT_EQ(e.captured_ms, kT0);
  sync::v1::Change change;
  ASSERT_TRUE(change.ParseFromString(e.payload));
  auto decoded = sync::DecodeChange(change, MesCatalog());
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(*decoded, ev);  // the row as stored: site, hlc and origin stamped
  EXPECT_EQ(decoded->Text("site_id"), "plant-a");
  EXPECT_EQ(decoded->Text("origin"), "edge:plant-a");
  EXPECT_EQ(HlcTimestamp::FromPacked(static_cast<std::uint64_t>(decoded->Int("hlc"))).physical_ms(),
            static_cast<std::uint64_t>(kT0));
  std::optional<Row> stored;
  ASSERT_TRUE(store_
                  ->Read([&](ReadTxn& txn) -> Status {
                    MILLRACE_ASSIGN_OR_RETURN(stored, txn.Get(T("production_event"), ev.id()));
                    return Status::Ok();
                  })
                  .ok());
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(*stored, ev);
}

TEST_F(StoreTest, CentralOwnedMasterDataRefusesLocalEdits) {
  Row eq(T("equipment"));
  eq.Set("id", Uuid::NewV7().ToString())
      .Set("level", "work_unit")
      .Set("code", "WU1")
      .Set("name", "Press 1")
      .Set("active", std::int64_t{1});
  Status s = store_->Write([&](WriteTxn& txn) { return txn.Upsert(eq); });
  EXPECT_EQ(s.code(), StatusCode::kPermissionDenied);
  EXPECT_NE(s.message().find("owned by central"), std::string::npos);
  EXPECT_EQ(CountRows("equipment"), 0);
  EXPECT_EQ(store_->Outbox()->rows, 0);
}

TEST_F(StoreTest, AppendOnlyFactsRefuseUpdates) {
  Row ev = Event(5);
  ASSERT_TRUE(store_->Write([&](WriteTxn& txn) { return txn.Insert(ev); }).ok());
  Row changed = ev;
  changed.Set("good_quantity", 500.0);
  EXPECT_EQ(store_->Write([&](WriteTxn& txn) { return txn.Upsert(changed); }).code(),
            StatusCode::kConflict);
  EXPECT_EQ(store_->Write([&](WriteTxn& txn) { return txn.Insert(changed); }).code(),
            StatusCode::kAlreadyExists);
  EXPECT_EQ(store_->Outbox()->rows, 1);
}

TEST_F(StoreTest, ADeleteOfASharedRowLeavesATombstoneAndCapturesTheDelete) {
  Row wo = WorkOrder("Draft");
  ASSERT_TRUE(store_->Write([&](WriteTxn& txn) { return txn.Insert(wo); }).ok());  // seq 1
  clock_.Advance(5);
  Row deleted(T("work_order"));
  ASSERT_TRUE(
      store_->Write([&](WriteTxn& txn) { return txn.Delete(T("work_order"), wo.id(), &deleted); })
          .ok());
  EXPECT_EQ(CountRows("work_order"), 0);
  EXPECT_GT(deleted.Int("hlc"), wo.Int("hlc"));
  auto entries = *store_->ReadOutbox(0, 10);
  ASSERT_EQ(entries.size(), 2u);
  sync::v1::Change change;
  ASSERT_TRUE(change.ParseFromString(entries[1].payload));
  EXPECT_EQ(change.op(), sync::v1::OP_DELETE);
  EXPECT_EQ(change.base_hlc(), static_cast<std::uint64_t>(wo.Int("hlc")));
  EXPECT_EQ(change.hlc(), static_cast<std::uint64_t>(deleted.Int("hlc")));
  auto decoded = sync::DecodeChange(change, MesCatalog());
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(decoded->Text("number"), "WO-1");  // the row as it was, for routing and logs
  std::optional<Tombstone> tomb;
  ASSERT_TRUE(store_
                  ->Read([&](ReadTxn& txn) -> Status {
                    MILLRACE_ASSIGN_OR_RETURN(tomb, txn.GetTombstone(T("work_order"), wo.id()));
                    return Status::Ok();
                  })
                  .ok());
  ASSERT_TRUE(tomb.has_value());
  EXPECT_EQ(tomb->hlc, deleted.Int("hlc"));
  EXPECT_EQ(tomb->origin, "edge:plant-a");
  // Gone is gone: a second delete finds nothing.
  EXPECT_EQ(store_->Write([&](WriteTxn& txn) { return txn.Delete(T("work_order"), wo.id()); })
                .code(),
            StatusCode::kNotFound);
}

TEST_F(StoreTest, FactsAndMasterDataAreNeverDeletedAtTheEdge) {
  Row ev = Event(5);
  ASSERT_TRUE(store_->Write([&](WriteTxn& txn) { return txn.Insert(ev); }).ok());
  Status fact = store_->Write([&](WriteTxn& txn) { return txn.Delete(T("production_event"), ev.id()); });
  EXPECT_EQ(fact.code(), StatusCode::kConflict);
  EXPECT_NE(fact.message().find("append-only"), std::string::npos) << fact.message();
  Row eq(T("equipment"));
  eq.Set("id", Uuid::NewV7().ToString())
      .Set("level", "work_unit")
      .Set("code", "WU1")
      .Set("name", "Press 1")
      .Set("active", std::int64_t{1})
      .Set("hlc", std::int64_t{1})
      .Set("origin", "central");
  ASSERT_TRUE(store_->ApplyDownstream([&](WriteTxn& txn) { return txn.Upsert(eq); }).ok());
  EXPECT_EQ(store_->Write([&](WriteTxn& txn) { return txn.Delete(T("equipment"), eq.id()); })
                .code(),
            StatusCode::kPermissionDenied);
  EXPECT_EQ(CountRows("production_event"), 1);
  EXPECT_EQ(CountRows("equipment"), 1);
  EXPECT_EQ(store_->Outbox()->rows, 1);
}

TEST_F(StoreTest, SharedRowsUpdateAndEveryUpdateIsCapturedWithARisingHlc) {
  Row wo = WorkOrder("Released");
  ASSERT_TRUE(store_->Write([&](WriteTxn& txn) { return txn.Upsert(wo); }).ok());
  std::int64_t first_hlc = wo.Int("hlc");
  wo.Set("status", "InProgress");
  ASSERT_TRUE(store_->Write([&](WriteTxn& txn) { return txn.Upsert(wo); }).ok());
  EXPECT_GT(wo.Int("hlc"), first_hlc);
  auto entries = *store_->ReadOutbox(0, 10);
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].seq, 1);
  EXPECT_EQ(entries[1].seq, 2);
  EXPECT_EQ(CountRows("work_order"), 1);
}

TEST_F(StoreTest, ASaveThatChangesNothingWritesAndSendsNothing) {
  Row wo = WorkOrder("Released");
  ASSERT_TRUE(store_->Write([&](WriteTxn& txn) { return txn.Upsert(wo); }).ok());
  const std::int64_t hlc = wo.Int("hlc");
  const std::string origin = wo.Text("origin");
  // The same row saved again, by upsert and by update of what was read: its clock stays
  // (a fresh one would make central's later edits look older than this copy), and no
  // change with no changed columns goes out (central would read it as every column).
  Row again = wo;
  ASSERT_TRUE(store_->Write([&](WriteTxn& txn) { return txn.Upsert(again); }).ok());
  Row loaded = wo, updated = wo;
  ASSERT_TRUE(store_->Write([&](WriteTxn& txn) { return txn.Update(updated, loaded); }).ok());
  EXPECT_EQ(again.Int("hlc"), hlc);
  EXPECT_EQ(updated.Int("hlc"), hlc);
  EXPECT_EQ(updated.Text("origin"), origin);
  EXPECT_EQ(store_->Outbox()->rows, 1);
  std::optional<Row> stored;
  ASSERT_TRUE(store_
                  ->Read([&](ReadTxn& txn) -> Status {
                    MILLRACE_ASSIGN_OR_RETURN(stored, txn.Get(T("work_order"), wo.id()));
                    return Status::Ok();
                  })
                  .ok());
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->Int("hlc"), hlc);
  // A real change is written and captured with the columns it changed.
  updated.Set("status", "InProgress");
  ASSERT_TRUE(store_->Write([&](WriteTxn& txn) { return txn.Update(updated, loaded); }).ok());
  EXPECT_GT(updated.Int("hlc"), hlc);
  auto entries = *store_->ReadOutbox(0, 10);
  ASSERT_EQ(entries.size(), 2u);
  sync::v1::Change change;
  ASSERT_TRUE(change.ParseFromString(entries[1].payload));
  ASSERT_EQ(change.changed_columns_size(), 1);
  EXPECT_EQ(T("work_order").columns[change.changed_columns(0)].name, "status");
}

TEST_F(StoreTest, RefusesRowsOfAnotherSiteAndInvalidValues) {
  Row wo = WorkOrder("Released");
  wo.Set("site_id", "plant-b");
  EXPECT_EQ(store_->Write([&](WriteTxn& txn) { return txn.Upsert(wo); }).code(),
            StatusCode::kPermissionDenied);
  Row bad = WorkOrder("Running");  // not a work-order state
  Status s = store_->Write([&](WriteTxn& txn) { return txn.Upsert(bad); });
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("work_order.status"), std::string::npos);
  EXPECT_EQ(CountRows("work_order"), 0);
  EXPECT_EQ(store_->Outbox()->rows, 0);
}

TEST_F(StoreTest, GroupCommitIsolatesAFailingRequestFromItsNeighbours) {
  constexpr int kThreads = 8, kEach = 150;
  std::atomic<int> ok{0}, failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        bool fail = (i % 5 == 0);
        Status s = store_->Write([&](WriteTxn& txn) -> Status {
          Row ev = Event(t * 1000 + i);
          MILLRACE_RETURN_IF_ERROR(txn.Insert(ev));
          if (fail) return Status::FailedPrecondition("guard failed after writing");
          return Status::Ok();
        });
        (s.ok() ? ok : failed)++;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok.load(), kThreads * kEach * 4 / 5);
  EXPECT_EQ(failed.load(), kThreads * kEach / 5);
  EXPECT_EQ(CountRows("production_event"), ok.load());
  auto stats = *store_->Outbox();
  EXPECT_EQ(stats.rows, ok.load());
  EXPECT_EQ(stats.head_seq, ok.load());  // no holes: rolled-back captures left no seq behind
  EXPECT_LT(store_->groups_committed(), store_->requests_committed())
      << "concurrent writes should share commits";
}

TEST_F(StoreTest, DownstreamApplyWritesWithoutCaptureAndAdvancesTheClock) {
  Row eq(T("equipment"));
  auto central_hlc = HlcTimestamp(static_cast<std::uint64_t>(kT0 + 1000), 3);
  eq.Set("id", Uuid::NewV7().ToString())
      .Set("level", "work_unit")
      .Set("code", "WU1")
      .Set("name", "Press 1")
      .Set("active", std::int64_t{1})
      .Set("hlc", static_cast<std::int64_t>(central_hlc.packed()))
      .Set("origin", "central");
  ASSERT_TRUE(store_->ApplyDownstream([&](WriteTxn& txn) { return txn.Upsert(eq); }).ok());
  EXPECT_EQ(CountRows("equipment"), 1);
  EXPECT_EQ(store_->Outbox()->rows, 0);
  EXPECT_GT(store_->hlc().Now(), central_hlc);
}

// Acknowledged entries captured since the cut-off stay (a restored central gets them
// again) but are not backlog.
TEST_F(StoreTest, KeepsRecentAcknowledgedEntriesOutOfTheBacklog) {
  for (int i = 0; i < 6; ++i) {
    Row ev = Event(i);
    ASSERT_TRUE(store_->Write([&](WriteTxn& txn) { return txn.Insert(ev); }).ok());
  }
  const std::int64_t cutoff = (*store_->ReadOutbox(0, 100))[0].captured_ms;  // none older
  ASSERT_TRUE(store_->PurgeOutboxThrough(4, cutoff).ok());
  auto stats = *store_->Outbox();
  EXPECT_EQ(stats.rows, 2);
  EXPECT_EQ(stats.acked_seq, 4);
  EXPECT_EQ(stats.kept_rows, 4);
  EXPECT_EQ(store_->ReadOutbox(0, 100)->size(), 6u);
  EXPECT_EQ(store_->ReadOutbox(2, 100)->front().seq, 3);  // what a restored central asks for
  ASSERT_TRUE(store_->PurgeOutboxThrough(4).ok());  // past the cut-off: purged
  EXPECT_EQ(store_->Outbox()->kept_rows, 0);
  EXPECT_EQ(store_->ReadOutbox(0, 100)->front().seq, 5);
}

TEST_F(StoreTest, PurgesOnlyThroughTheAcknowledgedWatermark) {
  for (int i = 0; i < 10; ++i) {
    Row ev = Event(i);
    ASSERT_TRUE(store_->Write([&](WriteTxn& txn) { return txn.Insert(ev); }).ok());
  }
  ASSERT_TRUE(store_->PurgeOutboxThrough(4).ok());
  auto left = *store_->ReadOutbox(0, 100);
  ASSERT_EQ(left.size(), 6u);
  EXPECT_EQ(left.front().seq, 5);
  ASSERT_TRUE(store_->PurgeOutboxThrough(2).ok());  // an old ack changes nothing
  EXPECT_EQ(store_->Outbox()->rows, 6);
  EXPECT_EQ(store_->Outbox()->acked_seq, 4);
  EXPECT_EQ(store_->PurgeOutboxThrough(99).code(), StatusCode::kInvalidArgument);
  ASSERT_TRUE(store_->PurgeOutboxThrough(10).ok());
  EXPECT_EQ(store_->Outbox()->rows, 0);
  Row ev = Event(11);
  ASSERT_TRUE(store_->Write([&](WriteTxn& txn) { return txn.Insert(ev); }).ok());
  EXPECT_EQ(store_->ReadOutbox(0, 10)->front().seq, 11);  // seq never restarts
  EXPECT_EQ(CountRows("production_event"), 11);           // purging never touches domain rows
}

TEST_F(StoreTest, ReopenKeepsDataAndTheClockNeverGoesBack) {
  Row ev = Event(1);
  ASSERT_TRUE(store_->Write([&](WriteTxn& txn) { return txn.Insert(ev); }).ok());
  clock_.Set(kT0 - 3600000);  // the wall clock steps back an hour while the edge restarts
  Reopen();
  EXPECT_EQ(CountRows("production_event"), 1);
  Row later = Event(2);
  ASSERT_TRUE(store_->Write([&](WriteTxn& txn) { return txn.Insert(later); }).ok());
  EXPECT_GT(later.Int("hlc"), ev.Int("hlc"));
  EXPECT_EQ(store_->ReadOutbox(0, 10)->back().seq, 2);
}

TEST_F(StoreTest, AThrowingWriteIsAnInternalErrorAndRollsBack) {
  Status s = store_->Write([&](WriteTxn& txn) -> Status {
    Row ev = Event(1);
    MILLRACE_RETURN_IF_ERROR(txn.Insert(ev));
    throw std::runtime_error("bug");
  });
  EXPECT_EQ(s.code(), StatusCode::kInternal);
  EXPECT_EQ(CountRows("production_event"), 0);
}

}  // namespace
}  // namespace millrace::edge
