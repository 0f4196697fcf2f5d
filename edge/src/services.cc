#include "millrace/edge/services.h"

#include <sodium.h>

#include <cmath>
#include <ctime>
#include <nlohmann/json.hpp>

#include "millrace/common/digest.h"
#include "millrace/common/uuid.h"
#include "millrace/edge/audit.h"
#include "millrace/edge/seed.h"
#include "millrace/edge/shift_calendar.h"

namespace millrace::edge {
namespace {

using catalog::StateMachine;

const catalog::TableSpec& T(const char* name) {
  return *catalog::MesCatalog().Find(name);
}

// A refusal naming the rule broken.
Status Rule(StatusCode code, const std::string& rule, const std::string& message) {
  return Status(code, rule + ": " + message);
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

// Moves row.status along an arrow of sm, or refuses naming the rule.
Status Transition(Row& row, const StateMachine& sm, const std::string& to,
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

// The shift running at `now` at this site (shift_calendar.h, in the site's time zone) and
// its instance, created on first use: every event and badge-in names the shift it
// happened in. nullopt when no pattern covers `now`.
Result<std::optional<Row>> CurrentShift(WriteTxn& txn, const Clock* clock, const TimeZone& zone,
                                        std::int64_t now) {
  MILLRACE_ASSIGN_OR_RETURN(
      auto rows,
      txn.Select(T("shift_pattern"), "site_id = ? OR site_id IS NULL", {txn.site_id()}, "code"));
  std::vector<ShiftPattern> patterns;
  for (const Row& p : rows)
    patterns.push_back({static_cast<int>(p.Int("start_minute")),
                        static_cast<int>(p.Int("end_minute")), static_cast<int>(p.Int("weekdays"))});
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

// Everything a guard on an operation needs, loaded once.
struct OpContext {
  Row op;
  Row wo;
};

Result<OpContext> LoadOp(ReadTxn& txn, const std::string& operation_id) {
  MILLRACE_ASSIGN_OR_RETURN(Row op, Load(txn, "work_order_operation", operation_id, "operation"));
  MILLRACE_ASSIGN_OR_RETURN(Row wo,
                            Load(txn, "work_order", op.Text("work_order_id"), "work_order"));
  return OpContext{std::move(op), std::move(wo)};
}

Status AppendEvent(WriteTxn& txn, const Clock* clock, const TimeZone& zone, const Actor& actor,
                   const OpContext& c, const char* kind, const CountReport& q = {}) {
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
  return txn.Insert(ev);
}

// The work order must allow shop-floor activity.
Status RequireWorkOrderActive(const Row& wo) {
  const std::string s = wo.Text("status");
  if (s == "Released" || s == "InProgress") return Status::Ok();
  return Rule(StatusCode::kFailedPrecondition,
              s == "OnHold" ? "work_order_on_hold" : "work_order_not_active",
              "work order " + wo.Text("number") + " is " + s);
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

// The output lot of an operation, created (empty) on first use.
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

}  // namespace

MesService::MesService(EdgeStore* store, std::int64_t session_ttl_ms, TimeZone zone)
    : store_(store), session_ttl_ms_(session_ttl_ms), zone_(std::move(zone)) {
  if (sodium_init() < 0) throw std::runtime_error("libsodium failed to initialise");
}

// ---------------------------------------------------------------- sessions

Result<TerminalSession> MesService::BadgeIn(const std::string& badge_id, const std::string& pin,
                                            const std::string& work_unit) {
  if (badge_id.empty() || pin.empty()) {
    return Rule(StatusCode::kInvalidArgument, "credentials_required",
                "badge id and PIN are required");
  }
  std::optional<Row> user;
  MILLRACE_RETURN_IF_ERROR(store_->Read([&](ReadTxn& txn) -> Status {
    MILLRACE_ASSIGN_OR_RETURN(
        auto users, txn.Select(T("users"), "badge_id = ? AND active = 1", {badge_id}, "", 1));
    if (!users.empty()) user = std::move(users.front());
    return Status::Ok();
  }));
  // Verify even for an unknown badge, so timing does not tell which badges exist.
  static const std::string kDummyHash = *HashPin("not-a-pin");
  bool pin_ok = VerifyPin(user ? user->Text("pin_hash") : kDummyHash, pin);
  if (!user || !pin_ok)
    return Rule(StatusCode::kUnauthenticated, "bad_credentials", "badge or PIN not recognised");

  const std::string role = user->Text("role");
  if (work_unit.empty() && role == "operator")
    return Rule(StatusCode::kInvalidArgument, "work_unit_required",
                "an operator badges in at a work unit");

  TerminalSession session;
  session.token = RandomHex(32);
  MILLRACE_RETURN_IF_ERROR(store_->Write([&](WriteTxn& txn) -> Status {
    auto sites = JsonStrings(user->Text("sites"));
    if (std::find(sites.begin(), sites.end(), txn.site_id()) == sites.end()) {
      return Rule(StatusCode::kPermissionDenied, "site_not_allowed",
                  user->Text("name") + " may not work at site " + txn.site_id());
    }
    const std::int64_t now = txn.NowMillis();
    session.expires_ms = now + session_ttl_ms_;
    std::string session_id, unit_id, shift_id;
    if (work_unit.empty()) {
      // A supervisor or quality engineer at a desk: a session with no place on the floor.
      session_id = "desk:" + Uuid::NewV7(store_->clock()).ToString();
    } else {
      // The unit by id, or by code (a terminal knows the code of the unit it stands at).
      std::optional<Row> unit;
      if (Uuid::Parse(work_unit).ok()) {
        MILLRACE_ASSIGN_OR_RETURN(unit, txn.Get(T("equipment"), work_unit));
      } else {
        MILLRACE_ASSIGN_OR_RETURN(auto found,
                                  txn.Select(T("equipment"), "code = ? AND level = 'work_unit'",
                                             {work_unit}, "", 1));
        if (!found.empty()) unit = std::move(found.front());
      }
      if (!unit)
        return Rule(StatusCode::kNotFound, "work_unit_not_found",
                    "work unit " + work_unit + " does not exist");
      if (unit->Text("level") != "work_unit" || unit->Text("site_id") != txn.site_id() ||
          !unit->Bool("active")) {
        return Rule(StatusCode::kInvalidArgument, "not_a_work_unit",
                    unit->Text("code") + " is not an active work unit of this site");
      }
      // One place at a time: badging in elsewhere ends the operator's other sessions.
      MILLRACE_ASSIGN_OR_RETURN(
          auto open,
          txn.Select(T("operator_session"), "user_id = ? AND badge_out_at IS NULL", {user->id()}));
      for (Row& old : open) {
        old.Set("badge_out_at", now);
        MILLRACE_RETURN_IF_ERROR(txn.Upsert(old));
        MILLRACE_ASSIGN_OR_RETURN(
            Statement * del,
            txn.db().Prepare("DELETE FROM terminal_session WHERE operator_session_id = ?"));
        MILLRACE_RETURN_IF_ERROR(del->Bind(1, old.id()));
        MILLRACE_RETURN_IF_ERROR(del->Run());
      }
      Row os = NewRow("operator_session", store_->clock());
      os.Set("user_id", user->id()).Set("work_unit_id", unit->id()).Set("badge_in_at", now);
      MILLRACE_ASSIGN_OR_RETURN(auto shift, CurrentShift(txn, store_->clock(), zone_, now));
      if (shift) os.Set("shift_instance_id", shift->id());
      MILLRACE_RETURN_IF_ERROR(txn.Insert(os));
      session_id = os.id();
      unit_id = unit->id();
      shift_id = os.Text("shift_instance_id");
    }
    MILLRACE_ASSIGN_OR_RETURN(
        Statement * ins,
        txn.db().Prepare("INSERT INTO terminal_session (token_hash, operator_session_id, user_id, "
                         "work_unit_id, expires_at) VALUES (?, ?, ?, ?, ?)"));
    MILLRACE_RETURN_IF_ERROR(ins->BindAll(
        {Sha256Hex(session.token), session_id, user->id(), unit_id, session.expires_ms}));
    MILLRACE_RETURN_IF_ERROR(ins->Run());
    session.actor = Actor{user->id(),
                          user->Text("name"),
                          role,
                          session_id,
                          unit_id,
                          shift_id,
                          JsonStrings(user->Text("qualifications"))};
    return Status::Ok();
  }));
  return session;
}

Result<Actor> MesService::Authenticate(const std::string& token) {
  if (token.empty())
    return Rule(StatusCode::kUnauthenticated, "session_required", "badge in first");
  Actor actor;
  bool found = false;
  const std::int64_t now = store_->clock()->NowMillis();
  MILLRACE_RETURN_IF_ERROR(store_->Read([&](ReadTxn& txn) -> Status {
    MILLRACE_ASSIGN_OR_RETURN(
        Statement * q,
        txn.db().Prepare("SELECT operator_session_id, user_id, work_unit_id FROM terminal_session "
                         "WHERE token_hash = ? AND expires_at > ?"));
    MILLRACE_RETURN_IF_ERROR(q->BindAll({Sha256Hex(token), now}));
    MILLRACE_ASSIGN_OR_RETURN(bool row, q->Step());
    if (!row) return Status::Ok();
    actor.session_id = std::get<std::string>(q->Column(0));
    actor.user_id = std::get<std::string>(q->Column(1));
    actor.work_unit_id = std::get<std::string>(q->Column(2));
    q->Reset();
    MILLRACE_ASSIGN_OR_RETURN(auto user, txn.Get(T("users"), actor.user_id));
    if (!user || !user->Bool("active")) return Status::Ok();
    std::optional<Row> session;
    if (actor.session_id.rfind("desk:", 0) != 0) {  // a session on the floor
      MILLRACE_ASSIGN_OR_RETURN(session, txn.Get(T("operator_session"), actor.session_id));
      if (!session || !session->IsNull("badge_out_at")) return Status::Ok();
    }
    actor.user_name = user->Text("name");
    actor.role = user->Text("role");
    actor.qualifications = JsonStrings(user->Text("qualifications"));
    if (session) actor.shift_instance_id = session->Text("shift_instance_id");
    found = true;
    return Status::Ok();
  }));
  if (!found)
    return Rule(StatusCode::kUnauthenticated, "session_expired",
                "the session has ended; badge in again");
  return actor;
}

Status MesService::BadgeOut(const Actor& actor) {
  return store_->Write([&](WriteTxn& txn) -> Status {
    if (actor.session_id.rfind("desk:", 0) != 0) {
      MILLRACE_ASSIGN_OR_RETURN(
          Row s, Load(txn, "operator_session", actor.session_id, "operator_session"));
      if (s.IsNull("badge_out_at")) {
        s.Set("badge_out_at", txn.NowMillis());
        MILLRACE_RETURN_IF_ERROR(txn.Upsert(s));
      }
    }
    MILLRACE_ASSIGN_OR_RETURN(
        Statement * del,
        txn.db().Prepare("DELETE FROM terminal_session WHERE operator_session_id = ?"));
    MILLRACE_RETURN_IF_ERROR(del->Bind(1, actor.session_id));
    return del->Run();
  });
}

// ---------------------------------------------------------------- work orders

Result<Row> MesService::CreateWorkOrder(const Actor& actor, const std::string& number,
                                        const std::string& material_id, double quantity,
                                        std::optional<std::int64_t> due_at) {
  MILLRACE_RETURN_IF_ERROR(RequireRole(actor, {"supervisor"}, "creating a work order"));
  if (number.empty())
    return Rule(StatusCode::kInvalidArgument, "number_required", "a work order needs a number");
  MILLRACE_RETURN_IF_ERROR(RequireQuantity(quantity, "planned quantity", false));
  Row wo = NewRow("work_order", store_->clock());
  MILLRACE_RETURN_IF_ERROR(store_->Write([&](WriteTxn& txn) -> Status {
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
    return txn.Insert(wo);
  }));
  return wo;
}

Result<Row> MesService::ReleaseWorkOrder(const Actor& actor, const std::string& work_order_id,
                                         const std::string& reason) {
  MILLRACE_RETURN_IF_ERROR(RequireRole(actor, {"supervisor"}, "releasing a work order"));
  std::optional<Row> out;
  MILLRACE_RETURN_IF_ERROR(store_->Write([&](WriteTxn& txn) -> Status {
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
    out = std::move(wo);
    return Status::Ok();
  }));
  return std::move(*out);
}

// A supervisor moving a work order along one arrow, with nothing else to do.
Result<Row> MesService::MoveWorkOrder(const Actor& actor, const std::string& work_order_id,
                                      const std::string& to, const std::string& rule,
                                      const std::string& action, const std::string& audit_action,
                                      const std::string& reason) {
  MILLRACE_RETURN_IF_ERROR(RequireRole(actor, {"supervisor"}, action));
  std::optional<Row> out;
  MILLRACE_RETURN_IF_ERROR(store_->Write([&](WriteTxn& txn) -> Status {
    MILLRACE_ASSIGN_OR_RETURN(Row wo, Load(txn, "work_order", work_order_id, "work_order"));
    const Row before = wo;
    MILLRACE_RETURN_IF_ERROR(Transition(wo, catalog::WorkOrderStates(), to, rule));
    MILLRACE_RETURN_IF_ERROR(txn.Upsert(wo));
    MILLRACE_RETURN_IF_ERROR(
        RecordAudit(txn, store_->clock(), actor, audit_action, &before, wo, reason));
    out = std::move(wo);
    return Status::Ok();
  }));
  return std::move(*out);
}

// A hold stops the order's production: its running operations are paused (a PAUSE event
// each, so their run time stops when the hold starts, as OEE needs), and counts, output,
// consumption and completion are refused while it lasts (work_order_on_hold). Resuming the
// order does not restart them: each is resumed on its work unit.
Result<Row> MesService::HoldWorkOrder(const Actor& actor, const std::string& work_order_id,
                                      const std::string& reason) {
  MILLRACE_RETURN_IF_ERROR(RequireRole(actor, {"supervisor"}, "holding a work order"));
  MILLRACE_RETURN_IF_ERROR(RequireReason(reason, "holding a work order"));
  std::optional<Row> out;
  MILLRACE_RETURN_IF_ERROR(store_->Write([&](WriteTxn& txn) -> Status {
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
          AppendEvent(txn, store_->clock(), zone_, actor, OpContext{op, wo}, "PAUSE"));
    }
    MILLRACE_RETURN_IF_ERROR(txn.Upsert(wo));
    MILLRACE_RETURN_IF_ERROR(
        RecordAudit(txn, store_->clock(), actor, "work_order.hold", &before, wo, reason));
    out = std::move(wo);
    return Status::Ok();
  }));
  return std::move(*out);
}

Result<Row> MesService::ResumeWorkOrder(const Actor& actor, const std::string& work_order_id,
                                        const std::string& reason) {
  return MoveWorkOrder(actor, work_order_id, "InProgress", "work_order_not_on_hold",
                       "resuming a work order", "work_order.resume", reason);
}

Result<Row> MesService::CancelWorkOrder(const Actor& actor, const std::string& work_order_id,
                                        const std::string& reason) {
  MILLRACE_RETURN_IF_ERROR(RequireRole(actor, {"supervisor"}, "cancelling a work order"));
  MILLRACE_RETURN_IF_ERROR(RequireReason(reason, "cancelling a work order"));
  std::optional<Row> out;
  MILLRACE_RETURN_IF_ERROR(store_->Write([&](WriteTxn& txn) -> Status {
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
    out = std::move(wo);
    return Status::Ok();
  }));
  return std::move(*out);
}

Result<Row> MesService::CloseWorkOrder(const Actor& actor, const std::string& work_order_id,
                                       const std::string& reason) {
  return MoveWorkOrder(actor, work_order_id, "Closed", "work_order_not_completed",
                       "closing a work order", "work_order.close", reason);
}

Result<Row> MesService::ShortCloseWorkOrder(const Actor& actor, const std::string& work_order_id,
                                            const std::string& reason) {
  MILLRACE_RETURN_IF_ERROR(RequireRole(actor, {"supervisor"}, "short-closing a work order"));
  MILLRACE_RETURN_IF_ERROR(RequireReason(reason, "short-closing a work order"));
  std::optional<Row> out;
  MILLRACE_RETURN_IF_ERROR(store_->Write([&](WriteTxn& txn) -> Status {
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
    out = std::move(wo);
    return Status::Ok();
  }));
  return std::move(*out);
}

// ---------------------------------------------------------------- operations

Result<Row> MesService::StartOperation(const Actor& actor, const std::string& operation_id) {
  std::optional<Row> out;
  MILLRACE_RETURN_IF_ERROR(store_->Write([&](WriteTxn& txn) -> Status {
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
      MILLRACE_RETURN_IF_ERROR(txn.Upsert(c.wo));
    }
    MILLRACE_RETURN_IF_ERROR(txn.Upsert(c.op));
    MILLRACE_RETURN_IF_ERROR(AppendEvent(txn, store_->clock(), zone_, actor, c, "START"));
    out = std::move(c.op);
    return Status::Ok();
  }));
  return std::move(*out);
}

Result<Row> MesService::PauseOperation(const Actor& actor, const std::string& operation_id) {
  std::optional<Row> out;
  MILLRACE_RETURN_IF_ERROR(store_->Write([&](WriteTxn& txn) -> Status {
    MILLRACE_ASSIGN_OR_RETURN(OpContext c, LoadOp(txn, operation_id));
    MILLRACE_RETURN_IF_ERROR(
        Transition(c.op, catalog::OperationStates(), "Paused", "operation_not_running"));
    MILLRACE_RETURN_IF_ERROR(txn.Upsert(c.op));
    MILLRACE_RETURN_IF_ERROR(AppendEvent(txn, store_->clock(), zone_, actor, c, "PAUSE"));
    out = std::move(c.op);
    return Status::Ok();
  }));
  return std::move(*out);
}

Result<Row> MesService::ResumeOperation(const Actor& actor, const std::string& operation_id) {
  std::optional<Row> out;
  MILLRACE_RETURN_IF_ERROR(store_->Write([&](WriteTxn& txn) -> Status {
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
    MILLRACE_RETURN_IF_ERROR(txn.Upsert(c.op));
    MILLRACE_RETURN_IF_ERROR(AppendEvent(txn, store_->clock(), zone_, actor, c, "RESUME"));
    out = std::move(c.op);
    return Status::Ok();
  }));
  return std::move(*out);
}

Result<Row> MesService::ReportCount(const Actor& actor, const std::string& operation_id,
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
  std::optional<Row> out;
  MILLRACE_RETURN_IF_ERROR(store_->Write([&](WriteTxn& txn) -> Status {
    MILLRACE_ASSIGN_OR_RETURN(OpContext c, LoadOp(txn, operation_id));
    MILLRACE_RETURN_IF_ERROR(RequireWorkOrderActive(c.wo));
    if (c.op.Text("status") != "Running") {
      return Rule(StatusCode::kConflict, "operation_not_running",
                  "counts are reported on a running operation; it is " + c.op.Text("status"));
    }
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
    MILLRACE_RETURN_IF_ERROR(txn.Upsert(c.op));
    // The order's good quantity is what leaves its last operation; scrap counts anywhere.
    MILLRACE_ASSIGN_OR_RETURN(auto later,
                              txn.Count(T("work_order_operation"),
                                        "work_order_id = ? AND seq > ? AND status != 'Cancelled'",
                                        {c.wo.id(), c.op.Int("seq")}));
    if (later == 0) c.wo.Set("good_quantity", c.wo.Real("good_quantity") + report.good);
    c.wo.Set("scrap_quantity", c.wo.Real("scrap_quantity") + report.scrap);
    MILLRACE_RETURN_IF_ERROR(txn.Upsert(c.wo));
    MILLRACE_RETURN_IF_ERROR(AppendEvent(txn, store_->clock(), zone_, actor, c, "COUNT", report));
    out = std::move(c.op);
    return Status::Ok();
  }));
  return std::move(*out);
}

Result<Row> MesService::CompleteOperation(const Actor& actor, const std::string& operation_id) {
  std::optional<Row> out;
  MILLRACE_RETURN_IF_ERROR(store_->Write([&](WriteTxn& txn) -> Status {
    MILLRACE_ASSIGN_OR_RETURN(OpContext c, LoadOp(txn, operation_id));
    MILLRACE_RETURN_IF_ERROR(RequireWorkOrderActive(c.wo));
    MILLRACE_RETURN_IF_ERROR(
        Transition(c.op, catalog::OperationStates(), "Completed", "operation_not_running"));
    const std::int64_t now = txn.NowMillis();
    c.op.Set("actual_end", now);
    MILLRACE_RETURN_IF_ERROR(txn.Upsert(c.op));
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
      MILLRACE_RETURN_IF_ERROR(txn.Upsert(c.wo));
    }
    out = std::move(c.op);
    return Status::Ok();
  }));
  return std::move(*out);
}

// A supervisor corrects an operation's counts after the fact (a double count, scrap booked
// as good): a COUNT event carrying the signed differences, so the events still add up to
// the totals, and an audit record with the old and new totals and the reason.
Result<Row> MesService::CorrectCounts(const Actor& actor, const std::string& operation_id,
                                      const CountReport& delta, const std::string& reason) {
  MILLRACE_RETURN_IF_ERROR(RequireRole(actor, {"supervisor"}, "correcting counts"));
  MILLRACE_RETURN_IF_ERROR(RequireReason(reason, "correcting counts"));
  for (double d : {delta.good, delta.scrap, delta.rework})
    if (!std::isfinite(d))
      return Rule(StatusCode::kInvalidArgument, "bad_quantity", "a correction must be a number");
  if (delta.good == 0 && delta.scrap == 0 && delta.rework == 0)
    return Rule(StatusCode::kInvalidArgument, "empty_correction",
                "a correction changes good, scrap or rework");
  std::optional<Row> out;
  MILLRACE_RETURN_IF_ERROR(store_->Write([&](WriteTxn& txn) -> Status {
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
    MILLRACE_RETURN_IF_ERROR(txn.Upsert(c.op));
    MILLRACE_ASSIGN_OR_RETURN(auto later,
                              txn.Count(T("work_order_operation"),
                                        "work_order_id = ? AND seq > ? AND status != 'Cancelled'",
                                        {c.wo.id(), c.op.Int("seq")}));
    if (later == 0)
      c.wo.Set("good_quantity", std::max(0.0, c.wo.Real("good_quantity") + delta.good));
    c.wo.Set("scrap_quantity", std::max(0.0, c.wo.Real("scrap_quantity") + delta.scrap));
    MILLRACE_RETURN_IF_ERROR(txn.Upsert(c.wo));
    MILLRACE_RETURN_IF_ERROR(AppendEvent(txn, store_->clock(), zone_, actor, c, "COUNT", delta));
    MILLRACE_RETURN_IF_ERROR(RecordAudit(txn, store_->clock(), actor,
                                         "work_order_operation.correct_counts", &before, c.op,
                                         reason));
    out = std::move(c.op);
    return Status::Ok();
  }));
  return std::move(*out);
}

// ---------------------------------------------------------------- downtime

Result<Row> MesService::StartDowntime(const Actor& actor, const std::string& work_unit_id,
                                      const std::string& reason_id, const std::string& comment) {
  const std::string unit_id = work_unit_id.empty() ? actor.work_unit_id : work_unit_id;
  Row dt = NewRow("downtime_event", store_->clock());
  MILLRACE_RETURN_IF_ERROR(store_->Write([&](WriteTxn& txn) -> Status {
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
      MILLRACE_RETURN_IF_ERROR(txn.Upsert(c.op));
      MILLRACE_RETURN_IF_ERROR(AppendEvent(txn, store_->clock(), zone_, actor, c, "PAUSE"));
      dt.Set("operation_id", c.op.id());
    }
    return txn.Insert(dt);
  }));
  return dt;
}

Result<Row> MesService::ClassifyDowntime(const Actor&, const std::string& downtime_id,
                                         const std::string& reason_id) {
  std::optional<Row> out;
  MILLRACE_RETURN_IF_ERROR(store_->Write([&](WriteTxn& txn) -> Status {
    MILLRACE_ASSIGN_OR_RETURN(Row dt, Load(txn, "downtime_event", downtime_id, "downtime"));
    MILLRACE_ASSIGN_OR_RETURN(Row reason, Load(txn, "reason_code", reason_id, "reason"));
    if (reason.Text("category") != "downtime")
      return Rule(StatusCode::kInvalidArgument, "not_a_downtime_reason",
                  reason.Text("code") + " is a " + reason.Text("category") + " reason");
    dt.Set("reason_id", reason.id()).Set("planned", std::int64_t{reason.Bool("planned")});
    MILLRACE_RETURN_IF_ERROR(txn.Upsert(dt));
    out = std::move(dt);
    return Status::Ok();
  }));
  return std::move(*out);
}

Result<Row> MesService::EndDowntime(const Actor& actor, const std::string& downtime_id) {
  std::optional<Row> out;
  MILLRACE_RETURN_IF_ERROR(store_->Write([&](WriteTxn& txn) -> Status {
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
        MILLRACE_RETURN_IF_ERROR(txn.Upsert(c.op));
        MILLRACE_RETURN_IF_ERROR(AppendEvent(txn, store_->clock(), zone_, actor, c, "RESUME"));
      }
    }
    out = std::move(dt);
    return Status::Ok();
  }));
  return std::move(*out);
}

// ---------------------------------------------------------------- measurements

Result<MeasurementResult> MesService::RecordMeasurement(const Actor& actor,
                                                        const MeasurementInput& in) {
  std::optional<MeasurementResult> out;
  MILLRACE_RETURN_IF_ERROR(store_->Write([&](WriteTxn& txn) -> Status {
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
    out = std::move(result);
    return Status::Ok();
  }));
  return std::move(*out);
}

// ---------------------------------------------------------------- material

Result<Row> MesService::ConsumeLot(const Actor& actor, const std::string& operation_id,
                                   const std::string& lot_id, double quantity) {
  MILLRACE_RETURN_IF_ERROR(RequireQuantity(quantity, "consumed quantity", false));
  std::optional<Row> out;
  MILLRACE_RETURN_IF_ERROR(store_->Write([&](WriteTxn& txn) -> Status {
    MILLRACE_ASSIGN_OR_RETURN(OpContext c, LoadOp(txn, operation_id));
    MILLRACE_RETURN_IF_ERROR(RequireWorkOrderActive(c.wo));
    if (c.op.Text("status") != "Running") {
      return Rule(StatusCode::kConflict, "operation_not_running",
                  "material is consumed by a running operation; it is " + c.op.Text("status"));
    }
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
    out = std::move(link);
    return Status::Ok();
  }));
  return std::move(*out);
}

Result<Row> MesService::ProduceOutput(const Actor& actor, const std::string& operation_id,
                                      double quantity) {
  MILLRACE_RETURN_IF_ERROR(RequireQuantity(quantity, "produced quantity", false));
  std::optional<Row> out;
  MILLRACE_RETURN_IF_ERROR(store_->Write([&](WriteTxn& txn) -> Status {
    MILLRACE_ASSIGN_OR_RETURN(OpContext c, LoadOp(txn, operation_id));
    MILLRACE_RETURN_IF_ERROR(RequireWorkOrderActive(c.wo));
    if (c.op.Text("status") != "Running") {
      return Rule(StatusCode::kConflict, "operation_not_running",
                  "output is produced by a running operation; it is " + c.op.Text("status"));
    }
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
    out = std::move(lot);
    return Status::Ok();
  }));
  return std::move(*out);
}

// ---------------------------------------------------------------- quality

Result<Row> MesService::DisposeNonConformance(const Actor& actor, const std::string& nc_id,
                                              const std::string& disposition, bool close,
                                              const std::string& reason) {
  MILLRACE_RETURN_IF_ERROR(
      RequireRole(actor, {"quality", "supervisor"}, "disposing a non-conformance"));
  const auto& allowed = T("non_conformance").Find("disposition")->values;
  if (std::find(allowed.begin(), allowed.end(), disposition) == allowed.end()) {
    return Rule(StatusCode::kInvalidArgument, "bad_disposition",
                "disposition must be scrap, rework, use_as_is or return");
  }
  std::optional<Row> out;
  MILLRACE_RETURN_IF_ERROR(store_->Write([&](WriteTxn& txn) -> Status {
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
    MILLRACE_RETURN_IF_ERROR(RecordAudit(txn, store_->clock(), actor, "non_conformance.dispose",
                                         &before, nc, reason));
    out = std::move(nc);
    return Status::Ok();
  }));
  return std::move(*out);
}

Result<Row> MesService::SetLotStatus(const Actor& actor, const std::string& lot_id,
                                     const std::string& status, const std::string& reason) {
  MILLRACE_RETURN_IF_ERROR(
      RequireRole(actor, {"quality", "supervisor"}, "changing a lot's status"));
  if (!catalog::LotStates().IsState(status) || status == "consumed") {
    return Rule(StatusCode::kInvalidArgument, "bad_lot_status",
                "a lot can be set to available, quarantine, hold or scrapped");
  }
  std::optional<Row> out;
  MILLRACE_RETURN_IF_ERROR(store_->Write([&](WriteTxn& txn) -> Status {
    MILLRACE_ASSIGN_OR_RETURN(Row lot, Load(txn, "material_lot", lot_id, "lot"));
    const Row before = lot;
    MILLRACE_RETURN_IF_ERROR(
        Transition(lot, catalog::LotStates(), status, "lot_status_not_allowed"));
    MILLRACE_RETURN_IF_ERROR(txn.Upsert(lot));
    MILLRACE_RETURN_IF_ERROR(
        RecordAudit(txn, store_->clock(), actor, "material_lot.status", &before, lot, reason));
    out = std::move(lot);
    return Status::Ok();
  }));
  return std::move(*out);
}

}  // namespace millrace::edge
