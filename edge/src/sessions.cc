// Terminal sessions: badging in with a badge and PIN at a work unit (or at a desk), the
// session a bearer token stands for, badging out.
#include <sodium.h>

#include <stdexcept>

#include "millrace/common/digest.h"
#include "millrace/common/pin_hash.h"
#include "millrace/common/uuid.h"
#include "millrace/edge/services.h"
#include "service_rules.h"

namespace millrace::edge {

using namespace rules;  // NOLINT: the workflows' shared vocabulary

MesService::MesService(EdgeStore* store, std::int64_t session_ttl_ms, TimeZone zone)
    : store_(store), session_ttl_ms_(session_ttl_ms), zone_(std::move(zone)) {
  if (sodium_init() < 0) throw std::runtime_error("libsodium failed to initialise");
}

Pending<TerminalSession> MesService::BadgeIn(const std::string& badge_id, const std::string& pin,
                                             const std::string& work_unit) {
  if (badge_id.empty() || pin.empty()) {
    return Rule(StatusCode::kInvalidArgument, "credentials_required",
                "badge id and PIN are required");
  }
  std::optional<Row> found;
  MILLRACE_RETURN_IF_ERROR(store_->Read([&](ReadTxn& txn) -> Status {
    MILLRACE_ASSIGN_OR_RETURN(
        auto users, txn.Select(T("users"), "badge_id = ? AND active = 1", {badge_id}, "", 1));
    if (!users.empty()) found = std::move(users.front());
    return Status::Ok();
  }));
  // Verify even for an unknown badge, so timing does not tell which badges exist.
  static const std::string kDummyHash = *HashPin("not-a-pin");
  bool pin_ok = VerifyPin(found ? found->Text("pin_hash") : kDummyHash, pin);
  if (!found || !pin_ok)
    return Rule(StatusCode::kUnauthenticated, "bad_credentials", "badge or PIN not recognised");

  const std::string role = found->Text("role");
  if (work_unit.empty() && role == "operator")
    return Rule(StatusCode::kInvalidArgument, "work_unit_required",
                "an operator badges in at a work unit");
  const Row user = std::move(*found);
  const std::string token = RandomHex(32);
  return Plan<TerminalSession>([=, this](WriteTxn& txn) -> Result<TerminalSession> {
    auto sites = JsonStrings(user.Text("sites"));
    if (std::find(sites.begin(), sites.end(), txn.site_id()) == sites.end()) {
      return Rule(StatusCode::kPermissionDenied, "site_not_allowed",
                  user.Text("name") + " may not work at site " + txn.site_id());
    }
    TerminalSession session;
    session.token = token;
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
        MILLRACE_ASSIGN_OR_RETURN(
            auto units,
            txn.Select(T("equipment"), "code = ? AND level = 'work_unit'", {work_unit}, "", 1));
        if (!units.empty()) unit = std::move(units.front());
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
          txn.Select(T("operator_session"), "user_id = ? AND badge_out_at IS NULL", {user.id()}));
      for (Row& old : open) {
        const Row loaded = old;
        old.Set("badge_out_at", now);
        MILLRACE_RETURN_IF_ERROR(txn.Update(old, loaded));
        MILLRACE_ASSIGN_OR_RETURN(
            Statement * del,
            txn.db().Prepare("DELETE FROM terminal_session WHERE operator_session_id = ?"));
        MILLRACE_RETURN_IF_ERROR(del->Bind(1, old.id()));
        MILLRACE_RETURN_IF_ERROR(del->Run());
      }
      Row os = NewRow("operator_session", store_->clock());
      os.Set("user_id", user.id()).Set("work_unit_id", unit->id()).Set("badge_in_at", now);
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
        {Sha256Hex(session.token), session_id, user.id(), unit_id, session.expires_ms}));
    MILLRACE_RETURN_IF_ERROR(ins->Run());
    session.actor = Actor{user.id(),
                          user.Text("name"),
                          role,
                          session_id,
                          unit_id,
                          shift_id,
                          JsonStrings(user.Text("qualifications"))};
    return session;
  });
}

// One query for the token, its user and its operator session: a request's session costs
// one indexed lookup.
Result<Actor> MesService::Authenticate(const std::string& token) {
  if (token.empty())
    return Rule(StatusCode::kUnauthenticated, "session_required", "badge in first");
  Actor actor;
  bool found = false;
  const std::int64_t now = store_->clock()->NowMillis();
  MILLRACE_RETURN_IF_ERROR(store_->Read([&](ReadTxn& txn) -> Status {
    MILLRACE_ASSIGN_OR_RETURN(
        Statement * q,
        txn.db().Prepare(
            "SELECT ts.operator_session_id, ts.user_id, ts.work_unit_id, u.name, u.role, "
            "u.qualifications, os.shift_instance_id, os.id IS NOT NULL AND os.badge_out_at IS "
            "NULL FROM terminal_session ts JOIN users u ON u.id = ts.user_id AND u.active = 1 "
            "LEFT JOIN operator_session os ON os.id = ts.operator_session_id "
            "WHERE ts.token_hash = ? AND ts.expires_at > ?"));
    MILLRACE_RETURN_IF_ERROR(q->BindAll({Sha256Hex(token), now}));
    MILLRACE_ASSIGN_OR_RETURN(bool row, q->Step());
    if (!row) return Status::Ok();
    const auto text = [&](int i) {
      Value v = q->Column(i);
      return IsNull(v) ? std::string() : std::get<std::string>(v);
    };
    actor.session_id = text(0);
    actor.user_id = text(1);
    actor.work_unit_id = text(2);
    actor.user_name = text(3);
    actor.role = text(4);
    actor.qualifications = JsonStrings(text(5));
    actor.shift_instance_id = text(6);
    const bool on_floor_and_open = q->ColumnInt(7) != 0;
    q->Reset();
    // A session on the floor ends when its operator session does; a desk session has none.
    found = actor.session_id.rfind("desk:", 0) == 0 || on_floor_and_open;
    return Status::Ok();
  }));
  if (!found)
    return Rule(StatusCode::kUnauthenticated, "session_expired",
                "the session has ended; badge in again");
  return actor;
}

Pending<std::monostate> MesService::BadgeOut(const Actor& actor) {
  return Plan<std::monostate>([=](WriteTxn& txn) -> Result<std::monostate> {
    if (actor.session_id.rfind("desk:", 0) != 0) {
      MILLRACE_ASSIGN_OR_RETURN(
          Row s, Load(txn, "operator_session", actor.session_id, "operator_session"));
      if (s.IsNull("badge_out_at")) {
        const Row loaded = s;
        s.Set("badge_out_at", txn.NowMillis());
        MILLRACE_RETURN_IF_ERROR(txn.Update(s, loaded));
      }
    }
    MILLRACE_ASSIGN_OR_RETURN(
        Statement * del,
        txn.db().Prepare("DELETE FROM terminal_session WHERE operator_session_id = ?"));
    MILLRACE_RETURN_IF_ERROR(del->Bind(1, actor.session_id));
    MILLRACE_RETURN_IF_ERROR(del->Run());
    return std::monostate{};
  });
}

}  // namespace millrace::edge
