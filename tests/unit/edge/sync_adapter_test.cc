// EdgeSyncAdapter: which feed rows of a shared table the edge applies while it holds
// changes of the same row that central may not have merged yet.
#include "millrace/edge/sync_adapter.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "catalog_rows.h"
#include "millrace/common/hlc.h"
#include "millrace/common/uuid.h"
#include "millrace/sync/row_codec.h"

namespace millrace::edge {
namespace {

const catalog::TableSpec& WorkOrder() { return *catalog::MesCatalog().Find("work_order"); }

class SyncAdapterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("millrace-adapter-" + std::to_string(::getpid()) + "-" +
            Uuid::NewV7().ToString().substr(24));
    std::filesystem::create_directories(dir_);
    EdgeStoreOptions o;
    o.path = (dir_ / "edge.db").string();
    o.site_id = "plant-a";
    auto s = EdgeStore::Open(o);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(s).value();
    adapter_ = std::make_unique<EdgeSyncAdapter>(store_.get());
  }
  void TearDown() override {
    adapter_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  // A feed batch at `pos` carrying the row with central's priority.
  sync::v1::FeedBatch Feed(const Row& row, std::uint64_t pos, std::int64_t priority,
                           const std::string& reflects_site, std::uint64_t reflects_seq) {
    Row central = row;
    central.Set("priority", priority);
    sync::v1::FeedBatch b;
    *b.add_changes() = sync::EncodeChange(central, sync::v1::OP_UPSERT);
    b.mutable_changes(0)->set_seq(pos);
    b.mutable_changes(0)->set_reflects_site(reflects_site);
    b.mutable_changes(0)->set_reflects_seq(reflects_seq);
    b.set_to_cursor(pos);
    return b;
  }

  std::int64_t Priority(const std::string& id) {
    std::int64_t p = -1;
    EXPECT_TRUE(store_
                    ->Read([&](ReadTxn& txn) -> Status {
                      MILLRACE_ASSIGN_OR_RETURN(auto row, txn.Get(WorkOrder(), id));
                      if (row) p = row->Int("priority");
                      return Status::Ok();
                    })
                    .ok());
    return p;
  }

  std::filesystem::path dir_;
  std::unique_ptr<EdgeStore> store_;
  std::unique_ptr<EdgeSyncAdapter> adapter_;
};

TEST_F(SyncAdapterTest, APendingLocalChangeHoldsOffFeedRowsThatDoNotIncludeIt) {
  Row wo = testing::SampleTypedRow(WorkOrder(), "plant-a", 1);
  wo.Set("priority", std::int64_t{1});
  ASSERT_TRUE(store_->Write([&](WriteTxn& txn) { return txn.Insert(wo); }).ok());  // seq 1
  // Another writer's edit, made before central saw seq 1: held off (central will merge
  // seq 1 with it and send the result if it differs from what this site sent).
  ASSERT_TRUE(adapter_->ApplyFeed(Feed(wo, 1, 7, "", 0)).ok());
  EXPECT_EQ(Priority(wo.id()), 1);
  // This site's own row, merged by central through seq 0 only: still held off.
  ASSERT_TRUE(adapter_->ApplyFeed(Feed(wo, 2, 8, "plant-a", 0)).ok());
  EXPECT_EQ(Priority(wo.id()), 1);
  // A row merged by central from another site's seq 1 does not include this site's seq 1.
  ASSERT_TRUE(adapter_->ApplyFeed(Feed(wo, 3, 8, "plant-b", 1)).ok());
  EXPECT_EQ(Priority(wo.id()), 1);
  // Central's merge of this site's changes through seq 1: applied.
  ASSERT_TRUE(adapter_->ApplyFeed(Feed(wo, 4, 9, "plant-a", 1)).ok());
  EXPECT_EQ(Priority(wo.id()), 9);
  auto cursor = adapter_->FeedCursor();
  ASSERT_TRUE(cursor.ok());
  EXPECT_EQ(*cursor, 4u);
}

TEST_F(SyncAdapterTest, AcknowledgedChangesNoLongerHoldOffTheFeedEvenBeforeTheyArePurged) {
  Row wo = testing::SampleTypedRow(WorkOrder(), "plant-a", 1);
  wo.Set("priority", std::int64_t{1});
  ASSERT_TRUE(store_->Write([&](WriteTxn& txn) { return txn.Insert(wo); }).ok());  // seq 1
  ASSERT_TRUE(adapter_->Acknowledged(1).ok());  // the purge runs in the background
  ASSERT_TRUE(adapter_->ApplyFeed(Feed(wo, 1, 5, "", 0)).ok());
  EXPECT_EQ(Priority(wo.id()), 5);
}

// Entries kept after their acknowledgement hold off no feed row, also after a restart.
TEST_F(SyncAdapterTest, KeptAcknowledgedEntriesHoldOffNothingAfterARestart) {
  adapter_ = std::make_unique<EdgeSyncAdapter>(store_.get(), std::chrono::hours(24));
  Row wo = testing::SampleTypedRow(WorkOrder(), "plant-a", 1);
  wo.Set("priority", std::int64_t{1});
  ASSERT_TRUE(store_->Write([&](WriteTxn& txn) { return txn.Insert(wo); }).ok());  // seq 1
  ASSERT_TRUE(adapter_->Acknowledged(1).ok());
  adapter_->FlushPurges();
  EXPECT_EQ(store_->ReadOutbox(0, 10)->size(), 1u);  // kept
  adapter_ = std::make_unique<EdgeSyncAdapter>(store_.get(), std::chrono::hours(24));
  ASSERT_TRUE(adapter_->ApplyFeed(Feed(wo, 1, 5, "", 0)).ok());
  EXPECT_EQ(Priority(wo.id()), 5);
}

TEST_F(SyncAdapterTest, RewindFeedSetsTheCursorBack) {
  Row wo = testing::SampleTypedRow(WorkOrder(), "plant-a", 1);
  ASSERT_TRUE(adapter_->ApplyFeed(Feed(wo, 9, 5, "", 0)).ok());
  ASSERT_EQ(*adapter_->FeedCursor(), 9u);
  ASSERT_TRUE(adapter_->RewindFeed(4).ok());
  EXPECT_EQ(*adapter_->FeedCursor(), 4u);
  ASSERT_TRUE(adapter_->ApplyFeed(Feed(wo, 6, 6, "", 0)).ok());  // positions central writes anew
  EXPECT_EQ(*adapter_->FeedCursor(), 6u);
  EXPECT_EQ(Priority(wo.id()), 6);
}

// A change of `row` at feed position `pos`, stamped with hlc `hlc` (physical ms).
sync::v1::FeedBatch FeedOf(Row row, std::uint64_t pos, std::uint64_t ms, sync::v1::Op op) {
  row.Set("hlc", static_cast<std::int64_t>(HlcTimestamp(ms, 0).packed()));
  row.Set("origin", "central");
  sync::v1::FeedBatch b;
  *b.add_changes() = sync::EncodeChange(row, op);
  b.mutable_changes(0)->set_seq(pos);
  b.set_to_cursor(pos);
  return b;
}

TEST_F(SyncAdapterTest, ADeleteFromCentralLeavesATombstoneThatLosesToNothingOlder) {
  constexpr std::uint64_t kMs = 1795413600000;
  Row wo = testing::SampleTypedRow(WorkOrder(), "plant-a", 1);
  ASSERT_TRUE(adapter_->ApplyFeed(FeedOf(wo, 1, kMs, sync::v1::OP_UPSERT)).ok());
  ASSERT_NE(Priority(wo.id()), -1);
  ASSERT_TRUE(adapter_->ApplyFeed(FeedOf(wo, 2, kMs + 10, sync::v1::OP_DELETE)).ok());
  EXPECT_EQ(Priority(wo.id()), -1);
  // A write published before central heard of the delete: stays deleted.
  ASSERT_TRUE(adapter_->ApplyFeed(FeedOf(wo, 3, kMs + 5, sync::v1::OP_UPSERT)).ok());
  EXPECT_EQ(Priority(wo.id()), -1);
  // A write after it brings the row back, and the tombstone goes.
  Row again = wo;
  again.Set("priority", std::int64_t{9});
  ASSERT_TRUE(adapter_->ApplyFeed(FeedOf(again, 4, kMs + 20, sync::v1::OP_UPSERT)).ok());
  EXPECT_EQ(Priority(wo.id()), 9);
  std::optional<Tombstone> tomb;
  ASSERT_TRUE(store_
                  ->Read([&](ReadTxn& txn) -> Status {
                    MILLRACE_ASSIGN_OR_RETURN(tomb, txn.GetTombstone(WorkOrder(), wo.id()));
                    return Status::Ok();
                  })
                  .ok());
  EXPECT_FALSE(tomb.has_value());
  // A delete older than the row as it stands now is not taken either.
  ASSERT_TRUE(adapter_->ApplyFeed(FeedOf(wo, 5, kMs + 15, sync::v1::OP_DELETE)).ok());
  EXPECT_EQ(Priority(wo.id()), 9);
  // The edge captured none of it: downstream applies are not sent back up.
  EXPECT_EQ(store_->Outbox()->head_seq, 0);
  EXPECT_EQ(*adapter_->FeedCursor(), 5u);
}

TEST_F(SyncAdapterTest, ADeleteFromCentralWaitsWhileTheSiteHoldsAChangeOfTheRow) {
  Row wo = testing::SampleTypedRow(WorkOrder(), "plant-a", 1);
  wo.Set("priority", std::int64_t{1});
  ASSERT_TRUE(store_->Write([&](WriteTxn& txn) { return txn.Insert(wo); }).ok());  // seq 1
  const auto ms = HlcTimestamp::FromPacked(static_cast<std::uint64_t>(wo.Int("hlc"))).physical_ms();
  // Central merges seq 1 against its delete and sends the outcome: until then the row stays.
  ASSERT_TRUE(adapter_->ApplyFeed(FeedOf(wo, 1, ms + 10, sync::v1::OP_DELETE)).ok());
  EXPECT_EQ(Priority(wo.id()), 1);
  ASSERT_TRUE(adapter_->Acknowledged(1).ok());
  ASSERT_TRUE(adapter_->ApplyFeed(FeedOf(wo, 2, ms + 10, sync::v1::OP_DELETE)).ok());
  EXPECT_EQ(Priority(wo.id()), -1);
}

TEST_F(SyncAdapterTest, AFeedDeleteOfAFactIsRefusedAndTheFeedMovesOn) {
  const auto& events = *catalog::MesCatalog().Find("production_event");
  Row ev = testing::SampleTypedRow(events, "plant-a", 1);
  ASSERT_TRUE(adapter_->ApplyFeed(FeedOf(ev, 1, 1795413600000, sync::v1::OP_UPSERT)).ok());
  ASSERT_TRUE(adapter_->ApplyFeed(FeedOf(ev, 2, 1795413600010, sync::v1::OP_DELETE)).ok());
  std::int64_t n = -1;
  ASSERT_TRUE(store_
                  ->Read([&](ReadTxn& txn) -> Status {
                    MILLRACE_ASSIGN_OR_RETURN(n, txn.Count(events));
                    return Status::Ok();
                  })
                  .ok());
  EXPECT_EQ(n, 1);
  EXPECT_EQ(adapter_->feed_rows_refused(), 1u);
  EXPECT_EQ(*adapter_->FeedCursor(), 2u);
}

}  // namespace
}  // namespace millrace::edge
