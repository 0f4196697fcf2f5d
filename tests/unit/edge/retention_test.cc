// Retention at the edge: which of the site's facts the purge lets go (old, acknowledged by
// central, needed by nothing open), the horizon it records, and the comparisons it cuts.
#include "millrace/edge/retention.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "catalog_rows.h"
#include "millrace/common/uuid.h"
#include "millrace/edge/sync_adapter.h"

namespace millrace::edge {
namespace {

const catalog::TableSpec& T(const char* name) { return *catalog::MesCatalog().Find(name); }

constexpr std::int64_t kDay = 24 * 60 * 60 * 1000;
constexpr std::int64_t kNow = 1795413600000;

class RetentionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("millrace-retention-" + std::to_string(::getpid()) + "-" +
            Uuid::NewV7().ToString().substr(24));
    std::filesystem::create_directories(dir_);
    EdgeStoreOptions o;
    o.path = (dir_ / "edge.db").string();
    o.site_id = "plant-a";
    o.clock = &clock_;
    auto s = EdgeStore::Open(o);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(s).value();
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  // A row of `table` made at `at` (its id's time), written through the store (captured).
  Row Make(const char* table, std::int64_t at, const std::map<std::string, Value>& cols = {}) {
    clock_.Set(at);
    Row row = testing::SampleTypedRow(T(table), "plant-a", ++made_);
    row.Set("id", Uuid::NewV7(&clock_).ToString());
    for (const auto& [c, v] : cols) row.Set(c, v);
    Status s = store_->Write([&](WriteTxn& txn) { return txn.Insert(row); });
    EXPECT_TRUE(s.ok()) << table << ": " << s.ToString();
    clock_.Set(kNow);
    return row;
  }
  // Central acknowledged every change captured so far.
  void AckAll() {
    auto stats = store_->Outbox();
    ASSERT_TRUE(stats.ok());
    ASSERT_TRUE(store_->PurgeOutboxThrough(stats->head_seq).ok());
  }
  bool Holds(const char* table, const Row& row) {
    bool found = false;
    EXPECT_TRUE(store_
                    ->Read([&](ReadTxn& txn) -> Status {
                      MILLRACE_ASSIGN_OR_RETURN(auto r, txn.Get(T(table), row.id()));
                      found = r.has_value();
                      return Status::Ok();
                    })
                    .ok());
    return found;
  }

  ManualClock clock_{kNow};
  int made_ = 0;
  std::filesystem::path dir_;
  std::unique_ptr<EdgeStore> store_;
};

TEST_F(RetentionTest, PurgesOnlyOldAcknowledgedFactsThatNothingOpenNeeds) {
  const std::int64_t old = kNow - 40 * kDay, recent = kNow - 5 * kDay;
  Row done_op = Make("work_order_operation", old, {{"status", "Completed"}});
  Row open_op = Make("work_order_operation", old, {{"status", "Running"}});
  Row done_count = Make("production_event", old, {{"operation_id", done_op.id()}});
  Row done_count2 = Make("production_event", old + 1, {{"operation_id", done_op.id()}});
  Row done_count3 = Make("production_event", old + 2, {{"operation_id", done_op.id()}});
  Row open_count = Make("production_event", old, {{"operation_id", open_op.id()}});
  Row recent_count = Make("production_event", recent, {{"operation_id", done_op.id()}});
  Row closed_stop = Make("downtime_event", old, {{"ended_at", old + 1000}});
  Row open_stop = Make("downtime_event", old, {{"ended_at", Value()}});
  Row measured = Make("measurement", old);
  Row audit = Make("audit_record", old);
  AckAll();
  // Made at the same old time but not acknowledged yet: its change is still on its way.
  Row unsent = Make("measurement", old);

  // Two rows looked at per transaction: pages past the rows kept.
  auto purged = PurgeSyncedFacts(*store_, 30, 2);
  ASSERT_TRUE(purged.ok()) << purged.status().ToString();
  EXPECT_EQ(purged->rows, 5);
  EXPECT_EQ(purged->horizon_ms, kNow - 30 * kDay);
  EXPECT_EQ(purged->per_table["production_event"], 3);
  EXPECT_EQ(purged->per_table["downtime_event"], 1);
  EXPECT_EQ(purged->per_table["measurement"], 1);
  EXPECT_FALSE(Holds("production_event", done_count));
  EXPECT_FALSE(Holds("production_event", done_count3));
  EXPECT_FALSE(Holds("downtime_event", closed_stop));
  EXPECT_FALSE(Holds("measurement", measured));
  EXPECT_TRUE(Holds("production_event", open_count));  // its operation is still running
  EXPECT_TRUE(Holds("production_event", recent_count));
  EXPECT_TRUE(Holds("downtime_event", open_stop));
  EXPECT_TRUE(Holds("audit_record", audit));
  EXPECT_TRUE(Holds("measurement", unsent));
  EXPECT_TRUE(Holds("work_order_operation", done_op));  // shared rows are not facts
  // Nothing of the purge went into the outbox: central keeps its copies.
  EXPECT_EQ(store_->Outbox()->rows, 1);

  // Once acknowledged, the last one goes at the next purge; the horizon never goes back.
  AckAll();
  purged = PurgeSyncedFacts(*store_, 60);
  ASSERT_TRUE(purged.ok());
  EXPECT_EQ(purged->rows, 0);  // 60 days keeps what is 40 days old
  EXPECT_EQ(purged->horizon_ms, kNow - 30 * kDay);
  purged = PurgeSyncedFacts(*store_, 30);
  ASSERT_TRUE(purged.ok());
  EXPECT_EQ(purged->rows, 1);
  EXPECT_FALSE(Holds("measurement", unsent));
}

TEST_F(RetentionTest, ComparisonsLeaveOutTheSitesFactsBeforeTheLaterHorizon) {
  Row old_stop = Make("downtime_event", kNow - 40 * kDay, {{"ended_at", Value()}});
  Row recent_stop = Make("downtime_event", kNow - 2 * kDay, {{"ended_at", Value()}});
  EdgeSyncAdapter adapter(store_.get());
  auto before = StoreContent(*store_);
  ASSERT_TRUE(before.ok());
  ASSERT_EQ(*FactHorizon(*store_), 0);

  // Nothing purged here (the stop is open), but central keeps facts from 30 days ago only.
  ASSERT_TRUE(adapter.CentralFactHorizon(static_cast<std::uint64_t>(kNow - 30 * kDay)).ok());
  EXPECT_EQ(*FactHorizon(*store_), kNow - 30 * kDay);
  auto after = StoreContent(*store_);
  ASSERT_TRUE(after.ok());
  EXPECT_NE(after->at("downtime_event"), before->at("downtime_event"));
  EXPECT_EQ(after->at("work_order"), before->at("work_order"));  // not a fact: never cut
  std::uint64_t horizon = 0;
  auto indexes = adapter.DriftIndexes(&horizon);
  ASSERT_TRUE(indexes.ok());
  EXPECT_EQ(horizon, static_cast<std::uint64_t>(kNow - 30 * kDay));
  EXPECT_EQ(indexes->at("downtime_event").size(), 1u);
  EXPECT_TRUE(indexes->at("downtime_event").Find(recent_stop.id()).has_value());
  // The store's own horizon is what it reports to central; central's may go back.
  auto status = adapter.Backlog();
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->purge_horizon_ms(), 0u);
  ASSERT_TRUE(adapter.CentralFactHorizon(0).ok());
  EXPECT_EQ(*FactHorizon(*store_), 0);
}

TEST_F(RetentionTest, RefusesToKeepLessThanADay) {
  EXPECT_EQ(PurgeSyncedFacts(*store_, 0).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace millrace::edge
