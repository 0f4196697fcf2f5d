// Quality and material: measurements (a non-conformance when out of spec), consuming lots
// and producing output with genealogy, dispositions and lot status.
#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "millrace/edge/audit.h"
#include "millrace/edge/services.h"
#include "service_rules.h"

namespace millrace::edge {

using namespace rules;  // NOLINT: the workflows' shared vocabulary

Pending<MeasurementResult> MesService::RecordMeasurement(const Actor& actor,
                                                         const MeasurementInput& in) {
  return Plan<MeasurementResult>([=, this](WriteTxn& txn) -> Result<MeasurementResult> {
    MILLRACE_ASSIGN_OR_RETURN(
        Row ch, Load(txn, "inspection_characteristic", in.characteristic_id, "characteristic"));
    Row m = NewRow("measurement", store_->clock());
    bool in_spec;
    if (ch.Text("kind") == "measured") {
      if (!in.value || !std::isfinite(*in.value)) {
        return Rule(StatusCode::kInvalidArgument, "value_required",
                    ch.Text("name") + " is measured: send a numeric value");
      }
      in_spec = (ch.IsNull("lsl") || *in.value >= ch.Real("lsl")) &&
                (ch.IsNull("usl") || *in.value <= ch.Real("usl"));
      m.Set("value", *in.value);
    } else {
      if (!in.passed)
        return Rule(StatusCode::kInvalidArgument, "result_required",
                    ch.Text("name") + " is pass/fail: send passed");
      in_spec = *in.passed;
      m.Set("passed", std::int64_t{*in.passed});
    }
    std::optional<Row> lot;
    if (!in.lot_id.empty()) {
      MILLRACE_ASSIGN_OR_RETURN(Row l, Load(txn, "material_lot", in.lot_id, "lot"));
      lot = std::move(l);
      m.Set("lot_id", lot->id());
    }
    if (!in.operation_id.empty()) {
      MILLRACE_ASSIGN_OR_RETURN(Row op,
                                Load(txn, "work_order_operation", in.operation_id, "operation"));
      m.Set("operation_id", op.id());
    }
    const std::int64_t now = txn.NowMillis();
    m.Set("characteristic_id", ch.id()).Set("in_spec", std::int64_t{in_spec}).Set("at", now);
    if (!actor.user_id.empty()) m.Set("operator_id", actor.user_id);
    MILLRACE_RETURN_IF_ERROR(txn.Insert(m));
    MeasurementResult result{m, std::nullopt};
    if (!in_spec) {
      Row nc = NewRow("non_conformance", store_->clock());
      nc.Set("source", "measurement")
          .Set("quantity", 1.0)
          .Set("defect_code", ch.Text("name"))
          .Set("description", ch.Text("name") + (in.value ? " measured " + std::to_string(*in.value)
                                                          : std::string(" failed")))
          .Set("status", "open")
          .Set("opened_at", now);
      if (lot) nc.Set("lot_id", lot->id());
      if (!in.operation_id.empty()) nc.Set("operation_id", in.operation_id);
      MILLRACE_RETURN_IF_ERROR(txn.Insert(nc));
      if (lot && in.hold_lot_when_out_of_spec && lot->Text("status") == "available") {
        MILLRACE_RETURN_IF_ERROR(
            Transition(*lot, catalog::LotStates(), "hold", "lot_not_available"));
        MILLRACE_RETURN_IF_ERROR(txn.Upsert(*lot));
      }
      result.non_conformance = std::move(nc);
    }
    return result;
  });
}

// ---- material

Pending<Row> MesService::ConsumeLot(const Actor& actor, const std::string& operation_id,
                                    const std::string& lot_id, double quantity) {
  MILLRACE_RETURN_IF_ERROR(RequireQuantity(quantity, "consumed quantity", false));
  return Plan<Row>([=, this](WriteTxn& txn) -> Result<Row> {
    MILLRACE_ASSIGN_OR_RETURN(OpContext c, LoadOp(txn, operation_id));
    MILLRACE_RETURN_IF_ERROR(RequireWorkOrderActive(c.wo));
    MILLRACE_RETURN_IF_ERROR(RequireRunning(c.op, "material is consumed by"));
    MILLRACE_ASSIGN_OR_RETURN(Row lot, Load(txn, "material_lot", lot_id, "lot"));
    if (lot.Text("status") != "available") {
      return Rule(StatusCode::kFailedPrecondition, "lot_not_available",
                  "lot " + lot.Text("lot_no") + " is " + lot.Text("status"));
    }
    if (c.wo.IsNull("bom_id"))
      return Rule(StatusCode::kFailedPrecondition, "material_not_on_bom",
                  "the work order has no BOM");
    MILLRACE_ASSIGN_OR_RETURN(
        auto lines,
        txn.Count(
            T("bom_line"),
            "bom_id = ? AND component_id = ? AND (operation_seq IS NULL OR operation_seq = ?)",
            {c.wo.Text("bom_id"), lot.Text("material_id"), c.op.Int("seq")}));
    if (lines == 0) {
      return Rule(StatusCode::kFailedPrecondition, "material_not_on_bom",
                  "lot " + lot.Text("lot_no") + " is not a component of operation " +
                      std::to_string(c.op.Int("seq")));
    }
    if (quantity > lot.Real("quantity") + 1e-9) {
      return Rule(StatusCode::kFailedPrecondition, "insufficient_quantity",
                  "lot " + lot.Text("lot_no") + " holds " + std::to_string(lot.Real("quantity")) +
                      " " + lot.Text("unit"));
    }
    double left = std::max(0.0, lot.Real("quantity") - quantity);
    lot.Set("quantity", left);
    if (left <= 1e-9)
      MILLRACE_RETURN_IF_ERROR(
          Transition(lot, catalog::LotStates(), "consumed", "lot_not_available"));
    MILLRACE_RETURN_IF_ERROR(txn.Upsert(lot));
    const std::int64_t now = txn.NowMillis();
    Row issue = NewRow("inventory_movement", store_->clock());
    issue.Set("kind", "issue")
        .Set("material_id", lot.Text("material_id"))
        .Set("lot_id", lot.id())
        .Set("quantity", quantity)
        .Set("unit", lot.Text("unit"))
        .Set("operation_id", c.op.id())
        .Set("at", now);
    if (!lot.IsNull("location_id")) issue.Set("from_location_id", lot.Text("location_id"));
    if (!actor.user_id.empty()) issue.Set("operator_id", actor.user_id);
    MILLRACE_RETURN_IF_ERROR(txn.Insert(issue));
    MILLRACE_ASSIGN_OR_RETURN(Row output, OutputLot(txn, store_->clock(), c));
    Row link = NewRow("genealogy_link", store_->clock());
    link.Set("parent_kind", "lot")
        .Set("parent_id", lot.id())
        .Set("child_kind", "lot")
        .Set("child_id", output.id())
        .Set("quantity", quantity)
        .Set("operation_id", c.op.id())
        .Set("at", now);
    MILLRACE_RETURN_IF_ERROR(txn.Insert(link));
    return link;
  });
}

Pending<Row> MesService::ProduceOutput(const Actor& actor, const std::string& operation_id,
                                       double quantity) {
  MILLRACE_RETURN_IF_ERROR(RequireQuantity(quantity, "produced quantity", false));
  return Plan<Row>([=, this](WriteTxn& txn) -> Result<Row> {
    MILLRACE_ASSIGN_OR_RETURN(OpContext c, LoadOp(txn, operation_id));
    MILLRACE_RETURN_IF_ERROR(RequireWorkOrderActive(c.wo));
    MILLRACE_RETURN_IF_ERROR(RequireRunning(c.op, "output is produced by"));
    MILLRACE_ASSIGN_OR_RETURN(Row lot, OutputLot(txn, store_->clock(), c));
    lot.Set("quantity", lot.Real("quantity") + quantity);
    MILLRACE_RETURN_IF_ERROR(txn.Upsert(lot));
    Row produce = NewRow("inventory_movement", store_->clock());
    produce.Set("kind", "produce")
        .Set("material_id", lot.Text("material_id"))
        .Set("lot_id", lot.id())
        .Set("quantity", quantity)
        .Set("unit", lot.Text("unit"))
        .Set("operation_id", c.op.id())
        .Set("at", txn.NowMillis());
    if (!actor.user_id.empty()) produce.Set("operator_id", actor.user_id);
    MILLRACE_RETURN_IF_ERROR(txn.Insert(produce));
    return lot;
  });
}

// ---- quality

Pending<Row> MesService::DisposeNonConformance(const Actor& actor, const std::string& nc_id,
                                               const std::string& disposition, bool close,
                                               const std::string& reason) {
  MILLRACE_RETURN_IF_ERROR(
      RequireRole(actor, {"quality", "supervisor"}, "disposing a non-conformance"));
  const auto& allowed = T("non_conformance").Find("disposition")->values;
  if (std::find(allowed.begin(), allowed.end(), disposition) == allowed.end()) {
    return Rule(StatusCode::kInvalidArgument, "bad_disposition",
                "disposition must be scrap, rework, use_as_is or return");
  }
  return Plan<Row>([=, this](WriteTxn& txn) -> Result<Row> {
    MILLRACE_ASSIGN_OR_RETURN(Row nc, Load(txn, "non_conformance", nc_id, "non_conformance"));
    const Row before = nc;
    nc.Set("disposition", disposition);
    if (close) {
      // open -> closed is an arrow of its own: a disposition decided on the spot.
      MILLRACE_RETURN_IF_ERROR(
          Transition(nc, catalog::NonConformanceStates(), "closed", "non_conformance_closed"));
      nc.Set("closed_at", txn.NowMillis());
      if (!nc.IsNull("lot_id")) {
        MILLRACE_ASSIGN_OR_RETURN(Row lot, Load(txn, "material_lot", nc.Text("lot_id"), "lot"));
        const std::string to = disposition == "scrap" || disposition == "return" ? "scrapped"
                               : disposition == "use_as_is"                      ? "available"
                                                                                 : "";
        if (!to.empty() && lot.Text("status") != to &&
            catalog::LotStates().CanTransition(lot.Text("status"), to)) {
          const Row lot_before = lot;
          lot.Set("status", to);
          MILLRACE_RETURN_IF_ERROR(txn.Upsert(lot));
          MILLRACE_RETURN_IF_ERROR(RecordAudit(txn, store_->clock(), actor,
                                               "material_lot.status_by_disposition", &lot_before,
                                               lot, reason));
        }
      }
    } else if (nc.Text("status") == "open") {
      MILLRACE_RETURN_IF_ERROR(Transition(nc, catalog::NonConformanceStates(), "investigating",
                                          "non_conformance_closed"));
    } else if (nc.Text("status") == "closed") {
      return Rule(StatusCode::kConflict, "non_conformance_closed", "the non-conformance is closed");
    }
    MILLRACE_RETURN_IF_ERROR(txn.Upsert(nc));
    MILLRACE_RETURN_IF_ERROR(
        RecordAudit(txn, store_->clock(), actor, "non_conformance.dispose", &before, nc, reason));
    return nc;
  });
}

Pending<Row> MesService::SetLotStatus(const Actor& actor, const std::string& lot_id,
                                      const std::string& status, const std::string& reason) {
  MILLRACE_RETURN_IF_ERROR(
      RequireRole(actor, {"quality", "supervisor"}, "changing a lot's status"));
  if (!catalog::LotStates().IsState(status) || status == "consumed") {
    return Rule(StatusCode::kInvalidArgument, "bad_lot_status",
                "a lot can be set to available, quarantine, hold or scrapped");
  }
  return Plan<Row>([=, this](WriteTxn& txn) -> Result<Row> {
    MILLRACE_ASSIGN_OR_RETURN(Row lot, Load(txn, "material_lot", lot_id, "lot"));
    const Row before = lot;
    MILLRACE_RETURN_IF_ERROR(
        Transition(lot, catalog::LotStates(), status, "lot_status_not_allowed"));
    MILLRACE_RETURN_IF_ERROR(txn.Upsert(lot));
    MILLRACE_RETURN_IF_ERROR(
        RecordAudit(txn, store_->clock(), actor, "material_lot.status", &before, lot, reason));
    return lot;
  });
}

}  // namespace millrace::edge
