#include "millrace/edge/seed.h"

#include <sodium.h>

#include <nlohmann/json.hpp>

#include "millrace/common/uuid.h"

namespace millrace::edge {
namespace {

const catalog::TableSpec& T(const char* name) {
  return *catalog::MesCatalog().Find(name);
}

constexpr std::int64_t kSeedEpochMs = 1767225600000;  // 2026-01-01T00:00:00Z
constexpr std::int64_t kDay = 86400000;

std::int64_t CentralHlc() {
  return static_cast<std::int64_t>(HlcTimestamp(kSeedEpochMs, 0).packed());
}

}  // namespace

std::string SeedId(const std::string& site, const std::string& kind, const std::string& code) {
  // A UUIDv7 with a fixed timestamp and "random" bits from a hash of the name.
  unsigned char digest[crypto_generichash_BYTES];
  std::string name = site + "/" + kind + "/" + code;
  crypto_generichash(digest, sizeof(digest), reinterpret_cast<const unsigned char*>(name.data()),
                     name.size(), nullptr, 0);
  Uuid::Bytes b{};
  for (int i = 0; i < 6; ++i)
    b[i] = static_cast<std::uint8_t>(static_cast<std::uint64_t>(kSeedEpochMs) >> (8 * (5 - i)));
  for (int i = 6; i < 16; ++i) b[i] = digest[i];
  b[6] = static_cast<std::uint8_t>(0x70 | (b[6] & 0x0F));
  b[8] = static_cast<std::uint8_t>(0x80 | (b[8] & 0x3F));
  return Uuid(b).ToString();
}

Result<std::string> HashPin(const std::string& pin) {
  if (sodium_init() < 0) return Status::Internal("libsodium failed to initialise");
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str(out, pin.data(), pin.size(), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                        crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
    return Status::ResourceExhausted("not enough memory to hash a PIN");
  }
  return std::string(out);
}

bool VerifyPin(const std::string& hash, const std::string& pin) {
  if (sodium_init() < 0) return false;
  return crypto_pwhash_str_verify(hash.c_str(), pin.data(), pin.size()) == 0;
}

Status SeedDemoSite(EdgeStore& store) {
  const std::string site = store.site_id();
  auto id = [&](const char* kind, const std::string& code) { return SeedId(site, kind, code); };

  bool seeded = false;
  MILLRACE_RETURN_IF_ERROR(store.Read([&](ReadTxn& txn) -> Status {
    MILLRACE_ASSIGN_OR_RETURN(auto n, txn.Count(T("equipment"), "site_id = ?", {site}));
    seeded = n > 0;
    return Status::Ok();
  }));
  if (seeded)
    return Status::AlreadyExists("site " + site + " already has master data; not seeding again");

  // PIN hashing is deliberately slow: do it before entering the write transaction.
  struct User {
    const char* badge;
    const char* name;
    const char* role;
    std::vector<std::string> qualifications;
  };
  const std::vector<User> users = {
      {"1001", "Ana Operator", "operator", {"CUT", "PRESS"}},
      {"1002", "Ben Operator", "operator", {"PACK"}},
      {"2001", "Sam Supervisor", "supervisor", {"CUT", "PRESS", "PACK"}},
      {"3001", "Quinn Quality", "quality", {}}};
  std::vector<std::string> pin_hashes;
  for (std::size_t i = 0; i < users.size(); ++i) {
    MILLRACE_ASSIGN_OR_RETURN(auto h, HashPin(kDemoPin));
    pin_hashes.push_back(std::move(h));
  }

  // ---- master data, as central would send it ----
  MILLRACE_RETURN_IF_ERROR(store.ApplyDownstream([&](WriteTxn& txn) -> Status {
    auto put = [&](Row& row, bool site_scoped) -> Status {
      row.Set("site_id", site_scoped ? Value(site) : Value(std::monostate{}));
      row.Set("hlc", CentralHlc()).Set("origin", "central");
      return txn.Upsert(row);
    };
    auto equipment = [&](const std::string& code, const char* level, const std::string& parent,
                         const char* name, std::optional<double> cycle) -> Status {
      Row r(T("equipment"));
      r.Set("id", id("equipment", code))
          .Set("level", level)
          .Set("code", code)
          .Set("name", name)
          .Set("active", std::int64_t{1});
      if (!parent.empty()) r.Set("parent_id", id("equipment", parent));
      if (cycle) r.Set("ideal_cycle_time_s", *cycle).Set("equipment_class", "machine");
      return put(r, true);
    };
    MILLRACE_RETURN_IF_ERROR(equipment("ACME", "enterprise", "", "Acme Components", {}));
    MILLRACE_RETURN_IF_ERROR(equipment(site, "site", "ACME", "Plant", {}));
    MILLRACE_RETURN_IF_ERROR(equipment("ASSEMBLY", "area", site, "Assembly hall", {}));
    MILLRACE_RETURN_IF_ERROR(
        equipment("LINE-1", "work_center", "ASSEMBLY", "Line 1 (brackets)", {}));
    MILLRACE_RETURN_IF_ERROR(
        equipment("LINE-2", "work_center", "ASSEMBLY", "Line 2 (housings)", {}));
    for (const char* line : {"1", "2"}) {
      std::string wc = std::string("LINE-") + line;
      MILLRACE_RETURN_IF_ERROR(
          equipment("L" + std::string(line) + "-CUT", "work_unit", wc, "Laser cutter", 12.0));
      MILLRACE_RETURN_IF_ERROR(
          equipment("L" + std::string(line) + "-PRESS", "work_unit", wc, "Press brake", 20.0));
      MILLRACE_RETURN_IF_ERROR(
          equipment("L" + std::string(line) + "-PACK", "work_unit", wc, "Packing station", 6.0));
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
      r.Set("id", id("material", m.code))
          .Set("code", m.code)
          .Set("name", m.name)
          .Set("revision", "A")
          .Set("unit", m.unit)
          .Set("tracking", m.tracking)
          .Set("active", std::int64_t{1});
      MILLRACE_RETURN_IF_ERROR(put(r, false));
    }

    {
      Row plan(T("inspection_plan"));
      plan.Set("id", id("inspection_plan", "BRKT-FAI"))
          .Set("code", "BRKT-FAI")
          .Set("name", "Bracket in-process check")
          .Set("material_id", id("material", "BRKT-100"))
          .Set("revision", "A");
      MILLRACE_RETURN_IF_ERROR(put(plan, false));
      Row hole(T("inspection_characteristic"));
      hole.Set("id", id("characteristic", "BRKT-HOLE"))
          .Set("plan_id", id("inspection_plan", "BRKT-FAI"))
          .Set("seq", std::int64_t{10})
          .Set("name", "Hole diameter")
          .Set("kind", "measured")
          .Set("unit", "mm")
          .Set("nominal", 8.0)
          .Set("lsl", 7.9)
          .Set("usl", 8.1);
      MILLRACE_RETURN_IF_ERROR(put(hole, false));
      Row visual(T("inspection_characteristic"));
      visual.Set("id", id("characteristic", "BRKT-VISUAL"))
          .Set("plan_id", id("inspection_plan", "BRKT-FAI"))
          .Set("seq", std::int64_t{20})
          .Set("name", "Surface free of burrs")
          .Set("kind", "pass_fail");
      MILLRACE_RETURN_IF_ERROR(put(visual, false));
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
      routing.Set("id", id("routing", p.code))
          .Set("material_id", id("material", p.code))
          .Set("revision", "A")
          .Set("active", std::int64_t{1});
      MILLRACE_RETURN_IF_ERROR(put(routing, false));
      for (const Step& s : p.steps) {
        Row op(T("routing_operation"));
        op.Set("id", id("routing_operation", std::string(p.code) + "/" + std::to_string(s.seq)))
            .Set("routing_id", id("routing", p.code))
            .Set("seq", std::int64_t{s.seq})
            .Set("op_code", s.op)
            .Set("name", s.name)
            .Set("work_center_id", id("equipment", p.line))
            .Set("setup_time_s", 300.0)
            .Set("ideal_cycle_time_s", s.cycle)
            .Set("allow_overlap", std::int64_t{0})
            .Set("required_qualification", s.qualification);
        if (s.inspected) op.Set("inspection_plan_id", id("inspection_plan", "BRKT-FAI"));
        MILLRACE_RETURN_IF_ERROR(put(op, false));
      }
      Row bom(T("bom"));
      bom.Set("id", id("bom", p.code))
          .Set("material_id", id("material", p.code))
          .Set("revision", "A")
          .Set("base_quantity", 1.0)
          .Set("active", std::int64_t{1});
      MILLRACE_RETURN_IF_ERROR(put(bom, false));
      int line_no = 0;
      for (const auto& [component, qty, unit, op_seq] : p.bom) {
        Row l(T("bom_line"));
        l.Set("id", id("bom_line", std::string(p.code) + "/" + component))
            .Set("bom_id", id("bom", p.code))
            .Set("line_no", std::int64_t{++line_no * 10})
            .Set("component_id", id("material", component))
            .Set("quantity_per", qty)
            .Set("unit", unit)
            .Set("scrap_factor", 0.02)
            .Set("operation_seq", std::int64_t{op_seq});
        MILLRACE_RETURN_IF_ERROR(put(l, false));
      }
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
             Reason{"DT-MECH", nullptr, "Mechanical", "downtime", "availability", "breakdown",
                    false, true},
             Reason{"DT-MECH-HYD", "DT-MECH", "Hydraulic failure", "downtime", "availability",
                    "breakdown", false, true},
             Reason{"DT-MECH-JAM", "DT-MECH", "Part jammed", "downtime", "availability",
                    "minor_stop", false, false},
             Reason{"DT-SETUP", nullptr, "Changeover", "downtime", "availability",
                    "setup_adjustment", false, false},
             Reason{"DT-MAT", nullptr, "Waiting for material", "downtime", "availability",
                    "minor_stop", false, false},
             Reason{"DT-BREAK", nullptr, "Planned break", "downtime", nullptr, "planned", true,
                    false},
             Reason{"DT-PM", nullptr, "Preventive maintenance", "downtime", nullptr, "planned",
                    true, false},
             Reason{"SC-DIM", nullptr, "Out of tolerance", "scrap", "quality", "process_defect",
                    false, false},
             Reason{"SC-SURF", nullptr, "Surface damage", "scrap", "quality", "process_defect",
                    false, false},
             Reason{"SC-START", nullptr, "Start-up reject", "scrap", "quality", "startup_reject",
                    false, false},
             Reason{"RW-BURR", nullptr, "Deburr", "rework", "quality", "process_defect", false,
                    false},
             Reason{"NC-DIM", nullptr, "Dimension out of spec", "defect", "quality", nullptr, false,
                    false},
         }) {
      Row row(T("reason_code"));
      row.Set("id", id("reason", r.code))
          .Set("code", r.code)
          .Set("name", r.name)
          .Set("category", r.category)
          .Set("planned", std::int64_t{r.planned})
          .Set("is_failure", std::int64_t{r.failure})
          .Set("active", std::int64_t{1});
      if (r.parent) row.Set("parent_id", id("reason", r.parent));
      if (r.bucket) row.Set("oee_bucket", r.bucket);
      if (r.loss) row.Set("loss_class", r.loss);
      MILLRACE_RETURN_IF_ERROR(put(row, false));
    }

    for (const auto& [code, name, kind] : {std::tuple{"WH", "Main warehouse", "warehouse"},
                                           std::tuple{"LS-1", "Line 1 line side", "line_side"},
                                           std::tuple{"LS-2", "Line 2 line side", "line_side"},
                                           std::tuple{"QA", "Quarantine cage", "quarantine"}}) {
      Row row(T("location"));
      row.Set("id", id("location", code)).Set("code", code).Set("name", name).Set("kind", kind);
      MILLRACE_RETURN_IF_ERROR(put(row, true));
    }

    for (const auto& [code, name, start, end] :
         {std::tuple{"EARLY", "Early shift", 360, 840}, std::tuple{"LATE", "Late shift", 840, 1320},
          std::tuple{"NIGHT", "Night shift", 1320, 360}}) {
      Row row(T("shift_pattern"));
      row.Set("id", id("shift_pattern", code))
          .Set("code", code)
          .Set("name", name)
          .Set("start_minute", std::int64_t{start})
          .Set("end_minute", std::int64_t{end})
          .Set("weekdays", std::int64_t{127})
          .Set("planned_breaks",
               R"([{"start_minute":30,"minutes":15},{"start_minute":240,"minutes":30}])");
      MILLRACE_RETURN_IF_ERROR(put(row, true));
    }

    for (std::size_t i = 0; i < users.size(); ++i) {
      const User& u = users[i];
      Row row(T("users"));
      row.Set("id", id("user", u.badge))
          .Set("badge_id", u.badge)
          .Set("name", u.name)
          .Set("pin_hash", pin_hashes[i])
          .Set("role", u.role)
          .Set("sites", nlohmann::json::array({site}).dump())
          .Set("qualifications", nlohmann::json(u.qualifications).dump())
          .Set("active", std::int64_t{1});
      MILLRACE_RETURN_IF_ERROR(put(row, false));
    }
    return Status::Ok();
  }));

  // ---- site state: stock and work orders, captured like any site write ----
  return store.Write([&](WriteTxn& txn) -> Status {
    const std::int64_t now = txn.NowMillis();
    for (const auto& [lot_no, material, qty, unit] :
         {std::tuple{"S-0001", "STEEL-S235", 500.0, "kg"},
          std::tuple{"S-0002", "STEEL-S235", 250.0, "kg"},
          std::tuple{"B-0001", "BOLT-M8", 5000.0, "pcs"},
          std::tuple{"P-0001", "PAINT-RAL7035", 40.0, "kg"}}) {
      Row lot(T("material_lot"));
      lot.Set("id", id("lot", lot_no))
          .Set("lot_no", lot_no)
          .Set("material_id", id("material", material))
          .Set("quantity", qty)
          .Set("unit", unit)
          .Set("status", "available")
          .Set("location_id", id("location", "WH"))
          .Set("expires_at", now + 365 * kDay);
      MILLRACE_RETURN_IF_ERROR(txn.Upsert(lot));
      Row receipt(T("inventory_movement"));
      receipt.Set("id", Uuid::NewV7(store.clock()).ToString())
          .Set("kind", "receipt")
          .Set("material_id", id("material", material))
          .Set("lot_id", id("lot", lot_no))
          .Set("quantity", qty)
          .Set("unit", unit)
          .Set("to_location_id", id("location", "WH"))
          .Set("at", now);
      MILLRACE_RETURN_IF_ERROR(txn.Insert(receipt));
    }
    for (const auto& [number, product, qty, status, line] :
         {std::tuple{"WO-1001", "BRKT-100", 50.0, "Draft", "LINE-1"},
          std::tuple{"WO-1002", "HOUSING-200", 20.0, "Draft", "LINE-2"}}) {
      Row wo(T("work_order"));
      wo.Set("id", id("work_order", number))
          .Set("number", number)
          .Set("material_id", id("material", product))
          .Set("bom_id", id("bom", product))
          .Set("routing_id", id("routing", product))
          .Set("planned_quantity", qty)
          .Set("planned_start", now)
          .Set("planned_end", now + kDay / 3)
          .Set("due_at", now + kDay)
          .Set("priority", std::int64_t{2})
          .Set("line_id", id("equipment", line))
          .Set("status", status)
          .Set("good_quantity", 0.0)
          .Set("scrap_quantity", 0.0);
      MILLRACE_RETURN_IF_ERROR(txn.Upsert(wo));
    }
    return Status::Ok();
  });
}

}  // namespace millrace::edge
