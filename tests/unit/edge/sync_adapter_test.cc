// EdgeSyncAdapter: which feed rows of a shared table the edge applies while it holds
// changes of the same row that central may not have merged yet.
#include "millrace/edge/sync_adapter.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "catalog_rows.h"
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

}  // namespace
}  // namespace millrace::edge
