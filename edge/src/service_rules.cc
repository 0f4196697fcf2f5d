// The shared rules of MesService's workflows (service_rules.h).
#include "service_rules.h"

#include <cmath>
#include <nlohmann/json.hpp>

#include "millrace/common/uuid.h"
#include "millrace/edge/shift_calendar.h"

namespace millrace::edge::rules {

const catalog::TableSpec& T(const char* name) {
  return *catalog::MesCatalog().Find(name);
}

Status Rule(StatusCode code, const std::string& rule, const std::string& message) {
  return Status(code, message).WithRule(rule);
}

Result<Row> Load(ReadTxn& txn, const char* table, const std::string& id, const char* what) {
  if (id.empty())
    return Rule(StatusCode::kInvalidArgument, std::string(what) + "_required",
                std::string(what) + " id is required");
  MILLRACE_ASSIGN_OR_RETURN(auto row, txn.Get(T(table), id));
  if (!row)
    return Rule(StatusCode::kNotFound, std::string(what) + "_not_found",
                std::string(what) + " " + id + " does not exist");
  return std::move(*row);
}

Status Transition(Row& row, const catalog::StateMachine& sm, const std::string& to,
                  const std::string& rule) {
  std::string from = row.Text("status");
  if (!sm.CanTransition(from, to)) {
    return Rule(StatusCode::kConflict, rule,
                row.table().name + " " + row.id() + " is " + from + "; it cannot move to " + to);
  }
  row.Set("status", to);
  return Status::Ok();
}

Status RequireRole(const Actor& actor, std::initializer_list<const char*> roles,
                   const std::string& action) {
  for (const char* r : roles)
    if (actor.role == r) return Status::Ok();
  std::string list;
  for (const char* r : roles) list += (list.empty() ? "" : " or ") + std::string(r);
  return Rule(StatusCode::kPermissionDenied, "role_not_allowed",
              action + " needs a " + list + "; " + actor.user_name + " is " +
                  (actor.role.empty() ? "nobody" : "an " + actor.role));
}

Status RequireQuantity(double q, const char* what, bool allow_zero) {
  if (!std::isfinite(q) || q < 0 || (!allow_zero && q == 0)) {
    return Rule(StatusCode::kInvalidArgument, "bad_quantity",
                std::string(what) + " must be " + (allow_zero ? "zero or more" : "more than zero"));
  }
  return Status::Ok();
}

Row NewRow(const char* table, const Clock* clock) {
  Row r(T(table));
  r.Set("id", Uuid::NewV7(clock).ToString());
  return r;
}

std::vector<std::string> JsonStrings(const std::string& text) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  std::vector<std::string> out;
  if (j.is_array())
    for (const auto& v : j)
      if (v.is_string()) out.push_back(v.get<std::string>());
  return out;
}

Result<std::optional<Row>> CurrentShift(WriteTxn& txn, const Clock* clock, const TimeZone& zone,
                                        std::int64_t now) {
  MILLRACE_ASSIGN_OR_RETURN(
      auto rows,
      txn.Select(T("shift_pattern"), "site_id = ? OR site_id IS NULL", {txn.site_id()}, "code"));
  std::vector<ShiftPattern> patterns;
  for (const Row& p : rows)
    patterns.push_back({static_cast<int>(p.Int("start_minute")),
                        static_cast<int>(p.Int("end_minute")),
                        static_cast<int>(p.Int("weekdays"))});
  const auto shift = ShiftAt(patterns, zone, now);
  if (!shift) return std::optional<Row>();
  const Row& p = rows[shift->pattern];
  MILLRACE_ASSIGN_OR_RETURN(
      auto found, txn.Select(T("shift_instance"), "shift_pattern_id = ? AND business_date = ?",
                             {p.id(), shift->business_date}, "", 1));
  if (!found.empty()) return std::optional<Row>(std::move(found.front()));
  Row inst = NewRow("shift_instance", clock);
  inst.Set("shift_pattern_id", p.id())
      .Set("business_date", shift->business_date)
      .Set("starts_at", shift->starts_at_ms)
      .Set("ends_at", shift->ends_at_ms);
  MILLRACE_RETURN_IF_ERROR(txn.Insert(inst));
  return std::optional<Row>(std::move(inst));
}

Status OpContext::SaveOp(WriteTxn& txn) {
  MILLRACE_RETURN_IF_ERROR(txn.Update(op, op_stored_));
  op_stored_ = op;
  return Status::Ok();
}

Status OpContext::SaveWorkOrder(WriteTxn& txn) {
  MILLRACE_RETURN_IF_ERROR(txn.Update(wo, wo_stored_));
  wo_stored_ = wo;
  return Status::Ok();
}

Result<OpContext> LoadOp(ReadTxn& txn, const std::string& operation_id) {
  MILLRACE_ASSIGN_OR_RETURN(Row op, Load(txn, "work_order_operation", operation_id, "operation"));
  MILLRACE_ASSIGN_OR_RETURN(Row wo,
                            Load(txn, "work_order", op.Text("work_order_id"), "work_order"));
  return OpContext(std::move(op), std::move(wo));
}

Status AppendEvent(WriteTxn& txn, const Clock* clock, const TimeZone& zone, const Actor& actor,
                   const OpContext& c, const char* kind, const CountReport& q) {
  const std::int64_t now = txn.NowMillis();
  MILLRACE_ASSIGN_OR_RETURN(auto shift, CurrentShift(txn, clock, zone, now));
  Row ev = NewRow("production_event", clock);
  ev.Set("kind", kind)
      .Set("at", now)
      .Set("work_order_id", c.wo.id())
      .Set("operation_id", c.op.id())
      .Set("work_unit_id", c.op.Text("work_unit_id", actor.work_unit_id))
      .Set("good_quantity", q.good)
      .Set("scrap_quantity", q.scrap)
      .Set("rework_quantity", q.rework);
  if (!actor.user_id.empty()) ev.Set("operator_id", actor.user_id);
  // The shift the event happened in, not the one the operator badged into: a session may
  // run on over a shift change.
  if (shift) ev.Set("shift_instance_id", shift->id());
  if (!q.scrap_reason_id.empty()) ev.Set("scrap_reason_id", q.scrap_reason_id);
  if (!q.note.empty()) ev.Set("note", q.note);
  return txn.Insert(ev);
}

Status RequireWorkOrderActive(const Row& wo) {
  const std::string s = wo.Text("status");
  if (s == "Released" || s == "InProgress") return Status::Ok();
  return Rule(StatusCode::kFailedPrecondition,
              s == "OnHold" ? "work_order_on_hold" : "work_order_not_active",
              "work order " + wo.Text("number") + " is " + s);
}

Status RequireRunning(const Row& op, const std::string& what) {
  if (op.Text("status") == "Running") return Status::Ok();
  return Rule(StatusCode::kConflict, "operation_not_running",
              what + " a running operation; it is " + op.Text("status"));
}

Status RequireNoOpenDowntime(ReadTxn& txn, const std::string& work_unit_id) {
  if (work_unit_id.empty()) return Status::Ok();
  MILLRACE_ASSIGN_OR_RETURN(
      auto open,
      txn.Count(T("downtime_event"), "work_unit_id = ? AND ended_at IS NULL", {work_unit_id}));
  if (open > 0)
    return Rule(StatusCode::kFailedPrecondition, "work_unit_down",
                "the work unit has an open downtime; end it first");
  return Status::Ok();
}

Result<Row> OutputLot(WriteTxn& txn, const Clock* clock, const OpContext& c) {
  MILLRACE_ASSIGN_OR_RETURN(auto lots, txn.Select(T("material_lot"), "produced_by_operation_id = ?",
                                                  {c.op.id()}, "id", 1));
  if (!lots.empty()) return std::move(lots.front());
  MILLRACE_ASSIGN_OR_RETURN(auto product,
                            Load(txn, "material_definition", c.wo.Text("material_id"), "material"));
  Row lot = NewRow("material_lot", clock);
  lot.Set("lot_no", c.wo.Text("number") + "-" + std::to_string(c.op.Int("seq")))
      .Set("material_id", product.id())
      .Set("quantity", 0.0)
      .Set("unit", product.Text("unit"))
      .Set("status", "available")
      .Set("produced_by_operation_id", c.op.id());
  MILLRACE_RETURN_IF_ERROR(txn.Insert(lot));
  return lot;
}

}  // namespace millrace::edge::rules
