// Work orders: a supervisor's create, release (the routing snapshotted into operations), hold,
// resume, cancel, close, short-close and delete (a Draft), each with its audit record.
#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "millrace/edge/audit.h"
#include "millrace/edge/services.h"
#include "service_rules.h"

namespace millrace::edge {

using namespace rules;  // NOLINT: the workflows' shared vocabulary

Pending<Row> MesService::CreateWorkOrder(const Actor& actor, const std::string& number,
                                         const std::string& material_id, double quantity,
                                         std::optional<std::int64_t> due_at) {
  MILLRACE_RETURN_IF_ERROR(RequireRole(actor, {"supervisor"}, "creating a work order"));
  if (number.empty())
    return Rule(StatusCode::kInvalidArgument, "number_required", "a work order needs a number");
  MILLRACE_RETURN_IF_ERROR(RequireQuantity(quantity, "planned quantity", false));
  return Plan<Row>([=, this](WriteTxn& txn) -> Result<Row> {
    Row wo = NewRow("work_order", store_->clock());
    MILLRACE_ASSIGN_OR_RETURN(auto taken, txn.Count(T("work_order"), "number = ?", {number}));
    if (taken > 0)
      return Rule(StatusCode::kAlreadyExists, "number_taken",
                  "work order " + number + " already exists");
    MILLRACE_ASSIGN_OR_RETURN(Row product,
                              Load(txn, "material_definition", material_id, "material"));
    MILLRACE_ASSIGN_OR_RETURN(
        auto routings, txn.Select(T("routing"), "material_id = ? AND active = 1", {product.id()},
                                  "revision DESC", 1));
    if (routings.empty())
      return Rule(StatusCode::kFailedPrecondition, "no_routing",
                  product.Text("code") + " has no active routing");
    MILLRACE_ASSIGN_OR_RETURN(auto boms, txn.Select(T("bom"), "material_id = ? AND active = 1",
                                                    {product.id()}, "revision DESC", 1));
    wo.Set("number", number)
        .Set("material_id", product.id())
        .Set("routing_id", routings.front().id())
        .Set("planned_quantity", quantity)
        .Set("priority", std::int64_t{2})
        .Set("status", "Draft")
        .Set("good_quantity", 0.0)
        .Set("scrap_quantity", 0.0);
    if (!boms.empty()) wo.Set("bom_id", boms.front().id());
    if (due_at) wo.Set("due_at", *due_at);
    MILLRACE_RETURN_IF_ERROR(txn.Insert(wo));
    return wo;
  });
}

Pending<Row> MesService::ReleaseWorkOrder(const Actor& actor, const std::string& work_order_id,
                                          const std::string& reason) {
  MILLRACE_RETURN_IF_ERROR(RequireRole(actor, {"supervisor"}, "releasing a work order"));
  return Plan<Row>([=, this](WriteTxn& txn) -> Result<Row> {
    MILLRACE_ASSIGN_OR_RETURN(Row wo, Load(txn, "work_order", work_order_id, "work_order"));
    const Row before = wo;
    MILLRACE_RETURN_IF_ERROR(
        Transition(wo, catalog::WorkOrderStates(), "Released", "work_order_not_draft"));
    std::string routing_id = wo.Text("routing_id");
    if (routing_id.empty())
      return Rule(StatusCode::kFailedPrecondition, "no_routing", "work order has no routing");
    MILLRACE_ASSIGN_OR_RETURN(
        auto steps, txn.Select(T("routing_operation"), "routing_id = ?", {routing_id}, "seq"));
    if (steps.empty())
      return Rule(StatusCode::kFailedPrecondition, "empty_routing",
                  "the routing has no operations");
    // The routing is snapshotted at release: later routing edits do not change this order.
    nlohmann::json snapshot = nlohmann::json::array();
    bool first = true;
    for (const Row& step : steps) {
      snapshot.push_back({{"seq", step.Int("seq")},
                          {"op_code", step.Text("op_code")},
                          {"name", step.Text("name")},
                          {"ideal_cycle_time_s", step.Real("ideal_cycle_time_s")}});
      Row op = NewRow("work_order_operation", store_->clock());
      op.Set("work_order_id", wo.id())
          .Set("seq", step.Int("seq"))
          .Set("routing_operation_id", step.id())
          .Set("op_code", step.Text("op_code"))
          .Set("status", first ? "Ready" : "Pending")
          .Set("planned_quantity", wo.Real("planned_quantity"))
          .Set("good_quantity", 0.0)
          .Set("scrap_quantity", 0.0)
          .Set("rework_quantity", 0.0)
          .Set("ideal_cycle_time_s", step.Real("ideal_cycle_time_s"));
      // The work unit of the step's line whose code ends in the op code (L1-CUT for CUT).
      if (!step.IsNull("work_center_id")) {
        MILLRACE_ASSIGN_OR_RETURN(
            auto units,
            txn.Select(T("equipment"), "parent_id = ? AND level = 'work_unit' AND code LIKE ?",
                       {step.Text("work_center_id"), "%-" + step.Text("op_code")}, "code", 1));
        if (!units.empty()) op.Set("work_unit_id", units.front().id());
      }
      MILLRACE_RETURN_IF_ERROR(txn.Insert(op));
      first = false;
    }
    wo.Set("routing_snapshot", snapshot.dump());
    MILLRACE_RETURN_IF_ERROR(txn.Upsert(wo));
    MILLRACE_RETURN_IF_ERROR(
        RecordAudit(txn, store_->clock(), actor, "work_order.release", &before, wo, reason));
    return wo;
  });
}

// A supervisor moving a work order along one arrow, with nothing else to do.
Pending<Row> MesService::MoveWorkOrder(const Actor& actor, const std::string& work_order_id,
                                       const std::string& to, const std::string& rule,
                                       const std::string& action, const std::string& audit_action,
                                       const std::string& reason) {
  MILLRACE_RETURN_IF_ERROR(RequireRole(actor, {"supervisor"}, action));
  return Plan<Row>([=, this](WriteTxn& txn) -> Result<Row> {
    MILLRACE_ASSIGN_OR_RETURN(Row wo, Load(txn, "work_order", work_order_id, "work_order"));
    const Row before = wo;
    MILLRACE_RETURN_IF_ERROR(Transition(wo, catalog::WorkOrderStates(), to, rule));
    MILLRACE_RETURN_IF_ERROR(txn.Upsert(wo));
    MILLRACE_RETURN_IF_ERROR(
        RecordAudit(txn, store_->clock(), actor, audit_action, &before, wo, reason));
    return wo;
  });
}

// A hold stops the order's production: its running operations are paused (a PAUSE event
// each, so their run time stops when the hold starts, as OEE needs), and counts, output,
// consumption and completion are refused while it lasts (work_order_on_hold). Resuming the
// order does not restart them: each is resumed on its work unit.
Pending<Row> MesService::HoldWorkOrder(const Actor& actor, const std::string& work_order_id,
                                       const std::string& reason) {
  MILLRACE_RETURN_IF_ERROR(RequireRole(actor, {"supervisor"}, "holding a work order"));
  MILLRACE_RETURN_IF_ERROR(RequireReason(reason, "holding a work order"));
  return Plan<Row>([=, this](WriteTxn& txn) -> Result<Row> {
    MILLRACE_ASSIGN_OR_RETURN(Row wo, Load(txn, "work_order", work_order_id, "work_order"));
    const Row before = wo;
    MILLRACE_RETURN_IF_ERROR(
        Transition(wo, catalog::WorkOrderStates(), "OnHold", "work_order_not_in_progress"));
    MILLRACE_ASSIGN_OR_RETURN(auto running,
                              txn.Select(T("work_order_operation"),
                                         "work_order_id = ? AND status = 'Running'", {wo.id()}));
    for (Row& op : running) {
      MILLRACE_RETURN_IF_ERROR(
          Transition(op, catalog::OperationStates(), "Paused", "operation_not_running"));
      MILLRACE_RETURN_IF_ERROR(txn.Upsert(op));
      MILLRACE_RETURN_IF_ERROR(
          AppendEvent(txn, store_->clock(), zone_, actor, OpContext(op, wo), "PAUSE"));
    }
    MILLRACE_RETURN_IF_ERROR(txn.Upsert(wo));
    MILLRACE_RETURN_IF_ERROR(
        RecordAudit(txn, store_->clock(), actor, "work_order.hold", &before, wo, reason));
    return wo;
  });
}

Pending<Row> MesService::ResumeWorkOrder(const Actor& actor, const std::string& work_order_id,
                                         const std::string& reason) {
  return MoveWorkOrder(actor, work_order_id, "InProgress", "work_order_not_on_hold",
                       "resuming a work order", "work_order.resume", reason);
}

Pending<Row> MesService::CancelWorkOrder(const Actor& actor, const std::string& work_order_id,
                                         const std::string& reason) {
  MILLRACE_RETURN_IF_ERROR(RequireRole(actor, {"supervisor"}, "cancelling a work order"));
  MILLRACE_RETURN_IF_ERROR(RequireReason(reason, "cancelling a work order"));
  return Plan<Row>([=, this](WriteTxn& txn) -> Result<Row> {
    MILLRACE_ASSIGN_OR_RETURN(Row wo, Load(txn, "work_order", work_order_id, "work_order"));
    const Row before = wo;
    MILLRACE_RETURN_IF_ERROR(
        Transition(wo, catalog::WorkOrderStates(), "Cancelled", "work_order_not_cancellable"));
    MILLRACE_ASSIGN_OR_RETURN(
        auto ops, txn.Select(T("work_order_operation"), "work_order_id = ?", {wo.id()}, "seq"));
    for (Row& op : ops) {
      if (catalog::OperationStates().CanTransition(op.Text("status"), "Cancelled")) {
        op.Set("status", "Cancelled");
        MILLRACE_RETURN_IF_ERROR(txn.Upsert(op));
      }
    }
    MILLRACE_RETURN_IF_ERROR(txn.Upsert(wo));
    MILLRACE_RETURN_IF_ERROR(
        RecordAudit(txn, store_->clock(), actor, "work_order.cancel", &before, wo, reason));
    return wo;
  });
}

Pending<Row> MesService::CloseWorkOrder(const Actor& actor, const std::string& work_order_id,
                                        const std::string& reason) {
  return MoveWorkOrder(actor, work_order_id, "Closed", "work_order_not_completed",
                       "closing a work order", "work_order.close", reason);
}

Pending<Row> MesService::ShortCloseWorkOrder(const Actor& actor, const std::string& work_order_id,
                                             const std::string& reason) {
  MILLRACE_RETURN_IF_ERROR(RequireRole(actor, {"supervisor"}, "short-closing a work order"));
  MILLRACE_RETURN_IF_ERROR(RequireReason(reason, "short-closing a work order"));
  return Plan<Row>([=, this](WriteTxn& txn) -> Result<Row> {
    MILLRACE_ASSIGN_OR_RETURN(Row wo, Load(txn, "work_order", work_order_id, "work_order"));
    const Row before = wo;
    if (wo.Text("status") == "OnHold") {
      MILLRACE_RETURN_IF_ERROR(
          Transition(wo, catalog::WorkOrderStates(), "InProgress", "work_order_not_started"));
    }
    MILLRACE_RETURN_IF_ERROR(
        Transition(wo, catalog::WorkOrderStates(), "Completed", "work_order_not_started"));
    MILLRACE_RETURN_IF_ERROR(
        Transition(wo, catalog::WorkOrderStates(), "Closed", "work_order_not_started"));
    MILLRACE_ASSIGN_OR_RETURN(
        auto ops, txn.Select(T("work_order_operation"), "work_order_id = ?", {wo.id()}, "seq"));
    for (Row& op : ops) {
      if (op.Text("status") == "Running") {
        return Rule(StatusCode::kFailedPrecondition, "operation_running",
                    "operation " + std::to_string(op.Int("seq")) +
                        " is running; pause or complete it first");
      }
      if (catalog::OperationStates().CanTransition(op.Text("status"), "Cancelled")) {
        op.Set("status", "Cancelled");
        MILLRACE_RETURN_IF_ERROR(txn.Upsert(op));
      }
    }
    wo.Set("actual_end", txn.NowMillis());
    MILLRACE_RETURN_IF_ERROR(txn.Upsert(wo));
    MILLRACE_RETURN_IF_ERROR(
        RecordAudit(txn, store_->clock(), actor, "work_order.short_close", &before, wo, reason));
    return wo;
  });
}

Pending<Row> MesService::DeleteWorkOrder(const Actor& actor, const std::string& work_order_id,
                                         const std::string& reason) {
  MILLRACE_RETURN_IF_ERROR(RequireRole(actor, {"supervisor"}, "deleting a work order"));
  MILLRACE_RETURN_IF_ERROR(RequireReason(reason, "deleting a work order"));
  return Plan<Row>([=, this](WriteTxn& txn) -> Result<Row> {
    MILLRACE_ASSIGN_OR_RETURN(Row wo, Load(txn, "work_order", work_order_id, "work_order"));
    if (wo.Text("status") != "Draft")
      return Rule(StatusCode::kFailedPrecondition, "work_order_not_draft",
                  "work order " + wo.Text("number") + " is " + wo.Text("status") +
                      ": only a Draft order can be deleted; cancel it instead");
    Row deleted(wo.table());
    MILLRACE_RETURN_IF_ERROR(txn.Delete(wo.table(), wo.id(), &deleted));
    MILLRACE_RETURN_IF_ERROR(
        RecordDeleteAudit(txn, store_->clock(), actor, "work_order.delete", wo, reason));
    return deleted;
  });
}

}  // namespace millrace::edge
