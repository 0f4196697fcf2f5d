// The edge's half of a drift check (sync/src/drift_run.h) against an in-memory edge and an
// in-memory central that answers as central's storage does: the walk finds the rows that
// differ, each is repaired from the side that owns it, a row with a change in flight or
// changed since the walk is left to sync, and the outcome counts all of it.
#include "drift_run.h"

#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <set>

#include "catalog_rows.h"
#include "millrace/common/catalog.h"
#include "millrace/sync/drift_wire.h"
#include "millrace/sync/row_codec.h"

namespace millrace::sync {
namespace {

using Tables = std::map<std::string, std::map<std::string, Row>>;

RangeIndexes IndexesOf(const Tables& tables) {
  RangeIndexes out;
  for (const auto& t : catalog::MesCatalog().tables()) {
    RangeIndex& index = out[t.name];
    if (auto it = tables.find(t.name); it != tables.end())
      for (const auto& [id, row] : it->second) index.Add(row);
    index.Seal();
  }
  return out;
}

bool AsIndexed(const std::map<std::string, Row>& rows, const std::string& id,
               const RangeIndex& indexed) {
  auto it = rows.find(id);
  auto was = indexed.Find(id);
  if (it == rows.end()) return !was.has_value();
  return was.has_value() && *was == RowFingerprint(it->second);
}

class MemoryEdge final : public EdgeSide {
 public:
  Tables tables;
  std::set<std::string> pending;  // ids with a change waiting in the outbox

  Result<std::vector<OutboxRecord>> ReadOutbox(std::uint64_t, int) override {
    return std::vector<OutboxRecord>();
  }
  Status Acknowledged(std::uint64_t) override { return Status::Ok(); }
  Result<std::uint64_t> FeedCursor() override { return std::uint64_t{0}; }
  Status RewindFeed(std::uint64_t) override { return Status::Ok(); }
  Status ApplyFeed(const v1::FeedBatch&) override { return Status::Ok(); }
  Result<v1::SiteStatus> Backlog() override { return v1::SiteStatus(); }

  Result<RangeIndexes> DriftIndexes(std::uint64_t*) override { return IndexesOf(tables); }
  Result<std::size_t> WriteCentralCopies(const std::string& table,
                                         const std::vector<v1::Change>& rows,
                                         const std::vector<std::string>& remove,
                                         const RangeIndex& indexed) override {
    std::size_t n = 0;
    auto& mine = tables[table];
    for (const auto& c : rows) {
      MILLRACE_ASSIGN_OR_RETURN(Row row, DecodeChange(c, catalog::MesCatalog()));
      if (pending.count(row.id()) || !AsIndexed(mine, row.id(), indexed)) continue;
      mine.insert_or_assign(row.id(), row);
      ++n;
    }
    for (const auto& id : remove) {
      if (pending.count(id) || !AsIndexed(mine, id, indexed)) continue;
      n += mine.erase(id);
    }
    return n;
  }
  Result<std::vector<v1::Change>> EdgeCopies(const std::string& table,
                                             const std::vector<std::string>& ids,
                                             const RangeIndex& indexed) override {
    std::vector<v1::Change> out;
    auto& mine = tables[table];
    for (const auto& id : ids) {
      if (pending.count(id) || !AsIndexed(mine, id, indexed) || !mine.count(id)) continue;
      out.push_back(EncodeChange(mine.at(id), v1::OP_UPSERT));
    }
    return out;
  }
};

// Central as sync_drift.cc answers: probes from the index taken at the first probe,
// fetches from the rows as they are, repairs only where the row is as indexed.
class MemoryCentral {
 public:
  Tables tables;
  int probes = 0;
  bool recorded = false;
  std::string refuse_fetch;  // non-empty: fetches are answered with this error
  v1::DriftOutcome outcome;

  v1::DriftReply Answer(const v1::DriftRequest& r) {
    EXPECT_TRUE(CheckDriftRequest(r, catalog::MesCatalog()).ok());
    v1::DriftReply reply;
    reply.set_check_id(r.check_id());
    if (r.has_probe()) {
      if (!index_) index_ = IndexesOf(tables);
      ++probes;
      auto probe = DriftProbeFromWire(r.probe(), catalog::MesCatalog());
      auto answer = AnswerProbe(*index_, *probe);
      *reply.mutable_probe() = DriftReplyToWire(r.check_id(), *answer);
    } else if (r.has_fetch() && !refuse_fetch.empty()) {
      reply.set_error(refuse_fetch);
    } else if (r.has_fetch()) {
      auto* f = reply.mutable_fetched();
      f->set_table(r.fetch().table());
      for (const auto& id : r.fetch().ids()) {
        auto& rows = tables[r.fetch().table()];
        if (rows.count(id))
          *f->add_rows() = EncodeChange(rows.at(id), v1::OP_UPSERT);
        else
          f->add_missing(id);
      }
    } else if (r.has_repair()) {
      auto* out = reply.mutable_repaired();
      out->set_table(r.repair().table());
      auto& rows = tables[r.repair().table()];
      EXPECT_NE(catalog::MesCatalog().Find(r.repair().table())->owner, catalog::Owner::kCentral);
      for (const auto& c : r.repair().rows()) {
        Row row = *DecodeChange(c, catalog::MesCatalog());
        EXPECT_EQ(row.Text(catalog::kSiteColumn), "lyon");
        if (!AsIndexed(rows, row.id(), index_->at(r.repair().table()))) {
          out->set_skipped(out->skipped() + 1);
          continue;
        }
        rows.insert_or_assign(row.id(), row);
        out->set_written(out->written() + 1);
      }
    } else if (r.has_outcome()) {
      recorded = true;
      outcome = r.outcome();
      reply.mutable_recorded();
    }
    return reply;
  }

 private:
  std::optional<RangeIndexes> index_;
};

// Runs the check to its end, one request at a time; `between` runs once after the walk's
// first probe (the floor keeps working meanwhile).
int RunCheck(DriftRun& run, MemoryEdge& edge, MemoryCentral& central,
             const std::function<void()>& between = {}) {
  int requests = 0;
  while (!run.done() && requests < 1000) {
    auto next = run.Next(edge);
    if (!next) break;
    ++requests;
    v1::DriftReply reply = central.Answer(*next);
    if (requests == 1 && between) between();
    run.Take(reply, edge);
  }
  return requests;
}

// Both sides hold the same `n` rows of each table, and edge == central once done.
struct World {
  MemoryEdge edge;
  MemoryCentral central;
  void Fill(const std::string& table, int n) {
    const auto* t = catalog::MesCatalog().Find(table);
    for (int i = 0; i < n; ++i) {
      Row row = testing::SampleTypedRow(*t, "lyon", i);
      edge.tables[table].insert_or_assign(row.id(), row);
      central.tables[table].insert_or_assign(row.id(), row);
    }
  }
  // The row's copy on one side, changed behind the sync engine's back.
  static void Corrupt(std::map<std::string, Row>& rows, int nth) {
    auto it = std::next(rows.begin(), nth);
    it->second.Set(catalog::kHlcColumn, it->second.Int(catalog::kHlcColumn) + 7);
  }
};

const v1::DriftTableOutcome* OutcomeOf(const v1::DriftOutcome& o, const std::string& table) {
  for (const auto& t : o.tables())
    if (t.table() == table) return &t;
  return nullptr;
}

TEST(DriftRunTest, EqualSidesCostOneProbeAndRecordNoDrift) {
  World w;
  w.Fill("production_event", 300);
  w.Fill("equipment", 20);
  DriftRun run(7, *w.edge.DriftIndexes(nullptr), catalog::MesCatalog());
  EXPECT_EQ(RunCheck(run, w.edge, w.central), 2);  // one probe, the outcome
  ASSERT_TRUE(w.central.recorded);
  EXPECT_EQ(w.central.outcome.tables_size(), 0);
  EXPECT_EQ(w.central.outcome.round_trips(), 1);
  EXPECT_EQ(w.central.outcome.local_rows(), 320u);
  EXPECT_TRUE(w.central.outcome.error().empty());
}

TEST(DriftRunTest, EachRowIsRepairedFromTheSideThatOwnsIt) {
  World w;
  w.Fill("production_event", 500);                           // facts: the site's
  w.Fill("equipment", 40);                                   // master data: central's
  w.Fill("work_order", 60);                                  // shared: central merged every writer
  World::Corrupt(w.central.tables["production_event"], 10);  // bad at central
  w.edge.tables["production_event"].erase(
      std::next(w.edge.tables["production_event"].begin(), 20)->first);  // lost at the edge
  World::Corrupt(w.edge.tables["equipment"], 3);                         // bad at the edge
  Row stray = testing::SampleTypedRow(*catalog::MesCatalog().Find("equipment"), "lyon", 900);
  w.edge.tables["equipment"].insert_or_assign(stray.id(), stray);  // central never had it
  World::Corrupt(w.edge.tables["work_order"], 5);
  Row only_edge = testing::SampleTypedRow(*catalog::MesCatalog().Find("work_order"), "lyon", 901);
  w.edge.tables["work_order"].insert_or_assign(only_edge.id(), only_edge);  // not yet at central

  const Row central_fact = std::next(w.central.tables["production_event"].begin(), 10)->second;
  DriftRun run(8, *w.edge.DriftIndexes(nullptr), catalog::MesCatalog());
  RunCheck(run, w.edge, w.central);
  ASSERT_TRUE(w.central.recorded);
  EXPECT_TRUE(w.central.outcome.error().empty()) << w.central.outcome.error();

  for (const char* table : {"production_event", "equipment", "work_order"})
    EXPECT_EQ(w.edge.tables[table], w.central.tables[table]) << table;
  // The fact took the edge's values, not central's.
  EXPECT_NE(w.central.tables["production_event"].at(central_fact.id()), central_fact);
  EXPECT_EQ(w.central.tables["equipment"].count(stray.id()), 0u);
  EXPECT_EQ(w.central.tables["work_order"].count(only_edge.id()), 1u);

  const auto* facts = OutcomeOf(w.central.outcome, "production_event");
  ASSERT_NE(facts, nullptr);
  EXPECT_EQ(facts->differ(), 1u);
  EXPECT_EQ(facts->only_central(), 1u);
  EXPECT_EQ(facts->repaired_at_central(), 1u);
  EXPECT_EQ(facts->repaired_at_edge(), 1u);
  const auto* master = OutcomeOf(w.central.outcome, "equipment");
  ASSERT_NE(master, nullptr);
  EXPECT_EQ(master->differ(), 1u);
  EXPECT_EQ(master->only_edge(), 1u);
  EXPECT_EQ(master->repaired_at_edge(), 2u);
  const auto* shared = OutcomeOf(w.central.outcome, "work_order");
  ASSERT_NE(shared, nullptr);
  EXPECT_EQ(shared->repaired_at_edge(), 1u);
  EXPECT_EQ(shared->repaired_at_central(), 1u);
  EXPECT_EQ(shared->left_to_sync(), 0u);
}

TEST(DriftRunTest, ARowInFlightOrChangedSinceTheWalkIsLeftToSync) {
  World w;
  w.Fill("work_order", 50);
  w.Fill("production_event", 50);
  World::Corrupt(w.edge.tables["work_order"], 1);
  World::Corrupt(w.edge.tables["work_order"], 2);
  World::Corrupt(w.central.tables["production_event"], 3);
  const std::string in_flight = std::next(w.edge.tables["work_order"].begin(), 1)->first;
  const std::string edited_at_edge = std::next(w.edge.tables["work_order"].begin(), 2)->first;
  std::optional<Row> edited_since;
  const std::string fact = std::next(w.central.tables["production_event"].begin(), 3)->first;
  w.edge.pending.insert(in_flight);
  DriftRun run(9, *w.edge.DriftIndexes(nullptr), catalog::MesCatalog());
  RunCheck(run, w.edge, w.central, [&] {
    // After the walk began: an operator edits one row at the edge, and central's copy of
    // the fact changes too (a late batch).
    World::Corrupt(w.edge.tables["work_order"], 2);
    World::Corrupt(w.central.tables["production_event"], 3);
    edited_since = w.edge.tables["work_order"].at(edited_at_edge);
  });
  ASSERT_TRUE(w.central.recorded);
  const auto* shared = OutcomeOf(w.central.outcome, "work_order");
  ASSERT_NE(shared, nullptr);
  EXPECT_EQ(shared->differ(), 2u);
  EXPECT_EQ(shared->repaired_at_edge(), 0u);
  EXPECT_EQ(shared->left_to_sync(), 2u);
  EXPECT_NE(w.edge.tables["work_order"].at(in_flight),
            w.central.tables["work_order"].at(in_flight));
  ASSERT_TRUE(edited_since.has_value());
  EXPECT_EQ(w.edge.tables["work_order"].at(edited_at_edge), *edited_since);  // the edit stays
  const auto* facts = OutcomeOf(w.central.outcome, "production_event");
  ASSERT_NE(facts, nullptr);
  EXPECT_EQ(facts->repaired_at_central(), 0u);
  EXPECT_EQ(facts->left_to_sync(), 1u);
}

TEST(DriftRunTest, ARequestCentralRefusesEndsTheCheckWithItsReasonInsteadOfAskingAgain) {
  World w;
  w.Fill("equipment", 40);
  World::Corrupt(w.edge.tables["equipment"], 1);
  w.central.refuse_fetch = "FailedPrecondition: drift check 12 is over (failed)";
  const Row corrupted = std::next(w.edge.tables["equipment"].begin(), 1)->second;
  DriftRun run(12, *w.edge.DriftIndexes(nullptr), catalog::MesCatalog());
  EXPECT_LE(RunCheck(run, w.edge, w.central), 4);
  ASSERT_TRUE(run.done());
  ASSERT_TRUE(w.central.recorded);
  EXPECT_NE(w.central.outcome.error().find("drift check 12 is over"), std::string::npos)
      << w.central.outcome.error();
  EXPECT_EQ(std::next(w.edge.tables["equipment"].begin(), 1)->second, corrupted);  // untouched
}

TEST(DriftRunTest, ACheckThatCannotIndexReportsWhyAndWalksNothing) {
  MemoryEdge edge;
  MemoryCentral central;
  DriftRun run(10, Status::IOError("disk read failed"));
  EXPECT_EQ(RunCheck(run, edge, central), 1);
  ASSERT_TRUE(central.recorded);
  EXPECT_NE(central.outcome.error().find("disk read failed"), std::string::npos);
  EXPECT_EQ(central.probes, 0);
}

TEST(DriftRunTest, AReplyThatDoesNotFitEndsTheCheckWithAnError) {
  World w;
  w.Fill("equipment", 10);
  World::Corrupt(w.edge.tables["equipment"], 1);
  DriftRun run(11, *w.edge.DriftIndexes(nullptr), catalog::MesCatalog());
  auto probe = run.Next(w.edge);
  ASSERT_TRUE(probe && probe->has_probe());
  v1::DriftReply wrong;
  wrong.set_check_id(11);
  wrong.mutable_recorded();
  run.Take(wrong, w.edge);
  auto next = run.Next(w.edge);
  ASSERT_TRUE(next && next->has_outcome());
  EXPECT_NE(next->outcome().error().find("probe"), std::string::npos);
  EXPECT_TRUE(run.Next(w.edge) == std::nullopt);  // in flight
  run.Resend();
  auto again = run.Next(w.edge);
  ASSERT_TRUE(again && again->has_outcome());  // the lost request, sent again
}

TEST(DriftRunTest, CentralRefusesARequestThatDoesNotFit) {
  v1::DriftRequest r;
  EXPECT_NE(CheckDriftRequest(r, catalog::MesCatalog()).message().find("check_id"),
            std::string::npos);
  r.set_check_id(3);
  EXPECT_NE(CheckDriftRequest(r, catalog::MesCatalog()).message().find("no probe"),
            std::string::npos);
  r.mutable_fetch()->set_table("nope");
  EXPECT_NE(CheckDriftRequest(r, catalog::MesCatalog()).message().find("'nope'"),
            std::string::npos);
  r.mutable_repair()->set_table("equipment");
  r.mutable_repair()->add_rows()->set_table("work_order");
  EXPECT_NE(
      CheckDriftRequest(r, catalog::MesCatalog()).message().find("carries a row of work_order"),
      std::string::npos);
  r.mutable_fetch()->set_table("equipment");
  for (int i = 0; i <= kDriftMaxRows; ++i) r.mutable_fetch()->add_ids("x");
  EXPECT_NE(CheckDriftRequest(r, catalog::MesCatalog()).message().find("more than 1000"),
            std::string::npos);
}

}  // namespace
}  // namespace millrace::sync
