// The declaration of every synced MES table (see DOMAIN.md). Read top to bottom: master
// data authored centrally, shared state edited on both sides, then site facts.
#include <stdexcept>

#include "millrace/common/catalog.h"

namespace millrace::catalog {
namespace {

ColumnSpec Col(std::string name, ColumnType type) {
  ColumnSpec c;
  c.name = std::move(name);
  c.type = type;
  return c;
}
ColumnSpec Uuid(std::string n) {
  return Col(std::move(n), ColumnType::kUuid);
}
ColumnSpec Text(std::string n) {
  return Col(std::move(n), ColumnType::kText);
}
ColumnSpec Int(std::string n) {
  return Col(std::move(n), ColumnType::kInt);
}
ColumnSpec Real(std::string n) {
  return Col(std::move(n), ColumnType::kReal);
}
ColumnSpec Bool(std::string n) {
  return Col(std::move(n), ColumnType::kBool);
}
ColumnSpec Time(std::string n) {
  return Col(std::move(n), ColumnType::kTimestamp);
}
ColumnSpec Json(std::string n) {
  return Col(std::move(n), ColumnType::kJson);
}
ColumnSpec Enum(std::string n, std::vector<std::string> values) {
  ColumnSpec c = Col(std::move(n), ColumnType::kEnum);
  c.values = std::move(values);
  return c;
}
ColumnSpec Status(std::string n, const StateMachine& sm) {
  ColumnSpec c = Enum(std::move(n), sm.states());
  c.state_machine = &sm;
  return c;
}

// Bounds of the numbers a terminal, a site or central may write (ColumnSpec::Range):
constexpr double kMaxQuantity = 1e9;   // totals: planned, made, in stock
constexpr double kMaxCount = 1e6;      // one count or correction on an operation
constexpr double kMaxMeasure = 1e9;    // a measured value or limit, in its unit
constexpr double kWeekS = 7 * 86400;   // a cycle or setup time, in seconds
constexpr double kMaxSeq = 1e6;        // a step or line number

struct Decl {
  std::string name;
  Owner owner;
  RoutingScope scope;
  std::string doc;
  std::vector<ColumnSpec> columns;
  std::vector<IndexSpec> indexes;
  // Only for site facts: kAppendOnly (default) or kSiteOwned.
  MergePolicy site_merge = MergePolicy::kAppendOnly;
  bool immutable = false;
};

TableSpec Build(Decl d) {
  TableSpec t;
  t.name = std::move(d.name);
  t.owner = d.owner;
  t.scope = d.scope;
  t.doc = std::move(d.doc);
  switch (d.owner) {
    case Owner::kCentral:
      t.merge = MergePolicy::kCentralOwned;
      break;
    case Owner::kShared:
      t.merge = MergePolicy::kSharedLww;
      break;
    case Owner::kSite:
      t.merge = d.site_merge;
      break;
  }
  ColumnSpec site = Text(std::string(kSiteColumn));
  site.nullable = d.owner == Owner::kCentral;  // tenant-wide master data has no site
  t.columns.push_back(Uuid(std::string(kIdColumn)));
  t.columns.push_back(site);
  for (auto& c : d.columns)
    if (c.since == 0) t.columns.push_back(c);
  t.columns.push_back(Col(std::string(kHlcColumn), ColumnType::kHlc));
  t.columns.push_back(Text(std::string(kOriginColumn)));
  // Columns added by a later edge schema follow the system columns, where ALTER TABLE
  // ADD COLUMN puts them, and where an older edge's shorter rows end (catalog.h).
  for (auto& c : d.columns)
    if (c.since != 0) t.columns.push_back(std::move(c));
  t.indexes = std::move(d.indexes);
  t.immutable = d.immutable;
  for (const auto& idx : t.indexes)
    for (const auto& c : idx.columns)
      if (!t.Find(c))
        throw std::logic_error("catalog: index on " + t.name + " names unknown column " + c);
  // An index is named by its columns: two on the same columns would share a name.
  for (std::size_t i = 0; i < t.indexes.size(); ++i)
    for (std::size_t j = i + 1; j < t.indexes.size(); ++j)
      if (t.indexes[i].columns == t.indexes[j].columns)
        throw std::logic_error("catalog: two indexes on " + t.name + " with the same columns");
  return t;
}

std::vector<TableSpec> Declare() {
  const std::vector<std::string> kOeeBuckets = {"availability", "performance", "quality"};
  std::vector<Decl> d = {
      // ---------------- master data [C] ----------------
      {"equipment",
       Owner::kCentral,
       RoutingScope::kSite,
       "ISA-95 equipment tree: enterprise > site > area > work center (line) > work unit",
       {Uuid("parent_id").Null(),
        Enum("level", {"enterprise", "site", "area", "work_center", "work_unit"}), Text("code"),
        Text("name"), Text("equipment_class").Null(), Real("ideal_cycle_time_s").Range(0, kWeekS).Null(),
        Bool("active")},
       {{{"site_id", "parent_id"}}, {{"code"}}}},
      {"material_definition",
       Owner::kCentral,
       RoutingScope::kTenant,
       "a material or product and how it is tracked",
       {Text("code"), Text("name"), Text("revision"), Text("unit"),
        Enum("tracking", {"none", "lot", "serial"}), Bool("active")},
       {{{"code", "revision"}}}},
      {"bom",
       Owner::kCentral,
       RoutingScope::kSite,  // plant-specific (like SAP's plant routings); NULL site: all
       "bill of materials header for a product revision",
       {Uuid("material_id"), Text("revision"), Real("base_quantity").Range(0, kMaxQuantity),
        Bool("active")},
       {{{"material_id"}}}},
      {"bom_line",
       Owner::kCentral,
       RoutingScope::kSite,  // plant-specific (like SAP's plant routings); NULL site: all
       "a component of a BOM and the operation that consumes it",
       {Uuid("bom_id"), Int("line_no").Range(0, kMaxSeq), Uuid("component_id"),
        Real("quantity_per").Range(0, kMaxQuantity), Text("unit"), Real("scrap_factor").Range(0, 1),
        Int("operation_seq").Range(0, kMaxSeq).Null()},
       {{{"bom_id"}}}},
      {"routing",
       Owner::kCentral,
       RoutingScope::kSite,  // plant-specific (like SAP's plant routings); NULL site: all
       "routing header for a product revision",
       {Uuid("material_id"), Text("revision"), Bool("active")},
       {{{"material_id"}}}},
      {"routing_operation",
       Owner::kCentral,
       RoutingScope::kSite,  // plant-specific (like SAP's plant routings); NULL site: all
       "one step of a routing",
       {Uuid("routing_id"), Int("seq").Range(0, kMaxSeq), Text("op_code"), Text("name"),
        Uuid("work_center_id").Null(), Real("setup_time_s").Range(0, kWeekS),
        Real("ideal_cycle_time_s").Range(0, kWeekS),
        Uuid("inspection_plan_id").Null(), Bool("allow_overlap"),
        Text("required_qualification").Null()},
       {{{"routing_id", "seq"}}}},
      {"reason_code",
       Owner::kCentral,
       RoutingScope::kTenant,
       "reason tree for downtime, scrap, rework and non-conformances, with OEE bucket and loss "
       "class",
       {Uuid("parent_id").Null(), Text("code"), Text("name"),
        Enum("category", {"downtime", "scrap", "rework", "defect"}),
        Enum("oee_bucket", kOeeBuckets).Null(),
        Enum("loss_class", {"breakdown", "setup_adjustment", "minor_stop", "reduced_speed",
                            "process_defect", "startup_reject", "planned"})
            .Null(),
        Bool("planned"), Bool("is_failure"), Bool("active")},
       {{{"category", "code"}}}},
      {"inspection_plan",
       Owner::kCentral,
       RoutingScope::kTenant,
       "what to inspect on a material",
       {Text("code"), Text("name"), Uuid("material_id").Null(), Text("revision")},
       {{{"code"}}}},
      {"inspection_characteristic",
       Owner::kCentral,
       RoutingScope::kTenant,
       "one measured or pass/fail characteristic with its limits",
       {Uuid("plan_id"), Int("seq").Range(0, kMaxSeq), Text("name"),
        Enum("kind", {"measured", "pass_fail"}), Text("unit").Null(),
        Real("nominal").Range(-kMaxMeasure, kMaxMeasure).Null(),
        Real("lsl").Range(-kMaxMeasure, kMaxMeasure).Null(),
        Real("usl").Range(-kMaxMeasure, kMaxMeasure).Null()},
       {{{"plan_id", "seq"}}}},
      {"location",
       Owner::kCentral,
       RoutingScope::kSite,
       "a storage or staging location at a site",
       {Text("code"), Text("name"),
        Enum("kind", {"warehouse", "staging", "line_side", "quarantine", "shipping"})},
       {{{"site_id", "code"}}}},
      {"shift_pattern",
       Owner::kCentral,
       RoutingScope::kSite,
       "a recurring shift: minutes after local midnight, weekday bitmask (Mon=1 .. Sun=64), "
       "planned breaks",
       {Text("code"), Text("name"), Int("start_minute").Range(0, 1439), Int("end_minute").Range(0, 1440),
        Int("weekdays").Range(0, 127),
        Json("planned_breaks")},
       {{{"site_id", "code"}}}},
      {"users",
       Owner::kCentral,
       RoutingScope::kTenant,
       "an operator, supervisor or quality engineer; the PIN is stored only as a libsodium hash",
       {Text("badge_id"), Text("name"), Text("pin_hash"),
        Enum("role", {"operator", "supervisor", "quality"}), Json("sites"), Json("qualifications"),
        Bool("active")},
       {{{"badge_id"}}}},

      // ---------------- shared state [B] ----------------
      {"work_order",
       Owner::kShared,
       RoutingScope::kSite,
       "a job order for a product; the routing is snapshotted at release",
       {Text("number"), Uuid("material_id"), Uuid("bom_id").Null(), Uuid("routing_id").Null(),
        Json("routing_snapshot").Null(), Real("planned_quantity").Range(0, kMaxQuantity),
        Time("planned_start").Null(), Time("planned_end").Null(), Time("due_at").Null(),
        Int("priority").Range(0, 99), Uuid("line_id").Null(),
        Status("status", WorkOrderStates()), Time("actual_start").Null(), Time("actual_end").Null(),
        Real("good_quantity").Range(0, kMaxQuantity), Real("scrap_quantity").Range(0, kMaxQuantity)},
       {{{"site_id", "status"}}, {{"site_id", "due_at"}}, {{"number"}}}},
      {"work_order_operation",
       Owner::kShared,
       RoutingScope::kSite,
       "one routing step of a work order",
       {Uuid("work_order_id"), Int("seq").Range(0, kMaxSeq), Uuid("routing_operation_id").Null(),
        Text("op_code"), Uuid("work_unit_id").Null(), Status("status", OperationStates()),
        Real("planned_quantity").Range(0, kMaxQuantity), Real("good_quantity").Range(0, kMaxQuantity),
        Real("scrap_quantity").Range(0, kMaxQuantity), Real("rework_quantity").Range(0, kMaxQuantity),
        Real("ideal_cycle_time_s").Range(0, kWeekS), Time("actual_start").Null(), Time("actual_end").Null()},
       {{{"work_order_id", "seq"}}, {{"site_id", "work_unit_id", "status"}}}},
      {"material_lot",
       Owner::kShared,
       RoutingScope::kSite,
       "a quantity of one material with one history",
       {Text("lot_no"), Uuid("material_id"), Real("quantity").Range(0, kMaxQuantity), Text("unit"),
        Status("status", LotStates()), Uuid("location_id").Null(), Time("expires_at").Null(),
        Uuid("produced_by_operation_id").Null()},
       {{{"lot_no"}}, {{"site_id", "material_id", "status"}}}},
      {"non_conformance",
       Owner::kShared,
       RoutingScope::kSite,
       "a recorded defect and its disposition",
       {Enum("source", {"measurement", "operator", "inspection", "supplier", "customer"}),
        Uuid("lot_id").Null(), Uuid("work_order_id").Null(), Uuid("operation_id").Null(),
        Real("quantity").Range(0, kMaxQuantity), Text("defect_code"), Text("description").Null(),
        Enum("disposition", {"scrap", "rework", "use_as_is", "return"}).Null(),
        Status("status", NonConformanceStates()), Time("opened_at"), Time("closed_at").Null()},
       {{{"site_id", "status", "opened_at"}}, {{"lot_id"}}}},

      // ---------------- site facts [S] ----------------
      {"serial_unit",
       Owner::kSite,
       RoutingScope::kSite,
       "one serialised unit",
       {Text("serial_no"), Uuid("material_id"),
        Enum("status", {"in_process", "completed", "scrapped", "consumed"}), Uuid("lot_id").Null(),
        Uuid("produced_by_operation_id").Null()},
       {{{"serial_no"}}},
       MergePolicy::kSiteOwned},
      {"genealogy_link",
       Owner::kSite,
       RoutingScope::kSite,
       "consumed lot/serial -> produced lot/serial",
       {Enum("parent_kind", {"lot", "serial"}), Uuid("parent_id"),
        Enum("child_kind", {"lot", "serial"}), Uuid("child_id"), Real("quantity").Range(0, kMaxQuantity),
        Uuid("operation_id").Null(), Time("at")},
       {{{"parent_id"}}, {{"child_id"}}}},
      {"production_event",
       Owner::kSite,
       RoutingScope::kSite,
       "what happened on an operation: START, PAUSE, RESUME, COUNT, COMPLETE, ABORT",
       {Enum("kind", {"START", "PAUSE", "RESUME", "COUNT", "COMPLETE", "ABORT"}), Time("at"),
        Uuid("work_order_id"), Uuid("operation_id"), Uuid("work_unit_id"),
        Uuid("operator_id").Null(), Uuid("shift_instance_id").Null(),
        Real("good_quantity").Range(-kMaxCount, kMaxCount), Real("scrap_quantity").Range(-kMaxCount, kMaxCount),
        Real("rework_quantity").Range(-kMaxCount, kMaxCount), Uuid("scrap_reason_id").Null(),
        Uuid("output_lot_id").Null(),
        // Edge schema 7: the operator's note on a count (what the scrap was, why a rework).
        Text("note").MaxLength(500).Null().Since(7)},
       {{{"site_id", "at"}}, {{"work_unit_id", "at"}}, {{"operation_id"}},
        // Central's drill-down to the counts with scrap or rework, newest first.
        {{"at", "id"}, "scrap_quantity <> 0 OR rework_quantity <> 0", true}}},
      {"downtime_event",
       Owner::kSite,
       RoutingScope::kSite,
       "a stop of a work unit; open while ended_at is NULL, closed by its own site",
       {Uuid("work_unit_id"), Time("started_at"), Time("ended_at").Null(), Uuid("reason_id").Null(),
        Bool("planned"), Uuid("operation_id").Null(), Uuid("operator_id").Null(),
        Text("comment").Null()},
       {{{"site_id", "started_at"}}, {{"work_unit_id", "ended_at"}}, {{"reason_id"}},
        // Central's drill-down to the closed stops, newest first.
        {{"started_at", "id"}, "ended_at IS NOT NULL", true}},
       MergePolicy::kSiteOwned},
      {"inspection",
       Owner::kSite,
       RoutingScope::kSite,
       "one inspection against a plan; result set when finished",
       {Uuid("plan_id"), Uuid("operation_id").Null(), Uuid("lot_id").Null(), Time("at"),
        Uuid("operator_id").Null(), Enum("result", {"pass", "fail"}).Null()},
       {{{"site_id", "at"}}},
       MergePolicy::kSiteOwned},
      {"measurement",
       Owner::kSite,
       RoutingScope::kSite,
       "one recorded value (or pass/fail) of a characteristic, with in_spec computed against its "
       "limits",
       {Uuid("inspection_id").Null(), Uuid("characteristic_id"), Uuid("operation_id").Null(),
        Uuid("lot_id").Null(), Real("value").Range(-kMaxMeasure, kMaxMeasure).Null(), Bool("passed").Null(),
        Bool("in_spec"),
        Time("at"), Uuid("operator_id").Null()},
       {{{"characteristic_id", "at"}}, {{"site_id", "at"}}}},
      {"inventory_movement",
       Owner::kSite,
       RoutingScope::kSite,
       "receipt, issue, produce, scrap, transfer, adjust",
       {Enum("kind", {"receipt", "issue", "produce", "scrap", "transfer", "adjust"}),
        Uuid("material_id"), Uuid("lot_id").Null(), Uuid("serial_id").Null(),
        Real("quantity").Range(-kMaxQuantity, kMaxQuantity),
        Text("unit"), Uuid("from_location_id").Null(), Uuid("to_location_id").Null(),
        Uuid("operation_id").Null(), Time("at"), Uuid("operator_id").Null()},
       {{{"lot_id"}}, {{"site_id", "at"}}}},
      {"shift_instance",
       Owner::kSite,
       RoutingScope::kSite,
       "one worked occurrence of a shift pattern",
       {Uuid("shift_pattern_id"), Text("business_date"), Time("starts_at"), Time("ends_at")},
       {{{"site_id", "starts_at"}}},
       MergePolicy::kSiteOwned},
      {"operator_session",
       Owner::kSite,
       RoutingScope::kSite,
       "an operator badged in at a work unit",
       {Uuid("user_id"), Uuid("work_unit_id"), Uuid("shift_instance_id").Null(),
        Time("badge_in_at"), Time("badge_out_at").Null()},
       {{{"work_unit_id", "badge_out_at"}}, {{"user_id"}}},
       MergePolicy::kSiteOwned},
      {"audit_record",
       Owner::kSite,
       RoutingScope::kSite,
       "who did what to which row, when, from what to what, and why: every supervisor and "
       "quality action at a site (hlc and at date it); never changed or deleted",
       {Uuid("actor_id").Null(), Text("actor_name"), Text("actor_role"), Text("action"),
        Text("table_name"), Uuid("row_id").Null(), Json("old_value").Null(),
        Json("new_value").Null(), Text("reason").MaxLength(2000).Null(), Time("at")},
       {{{"site_id", "at"}}, {{"row_id"}}},
       MergePolicy::kAppendOnly,
       /*immutable=*/true},
  };
  std::vector<TableSpec> out;
  for (auto& decl : d) out.push_back(Build(std::move(decl)));
  return out;
}

}  // namespace

const StateMachine& WorkOrderStates() {
  static const StateMachine sm(
      "work_order",
      {"Draft", "Released", "InProgress", "OnHold", "Completed", "Closed", "Cancelled"},
      {{"Draft", "Released"},
       {"Released", "InProgress"},
       {"InProgress", "OnHold"},
       {"OnHold", "InProgress"},
       {"InProgress", "Completed"},
       {"Completed", "Closed"},
       {"Draft", "Cancelled"},
       {"Released", "Cancelled"},
       {"OnHold", "Cancelled"}});
  return sm;
}

const StateMachine& OperationStates() {
  static const StateMachine sm("operation",
                               {"Pending", "Ready", "Running", "Paused", "Completed", "Cancelled"},
                               {{"Pending", "Ready"},
                                {"Ready", "Running"},
                                {"Running", "Paused"},
                                {"Paused", "Running"},
                                {"Running", "Completed"},
                                {"Pending", "Cancelled"},
                                {"Ready", "Cancelled"},
                                {"Paused", "Cancelled"}});
  return sm;
}

const StateMachine& LotStates() {
  static const StateMachine sm("material_lot",
                               {"available", "quarantine", "hold", "consumed", "scrapped"},
                               {{"available", "quarantine"},
                                {"available", "hold"},
                                {"quarantine", "available"},
                                {"hold", "available"},
                                {"quarantine", "hold"},
                                {"hold", "quarantine"},
                                {"available", "consumed"},
                                {"available", "scrapped"},
                                {"quarantine", "scrapped"},
                                {"hold", "scrapped"}});
  return sm;
}

const StateMachine& NonConformanceStates() {
  static const StateMachine sm(
      "non_conformance", {"open", "investigating", "closed"},
      {{"open", "investigating"}, {"investigating", "closed"}, {"open", "closed"}});
  return sm;
}

const Catalog& MesCatalog() {
  static const Catalog catalog(Declare());
  return catalog;
}

}  // namespace millrace::catalog
