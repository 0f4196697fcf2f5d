#include "millrace/sync/merge.h"

#include <gtest/gtest.h>

namespace millrace::sync {
namespace {

const catalog::TableSpec& WorkOrders() { return *catalog::MesCatalog().Find("work_order"); }

std::uint32_t Col(const char* name) {
  return static_cast<std::uint32_t>(WorkOrders().Find(name) - WorkOrders().columns.data());
}

Row Order(const char* status, std::int64_t priority, double planned) {
  Row r(WorkOrders());
  r.Set("id", "01a20281-7968-75fe-b412-444b3b062d80")
      .Set("site_id", "lyon")
      .Set("status", status)
      .Set("priority", priority)
      .Set("planned_quantity", planned);
  return r;
}

TEST(MergeTest, ANewRowIsTakenWholeWithItsClock) {
  Row in = Order("Draft", 2, 50);
  MergeResult m = MergeShared(std::nullopt, {&in, {10, "edge:lyon"}, 0, {}});
  EXPECT_TRUE(m.changed);
  EXPECT_TRUE(m.conflicts.empty());
  EXPECT_EQ(m.merged.row.Int("priority"), 2);
  EXPECT_EQ(m.merged.row.Int("hlc"), 10);
  EXPECT_EQ(m.merged.row.Text("origin"), "edge:lyon");
}

TEST(MergeTest, EditsOfDifferentColumnsBothSurviveWithoutConflict) {
  // Central raised the planned quantity at hlc 20; the site, having seen the row at 10,
  // changes only the priority at 15.
  VersionedRow stored = Versioned(Order("Released", 2, 80), {10, "central"});
  stored.clocks[Col("planned_quantity")] = {20, "central"};
  Row in = Order("Released", 7, 50);
  MergeResult m = MergeShared(stored, {&in, {15, "edge:lyon"}, 10, {Col("priority")}});
  EXPECT_TRUE(m.conflicts.empty());
  EXPECT_EQ(m.merged.row.Int("priority"), 7);
  EXPECT_EQ(m.merged.row.Real("planned_quantity"), 80);  // the site did not touch it
  EXPECT_EQ(m.merged.row.Int("hlc"), 20);                // the newest column
  EXPECT_EQ(m.merged.row.Text("origin"), "central");
}

TEST(MergeTest, AConcurrentEditOfOneColumnIsAConflictWithBothValuesAndTheWinner) {
  VersionedRow stored = Versioned(Order("Released", 5, 50), {20, "central"});
  Row in = Order("Released", 1, 50);  // written at 15, on the row as of 10
  MergeResult m = MergeShared(stored, {&in, {15, "edge:lyon"}, 10, {Col("priority")}});
  EXPECT_EQ(m.merged.row.Int("priority"), 5);
  ASSERT_EQ(m.conflicts.size(), 1u);
  const MergeConflict& c = m.conflicts[0];
  EXPECT_EQ(c.column, "priority");
  EXPECT_FALSE(c.incoming_won);
  EXPECT_EQ(std::get<std::int64_t>(c.kept), 5);
  EXPECT_EQ(std::get<std::int64_t>(c.lost), 1);
  EXPECT_EQ(c.kept_clock.hlc, 20u);
  EXPECT_EQ(c.lost_clock.hlc, 15u);
  EXPECT_EQ(c.rule, "last_writer_wins");

  // The newer concurrent write wins, and is still reported.
  Row later = Order("Released", 3, 50);
  m = MergeShared(stored, {&later, {25, "edge:lyon"}, 10, {Col("priority")}});
  EXPECT_EQ(m.merged.row.Int("priority"), 3);
  ASSERT_EQ(m.conflicts.size(), 1u);
  EXPECT_TRUE(m.conflicts[0].incoming_won);
}

TEST(MergeTest, ASequentialEditIsNoConflict) {
  VersionedRow stored = Versioned(Order("Released", 5, 50), {20, "central"});
  Row in = Order("Released", 1, 50);
  MergeResult m = MergeShared(stored, {&in, {30, "edge:lyon"}, 20, {Col("priority")}});
  EXPECT_TRUE(m.conflicts.empty());
  EXPECT_EQ(m.merged.row.Int("priority"), 1);
}

TEST(MergeTest, EqualClocksAreBrokenByOriginTheSameWayEverywhere) {
  VersionedRow stored = Versioned(Order("Released", 5, 50), {20, "edge:a"});
  Row in = Order("Released", 1, 50);
  MergeResult m = MergeShared(stored, {&in, {20, "edge:b"}, 0, {Col("priority")}});
  EXPECT_EQ(m.merged.row.Int("priority"), 1);  // "edge:b" > "edge:a"
  VersionedRow other = Versioned(Order("Released", 1, 50), {20, "edge:b"});
  Row back = Order("Released", 5, 50);
  m = MergeShared(other, {&back, {20, "edge:a"}, 0, {Col("priority")}});
  EXPECT_EQ(m.merged.row.Int("priority"), 1);
}

TEST(MergeTest, AStatusNeverMovesBackwardsWhateverTheClocks) {
  VersionedRow stored = Versioned(Order("Completed", 2, 50), {20, "edge:lyon"});
  Row in = Order("InProgress", 2, 50);  // newer clock, but backwards
  MergeResult m = MergeShared(stored, {&in, {30, "central"}, 10, {Col("status")}});
  EXPECT_EQ(m.merged.row.Text("status"), "Completed");
  ASSERT_EQ(m.conflicts.size(), 1u);
  EXPECT_EQ(m.conflicts[0].rule, "status_backward");
  EXPECT_EQ(m.merged.clocks[Col("status")].hlc, 30u);  // the clock still moves forward
}

TEST(MergeTest, AStatusFurtherAlongWinsOverANewerClock) {
  VersionedRow stored = Versioned(Order("Released", 2, 50), {30, "central"});
  Row in = Order("Completed", 2, 50);
  MergeResult m = MergeShared(stored, {&in, {25, "edge:lyon"}, 25, {Col("status")}});
  EXPECT_EQ(m.merged.row.Text("status"), "Completed");
  ASSERT_EQ(m.conflicts.size(), 1u);
  EXPECT_EQ(m.conflicts[0].rule, "status_forward");
  EXPECT_TRUE(m.conflicts[0].incoming_won);
}

TEST(MergeTest, StatusesOnACycleFallBackToTheClock) {
  // InProgress <-> OnHold: either can follow the other, so the newer write wins.
  VersionedRow stored = Versioned(Order("OnHold", 2, 50), {30, "central"});
  Row in = Order("InProgress", 2, 50);
  MergeResult m = MergeShared(stored, {&in, {25, "edge:lyon"}, 30, {Col("status")}});
  EXPECT_EQ(m.merged.row.Text("status"), "OnHold");
  m = MergeShared(stored, {&in, {35, "edge:lyon"}, 30, {Col("status")}});
  EXPECT_EQ(m.merged.row.Text("status"), "InProgress");
}

TEST(MergeTest, SiteOwnedRowsAreLastWriterWinsByRow) {
  Row a = Order("Released", 1, 1), b = Order("Released", 2, 2);
  a.Set("hlc", std::int64_t{10}).Set("origin", "edge:lyon");
  b.Set("hlc", std::int64_t{11}).Set("origin", "edge:lyon");
  EXPECT_TRUE(IncomingRowWins(a, b));
  EXPECT_FALSE(IncomingRowWins(b, a));
}

TEST(MergeTest, ADeleteOfTheRowAsItStandsRemovesItWithoutConflict) {
  Row r = Order("Draft", 2, 50);
  r.Set("hlc", std::int64_t{10}).Set("origin", "central");
  DeleteResult d = MergeDelete(Versioned(r, {10, "central"}), {20, "edge:lyon"}, 10);
  EXPECT_TRUE(d.deleted);
  EXPECT_FALSE(d.conflict.has_value());
}

TEST(MergeTest, ADeleteThatMissedAnOlderEditStillWinsAndIsAConflict) {
  // Central changed the priority at 15; the status has stood since 5.
  Row r = Order("Draft", 2, 50);
  r.Set("hlc", std::int64_t{15}).Set("origin", "central");
  VersionedRow stored = Versioned(r, {5, "central"});
  stored.clocks[Col("priority")] = {15, "central"};
  DeleteResult d = MergeDelete(stored, {20, "edge:lyon"}, 10);
  EXPECT_TRUE(d.deleted);
  ASSERT_TRUE(d.conflict.has_value());
  EXPECT_EQ(d.conflict->rule, "delete_wins");
  EXPECT_EQ(d.conflict->column, kWholeRow);
  EXPECT_TRUE(d.conflict->incoming_won);
  EXPECT_EQ(d.conflict->kept_clock.hlc, 20u);
  EXPECT_EQ(d.conflict->lost_clock.hlc, 15u);
}

TEST(MergeTest, ADeleteOlderThanAnEditLosesToIt) {
  // The row's own clock is its newest column's: an edit at 30 is newer than the delete.
  Row r = Order("Released", 2, 50);
  r.Set("hlc", std::int64_t{30}).Set("origin", "central");
  VersionedRow stored = Versioned(r, {10, "central"});
  stored.clocks[Col("priority")] = {30, "central"};
  DeleteResult d = MergeDelete(stored, {20, "edge:lyon"}, 10);
  EXPECT_FALSE(d.deleted);
  ASSERT_TRUE(d.conflict.has_value());
  EXPECT_EQ(d.conflict->rule, "delete_loses");
  EXPECT_FALSE(d.conflict->incoming_won);
  EXPECT_EQ(d.conflict->kept_clock.hlc, 30u);
}

TEST(MergeTest, ADeleteThatMissedAStatusChangeLosesAndTheRowOutranksItsTombstone) {
  // Released by central at 15; a site deletes the order at 20, still seeing it Draft (10).
  Row r = Order("Released", 2, 50);
  r.Set("hlc", std::int64_t{15}).Set("origin", "central");
  VersionedRow stored = Versioned(r, {10, "central"});
  stored.clocks[Col("status")] = {15, "central"};
  DeleteResult d = MergeDelete(stored, {20, "edge:lyon"}, 10);
  EXPECT_FALSE(d.deleted);
  ASSERT_TRUE(d.conflict.has_value());
  EXPECT_EQ(d.conflict->rule, "delete_status");
  ASSERT_TRUE(d.kept.has_value());
  EXPECT_EQ(d.kept->row.Text("status"), "Released");
  // Stamped just after the delete, so the site's tombstone (20) gives way to the row.
  EXPECT_EQ(d.kept->row.Int("hlc"), 21);
  EXPECT_EQ(d.kept->clocks[Col("status")].hlc, 21u);
  EXPECT_EQ(d.kept->clocks[Col("priority")].hlc, 10u);
  // A delete that saw the status as it stands is judged by the clocks alone.
  EXPECT_TRUE(MergeDelete(stored, {20, "edge:lyon"}, 15).deleted);
}

TEST(MergeTest, ATombstoneLosesToNothingOlderAndToANewerWrite) {
  TombstoneResult older = WriteMeetsTombstone({19, "edge:lyon"}, 10, {20, "central"});
  EXPECT_FALSE(older.revives);
  ASSERT_TRUE(older.conflict.has_value());
  EXPECT_EQ(older.conflict->rule, "deleted");
  EXPECT_EQ(older.conflict->kept_clock.hlc, 20u);
  // The same clock: the origin breaks the tie, as for columns.
  EXPECT_FALSE(WriteMeetsTombstone({20, "central"}, 10, {20, "edge:lyon"}).revives);
  EXPECT_TRUE(WriteMeetsTombstone({20, "edge:lyon"}, 10, {20, "central"}).revives);
  TombstoneResult newer = WriteMeetsTombstone({21, "edge:lyon"}, 10, {20, "central"});
  EXPECT_TRUE(newer.revives);
  ASSERT_TRUE(newer.conflict.has_value());
  EXPECT_EQ(newer.conflict->rule, "write_after_delete");
  EXPECT_TRUE(newer.conflict->incoming_won);
}

TEST(MergeTest, ARowWrittenAgainAfterItsDeleteWasSeenIsNoConflict) {
  TombstoneResult again = WriteMeetsTombstone({30, "central"}, 20, {20, "central"});
  EXPECT_TRUE(again.revives);
  EXPECT_FALSE(again.conflict.has_value());
}

}  // namespace
}  // namespace millrace::sync
