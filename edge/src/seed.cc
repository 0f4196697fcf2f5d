#include "millrace/edge/seed.h"

#include "millrace/common/demo_factory.h"
#include "millrace/common/pin_hash.h"
#include "millrace/common/uuid.h"

namespace millrace::edge {
namespace {

const catalog::TableSpec& T(const char* name) {
  return *catalog::MesCatalog().Find(name);
}

constexpr std::int64_t kDay = 86400000;

// The id of the row of `table` with `column` = value, preferring this site's own row over
// a tenant-wide one. NotFound names what is missing.
Result<std::string> Lookup(ReadTxn& txn, const char* table, const char* column,
                           const std::string& value, const std::string& site) {
  MILLRACE_ASSIGN_OR_RETURN(
      auto rows, txn.Select(T(table), std::string(column) + " = ? AND (site_id = ? OR site_id IS NULL)",
                            {value, site}, "site_id IS NULL", 1));
  if (rows.empty())
    return Status::NotFound(std::string(table) + " " + value +
                            " is missing from the master data: seed central first "
                            "(mes-central seed-demo)");
  return rows.front().id();
}

}  // namespace

std::string SeedId(const std::string& site, const std::string& kind, const std::string& code) {
  return demo::DemoId(site, kind, code);
}

Status SeedDemoSite(EdgeStore& store, bool master_data) {
  const std::string site = store.site_id();
  bool has_master = false, has_state = false;
  MILLRACE_RETURN_IF_ERROR(store.Read([&](ReadTxn& txn) -> Status {
    MILLRACE_ASSIGN_OR_RETURN(auto n, txn.Count(T("equipment"), "site_id = ?", {site}));
    MILLRACE_ASSIGN_OR_RETURN(auto lots, txn.Count(T("material_lot"), "site_id = ?", {site}));
    has_master = n > 0;
    has_state = lots > 0;
    return Status::Ok();
  }));
  if (has_state || (master_data && has_master))
    return Status::AlreadyExists("site " + site + " already has data; not seeding again");

  if (master_data) {
    // PIN hashing is deliberately slow: do it before entering the write transaction.
    MILLRACE_ASSIGN_OR_RETURN(std::string pin_hash, HashPin(demo::kPin));
    const std::vector<Row> rows = demo::MasterData(site, {site}, pin_hash);
    MILLRACE_RETURN_IF_ERROR(store.ApplyDownstream([&](WriteTxn& txn) -> Status {
      for (Row row : rows) MILLRACE_RETURN_IF_ERROR(txn.Upsert(row));
      return Status::Ok();
    }));
  } else if (!has_master) {
    return Status::FailedPrecondition("site " + site +
                                      " has no master data yet: it comes from central "
                                      "(mes-central seed-demo, then sync or a provisioning "
                                      "snapshot)");
  }

  // ---- site state: stock and work orders, captured like any site write ----
  return store.Write([&](WriteTxn& txn) -> Status {
    const std::int64_t now = txn.NowMillis();
    for (const auto& [lot_no, material, qty, unit] :
         {std::tuple{"S-0001", "STEEL-S235", 500.0, "kg"},
          std::tuple{"S-0002", "STEEL-S235", 250.0, "kg"},
          std::tuple{"B-0001", "BOLT-M8", 5000.0, "pcs"},
          std::tuple{"P-0001", "PAINT-RAL7035", 40.0, "kg"}}) {
      Row lot(T("material_lot"));
      MILLRACE_ASSIGN_OR_RETURN(auto material_id,
                                Lookup(txn, "material_definition", "code", material, site));
      MILLRACE_ASSIGN_OR_RETURN(auto warehouse, Lookup(txn, "location", "code", "WH", site));
      lot.Set("id", SeedId(site, "lot", lot_no))
          .Set("lot_no", lot_no)
          .Set("material_id", material_id)
          .Set("quantity", qty)
          .Set("unit", unit)
          .Set("status", "available")
          .Set("location_id", warehouse)
          .Set("expires_at", now + 365 * kDay);
      MILLRACE_RETURN_IF_ERROR(txn.Upsert(lot));
      Row receipt(T("inventory_movement"));
      receipt.Set("id", Uuid::NewV7(store.clock()).ToString())
          .Set("kind", "receipt")
          .Set("material_id", material_id)
          .Set("lot_id", SeedId(site, "lot", lot_no))
          .Set("quantity", qty)
          .Set("unit", unit)
          .Set("to_location_id", warehouse)
          .Set("at", now);
      MILLRACE_RETURN_IF_ERROR(txn.Insert(receipt));
    }
    for (const auto& [number, product, qty, status, line] :
         {std::tuple{"WO-1001", "BRKT-100", 50.0, "Draft", "LINE-1"},
          std::tuple{"WO-1002", "HOUSING-200", 20.0, "Draft", "LINE-2"}}) {
      MILLRACE_ASSIGN_OR_RETURN(auto material_id,
                                Lookup(txn, "material_definition", "code", product, site));
      MILLRACE_ASSIGN_OR_RETURN(auto bom_id, Lookup(txn, "bom", "material_id", material_id, site));
      MILLRACE_ASSIGN_OR_RETURN(auto routing_id,
                                Lookup(txn, "routing", "material_id", material_id, site));
      MILLRACE_ASSIGN_OR_RETURN(auto line_id, Lookup(txn, "equipment", "code", line, site));
      Row wo(T("work_order"));
      wo.Set("id", SeedId(site, "work_order", number))
          .Set("number", number)
          .Set("material_id", material_id)
          .Set("bom_id", bom_id)
          .Set("routing_id", routing_id)
          .Set("planned_quantity", qty)
          .Set("planned_start", now)
          .Set("planned_end", now + kDay / 3)
          .Set("due_at", now + kDay)
          .Set("priority", std::int64_t{2})
          .Set("line_id", line_id)
          .Set("status", status)
          .Set("good_quantity", 0.0)
          .Set("scrap_quantity", 0.0);
      MILLRACE_RETURN_IF_ERROR(txn.Upsert(wo));
    }
    return Status::Ok();
  });
}

}  // namespace millrace::edge
