#include "millrace/sync/drift.h"

#include <gtest/gtest.h>

#include <cmath>

#include "catalog_rows.h"
#include "millrace/common/catalog.h"
#include "millrace/sync/drift_wire.h"

namespace millrace::sync {
namespace {

// The other side as an in-memory index, counting what crossed.
class FakeRemote : public RangeSource {
 public:
  explicit FakeRemote(const RangeIndexes* indexes) : indexes_(indexes) {}
  Result<RangeProbeReply> Probe(const RangeProbe& probe) override {
    ++calls;
    if (fail) return Status::Unavailable("link down");
    auto reply = AnswerProbe(*indexes_, probe, max_rows);
    if (reply.ok() && truncate) reply->children.pop_back();
    return reply;
  }
  int calls = 0;
  bool fail = false, truncate = false;
  std::size_t max_rows = 100000;

 private:
  const RangeIndexes* indexes_;
};

std::string Id(int n) {
  // Time-ordered ids share their first characters, like the catalog's UUIDv7.
  char buf[40];
  std::snprintf(buf, sizeof buf, "019b76da-a800-7%03x-9897-%012x", n % 4096, n);
  return buf;
}

// `rows` rows in each of two sides, equal.
void Fill(int rows, RangeIndex* a, RangeIndex* b) {
  for (int n = 0; n < rows; ++n) {
    const std::uint64_t fp = DriftKey("fp" + std::to_string(n));
    a->Add(Id(n), fp);
    b->Add(Id(n), fp);
  }
}

TEST(DriftTest, EqualTablesCostOneRoundTrip) {
  RangeIndexes here, there;
  Fill(10000, &here["count"], &there["count"]);
  here["count"].Seal();
  there["count"].Seal();
  FakeRemote remote(&there);
  auto r = FindDrift(here, {"count"}, remote);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->Count(), 0u);
  EXPECT_EQ(r->round_trips, 1);
  EXPECT_EQ(r->rows_listed, 0u);
}

TEST(DriftTest, OneBadRowInAHundredThousandIsFoundInAFewRoundTrips) {
  RangeIndexes here, there;
  RangeIndex& a = here["count"];
  RangeIndex& b = there["count"];
  const int kRows = 100000, kBad = 31337;
  for (int n = 0; n < kRows; ++n) {
    const std::uint64_t fp = DriftKey("fp" + std::to_string(n));
    a.Add(Id(n), fp);
    b.Add(Id(n), n == kBad ? fp + 1 : fp);
  }
  a.Seal();
  b.Seal();
  FakeRemote remote(&there);
  auto r = FindDrift(here, {"count"}, remote);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->Count(), 1u);
  EXPECT_EQ(r->tables.at("count").differ, std::vector<std::string>{Id(kBad)});
  RecordProperty("round_trips", r->round_trips);
  RecordProperty("rows_listed", static_cast<int>(r->rows_listed));
  RecordProperty("ranges_compared", static_cast<int>(r->ranges_compared));
  // log16(100000 / 32) is about 2.9: three levels down and one listing.
  EXPECT_LE(r->round_trips, 5);
  EXPECT_EQ(r->round_trips, remote.calls);
  EXPECT_LE(r->rows_listed, 32u);
  EXPECT_LE(r->ranges_compared, 16u * 5);
}

TEST(DriftTest, RowsMissingOnEitherSideAreNamedBySide) {
  RangeIndexes here, there;
  for (int n = 0; n < 5000; ++n) {
    const std::uint64_t fp = DriftKey("fp" + std::to_string(n));
    if (n != 10) here["count"].Add(Id(n), fp);   // lost here
    if (n != 20) there["count"].Add(Id(n), fp);  // lost there
  }
  here["count"].Seal();
  there["count"].Seal();
  FakeRemote remote(&there);
  auto r = FindDrift(here, {"count"}, remote);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const TableDrift& d = r->tables.at("count");
  EXPECT_EQ(d.only_local, std::vector<std::string>{Id(20)});
  EXPECT_EQ(d.only_remote, std::vector<std::string>{Id(10)});
  EXPECT_TRUE(d.differ.empty());
}

TEST(DriftTest, TablesAreWalkedTogetherAndATableOneSideLacksIsAllOneSided) {
  RangeIndexes here, there;
  Fill(3000, &here["count"], &there["count"]);
  for (int n = 0; n < 40; ++n) here["stop"].Add(Id(100000 + n), 7);
  here["count"].Seal();
  there["count"].Seal();
  here["stop"].Seal();
  // "scrap" is in neither, "stop" only here.
  FakeRemote remote(&there);
  auto r = FindDrift(here, {"count", "scrap", "stop"}, remote);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->tables.size(), 1u);
  EXPECT_EQ(r->tables.at("stop").only_local.size(), 40u);
  // Nothing there: known from the first answer, no listing asked.
  EXPECT_EQ(r->round_trips, 1);
}

TEST(DriftTest, ManyDifferencesAreAllFound) {
  RangeIndexes here, there;
  const int kRows = 20000;
  int changed = 0;
  for (int n = 0; n < kRows; ++n) {
    const std::uint64_t fp = DriftKey("fp" + std::to_string(n));
    here["count"].Add(Id(n), fp);
    const bool bad = n % 97 == 0;
    changed += bad;
    there["count"].Add(Id(n), bad ? ~fp : fp);
  }
  here["count"].Seal();
  there["count"].Seal();
  FakeRemote remote(&there);
  auto r = FindDrift(here, {"count"}, remote);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->tables.at("count").differ.size(), static_cast<std::size_t>(changed));
  EXPECT_LE(r->round_trips, 6);
}

TEST(DriftTest, TheSourcesErrorsAndABadReplyStopTheWalk) {
  RangeIndexes here, there;
  Fill(100, &here["count"], &there["count"]);
  here["count"].Seal();
  there["count"].Seal();
  FakeRemote remote(&there);
  remote.fail = true;
  auto r = FindDrift(here, {"count"}, remote);
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  remote.fail = false;
  remote.truncate = true;
  r = FindDrift(here, {"count"}, remote);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("children lists for"), std::string::npos);
}

TEST(DriftTest, AWalkTakesOneReplyAtATimeAndStopsAtItsRoundTripBudget) {
  RangeIndexes here, there;
  for (int n = 0; n < 50000; ++n) {
    here["count"].Add(Id(n), 1);
    there["count"].Add(Id(n), n == 7 ? 2 : 1);
  }
  here["count"].Seal();
  there["count"].Seal();
  DriftOptions budget;
  budget.max_round_trips = 2;
  DriftWalk walk(here, {"count"}, budget);
  ASSERT_NE(walk.Probe(), nullptr);
  EXPECT_EQ(walk.Probe()->children_of.size(), 1u);
  auto first = AnswerProbe(there, *walk.Probe());
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(walk.Take(*first).ok());
  ASSERT_FALSE(walk.done());
  EXPECT_EQ(walk.Probe()->children_of.size(), 1u) << "one range of 16 still differs";
  auto second = AnswerProbe(there, *walk.Probe());
  EXPECT_EQ(walk.Take(*second).code(), StatusCode::kConflict);
  EXPECT_TRUE(walk.done());
  EXPECT_EQ(walk.Probe(), nullptr);
  DriftWalk none(here, {}, {});
  EXPECT_TRUE(none.done());
}

TEST(DriftTest, AMassDifferenceIsListedOverSeveralProbesWithinTheirBudget) {
  RangeIndexes here, there;
  for (int n = 0; n < 30000; ++n) there["count"].Add(Id(n), 1);  // all lost here
  here["count"].Seal();
  there["count"].Seal();
  FakeRemote remote(&there);
  remote.max_rows = 6000;  // the other side refuses a larger listing
  DriftOptions o;
  o.rows_per_probe = 5000;
  auto r = FindDrift(here, {"count"}, remote, o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->tables.at("count").only_remote.size(), 30000u);
  EXPECT_GE(r->round_trips, 7) << "30000 rows in probes of 5000 at most";
}

TEST(DriftTest, TheDeepestRangeHoldsOneKeyAndBadRangesAreRefused) {
  const std::uint64_t k = DriftKey("x");
  const RangeRef leaf{"t", kDriftMaxLevel, k};
  EXPECT_TRUE(leaf.Contains(k));
  EXPECT_FALSE(leaf.Contains(k + 1));
  EXPECT_TRUE((RangeRef{"t", 0, 0}).Contains(k));
  EXPECT_TRUE((RangeRef{"t", 1, k >> 60}).Contains(k));
  EXPECT_TRUE(CheckRange(leaf).ok());
  EXPECT_NE(CheckRange({"t", 0, 1}).message().find("has more than 0 bits"), std::string::npos);
  EXPECT_NE(CheckRange({"t", 17, 0}).message().find("not within 0 .. 16"), std::string::npos);
  EXPECT_NE(CheckRange({"", 1, 0}).message().find("no table"), std::string::npos);
}

TEST(DriftTest, AProbeIsCheckedOnTheAnsweringSide) {
  RangeIndexes there;
  Fill(50, &there["count"], &there["other"]);
  there["count"].Seal();
  there["other"].Seal();
  RangeProbe deep;
  deep.children_of.push_back({"count", kDriftMaxLevel, 0});
  EXPECT_EQ(AnswerProbe(there, deep).status().code(), StatusCode::kInvalidArgument);
  RangeProbe big;
  big.rows_of.push_back({"count", 0, 0});
  EXPECT_EQ(AnswerProbe(there, big, 10).status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(AnswerProbe(there, big, 50).ok());
  // A row listed outside the range it was asked for is refused.
  RangeProbe one;
  const std::uint64_t top = DriftKey("elsewhere") >> 60;
  one.rows_of.push_back({"count", 1, (top + 1) % 16});
  RangeProbeReply forged;
  forged.rows.push_back({{"elsewhere", 1}});
  EXPECT_EQ(CheckProbeReply(one, forged).code(), StatusCode::kInvalidArgument);
}

TEST(DriftTest, KeysSpreadTimeOrderedIdsEvenly) {
  RangeIndex idx;
  for (int n = 0; n < 16000; ++n) idx.Add(Id(n), 1);
  idx.Seal();
  for (const RangeDigest& d : idx.Children({"t", 0, 0})) {
    EXPECT_GT(d.rows, 800u);
    EXPECT_LT(d.rows, 1200u);
  }
  EXPECT_EQ(idx.Digest({"t", 0, 0}).rows, 16000u);
  EXPECT_EQ(idx.Digest({"t", 0, 0}).sum, 16000u);
}

TEST(DriftTest, AFingerprintCoversEveryColumnAndIsTheSameForTheSameRow) {
  const catalog::TableSpec* t = catalog::MesCatalog().Find("production_event");
  ASSERT_NE(t, nullptr);
  Row a = testing::SampleTypedRow(*t, "lyon", 1);
  Row b = a;
  EXPECT_EQ(RowFingerprint(a), RowFingerprint(b));
  b.Set("good_quantity", 999.0);
  EXPECT_NE(RowFingerprint(a), RowFingerprint(b));
  Row c = a;
  c.Set(catalog::kHlcColumn, a.Int(catalog::kHlcColumn) + 1);
  EXPECT_NE(RowFingerprint(a), RowFingerprint(c)) << "a row's clock is part of what it is";
}

TEST(DriftWireTest, ProbesAndRepliesCrossTheWireAndBadRangesAreRefusedByName) {
  const catalog::Catalog& cat = catalog::MesCatalog();
  RangeProbe probe;
  probe.children_of.push_back({"production_event", 0, 0});
  probe.children_of.push_back({"production_event", 2, 0xab});
  probe.rows_of.push_back({"equipment", 16, 0x0123456789abcdefull});
  auto back = DriftProbeFromWire(DriftProbeToWire(9, probe), cat);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->children_of, probe.children_of);
  EXPECT_EQ(back->rows_of, probe.rows_of);

  v1::DriftProbe w = DriftProbeToWire(9, probe);
  w.mutable_children_of(0)->set_table("nonsense");
  EXPECT_NE(DriftProbeFromWire(w, cat).status().message().find("no table 'nonsense'"),
            std::string::npos);
  w = DriftProbeToWire(9, probe);
  w.mutable_children_of(1)->set_level(17);
  EXPECT_NE(DriftProbeFromWire(w, cat).status().message().find("level 17 is past the deepest"),
            std::string::npos);
  w = DriftProbeToWire(9, probe);
  w.mutable_children_of(1)->set_prefix(0x1ab);
  EXPECT_NE(DriftProbeFromWire(w, cat).status().message().find("has more than 8 bits"),
            std::string::npos);

  RangeProbeReply reply;
  reply.children.push_back(std::vector<RangeDigest>(16, RangeDigest{3, 42}));
  reply.rows.push_back({{"a", 1}, {"b", 2}});
  const RangeProbeReply r2 = DriftReplyFromWire(DriftReplyToWire(9, reply));
  ASSERT_EQ(r2.children.size(), 1u);
  EXPECT_EQ(r2.children[0][15], (RangeDigest{3, 42}));
  ASSERT_EQ(r2.rows.size(), 1u);
  EXPECT_EQ(r2.rows[0][1].id, "b");
  EXPECT_EQ(r2.rows[0][1].fingerprint, 2u);
}

}  // namespace
}  // namespace millrace::sync
