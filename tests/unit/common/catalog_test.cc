#include "millrace/common/catalog.h"

#include <gtest/gtest.h>

#include <set>
#include <stdexcept>

#include "millrace/common/ddl.h"

namespace millrace::catalog {
namespace {

TEST(CatalogTest, DeclaresEveryDomainEntityWithItsOwnerAndMergePolicy) {
  struct Expect {
    const char* table;
    Owner owner;
    MergePolicy merge;
  } expected[] = {
      {"equipment", Owner::kCentral, MergePolicy::kCentralOwned},
      {"material_definition", Owner::kCentral, MergePolicy::kCentralOwned},
      {"bom", Owner::kCentral, MergePolicy::kCentralOwned},
      {"bom_line", Owner::kCentral, MergePolicy::kCentralOwned},
      {"routing", Owner::kCentral, MergePolicy::kCentralOwned},
      {"routing_operation", Owner::kCentral, MergePolicy::kCentralOwned},
      {"reason_code", Owner::kCentral, MergePolicy::kCentralOwned},
      {"inspection_plan", Owner::kCentral, MergePolicy::kCentralOwned},
      {"inspection_characteristic", Owner::kCentral, MergePolicy::kCentralOwned},
      {"location", Owner::kCentral, MergePolicy::kCentralOwned},
      {"shift_pattern", Owner::kCentral, MergePolicy::kCentralOwned},
      {"users", Owner::kCentral, MergePolicy::kCentralOwned},
      {"work_order", Owner::kShared, MergePolicy::kSharedLww},
      {"work_order_operation", Owner::kShared, MergePolicy::kSharedLww},
      {"material_lot", Owner::kShared, MergePolicy::kSharedLww},
      {"non_conformance", Owner::kShared, MergePolicy::kSharedLww},
      {"serial_unit", Owner::kSite, MergePolicy::kSiteOwned},
      {"genealogy_link", Owner::kSite, MergePolicy::kAppendOnly},
      {"production_event", Owner::kSite, MergePolicy::kAppendOnly},
      {"downtime_event", Owner::kSite, MergePolicy::kSiteOwned},
      {"inspection", Owner::kSite, MergePolicy::kSiteOwned},
      {"measurement", Owner::kSite, MergePolicy::kAppendOnly},
      {"inventory_movement", Owner::kSite, MergePolicy::kAppendOnly},
      {"shift_instance", Owner::kSite, MergePolicy::kSiteOwned},
      {"operator_session", Owner::kSite, MergePolicy::kSiteOwned},
      {"audit_record", Owner::kSite, MergePolicy::kAppendOnly},
  };
  const Catalog& c = MesCatalog();
  EXPECT_EQ(c.tables().size(), std::size(expected));
  for (const auto& e : expected) {
    const TableSpec* t = c.Find(e.table);
    ASSERT_NE(t, nullptr) << e.table;
    EXPECT_EQ(t->owner, e.owner) << e.table;
    EXPECT_EQ(t->merge, e.merge) << e.table;
  }
  EXPECT_EQ(c.Find("no_such_table"), nullptr);
}

TEST(CatalogTest, EveryTableHasTheSystemColumnsAroundItsDomainColumns) {
  for (const auto& t : MesCatalog().tables()) {
    ASSERT_GE(t.columns.size(), 5u) << t.name;
    EXPECT_EQ(t.columns.front().name, "id") << t.name;
    EXPECT_EQ(t.columns.front().type, ColumnType::kUuid);
    EXPECT_EQ(t.columns[1].name, "site_id");
    // Columns added by a later edge schema follow the system columns (catalog.h).
    const std::size_t first = t.WidthAt(0);
    EXPECT_EQ(t.columns[first - 2].name, "hlc");
    EXPECT_EQ(t.columns[first - 2].type, ColumnType::kHlc);
    EXPECT_EQ(t.columns[first - 1].name, "origin");
    // Only central master data may be tenant-wide (no site).
    EXPECT_EQ(t.site_id_nullable(), t.owner == Owner::kCentral) << t.name;
    std::set<std::string> names;
    for (const auto& col : t.columns) {
      EXPECT_TRUE(names.insert(col.name).second) << t.name << "." << col.name << " declared twice";
      if (col.type == ColumnType::kEnum) {
        EXPECT_FALSE(col.values.empty()) << t.name << "." << col.name;
      }
    }
    for (const auto& idx : t.indexes)
      for (const auto& col : idx.columns)
        EXPECT_NE(t.Find(col), nullptr) << t.name << " index on " << col;
  }
}

TEST(CatalogTest, SharedStateTablesCarryTheirStateMachines) {
  const Catalog& c = MesCatalog();
  EXPECT_EQ(c.Find("work_order")->StatusColumn()->state_machine, &WorkOrderStates());
  EXPECT_EQ(c.Find("work_order_operation")->StatusColumn()->state_machine, &OperationStates());
  EXPECT_EQ(c.Find("material_lot")->StatusColumn()->state_machine, &LotStates());
  EXPECT_EQ(c.Find("non_conformance")->StatusColumn()->state_machine, &NonConformanceStates());
  EXPECT_EQ(c.Find("production_event")->StatusColumn(), nullptr);
  EXPECT_EQ(c.Find("work_order")->StatusColumn()->values, WorkOrderStates().states());
}

TEST(StateMachineTest, WorkOrderStatusOnlyMovesForward) {
  const StateMachine& wo = WorkOrderStates();
  EXPECT_TRUE(wo.CanTransition("Draft", "Released"));
  EXPECT_FALSE(wo.CanTransition("Draft", "InProgress"));
  EXPECT_TRUE(wo.IsReachable("Draft", "Closed"));
  EXPECT_TRUE(wo.IsReachable("InProgress", "OnHold"));
  EXPECT_TRUE(wo.IsReachable("OnHold", "InProgress"));  // the one cycle: LWW decides between them
  EXPECT_FALSE(
      wo.IsReachable("Completed", "InProgress"));  // a late InProgress never beats Completed
  EXPECT_FALSE(wo.IsReachable("Closed", "Completed"));
  EXPECT_TRUE(wo.IsReachable("InProgress", "Cancelled"));  // via OnHold
  EXPECT_FALSE(wo.CanTransition("InProgress", "Cancelled"));
  EXPECT_TRUE(wo.IsTerminal("Closed"));
  EXPECT_TRUE(wo.IsTerminal("Cancelled"));
  EXPECT_FALSE(wo.IsTerminal("OnHold"));
  EXPECT_FALSE(wo.IsState("Running"));
}

TEST(StateMachineTest, OperationStatusOnlyMovesForward) {
  const StateMachine& op = OperationStates();
  EXPECT_TRUE(op.IsReachable("Pending", "Completed"));
  EXPECT_TRUE(op.IsReachable("Running", "Paused"));
  EXPECT_TRUE(op.IsReachable("Paused", "Running"));
  EXPECT_FALSE(op.IsReachable("Completed", "Running"));
  EXPECT_FALSE(op.IsReachable("Running", "Ready"));
  EXPECT_FALSE(op.IsReachable("Cancelled", "Ready"));
  EXPECT_TRUE(op.IsTerminal("Completed"));
}

TEST(StateMachineTest, LotsAndNonConformancesEndInTerminalStates) {
  EXPECT_TRUE(LotStates().IsTerminal("consumed"));
  EXPECT_TRUE(LotStates().IsTerminal("scrapped"));
  EXPECT_FALSE(LotStates().IsReachable("consumed", "available"));
  EXPECT_TRUE(LotStates().IsReachable("hold", "available"));
  EXPECT_TRUE(NonConformanceStates().IsReachable("open", "closed"));
  EXPECT_FALSE(NonConformanceStates().IsReachable("closed", "open"));
}

TEST(StateMachineTest, AnArrowToAnUnknownStateIsABug) {
  EXPECT_THROW(StateMachine("x", {"a"}, {{"a", "b"}}), std::logic_error);
}

TEST(CatalogTest, FingerprintIsStableAndChangesWithTheShape) {
  const Catalog& mes = MesCatalog();
  // The known value: nodes of different releases compare fingerprints, so the algorithm
  // (FNV-1a over names, types, flags and policies) must never change. Computed by hand
  // for a one-table catalog: "table", "tally", "site", "append-only", "site", then per
  // column name, type and nullability.
  TableSpec tally;
  tally.name = "tally";
  tally.owner = Owner::kSite;
  tally.merge = MergePolicy::kAppendOnly;
  tally.scope = RoutingScope::kSite;
  ColumnSpec id, count;
  id.name = "id";
  id.type = ColumnType::kUuid;
  count.name = "count";
  count.type = ColumnType::kInt;
  count.nullable = true;
  tally.columns = {id, count};
  EXPECT_EQ(Catalog({tally}).FingerprintHex(), "89090f5f9f3c29aa");
  // And the MES catalog is the one the newest schema migrations were written for (a
  // catalog change needs migration steps on both sides, then this constant updated).
  EXPECT_EQ(mes.FingerprintHex(), std::string(kMigratedCatalogFingerprint));
  std::vector<TableSpec> copy = mes.tables();
  Catalog same(copy);
  EXPECT_EQ(same.Fingerprint(), mes.Fingerprint());
  copy.back().columns[2].nullable = !copy.back().columns[2].nullable;
  Catalog changed(copy);
  EXPECT_NE(changed.Fingerprint(), mes.Fingerprint());
  copy = mes.tables();
  copy[0].merge = MergePolicy::kSharedLww;
  EXPECT_NE(Catalog(copy).Fingerprint(), mes.Fingerprint());
}

TEST(CatalogTest, EachEdgeSchemaHasTheCatalogItsMigrationsMade) {
  const Catalog& mes = MesCatalog();
  // Edge schema 6 (releases 12 to 14) had this catalog, fixed in tests/fixtures/schema: the
  // fingerprint of the columns it knows must never change.
  EXPECT_EQ(mes.FingerprintHexAt(6), "908e35031e60c9fa");
  EXPECT_EQ(mes.NewestSince(), 7);
  EXPECT_EQ(mes.FingerprintHexAt(7), mes.FingerprintHex());
  EXPECT_NE(mes.FingerprintHexAt(6), mes.FingerprintHex());
  const TableSpec* events = mes.Find("production_event");
  EXPECT_EQ(events->WidthAt(6) + 1, events->columns.size());
  EXPECT_EQ(events->Find("note")->since, 7);
}

TEST(CatalogTest, AnAddedColumnMustBeTranslatableForTheSchemaBefore) {
  auto table = [](MergePolicy merge, bool nullable, bool last) {
    TableSpec t;
    t.name = "tally";
    t.merge = merge;
    ColumnSpec id, count, added;
    id.name = "id";
    id.type = ColumnType::kUuid;
    count.name = "count";
    count.type = ColumnType::kInt;
    added.name = "note";
    added.nullable = nullable;
    added.since = 7;
    t.columns = last ? std::vector<ColumnSpec>{id, count, added}
                     : std::vector<ColumnSpec>{id, added, count};
    return std::vector<TableSpec>{t};
  };
  auto refusal = [](std::vector<TableSpec> tables) -> std::string {
    try {
      Catalog c(std::move(tables));
    } catch (const std::logic_error& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_EQ(refusal(table(MergePolicy::kAppendOnly, true, true)), "");
  EXPECT_EQ(refusal(table(MergePolicy::kAppendOnly, false, true)),
            "catalog: column tally.note was added in edge schema 7 and must be nullable: an "
            "older edge's rows carry NULL in it");
  EXPECT_NE(refusal(table(MergePolicy::kSiteOwned, true, true))
                .find("to a table whose rows are updated (site-owned)"),
            std::string::npos);
  EXPECT_NE(refusal(table(MergePolicy::kAppendOnly, true, false)).find("added columns come last"),
            std::string::npos);
}

TEST(DdlTest, PostgresDdlAddsTenantKeyIndexesAndRowLevelSecurityForEveryTable) {
  auto ddl = PostgresDdl(MesCatalog(), {});
  auto contains = [&](const std::string& needle) {
    for (const auto& s : ddl)
      if (s.find(needle) != std::string::npos) return true;
    return false;
  };
  for (const auto& t : MesCatalog().tables()) {
    std::string q = "\"millrace\".\"" + t.name + "\"";
    EXPECT_TRUE(contains("CREATE TABLE IF NOT EXISTS " + q + " (\n  tenant_id text NOT NULL,"))
        << t.name;
    EXPECT_TRUE(contains("ALTER TABLE " + q + " FORCE ROW LEVEL SECURITY")) << t.name;
    EXPECT_TRUE(contains("CREATE POLICY tenant_isolation ON " + q +
                         " USING (tenant_id = current_setting('app.tenant_id', true))"))
        << t.name;
  }
  EXPECT_TRUE(
      contains("ON \"millrace\".\"production_event\" (\"tenant_id\", \"site_id\", \"at\")"));
  EXPECT_TRUE(
      contains("\"status\" text NOT NULL CHECK (\"status\" IN ('Draft', 'Released', 'InProgress'"));
}

TEST(DdlTest, QuotingDoublesEmbeddedQuotes) {
  EXPECT_EQ(QuoteIdent("a\"b"), "\"a\"\"b\"");
  EXPECT_EQ(QuoteLiteral("it's"), "'it''s'");
}

}  // namespace
}  // namespace millrace::catalog
