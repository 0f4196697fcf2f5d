// Central's half of the sync protocol against an in-memory CentralSide: sorting by merge
// policy, clamps, gaps, resends, store epochs, the row-by-row path, an unreachable
// database, feed pages. No socket, no PostgreSQL.
#include "millrace/sync/central_protocol.h"

#include <gtest/gtest.h>

#include <functional>

#include "catalog_rows.h"
#include "memory_central.h"
#include "millrace/common/schema_versions.h"
#include "millrace/sync/row_codec.h"

namespace millrace::sync {
namespace {

constexpr std::int64_t kNow = 1'800'000'000'000;

const catalog::TableSpec& Table(std::string_view name) {
  return *catalog::MesCatalog().Find(name);
}

// A row of `table` written at site `site`, stamped `ms` on the site's clock.
Row RowOf(std::string_view table, const std::string& site, int n, std::int64_t ms = kNow - 1000) {
  Row r = testing::SampleTypedRow(Table(table), site, n);
  r.Set(catalog::kHlcColumn, static_cast<std::int64_t>(HlcTimestamp(ms, 0).packed()));
  r.Set(catalog::kOriginColumn, site);
  return r;
}

v1::Change ChangeOf(const Row& row, std::uint64_t seq) {
  v1::Change c = EncodeChange(row, v1::OP_UPSERT);
  c.set_seq(seq);
  return c;
}

v1::Envelope Push(std::uint64_t batch_id, std::vector<v1::Change> changes,
                  const std::string& epoch = "epoch-1") {
  v1::Envelope e;
  auto* b = e.mutable_push_batch();
  b->set_batch_id(batch_id);
  b->set_first_seq(changes.front().seq());
  b->set_last_seq(changes.back().seq());
  b->set_store_epoch(epoch);
  for (auto& c : changes) *b->add_changes() = std::move(c);
  return e;
}

double CounterValue(MetricsRegistry& m, const std::string& line) {
  const std::string text = m.Render();
  const auto at = text.find(line + " ");
  return at == std::string::npos ? 0 : std::stod(text.substr(at + line.size() + 1));
}

class CentralProtocolTest : public ::testing::Test {
 protected:
  CentralProtocolTest() : clock_(kNow), central_(&metrics_, &clock_, 60'000) {
    central_.AddSite("acme", "lyon");
    central_.AddSite("acme", "turin");
    auto session = central_.NewSession();
    protocol_ = std::make_unique<CentralProtocol>(&central_, std::move(*session));
  }

  v1::Envelope Hello(const std::string& epoch = "epoch-1", std::uint64_t head = 0) {
    v1::Envelope e;
    auto* h = e.mutable_hello();
    h->set_site_id(lyon_.site_id);
    h->set_catalog_fingerprint(catalog::MesCatalog().FingerprintHex());
    h->set_schema_version(kEdgeSchemaVersion);
    h->set_store_epoch(epoch);
    h->set_outbox_head_seq(head);
    return protocol_->Handle(lyon_, e);
  }

  ManualClock clock_;
  MetricsRegistry metrics_;
  testing::MemoryCentral central_;
  std::unique_ptr<CentralProtocol> protocol_;
  Peer lyon_{"acme", "lyon", ""};
};

TEST(SortBatchTest, SortsByMergePolicyAndParksWhatNoSiteMayWrite) {
  ManualClock clock(kNow);
  HybridClock hlc(&clock, 60'000);
  const ClockPolicy policy{&clock, &hlc, 60'000};
  Row fact = RowOf("production_event", "lyon", 1);
  Row stop_old = RowOf("downtime_event", "lyon", 2, kNow - 5000);
  Row stop_new = stop_old;
  stop_new.Set(catalog::kHlcColumn, static_cast<std::int64_t>(HlcTimestamp(kNow - 10, 0).packed()));
  Row order = RowOf("work_order", "lyon", 3);
  Row master = RowOf("equipment", "lyon", 4);
  Row foreign = RowOf("production_event", "turin", 5);
  v1::Change del = ChangeOf(RowOf("production_event", "lyon", 6), 7);
  del.set_op(v1::OP_DELETE);
  v1::Change garbage = ChangeOf(fact, 8);
  garbage.set_table("no_such_table");
  v1::Envelope e =
      Push(1, {ChangeOf(fact, 1), ChangeOf(stop_new, 2), ChangeOf(stop_old, 3), ChangeOf(order, 4),
               ChangeOf(master, 5), ChangeOf(foreign, 6), del, garbage});

  SortedBatch b = SortBatch({"acme", "lyon", ""}, e.push_batch(), 0, catalog::MesCatalog(), policy);

  EXPECT_EQ(b.rows, 8u);
  ASSERT_EQ(b.facts.size(), 1u);
  EXPECT_EQ(b.facts.begin()->first->name, "production_event");
  EXPECT_EQ(b.facts.begin()->second.at(0).id(), fact.id());
  EXPECT_EQ(b.fact_seqs.begin()->second, std::vector<std::uint64_t>{1});
  // Two changes of one site-owned row: the newer (by HLC) wins whatever the seq order.
  ASSERT_EQ(b.site_owned.size(), 1u);
  const SeqRow& kept = b.site_owned.begin()->second.at(stop_old.id());
  EXPECT_EQ(kept.seq, 2u);
  EXPECT_EQ(kept.row, stop_new);
  ASSERT_EQ(b.shared.size(), 1u);
  EXPECT_EQ(b.shared.begin()->second.at(0).seq, 4u);
  EXPECT_FALSE(b.shared.begin()->second.at(0).publish);
  ASSERT_EQ(b.rejects.size(), 4u);
  EXPECT_EQ(b.rejects[0].seq, 5u);
  EXPECT_EQ(b.rejects[0].reason.rfind("central_owned:", 0), 0u) << b.rejects[0].reason;
  EXPECT_EQ(b.rejects[1].reason.rfind("wrong_site:", 0), 0u) << b.rejects[1].reason;
  EXPECT_EQ(b.rejects[1].row_id, foreign.id());
  EXPECT_EQ(b.rejects[2].reason.rfind("unsupported_op:", 0), 0u) << b.rejects[2].reason;
  EXPECT_EQ(b.rejects[3].seq, 8u);
  EXPECT_EQ(b.rejects[3].reason.rfind("invalid_row:", 0), 0u) << b.rejects[3].reason;
  EXPECT_EQ(b.rejects[3].change, garbage.SerializeAsString());
  EXPECT_TRUE(b.clamps.empty());
  // Central's clock observed what it sorted.
  EXPECT_GE(hlc.Last().physical_ms(), static_cast<std::uint64_t>(kNow - 10));
}

TEST(SortBatchTest, ADeleteOfASharedRowIsMergedAndOneOfMasterDataOrAFactIsParked) {
  ManualClock clock(kNow);
  HybridClock hlc(&clock, 60'000);
  const ClockPolicy policy{&clock, &hlc, 60'000};
  auto deletion = [](const Row& row, std::uint64_t seq) {
    v1::Change c = ChangeOf(row, seq);
    c.set_op(v1::OP_DELETE);
    c.set_base_hlc(7);
    return c;
  };
  Row order = RowOf("work_order", "lyon", 1);
  v1::Change odd = ChangeOf(RowOf("work_order", "lyon", 4), 4);
  odd.set_op(static_cast<v1::Op>(9));
  v1::Envelope e = Push(1, {deletion(order, 1), deletion(RowOf("equipment", "lyon", 2), 2),
                            deletion(RowOf("downtime_event", "lyon", 3), 3), odd});

  SortedBatch b = SortBatch({"acme", "lyon", ""}, e.push_batch(), 0, catalog::MesCatalog(), policy);

  ASSERT_EQ(b.shared.size(), 1u);
  const SharedChange& sc = b.shared.begin()->second.at(0);
  EXPECT_TRUE(sc.deleted);
  EXPECT_EQ(sc.row.id(), order.id());
  EXPECT_EQ(sc.base_hlc, 7u);
  ASSERT_EQ(b.rejects.size(), 3u);
  EXPECT_EQ(b.rejects[0].reason, "central_owned: equipment is master data, deleted only at central");
  EXPECT_EQ(b.rejects[1].reason,
            "unsupported_op: downtime_event rows are site facts, never deleted");
  EXPECT_EQ(b.rejects[2].reason, "unsupported_op: 9 is neither an upsert nor a delete");
}

TEST(SortBatchTest, SkipsWhatIsAppliedAndClampsASharedChangeFromTheFuture) {
  ManualClock clock(kNow);
  HybridClock hlc(&clock, 60'000);
  const ClockPolicy policy{&clock, &hlc, 60'000};
  Row early = RowOf("work_order", "lyon", 1);
  Row future = RowOf("work_order", "lyon", 2, kNow + 3'600'000);  // an hour fast
  v1::Envelope e = Push(1, {ChangeOf(early, 10), ChangeOf(future, 11)});

  SortedBatch b =
      SortBatch({"acme", "lyon", ""}, e.push_batch(), 10, catalog::MesCatalog(), policy);

  EXPECT_EQ(b.rows, 1u);  // seq 10 was applied already
  const auto& shared = b.shared.begin()->second;
  ASSERT_EQ(shared.size(), 1u);
  ASSERT_EQ(b.clamps.size(), 1u);
  EXPECT_EQ(b.clamps[0].row_id, future.id());
  EXPECT_EQ(b.clamps[0].ahead_ms, 3'600'000);
  // Restamped with central's clock, and marked to go back to the site.
  EXPECT_LE(HlcTimestamp::FromPacked(shared[0].clock.hlc).physical_ms(),
            static_cast<std::uint64_t>(kNow));
  EXPECT_EQ(static_cast<std::uint64_t>(shared[0].row.Int("hlc")), shared[0].clock.hlc);
  EXPECT_TRUE(shared[0].publish);
  EXPECT_LE(hlc.Last().physical_ms(), static_cast<std::uint64_t>(kNow));
}

TEST_F(CentralProtocolTest, AHelloForAnotherSiteOrCatalogIsRefused) {
  v1::Envelope e;
  e.mutable_hello()->set_site_id("turin");
  e.mutable_hello()->set_catalog_fingerprint(catalog::MesCatalog().FingerprintHex());
  e.mutable_hello()->set_store_epoch("epoch-1");
  v1::Envelope r = protocol_->Handle(lyon_, e);
  ASSERT_TRUE(r.has_error());
  EXPECT_EQ(r.error().code(), "permission_denied");

  e.mutable_hello()->set_site_id("lyon");
  e.mutable_hello()->set_catalog_fingerprint("0123");
  e.mutable_hello()->set_schema_version(kEdgeSchemaVersion);
  r = protocol_->Handle(lyon_, e);
  ASSERT_TRUE(r.has_error());
  EXPECT_NE(r.error().message().find("catalog_differs: edge schema " +
                                     std::to_string(kEdgeSchemaVersion) +
                                     " has catalog 0123, central's is " +
                                     catalog::MesCatalog().FingerprintHex()),
            std::string::npos)
      << r.error().message();

  r = Hello();
  ASSERT_TRUE(r.has_hello_reply()) << r.DebugString();
  EXPECT_EQ(central_.Site("acme", "lyon").epoch, "epoch-1");
}

TEST_F(CentralProtocolTest, ServesEdgesOfItsSchemaAndTheOneBeforeAndRefusesOthersNamingBoth) {
  auto hello = [&](std::uint32_t schema) {
    v1::Envelope e;
    auto* h = e.mutable_hello();
    h->set_site_id("lyon");
    h->set_catalog_fingerprint(catalog::MesCatalog().FingerprintHexAt(static_cast<int>(schema)));
    h->set_store_epoch("epoch-1");
    h->set_schema_version(schema);
    h->set_build("9.9.9");
    return protocol_->Handle(lyon_, e);
  };
  const std::uint32_t newest = kEdgeSchemaVersion;
  v1::Envelope r = hello(newest + 1);
  ASSERT_TRUE(r.has_error());
  EXPECT_EQ(r.error().code(), "failed_precondition");
  EXPECT_EQ(r.error().message(),
            "edge_schema_too_new: edge schema " + std::to_string(newest + 1) +
                " (mes-edge 9.9.9) is newer than this central serves edge schemas " +
                std::to_string(newest - 1) + " to " + std::to_string(newest) +
                ": upgrade central first");
  r = hello(newest - 2);
  ASSERT_TRUE(r.has_error());
  EXPECT_EQ(r.error().message(),
            "edge_schema_too_old: edge schema " + std::to_string(newest - 2) +
                " (mes-edge 9.9.9) is older than this central serves edge schemas " +
                std::to_string(newest - 1) + " to " + std::to_string(newest) +
                ": upgrade the edge (a site bundle) to edge schema " + std::to_string(newest - 1) +
                " or later");
  EXPECT_EQ(central_.Site("acme", "lyon").epoch, "");  // refused before anything was taken
  EXPECT_NE(metrics_.Render().find("mes_sync_store_refusals_total{tenant=\"acme\",site=\"lyon\","
                                   "reason=\"edge_schema_too_old\"} 1"),
            std::string::npos);

  // An edge that does not say its schema counts as edge schema 5: served while central
  // serves 5, refused once it serves 6 and 7.
  v1::Hello unreported;
  unreported.set_catalog_fingerprint("c");
  EXPECT_FALSE(CheckEdgeVersion(unreported, "c", 5, 6).has_value());
  auto too_old = CheckEdgeVersion(unreported, "c", 6, 7);
  ASSERT_TRUE(too_old.has_value());
  EXPECT_EQ(too_old->reason, "edge_schema_too_old");
  EXPECT_EQ(too_old->message,
            "an edge of a release before edges said their schema (taken for edge schema 5) is "
            "older than this central serves edge schemas 6 to 7: upgrade the edge (a site "
            "bundle) to edge schema 6 or later");

  // Each served schema has its own catalog: the one before has no production_event.note,
  // and an edge of it claiming the newest catalog is refused.
  EXPECT_NE(catalog::MesCatalog().FingerprintHexAt(newest - 1),
            catalog::MesCatalog().FingerprintHex());
  v1::Hello mixed;
  mixed.set_schema_version(newest - 1);
  mixed.set_catalog_fingerprint(catalog::MesCatalog().FingerprintHex());
  auto differs = CheckEdgeVersion(mixed, catalog::MesCatalog().FingerprintHexAt(newest - 1),
                                  newest - 1, newest);
  ASSERT_TRUE(differs.has_value());
  EXPECT_EQ(differs->reason, "catalog_differs");

  // One version behind and this one are served, and say what central serves.
  for (std::uint32_t schema : {newest - 1, newest}) {
    r = hello(schema);
    ASSERT_TRUE(r.has_hello_reply()) << r.DebugString();
    EXPECT_EQ(r.hello_reply().oldest_edge_schema(), newest - 1);
    EXPECT_EQ(r.hello_reply().newest_edge_schema(), newest);
    EXPECT_NE(metrics_.Render().find("mes_sync_edge_schema{tenant=\"acme\",site=\"lyon\"} " +
                                     std::to_string(schema)),
              std::string::npos);
  }
}

TEST_F(CentralProtocolTest, ABatchIsAppliedAcknowledgedAndAResendIsNotAppliedTwice) {
  ASSERT_TRUE(Hello().has_hello_reply());
  Row a = RowOf("production_event", "lyon", 1), b = RowOf("production_event", "lyon", 2);
  v1::Envelope batch = Push(7, {ChangeOf(a, 1), ChangeOf(b, 2)});

  v1::Envelope r = protocol_->Handle(lyon_, batch);
  ASSERT_TRUE(r.has_ack()) << r.DebugString();
  EXPECT_EQ(r.ack().batch_id(), 7u);
  EXPECT_EQ(r.ack().acked_seq(), 2u);
  EXPECT_EQ(central_.Rows("acme", "production_event").size(), 2u);
  EXPECT_EQ(central_.Site("acme", "lyon").batches, 1u);

  r = protocol_->Handle(lyon_, batch);
  ASSERT_TRUE(r.has_ack());
  EXPECT_EQ(r.ack().acked_seq(), 2u);
  EXPECT_EQ(central_.Site("acme", "lyon").batches, 1u);
  EXPECT_EQ(
      CounterValue(metrics_, "mes_sync_duplicate_batches_total{tenant=\"acme\",site=\"lyon\"}"), 1);
  EXPECT_EQ(CounterValue(metrics_, "mes_sync_rows_applied_total{tenant=\"acme\",site=\"lyon\"}"),
            2);
}

TEST_F(CentralProtocolTest, AGapIsNackedWithTheSeqCentralExpects) {
  ASSERT_TRUE(Hello().has_hello_reply());
  ASSERT_TRUE(
      protocol_->Handle(lyon_, Push(1, {ChangeOf(RowOf("measurement", "lyon", 1), 1)})).has_ack());
  v1::Envelope r =
      protocol_->Handle(lyon_, Push(3, {ChangeOf(RowOf("measurement", "lyon", 3), 3)}));
  ASSERT_TRUE(r.has_nack()) << r.DebugString();
  EXPECT_EQ(r.nack().batch_id(), 3u);
  EXPECT_EQ(r.nack().expected_seq(), 2u);
  EXPECT_EQ(central_.Site("acme", "lyon").applied, 1u);
  EXPECT_EQ(CounterValue(metrics_, "mes_sync_nacks_total{tenant=\"acme\",site=\"lyon\"}"), 1);
}

// Central restored from an older backup: the edge no longer keeps seqs central had
// acknowledged, and says so; the batch is taken across the gap and the seqs counted lost.
TEST_F(CentralProtocolTest, ABatchThatSkipsLostSeqsIsTakenAcrossTheGapAndCounted) {
  ASSERT_TRUE(Hello().has_hello_reply());
  ASSERT_TRUE(
      protocol_->Handle(lyon_, Push(1, {ChangeOf(RowOf("measurement", "lyon", 1), 1)})).has_ack());
  v1::Envelope batch = Push(2, {ChangeOf(RowOf("measurement", "lyon", 5), 5)});
  batch.mutable_push_batch()->set_skips_lost(true);
  v1::Envelope r = protocol_->Handle(lyon_, batch);
  ASSERT_TRUE(r.has_ack()) << r.DebugString();
  EXPECT_EQ(r.ack().acked_seq(), 5u);
  EXPECT_EQ(central_.Site("acme", "lyon").applied, 5u);
  EXPECT_EQ(central_.Rows("acme", "measurement").size(), 2u);
  EXPECT_EQ(CounterValue(metrics_, "mes_sync_lost_seqs_total{tenant=\"acme\",site=\"lyon\"}"), 3);
  EXPECT_EQ(CounterValue(metrics_, "mes_sync_nacks_total{tenant=\"acme\",site=\"lyon\"}"), 0);
}

TEST_F(CentralProtocolTest, ABatchOfAnotherStoreEpochIsRefusedAndCounted) {
  ASSERT_TRUE(Hello().has_hello_reply());
  v1::Envelope r = protocol_->Handle(
      lyon_, Push(1, {ChangeOf(RowOf("measurement", "lyon", 1), 1)}, "epoch-old"));
  ASSERT_TRUE(r.has_error());
  EXPECT_EQ(r.error().code(), "failed_precondition");
  EXPECT_NE(r.error().message().find("store_superseded"), std::string::npos);
  EXPECT_TRUE(central_.Rows("acme", "measurement").empty());
  EXPECT_EQ(CounterValue(metrics_,
                         "mes_sync_store_refusals_total{tenant=\"acme\",site=\"lyon\",reason="
                         "\"store_superseded\"}"),
            1);
}

TEST_F(CentralProtocolTest, ARowTheStoreRefusesIsParkedUnderItsSeqAndTheRestIsApplied) {
  ASSERT_TRUE(Hello().has_hello_reply());
  Row good1 = RowOf("production_event", "lyon", 1), bad = RowOf("production_event", "lyon", 2),
      good2 = RowOf("production_event", "lyon", 3);
  central_.RefuseRow(bad.id());
  v1::Envelope r =
      protocol_->Handle(lyon_, Push(1, {ChangeOf(good1, 1), ChangeOf(bad, 2), ChangeOf(good2, 3)}));
  ASSERT_TRUE(r.has_ack()) << r.DebugString();
  EXPECT_EQ(r.ack().acked_seq(), 3u);
  EXPECT_EQ(r.ack().rejected(), 1u);
  const auto rows = central_.Rows("acme", "production_event");
  EXPECT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows.count(bad.id()), 0u);
  const auto rejects = central_.Site("acme", "lyon").rejects;
  ASSERT_EQ(rejects.size(), 1u);
  EXPECT_EQ(rejects[0].seq, 2u);
  EXPECT_EQ(rejects[0].row_id, bad.id());
  EXPECT_EQ(CounterValue(metrics_, "mes_sync_rejects_total{tenant=\"acme\",site=\"lyon\"}"), 1);
}

TEST_F(CentralProtocolTest, AnUnreachableDatabaseAnswersAnErrorAndLosesNothing) {
  ASSERT_TRUE(Hello().has_hello_reply());
  v1::Envelope batch = Push(1, {ChangeOf(RowOf("measurement", "lyon", 1), 1)});
  central_.FailCommits(1);
  v1::Envelope r = protocol_->Handle(lyon_, batch);
  ASSERT_TRUE(r.has_error());
  EXPECT_EQ(r.error().code(), "unavailable");
  EXPECT_EQ(central_.resets(), 1);  // the session dropped its transaction
  EXPECT_EQ(central_.Site("acme", "lyon").applied, 0u);
  // Not parked row by row: the batch is sent again and applied whole.
  EXPECT_TRUE(central_.Site("acme", "lyon").rejects.empty());
  r = protocol_->Handle(lyon_, batch);
  ASSERT_TRUE(r.has_ack()) << r.DebugString();
  EXPECT_EQ(central_.Rows("acme", "measurement").size(), 1u);
}

TEST_F(CentralProtocolTest, AMergedSharedRowThatDiffersGoesBackOnTheFeedAndNudges) {
  ASSERT_TRUE(Hello().has_hello_reply());
  Row future = RowOf("work_order", "lyon", 1, kNow + 3'600'000);
  v1::Envelope r = protocol_->Handle(lyon_, Push(1, {ChangeOf(future, 1)}));
  ASSERT_TRUE(r.has_ack()) << r.DebugString();
  EXPECT_EQ(central_.FeedHead("acme"), 1u);
  ASSERT_EQ(central_.nudges().size(), 1u);
  EXPECT_EQ(central_.nudges()[0], std::make_pair(std::string("acme"), std::uint64_t{1}));
  EXPECT_EQ(CounterValue(metrics_, "mes_sync_clock_clamped_total{tenant=\"acme\",site=\"lyon\"}"),
            1);
}

TEST_F(CentralProtocolTest, APullPagesTheFeedInTheSitesScope) {
  for (int i = 1; i <= 5; ++i) central_.Publish("acme", RowOf("reason_code", "", i));
  v1::Envelope pull;
  pull.mutable_pull_request()->set_cursor(0);
  pull.mutable_pull_request()->set_max_changes(3);
  v1::Envelope r = protocol_->Handle(lyon_, pull);
  ASSERT_TRUE(r.has_feed_batch()) << r.DebugString();
  EXPECT_EQ(r.feed_batch().changes_size(), 3);
  EXPECT_TRUE(r.feed_batch().more());
  EXPECT_EQ(r.feed_batch().to_cursor(), 3u);

  pull.mutable_pull_request()->set_cursor(3);
  r = protocol_->Handle(lyon_, pull);
  EXPECT_EQ(r.feed_batch().changes_size(), 2);
  EXPECT_FALSE(r.feed_batch().more());
  EXPECT_EQ(r.feed_batch().to_cursor(), 5u);

  central_.Revoke("acme", "lyon");
  r = protocol_->Handle(lyon_, pull);
  ASSERT_TRUE(r.has_error());
  EXPECT_EQ(r.error().code(), "permission_denied");
}

TEST_F(CentralProtocolTest, AnEdgeOneSchemaBehindSendsAndReceivesRowsInItsOwnShape) {
  const auto& events = Table("production_event");
  const std::size_t older_width = events.WidthAt(kOldestServedEdgeSchema);
  ASSERT_LT(older_width, events.columns.size());
  // Its events arrive without the note column and are kept with a NULL note.
  Row sent = RowOf("production_event", "lyon", 1);
  v1::Change narrow = ChangeOf(sent, 1);
  narrow.mutable_values()->DeleteSubrange(static_cast<int>(older_width),
                                          narrow.values_size() - static_cast<int>(older_width));
  ASSERT_TRUE(Hello().has_hello_reply());
  v1::Envelope r = protocol_->Handle(lyon_, Push(1, {narrow}));
  ASSERT_TRUE(r.has_ack()) << r.DebugString();
  EXPECT_EQ(r.ack().acked_seq(), 1u);
  EXPECT_EQ(r.ack().rejected(), 0u);
  auto kept = central_.Rows("acme", "production_event");
  ASSERT_EQ(kept.size(), 1u);
  EXPECT_TRUE(kept.at(sent.id()).IsNull("note"));

  // A row with a note (sent back to a restored store, say) reaches it without the column;
  // an edge of this schema gets it whole, and one that names no schema is taken for 6.
  Row noted = RowOf("production_event", "lyon", 2);
  noted.Set("note", std::string("scrap: porosity"));
  central_.Publish("acme", noted);
  v1::Envelope pull;
  pull.mutable_pull_request()->set_cursor(0);
  pull.mutable_pull_request()->set_max_changes(10);
  for (std::uint32_t schema : {0u, static_cast<std::uint32_t>(kOldestServedEdgeSchema),
                               static_cast<std::uint32_t>(kEdgeSchemaVersion)}) {
    pull.mutable_pull_request()->set_schema_version(schema);
    r = protocol_->Handle(lyon_, pull);
    ASSERT_TRUE(r.has_feed_batch()) << r.DebugString();
    ASSERT_EQ(r.feed_batch().changes_size(), 1);
    const v1::Change& got = r.feed_batch().changes(0);
    const bool newest = schema == static_cast<std::uint32_t>(kEdgeSchemaVersion);
    EXPECT_EQ(static_cast<std::size_t>(got.values_size()),
              newest ? events.columns.size() : older_width)
        << "schema " << schema;
    if (newest) {
      EXPECT_EQ(got.values(got.values_size() - 1).text_value(), "scrap: porosity");
    }
  }
}

TEST_F(CentralProtocolTest, DeletesGoOnlyToEdgesThatTakeThem) {
  Row a = RowOf("reason_code", "", 1), b = RowOf("reason_code", "", 2);
  central_.Publish("acme", a);
  central_.Publish("acme", b);
  ASSERT_TRUE(central_.Delete("acme", "reason_code", a.id()).ok());
  v1::Envelope pull;
  pull.mutable_pull_request()->set_cursor(0);
  pull.mutable_pull_request()->set_max_changes(10);
  // An edge of a release before deletes would take the delete for an upsert.
  v1::Envelope r = protocol_->Handle(lyon_, pull);
  ASSERT_TRUE(r.has_feed_batch()) << r.DebugString();
  EXPECT_EQ(r.feed_batch().changes_size(), 2);
  EXPECT_EQ(r.feed_batch().to_cursor(), 3u);
  for (const auto& c : r.feed_batch().changes()) EXPECT_EQ(c.op(), v1::OP_UPSERT);
  pull.mutable_pull_request()->set_takes_deletes(true);
  r = protocol_->Handle(lyon_, pull);
  ASSERT_EQ(r.feed_batch().changes_size(), 3);
  EXPECT_EQ(r.feed_batch().changes(2).op(), v1::OP_DELETE);
  EXPECT_EQ(r.feed_batch().to_cursor(), 3u);
}

TEST_F(CentralProtocolTest, AnEdgeMayNotSendWhatOnlyCentralSends) {
  v1::Envelope e;
  e.mutable_ack()->set_acked_seq(5);
  v1::Envelope r = protocol_->Handle(lyon_, e);
  ASSERT_TRUE(r.has_error());
  EXPECT_EQ(r.error().code(), "invalid_argument");
}

v1::Envelope Offer(const std::function<void(v1::BackupOffer&)>& change = nullptr) {
  v1::Envelope e;
  auto* o = e.mutable_backup_offer();
  o->set_backup_id("20261202T101500.123Z");
  o->set_bytes(1000);
  o->set_sha256(std::string(64, 'f'));
  o->set_taken_at_ms(kNow);
  o->set_schema_version(5);
  o->set_store_epoch("epoch-1");
  o->set_raw_bytes(4000);
  o->set_compression("gzip");
  if (change) change(*o);
  return e;
}

// A bad offer is refused naming the field; a central that keeps no backups (the in-memory
// one) declines a good one, which the edge takes as "none on this link", not an error.
TEST_F(CentralProtocolTest, ABackupOfferIsCheckedAndDeclinedByACentralWithoutAStore) {
  const std::vector<std::pair<std::function<void(v1::BackupOffer&)>, std::string>> bad = {
      {[](v1::BackupOffer& o) { o.set_backup_id("../etc"); }, "backup_id"},
      {[](v1::BackupOffer& o) { o.set_backup_id(".hidden"); }, "backup_id"},
      {[](v1::BackupOffer& o) { o.set_bytes(0); }, "bytes"},
      {[](v1::BackupOffer& o) { o.set_sha256("abc"); }, "sha256"},
      {[](v1::BackupOffer& o) { o.set_compression("zstd"); }, "compression"},
      {[](v1::BackupOffer& o) { o.set_store_epoch(""); }, "store_epoch"},
      {[](v1::BackupOffer& o) { o.set_schema_version(0); }, "schema_version"},
  };
  for (const auto& [change, field] : bad) {
    v1::Envelope r = protocol_->Handle(lyon_, Offer(change));
    ASSERT_TRUE(r.has_error()) << field;
    EXPECT_EQ(r.error().code(), "invalid_argument") << field;
    EXPECT_NE(r.error().message().find(field), std::string::npos) << r.error().message();
  }
  v1::Envelope r = protocol_->Handle(lyon_, Offer());
  ASSERT_TRUE(r.has_backup_offer_reply()) << r.DebugString();
  EXPECT_TRUE(r.backup_offer_reply().declined());
  EXPECT_EQ(r.backup_offer_reply().backup_id(), "20261202T101500.123Z");

  v1::Envelope chunk;
  chunk.mutable_backup_chunk()->set_backup_id("20261202T101500.123Z");
  r = protocol_->Handle(lyon_, chunk);
  ASSERT_TRUE(r.has_error());
  EXPECT_NE(r.error().message().find("data"), std::string::npos) << r.error().message();
  chunk.mutable_backup_chunk()->set_data("x");
  r = protocol_->Handle(lyon_, chunk);
  ASSERT_TRUE(r.has_error());
  EXPECT_EQ(r.error().code(), "failed_precondition");
}

}  // namespace
}  // namespace millrace::sync
