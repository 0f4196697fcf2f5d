#include "millrace/common/demo_factory.h"

#include <sodium.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <tuple>

#include "millrace/common/hlc.h"
#include "millrace/common/uuid.h"

namespace millrace::demo {
namespace {

const catalog::TableSpec& T(const char* name) {
  return *catalog::MesCatalog().Find(name);
}

struct DemoUser {
  const char* badge;
  const char* name;
  const char* role;
  std::vector<std::string> qualifications;
};
const DemoUser kUsers[] = {{"1001", "Ana Operator", "operator", {"CUT", "PRESS"}},
                           {"1002", "Ben Operator", "operator", {"PACK"}},
                           {"2001", "Sam Supervisor", "supervisor", {"CUT", "PRESS", "PACK"}},
                           {"3001", "Quinn Quality", "quality", {}},
                           // The simulated crew (mes-sim): one operator per work unit.
                           {"1101", "Crew 1", "operator", {"CUT", "PRESS", "PACK"}},
                           {"1102", "Crew 2", "operator", {"CUT", "PRESS", "PACK"}},
                           {"1103", "Crew 3", "operator", {"CUT", "PRESS", "PACK"}},
                           {"1104", "Crew 4", "operator", {"CUT", "PRESS", "PACK"}},
                           {"1105", "Crew 5", "operator", {"CUT", "PRESS", "PACK"}},
                           {"1106", "Crew 6", "operator", {"CUT", "PRESS", "PACK"}}};

}  // namespace

std::string DemoId(const std::string& scope, const std::string& kind, const std::string& code) {
  // A UUIDv7 with a fixed timestamp and "random" bits from a hash of the name.
  unsigned char digest[crypto_generichash_BYTES];
  std::string name = scope + "/" + kind + "/" + code;
  crypto_generichash(digest, sizeof(digest), reinterpret_cast<const unsigned char*>(name.data()),
                     name.size(), nullptr, 0);
  Uuid::Bytes b{};
  for (int i = 0; i < 6; ++i)
    b[i] = static_cast<std::uint8_t>(static_cast<std::uint64_t>(kEpochMs) >> (8 * (5 - i)));
  for (int i = 6; i < 16; ++i) b[i] = digest[i];
  b[6] = static_cast<std::uint8_t>(0x70 | (b[6] & 0x0F));
  b[8] = static_cast<std::uint8_t>(0x80 | (b[8] & 0x3F));
  return Uuid(b).ToString();
}

std::vector<Row> MasterData(const std::string& tenant, const std::vector<std::string>& sites,
                            const std::string& pin_hash) {
  std::vector<Row> rows;
  auto tid = [&](const char* kind, const std::string& code) { return DemoId(tenant, kind, code); };
  const std::int64_t hlc = static_cast<std::int64_t>(HlcTimestamp(kEpochMs, 0).packed());
  std::string site;  // the site being generated; empty for tenant-wide rows
  auto sid = [&](const char* kind, const std::string& code) { return DemoId(site, kind, code); };
  auto put = [&](Row& row, bool site_scoped) {
    row.Set("site_id", site_scoped ? Value(site) : Value(std::monostate{}));
    row.Set("hlc", hlc).Set("origin", "central");
    rows.push_back(row);
  };

  {
    Row r(T("equipment"));
    r.Set("id", tid("equipment", "ACME"))
        .Set("level", "enterprise")
        .Set("code", "ACME")
        .Set("name", "Acme Components")
        .Set("active", std::int64_t{1});
    put(r, false);
  }
  struct Material {
    const char* code;
    const char* name;
    const char* unit;
    const char* tracking;
  };
  for (const Material& m : {Material{"BRKT-100", "Mounting bracket", "pcs", "lot"},
                            Material{"HOUSING-200", "Pump housing", "pcs", "lot"},
                            Material{"STEEL-S235", "Steel sheet S235 2mm", "kg", "lot"},
                            Material{"BOLT-M8", "Bolt M8x20", "pcs", "lot"},
                            Material{"PAINT-RAL7035", "Powder paint RAL 7035", "kg", "lot"}}) {
    Row r(T("material_definition"));
    r.Set("id", tid("material", m.code))
        .Set("code", m.code)
        .Set("name", m.name)
        .Set("revision", "A")
        .Set("unit", m.unit)
        .Set("tracking", m.tracking)
        .Set("active", std::int64_t{1});
    put(r, false);
  }

  {
    Row plan(T("inspection_plan"));
    plan.Set("id", tid("inspection_plan", "BRKT-FAI"))
        .Set("code", "BRKT-FAI")
        .Set("name", "Bracket in-process check")
        .Set("material_id", tid("material", "BRKT-100"))
        .Set("revision", "A");
    put(plan, false);
    Row hole(T("inspection_characteristic"));
    hole.Set("id", tid("characteristic", "BRKT-HOLE"))
        .Set("plan_id", tid("inspection_plan", "BRKT-FAI"))
        .Set("seq", std::int64_t{10})
        .Set("name", "Hole diameter")
        .Set("kind", "measured")
        .Set("unit", "mm")
        .Set("nominal", 8.0)
        .Set("lsl", 7.9)
        .Set("usl", 8.1);
    put(hole, false);
    Row visual(T("inspection_characteristic"));
    visual.Set("id", tid("characteristic", "BRKT-VISUAL"))
        .Set("plan_id", tid("inspection_plan", "BRKT-FAI"))
        .Set("seq", std::int64_t{20})
        .Set("name", "Surface free of burrs")
        .Set("kind", "pass_fail");
    put(visual, false);
  }

  struct Reason {
    const char* code;
    const char* parent;
    const char* name;
    const char* category;
    const char* bucket;
    const char* loss;
    bool planned;
    bool failure;
  };
  for (const Reason& r : {
           Reason{"DT-MECH", nullptr, "Mechanical", "downtime", "availability", "breakdown", false,
                  true},
           Reason{"DT-MECH-HYD", "DT-MECH", "Hydraulic failure", "downtime", "availability",
                  "breakdown", false, true},
           Reason{"DT-MECH-JAM", "DT-MECH", "Part jammed", "downtime", "availability", "minor_stop",
                  false, false},
           Reason{"DT-SETUP", nullptr, "Changeover", "downtime", "availability", "setup_adjustment",
                  false, false},
           Reason{"DT-MAT", nullptr, "Waiting for material", "downtime", "availability",
                  "minor_stop", false, false},
           Reason{"DT-BREAK", nullptr, "Planned break", "downtime", nullptr, "planned", true,
                  false},
           Reason{"DT-PM", nullptr, "Preventive maintenance", "downtime", nullptr, "planned", true,
                  false},
           Reason{"SC-DIM", nullptr, "Out of tolerance", "scrap", "quality", "process_defect",
                  false, false},
           Reason{"SC-SURF", nullptr, "Surface damage", "scrap", "quality", "process_defect", false,
                  false},
           Reason{"SC-START", nullptr, "Start-up reject", "scrap", "quality", "startup_reject",
                  false, false},
           Reason{"RW-BURR", nullptr, "Deburr", "rework", "quality", "process_defect", false,
                  false},
           Reason{"NC-DIM", nullptr, "Dimension out of spec", "defect", "quality", nullptr, false,
                  false},
       }) {
    Row row(T("reason_code"));
    row.Set("id", tid("reason", r.code))
        .Set("code", r.code)
        .Set("name", r.name)
        .Set("category", r.category)
        .Set("planned", std::int64_t{r.planned})
        .Set("is_failure", std::int64_t{r.failure})
        .Set("active", std::int64_t{1});
    if (r.parent) row.Set("parent_id", tid("reason", r.parent));
    if (r.bucket) row.Set("oee_bucket", r.bucket);
    if (r.loss) row.Set("loss_class", r.loss);
    put(row, false);
  }

  for (std::size_t i = 0; i < std::size(kUsers); ++i) {
    const DemoUser& u = kUsers[i];
    Row row(T("users"));
    row.Set("id", tid("user", u.badge))
        .Set("badge_id", u.badge)
        .Set("name", u.name)
        .Set("pin_hash", pin_hash)
        .Set("role", u.role)
        .Set("sites", nlohmann::json(sites).dump())
        .Set("qualifications", nlohmann::json(u.qualifications).dump())
        .Set("active", std::int64_t{1});
    put(row, false);
  }

  for (const std::string& plant : sites) {
    site = plant;
    auto equipment = [&](const std::string& code, const char* level, const std::string& parent,
                         const char* name, std::optional<double> cycle) {
      Row r(T("equipment"));
      r.Set("id", code == "ACME" ? tid("equipment", code) : sid("equipment", code))
          .Set("level", level)
          .Set("code", code)
          .Set("name", name)
          .Set("active", std::int64_t{1});
      if (!parent.empty())
        r.Set("parent_id", parent == "ACME" ? tid("equipment", parent) : sid("equipment", parent));
      if (cycle) r.Set("ideal_cycle_time_s", *cycle).Set("equipment_class", "machine");
      return put(r, code != "ACME");
    };
    equipment(site, "site", "ACME", "Plant", {});
    equipment("ASSEMBLY", "area", site, "Assembly hall", {});
    equipment("LINE-1", "work_center", "ASSEMBLY", "Line 1 (brackets)", {});
    equipment("LINE-2", "work_center", "ASSEMBLY", "Line 2 (housings)", {});
    for (const char* line : {"1", "2"}) {
      std::string wc = std::string("LINE-") + line;
      equipment("L" + std::string(line) + "-CUT", "work_unit", wc, "Laser cutter", 12.0);
      equipment("L" + std::string(line) + "-PRESS", "work_unit", wc, "Press brake", 20.0);
      equipment("L" + std::string(line) + "-PACK", "work_unit", wc, "Packing station", 6.0);
    }

    struct Step {
      int seq;
      const char* op;
      const char* name;
      double cycle;
      const char* qualification;
      bool inspected;
    };
    struct Product {
      const char* code;
      const char* line;
      std::vector<Step> steps;
      std::vector<std::tuple<const char*, double, const char*, int>>
          bom;  // component, qty per, unit, op seq
    };
    const std::vector<Product> products = {
        {"BRKT-100",
         "LINE-1",
         {{10, "CUT", "Cut blank", 12, "CUT", false},
          {20, "PRESS", "Bend", 20, "PRESS", true},
          {30, "PACK", "Pack", 6, "PACK", false}},
         {{"STEEL-S235", 0.5, "kg", 10}, {"BOLT-M8", 2, "pcs", 30}}},
        {"HOUSING-200",
         "LINE-2",
         {{10, "CUT", "Cut panels", 30, "CUT", false},
          {20, "PRESS", "Form", 45, "PRESS", false},
          {30, "PACK", "Pack", 10, "PACK", false}},
         {{"STEEL-S235", 2.5, "kg", 10}, {"PAINT-RAL7035", 0.2, "kg", 20}}},
    };
    for (const Product& p : products) {
      Row routing(T("routing"));
      routing.Set("id", sid("routing", p.code))
          .Set("material_id", tid("material", p.code))
          .Set("revision", "A")
          .Set("active", std::int64_t{1});
      put(routing, true);
      for (const Step& s : p.steps) {
        Row op(T("routing_operation"));
        op.Set("id", sid("routing_operation", std::string(p.code) + "/" + std::to_string(s.seq)))
            .Set("routing_id", sid("routing", p.code))
            .Set("seq", std::int64_t{s.seq})
            .Set("op_code", s.op)
            .Set("name", s.name)
            .Set("work_center_id", sid("equipment", p.line))
            .Set("setup_time_s", 300.0)
            .Set("ideal_cycle_time_s", s.cycle)
            .Set("allow_overlap", std::int64_t{0})
            .Set("required_qualification", s.qualification);
        if (s.inspected) op.Set("inspection_plan_id", tid("inspection_plan", "BRKT-FAI"));
        put(op, true);
      }
      Row bom(T("bom"));
      bom.Set("id", sid("bom", p.code))
          .Set("material_id", tid("material", p.code))
          .Set("revision", "A")
          .Set("base_quantity", 1.0)
          .Set("active", std::int64_t{1});
      put(bom, true);
      int line_no = 0;
      for (const auto& [component, qty, unit, op_seq] : p.bom) {
        Row l(T("bom_line"));
        l.Set("id", sid("bom_line", std::string(p.code) + "/" + component))
            .Set("bom_id", sid("bom", p.code))
            .Set("line_no", std::int64_t{++line_no * 10})
            .Set("component_id", tid("material", component))
            .Set("quantity_per", qty)
            .Set("unit", unit)
            .Set("scrap_factor", 0.02)
            .Set("operation_seq", std::int64_t{op_seq});
        put(l, true);
      }
    }

    for (const auto& [code, name, kind] : {std::tuple{"WH", "Main warehouse", "warehouse"},
                                           std::tuple{"LS-1", "Line 1 line side", "line_side"},
                                           std::tuple{"LS-2", "Line 2 line side", "line_side"},
                                           std::tuple{"QA", "Quarantine cage", "quarantine"}}) {
      Row row(T("location"));
      row.Set("id", sid("location", code)).Set("code", code).Set("name", name).Set("kind", kind);
      put(row, true);
    }

    for (const auto& [code, name, start, end] :
         {std::tuple{"EARLY", "Early shift", 360, 840}, std::tuple{"LATE", "Late shift", 840, 1320},
          std::tuple{"NIGHT", "Night shift", 1320, 360}}) {
      Row row(T("shift_pattern"));
      row.Set("id", sid("shift_pattern", code))
          .Set("code", code)
          .Set("name", name)
          .Set("start_minute", std::int64_t{start})
          .Set("end_minute", std::int64_t{end})
          .Set("weekdays", std::int64_t{127})
          .Set("planned_breaks",
               R"([{"start_minute":30,"minutes":15},{"start_minute":240,"minutes":30}])");
      put(row, true);
    }
  }
  return rows;
}

}  // namespace millrace::demo
