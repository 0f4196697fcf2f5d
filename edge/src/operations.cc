// The shop floor's operations and stops: start, pause, resume, count, complete and correct
// an operation; start, classify and end a downtime.
#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "millrace/edge/audit.h"
#include "millrace/edge/services.h"
#include "service_rules.h"

namespace millrace::edge {

using namespace rules;  // NOLINT: the workflows' shared vocabulary

Pending<Row> MesService::StartOperation(const Actor& actor, const std::string& operation_id) {
  return Plan<Row>([=, this](WriteTxn& txn) -> Result<Row> {
    MILLRACE_ASSIGN_OR_RETURN(OpContext c, LoadOp(txn, operation_id));
    if (c.op.Text("status") == "Pending") {
      return Rule(StatusCode::kFailedPrecondition, "previous_step_incomplete",
                  "operation " + std::to_string(c.op.Int("seq")) +
                      " waits for the previous operation to complete");
    }
    if (c.op.Text("status") != "Ready") {
      return Rule(StatusCode::kConflict, "operation_not_ready",
                  "operation " + std::to_string(c.op.Int("seq")) + " is " + c.op.Text("status") +
                      "; only a Ready operation starts");
    }
    MILLRACE_RETURN_IF_ERROR(RequireWorkOrderActive(c.wo));
    MILLRACE_RETURN_IF_ERROR(
        Transition(c.op, catalog::OperationStates(), "Running", "operation_not_ready"));
    if (!c.op.IsNull("work_unit_id") && c.op.Text("work_unit_id") != actor.work_unit_id) {
      return Rule(StatusCode::kFailedPrecondition, "wrong_work_unit",
                  "this operation runs on another work unit");
    }
    if (!c.op.IsNull("routing_operation_id")) {
      MILLRACE_ASSIGN_OR_RETURN(auto step,
                                txn.Get(T("routing_operation"), c.op.Text("routing_operation_id")));
      std::string needed = step ? step->Text("required_qualification") : "";
      if (!needed.empty() && std::find(actor.qualifications.begin(), actor.qualifications.end(),
                                       needed) == actor.qualifications.end()) {
        return Rule(StatusCode::kFailedPrecondition, "not_qualified",
                    actor.user_name + " is not qualified for " + needed);
      }
    }
    MILLRACE_RETURN_IF_ERROR(RequireNoOpenDowntime(txn, actor.work_unit_id));
    MILLRACE_ASSIGN_OR_RETURN(
        auto busy, txn.Count(T("work_order_operation"), "work_unit_id = ? AND status = 'Running'",
                             {actor.work_unit_id}));
    if (busy > 0)
      return Rule(StatusCode::kFailedPrecondition, "work_unit_busy",
                  "another operation is running on this work unit");
    const std::int64_t now = txn.NowMillis();
    c.op.Set("work_unit_id", actor.work_unit_id);
    if (c.op.IsNull("actual_start")) c.op.Set("actual_start", now);
    if (c.wo.Text("status") == "Released") {
      MILLRACE_RETURN_IF_ERROR(
          Transition(c.wo, catalog::WorkOrderStates(), "InProgress", "work_order_not_active"));
      c.wo.Set("actual_start", now);
      MILLRACE_RETURN_IF_ERROR(c.SaveWorkOrder(txn));
    }
    MILLRACE_RETURN_IF_ERROR(c.SaveOp(txn));
    MILLRACE_RETURN_IF_ERROR(AppendEvent(txn, store_->clock(), zone_, actor, c, "START"));
    return std::move(c.op);
  });
}

Pending<Row> MesService::PauseOperation(const Actor& actor, const std::string& operation_id) {
  return Plan<Row>([=, this](WriteTxn& txn) -> Result<Row> {
    MILLRACE_ASSIGN_OR_RETURN(OpContext c, LoadOp(txn, operation_id));
    MILLRACE_RETURN_IF_ERROR(
        Transition(c.op, catalog::OperationStates(), "Paused", "operation_not_running"));
    MILLRACE_RETURN_IF_ERROR(c.SaveOp(txn));
    MILLRACE_RETURN_IF_ERROR(AppendEvent(txn, store_->clock(), zone_, actor, c, "PAUSE"));
    return std::move(c.op);
  });
}

Pending<Row> MesService::ResumeOperation(const Actor& actor, const std::string& operation_id) {
  return Plan<Row>([=, this](WriteTxn& txn) -> Result<Row> {
    MILLRACE_ASSIGN_OR_RETURN(OpContext c, LoadOp(txn, operation_id));
    if (c.op.Text("status") != "Paused") {
      return Rule(StatusCode::kConflict, "operation_not_paused",
                  "operation " + std::to_string(c.op.Int("seq")) + " is " + c.op.Text("status") +
                      "; only a Paused operation resumes");
    }
    MILLRACE_RETURN_IF_ERROR(RequireWorkOrderActive(c.wo));
    MILLRACE_RETURN_IF_ERROR(RequireNoOpenDowntime(txn, c.op.Text("work_unit_id")));
    MILLRACE_RETURN_IF_ERROR(
        Transition(c.op, catalog::OperationStates(), "Running", "operation_not_paused"));
    MILLRACE_RETURN_IF_ERROR(c.SaveOp(txn));
    MILLRACE_RETURN_IF_ERROR(AppendEvent(txn, store_->clock(), zone_, actor, c, "RESUME"));
    return std::move(c.op);
  });
}

Pending<Row> MesService::ReportCount(const Actor& actor, const std::string& operation_id,
                                     const CountReport& report) {
  MILLRACE_RETURN_IF_ERROR(RequireQuantity(report.good, "good quantity", true));
  MILLRACE_RETURN_IF_ERROR(RequireQuantity(report.scrap, "scrap quantity", true));
  MILLRACE_RETURN_IF_ERROR(RequireQuantity(report.rework, "rework quantity", true));
  if (report.good + report.scrap + report.rework <= 0) {
    return Rule(StatusCode::kInvalidArgument, "empty_count",
                "report at least one good, scrap or rework unit");
  }
  if (report.scrap > 0 && report.scrap_reason_id.empty()) {
    return Rule(StatusCode::kInvalidArgument, "scrap_needs_reason",
                "scrap must be reported with a scrap reason");
  }
  return Plan<Row>([=, this](WriteTxn& txn) -> Result<Row> {
    MILLRACE_ASSIGN_OR_RETURN(OpContext c, LoadOp(txn, operation_id));
    MILLRACE_RETURN_IF_ERROR(RequireWorkOrderActive(c.wo));
    MILLRACE_RETURN_IF_ERROR(RequireRunning(c.op, "counts are reported on"));
    if (!report.scrap_reason_id.empty()) {
      MILLRACE_ASSIGN_OR_RETURN(Row reason,
                                Load(txn, "reason_code", report.scrap_reason_id, "reason"));
      if (reason.Text("category") != "scrap") {
        return Rule(StatusCode::kInvalidArgument, "not_a_scrap_reason",
                    reason.Text("code") + " is a " + reason.Text("category") + " reason");
      }
    }
    c.op.Set("good_quantity", c.op.Real("good_quantity") + report.good)
        .Set("scrap_quantity", c.op.Real("scrap_quantity") + report.scrap)
        .Set("rework_quantity", c.op.Real("rework_quantity") + report.rework);
    MILLRACE_RETURN_IF_ERROR(c.SaveOp(txn));
    // The order's good quantity is what leaves its last operation; scrap counts anywhere.
    MILLRACE_ASSIGN_OR_RETURN(auto later,
                              txn.Count(T("work_order_operation"),
                                        "work_order_id = ? AND seq > ? AND status != 'Cancelled'",
                                        {c.wo.id(), c.op.Int("seq")}));
    if (later == 0) c.wo.Set("good_quantity", c.wo.Real("good_quantity") + report.good);
    c.wo.Set("scrap_quantity", c.wo.Real("scrap_quantity") + report.scrap);
    MILLRACE_RETURN_IF_ERROR(c.SaveWorkOrder(txn));
    MILLRACE_RETURN_IF_ERROR(AppendEvent(txn, store_->clock(), zone_, actor, c, "COUNT", report));
    return std::move(c.op);
  });
}

Pending<Row> MesService::CompleteOperation(const Actor& actor, const std::string& operation_id) {
  return Plan<Row>([=, this](WriteTxn& txn) -> Result<Row> {
    MILLRACE_ASSIGN_OR_RETURN(OpContext c, LoadOp(txn, operation_id));
    MILLRACE_RETURN_IF_ERROR(RequireWorkOrderActive(c.wo));
    MILLRACE_RETURN_IF_ERROR(
        Transition(c.op, catalog::OperationStates(), "Completed", "operation_not_running"));
    const std::int64_t now = txn.NowMillis();
    c.op.Set("actual_end", now);
    MILLRACE_RETURN_IF_ERROR(c.SaveOp(txn));
    MILLRACE_RETURN_IF_ERROR(AppendEvent(txn, store_->clock(), zone_, actor, c, "COMPLETE"));
    MILLRACE_ASSIGN_OR_RETURN(auto next,
                              txn.Select(T("work_order_operation"),
                                         "work_order_id = ? AND seq > ? AND status != 'Cancelled'",
                                         {c.wo.id(), c.op.Int("seq")}, "seq", 1));
    if (!next.empty()) {
      if (next.front().Text("status") == "Pending") {
        MILLRACE_RETURN_IF_ERROR(Transition(next.front(), catalog::OperationStates(), "Ready",
                                            "next_operation_not_pending"));
        MILLRACE_RETURN_IF_ERROR(txn.Upsert(next.front()));
      }
    } else if (c.wo.Text("status") == "InProgress") {
      MILLRACE_RETURN_IF_ERROR(
          Transition(c.wo, catalog::WorkOrderStates(), "Completed", "work_order_not_in_progress"));
      c.wo.Set("actual_end", now);
      MILLRACE_RETURN_IF_ERROR(c.SaveWorkOrder(txn));
    }
    return std::move(c.op);
  });
}

// A supervisor corrects an operation's counts after the fact (a double count, scrap booked
// as good): a COUNT event carrying the signed differences, so the events still add up to
// the totals, and an audit record with the old and new totals and the reason.
Pending<Row> MesService::CorrectCounts(const Actor& actor, const std::string& operation_id,
                                       const CountReport& delta, const std::string& reason) {
  MILLRACE_RETURN_IF_ERROR(RequireRole(actor, {"supervisor"}, "correcting counts"));
  MILLRACE_RETURN_IF_ERROR(RequireReason(reason, "correcting counts"));
  for (double d : {delta.good, delta.scrap, delta.rework})
    if (!std::isfinite(d))
      return Rule(StatusCode::kInvalidArgument, "bad_quantity", "a correction must be a number");
  if (delta.good == 0 && delta.scrap == 0 && delta.rework == 0)
    return Rule(StatusCode::kInvalidArgument, "empty_correction",
                "a correction changes good, scrap or rework");
  return Plan<Row>([=, this](WriteTxn& txn) -> Result<Row> {
    MILLRACE_ASSIGN_OR_RETURN(OpContext c, LoadOp(txn, operation_id));
    const std::string st = c.op.Text("status");
    if (st != "Running" && st != "Paused" && st != "Completed")
      return Rule(StatusCode::kConflict, "operation_not_started",
                  "counts of a " + st + " operation cannot be corrected");
    if (delta.scrap > 0 && delta.scrap_reason_id.empty())
      return Rule(StatusCode::kInvalidArgument, "scrap_needs_reason",
                  "added scrap needs a scrap reason");
    const Row before = c.op;
    const double good = c.op.Real("good_quantity") + delta.good;
    const double scrap = c.op.Real("scrap_quantity") + delta.scrap;
    const double rework = c.op.Real("rework_quantity") + delta.rework;
    if (good < 0 || scrap < 0 || rework < 0)
      return Rule(StatusCode::kFailedPrecondition, "correction_below_zero",
                  "the correction would leave the operation with fewer than zero units");
    c.op.Set("good_quantity", good).Set("scrap_quantity", scrap).Set("rework_quantity", rework);
    MILLRACE_RETURN_IF_ERROR(c.SaveOp(txn));
    MILLRACE_ASSIGN_OR_RETURN(auto later,
                              txn.Count(T("work_order_operation"),
                                        "work_order_id = ? AND seq > ? AND status != 'Cancelled'",
                                        {c.wo.id(), c.op.Int("seq")}));
    if (later == 0)
      c.wo.Set("good_quantity", std::max(0.0, c.wo.Real("good_quantity") + delta.good));
    c.wo.Set("scrap_quantity", std::max(0.0, c.wo.Real("scrap_quantity") + delta.scrap));
    MILLRACE_RETURN_IF_ERROR(c.SaveWorkOrder(txn));
    MILLRACE_RETURN_IF_ERROR(AppendEvent(txn, store_->clock(), zone_, actor, c, "COUNT", delta));
    MILLRACE_RETURN_IF_ERROR(RecordAudit(
        txn, store_->clock(), actor, "work_order_operation.correct_counts", &before, c.op, reason));
    return std::move(c.op);
  });
}

// ---- downtime

Pending<Row> MesService::StartDowntime(const Actor& actor, const std::string& work_unit_id,
                                       const std::string& reason_id, const std::string& comment) {
  const std::string unit_id = work_unit_id.empty() ? actor.work_unit_id : work_unit_id;
  return Plan<Row>([=, this](WriteTxn& txn) -> Result<Row> {
    Row dt = NewRow("downtime_event", store_->clock());
    MILLRACE_ASSIGN_OR_RETURN(Row unit, Load(txn, "equipment", unit_id, "work_unit"));
    if (unit.Text("level") != "work_unit")
      return Rule(StatusCode::kInvalidArgument, "not_a_work_unit",
                  unit.Text("code") + " is not a work unit");
    MILLRACE_ASSIGN_OR_RETURN(
        auto open,
        txn.Count(T("downtime_event"), "work_unit_id = ? AND ended_at IS NULL", {unit_id}));
    if (open > 0)
      return Rule(StatusCode::kConflict, "downtime_already_open",
                  unit.Text("code") + " is already stopped");
    bool planned = false;
    if (!reason_id.empty()) {
      MILLRACE_ASSIGN_OR_RETURN(Row reason, Load(txn, "reason_code", reason_id, "reason"));
      if (reason.Text("category") != "downtime")
        return Rule(StatusCode::kInvalidArgument, "not_a_downtime_reason",
                    reason.Text("code") + " is a " + reason.Text("category") + " reason");
      planned = reason.Bool("planned");
      dt.Set("reason_id", reason_id);
    }
    dt.Set("work_unit_id", unit_id)
        .Set("started_at", txn.NowMillis())
        .Set("planned", std::int64_t{planned});
    if (!actor.user_id.empty()) dt.Set("operator_id", actor.user_id);
    if (!comment.empty()) dt.Set("comment", comment);
    // A stop pauses the operation running on the unit.
    MILLRACE_ASSIGN_OR_RETURN(
        auto running, txn.Select(T("work_order_operation"),
                                 "work_unit_id = ? AND status = 'Running'", {unit_id}, "", 1));
    if (!running.empty()) {
      MILLRACE_ASSIGN_OR_RETURN(OpContext c, LoadOp(txn, running.front().id()));
      MILLRACE_RETURN_IF_ERROR(
          Transition(c.op, catalog::OperationStates(), "Paused", "operation_not_running"));
      MILLRACE_RETURN_IF_ERROR(c.SaveOp(txn));
      MILLRACE_RETURN_IF_ERROR(AppendEvent(txn, store_->clock(), zone_, actor, c, "PAUSE"));
      dt.Set("operation_id", c.op.id());
    }
    MILLRACE_RETURN_IF_ERROR(txn.Insert(dt));
    return dt;
  });
}

Pending<Row> MesService::ClassifyDowntime(const Actor&, const std::string& downtime_id,
                                          const std::string& reason_id) {
  return Plan<Row>([=, this](WriteTxn& txn) -> Result<Row> {
    MILLRACE_ASSIGN_OR_RETURN(Row dt, Load(txn, "downtime_event", downtime_id, "downtime"));
    MILLRACE_ASSIGN_OR_RETURN(Row reason, Load(txn, "reason_code", reason_id, "reason"));
    if (reason.Text("category") != "downtime")
      return Rule(StatusCode::kInvalidArgument, "not_a_downtime_reason",
                  reason.Text("code") + " is a " + reason.Text("category") + " reason");
    dt.Set("reason_id", reason.id()).Set("planned", std::int64_t{reason.Bool("planned")});
    MILLRACE_RETURN_IF_ERROR(txn.Upsert(dt));
    return dt;
  });
}

Pending<Row> MesService::EndDowntime(const Actor& actor, const std::string& downtime_id) {
  return Plan<Row>([=, this](WriteTxn& txn) -> Result<Row> {
    MILLRACE_ASSIGN_OR_RETURN(Row dt, Load(txn, "downtime_event", downtime_id, "downtime"));
    if (!dt.IsNull("ended_at"))
      return Rule(StatusCode::kConflict, "downtime_already_ended", "this stop has already ended");
    dt.Set("ended_at", std::max(txn.NowMillis(), dt.Int("started_at")));
    MILLRACE_RETURN_IF_ERROR(txn.Upsert(dt));
    if (!dt.IsNull("operation_id")) {
      MILLRACE_ASSIGN_OR_RETURN(OpContext c, LoadOp(txn, dt.Text("operation_id")));
      if (c.op.Text("status") == "Paused" && RequireWorkOrderActive(c.wo).ok()) {
        MILLRACE_RETURN_IF_ERROR(
            Transition(c.op, catalog::OperationStates(), "Running", "operation_not_paused"));
        MILLRACE_RETURN_IF_ERROR(c.SaveOp(txn));
        MILLRACE_RETURN_IF_ERROR(AppendEvent(txn, store_->clock(), zone_, actor, c, "RESUME"));
      }
    }
    return dt;
  });
}

}  // namespace millrace::edge
