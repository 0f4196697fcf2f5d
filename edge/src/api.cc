// The terminal API's routes: each reads through the read model (read_model.h) or plans a
// write with MesService and answers once its group commit is durable, from the store's
// writer thread, with the JSON built on the connection's own thread (api_json.h).
#include "millrace/edge/api.h"

#include <algorithm>

#include "api_json.h"
#include "millrace/common/pin_hash.h"
#include "millrace/common/task_queue.h"
#include "millrace/edge/backup.h"
#include "read_model.h"

namespace millrace::edge {
namespace {

using namespace api;  // NOLINT: the API's codec and read model

const catalog::TableSpec& T(const char* name) {
  return *catalog::MesCatalog().Find(name);
}

// How a committed write is answered.
HttpResponse RowAnswer(const Row& row, int status) {
  return Ok(ToJson(row), status);
}

class Api {
 public:
  Api(MesService& svc, ApiOptions options)
      : svc_(&svc),
        store_(&svc.store()),
        options_(std::move(options)),
        throttle_(std::make_shared<LoginThrottle>(options_.pin_throttle)),
        pin_checks_(std::make_shared<TaskQueue>(kPinChecksAtOnce, "pin-check")) {
    if (options_.metrics) {
      pin_failures_ = &options_.metrics
                           ->AddCounter("mes_edge_pin_failures_total",
                                        "Badge-ins refused for a wrong badge or PIN")
                           .Get();
      pin_refusals_ = &options_.metrics->AddCounter(
          "mes_edge_pin_refusals_total",
          "Badge-ins refused unchecked while a badge or address is locked after wrong PINs",
          {"locked"});
    }
  }

  // A handler that needs a badged-in actor of one of `roles` (any role if empty).
  template <typename F>
  HttpHandler WithRole(std::vector<std::string> roles, F f) const {
    return [*this, roles, f](const HttpRequest& req) -> HttpResponse {
      auto actor = svc_->Authenticate(Bearer(req));
      if (!actor.ok()) return ApiError(actor.status());
      if (!roles.empty() && std::find(roles.begin(), roles.end(), actor->role) == roles.end())
        return ApiError(Status::PermissionDenied("this needs a " + roles.front() + "; " +
                                                 actor->user_name + " is an " + actor->role)
                            .WithRule("role_not_allowed"));
      return f(req, *actor);
    };
  }

  // A read that needs a badged-in actor: f(req) -> Result<json>.
  template <typename F>
  HttpHandler Reads(F f) const {
    return [*this, f](const HttpRequest& req) -> HttpResponse {
      auto actor = svc_->Authenticate(Bearer(req));
      if (!actor.ok()) return ApiError(actor.status());
      Result<json> r = f(req);
      return r.ok() ? Ok(*r) : ApiError(r.status());
    };
  }

  // A write that needs a badged-in actor and takes the body fields `fields`:
  // plan(req, actor, body) -> Pending<T>; the request is answered by answer(T) once the
  // write's commit is durable, and no thread waits for it meanwhile.
  template <typename T, typename Plan, typename Answer>
  AsyncHttpHandler Writes(std::vector<std::string> fields, Plan plan, Answer answer) const {
    return [*this, fields, plan, answer](const HttpRequest& req, HttpReply reply) {
      auto actor = svc_->Authenticate(Bearer(req));
      if (!actor.ok()) return reply(ApiError(actor.status()));
      auto body = Body(req);
      if (!body.ok()) return reply(ApiError(body.status()));
      if (Status s = OnlyFields(*body, fields); !s.ok()) return reply(ApiError(s));
      Pending<T> pending = plan(req, *actor, *body);
      std::move(pending).Then([reply, answer](Result<T> r) {
        reply.Make([r = std::move(r), answer]() -> HttpResponse {
          return r.ok() ? answer(*r) : ApiError(r.status());
        });
      });
    };
  }
  // A write answered with its row.
  template <typename Plan>
  AsyncHttpHandler WritesRow(std::vector<std::string> fields, int status, Plan plan) const {
    return Writes<Row>(std::move(fields), plan,
                       [status](const Row& row) { return RowAnswer(row, status); });
  }

  void Register(Router& r) const {
    RegisterSessions(r);
    RegisterReads(r);
    RegisterWorkOrders(r);
    RegisterOperations(r);
    RegisterQualityAndAdministration(r);
  }

  HttpHandler Supervisor(HttpHandler handler) const {
    return WithRole({"supervisor"},
                    [handler](const HttpRequest& req, const Actor&) { return handler(req); });
  }

 private:
  void RegisterSessions(Router& r) const {
    r.AddAsync("POST", "/api/v1/sessions", [*this](const HttpRequest& req, HttpReply reply) {
      auto body = Body(req);
      if (!body.ok()) return reply(ApiError(body.status()));
      if (Status s = OnlyFields(*body, {"badge_id", "pin", "work_unit_id", "work_unit"}); !s.ok())
        return reply(ApiError(s));
      auto badge = Str(*body, "badge_id", true);
      auto pin = Str(*body, "pin", true);
      auto unit_id = Str(*body, "work_unit_id", false);
      auto unit_code = Str(*body, "work_unit", false);
      for (const auto* s : {&badge, &pin, &unit_id, &unit_code})
        if (!s->ok()) return reply(ApiError(s->status()));
      if (!unit_id->empty() && !unit_code->empty())
        return reply(
            ApiError(Status::InvalidArgument("give work_unit_id or work_unit (a code), not both")
                         .WithRule("bad_field")));
      // Locked after wrong PINs: refused without looking at the PIN, the right one included.
      if (auto refusal = throttle_->Check(*badge, req.remote_address)) {
        const bool by_badge = refusal->why == LoginRefusal::Why::kKey;
        if (pin_refusals_) pin_refusals_->With({by_badge ? "badge" : "address"}).Increment();
        const std::int64_t seconds = (refusal->retry_after_ms + 999) / 1000;
        HttpResponse res =
            ApiError(Status(StatusCode::kRateLimited,
                            std::string(by_badge ? "too many wrong PINs for this badge"
                                                 : "too many wrong PINs from this terminal") +
                                "; try again in " + std::to_string(seconds) + " s")
                         .WithRule(by_badge ? "badge_locked" : "address_locked"));
        res.headers["Retry-After"] = std::to_string(seconds);
        return reply(std::move(res));
      }
      // The PIN is checked on a PIN thread (0.1 s each, a few at once), never on an I/O
      // thread; the session is written in the next group commit and answered from there.
      pin_checks_->Post([*this, reply, badge = *badge, pin = *pin,
                         unit = unit_id->empty() ? *unit_code : *unit_id,
                         address = req.remote_address] {
        svc_->BadgeIn(badge, pin, unit)
            .Then([*this, reply, badge, address](Result<TerminalSession> session) {
              if (!session.ok()) {
                if (session.status().code() == StatusCode::kUnauthenticated) {
                  throttle_->Failed(badge, address);
                  if (pin_failures_) pin_failures_->Increment();
                } else {
                  // Refused for another reason (a unit, a site): the PIN was not the question.
                  throttle_->Succeeded(badge, address);
                }
                return reply(ApiError(session.status()));
              }
              throttle_->Succeeded(badge, address);
              reply.Make([s = std::move(*session)] {
                json j{{"token", s.token},
                       {"expires_at", s.expires_ms},
                       {"user",
                        {{"id", s.actor.user_id},
                         {"name", s.actor.user_name},
                         {"role", s.actor.role}}},
                       {"session_id", s.actor.session_id},
                       {"work_unit_id", s.actor.work_unit_id}};
                HttpResponse res = Ok(j, 201);
                res.headers["Set-Cookie"] =
                    "millrace_token=" + s.token + "; Path=/; HttpOnly; SameSite=Strict";
                return res;
              });
            });
      });
    });
    r.AddAsync(
        "DELETE", "/api/v1/sessions/current",
        Writes<std::monostate>(
            {},
            [*this](const HttpRequest&, const Actor& a, const json&) { return svc_->BadgeOut(a); },
            [](const std::monostate&) {
              HttpResponse res = HttpResponse::Json(200, R"({"status":"badged_out"})");
              res.headers["Set-Cookie"] = "millrace_token=; Path=/; Max-Age=0";
              return res;
            }));
    r.Add("GET", "/api/v1/me", WithRole({}, [](const HttpRequest&, const Actor& a) {
            return Ok({{"user_id", a.user_id},
                       {"name", a.user_name},
                       {"role", a.role},
                       {"session_id", a.session_id},
                       {"work_unit_id", a.work_unit_id},
                       {"shift_instance_id", a.shift_instance_id},
                       {"qualifications", a.qualifications}});
          }));
  }

  // A page of `table` filtered by the query parameters `filters`, within `where`.
  HttpHandler List(const char* table, std::vector<std::string> filters,
                   std::string where = "") const {
    return Reads([store = store_, table, filters, where](const HttpRequest& req) {
      std::string w = where;
      std::vector<Value> params;
      Filters(T(table), req.query, filters, &w, &params);
      return Page(*store, T(table), w, params, req.query);
    });
  }

  void RegisterReads(Router& r) const {
    r.Add("GET", "/api/v1/work-units",
          List("equipment", {"code"}, "level = 'work_unit' AND active = 1"));
    r.Add("GET", "/api/v1/work-units/{id}/queue", Reads([store = store_](const HttpRequest& req) {
            return UnitQueue(*store, req.path_params.at("id"), req.query);
          }));
    r.Add("GET", "/api/v1/work-orders", List("work_order", {"status", "number", "material_id"}));
    r.Add("GET", "/api/v1/work-orders/{id}", Reads([store = store_](const HttpRequest& req) {
            return WorkOrderWithOperations(*store, req.path_params.at("id"));
          }));
    r.Add("GET", "/api/v1/operations/{id}", Reads([store = store_](const HttpRequest& req) {
            return OneRow(*store, "work_order_operation", req.path_params.at("id"));
          }));
    r.Add("GET", "/api/v1/reasons",
          List("reason_code", {"category", "parent_id", "code"}, "active = 1"));
    r.Add("GET", "/api/v1/characteristics", List("inspection_characteristic", {"plan_id"}));
    r.Add("GET", "/api/v1/downtime", Reads([store = store_](const HttpRequest& req) {
            std::string where;
            std::vector<Value> params;
            Filters(T("downtime_event"), req.query, {"work_unit_id"}, &where, &params);
            if (req.query.count("open") && req.query.at("open") == "true")
              where += std::string(where.empty() ? "" : " AND ") + "ended_at IS NULL";
            return Page(*store, T("downtime_event"), where, params, req.query);
          }));
    r.Add("GET", "/api/v1/lots", List("material_lot", {"status", "material_id", "lot_no"}));
    r.Add("GET", "/api/v1/lots/{id}", Reads([store = store_](const HttpRequest& req) {
            return OneRow(*store, "material_lot", req.path_params.at("id"));
          }));
    r.Add("GET", "/api/v1/lots/{id}/genealogy", Reads([store = store_](const HttpRequest& req) {
            const std::string direction =
                req.query.count("direction") ? req.query.at("direction") : "backward";
            return Genealogy(*store, req.path_params.at("id"), direction);
          }));
    r.Add("GET", "/api/v1/non-conformances", List("non_conformance", {"status", "lot_id"}));
  }

  void RegisterWorkOrders(Router& r) const {
    r.AddAsync(
        "POST", "/api/v1/work-orders",
        WritesRow({"number", "material_id", "quantity", "due_at"}, 201,
                  [*this](const HttpRequest&, const Actor& a, const json& b) -> Pending<Row> {
                    MILLRACE_ASSIGN_OR_RETURN(auto number, Str(b, "number", true));
                    MILLRACE_ASSIGN_OR_RETURN(auto material, Str(b, "material_id", true));
                    MILLRACE_ASSIGN_OR_RETURN(auto qty, Num(b, "quantity", true));
                    MILLRACE_ASSIGN_OR_RETURN(auto due, Num(b, "due_at", false));
                    std::optional<std::int64_t> due_ms;
                    if (due) due_ms = static_cast<std::int64_t>(*due);
                    return svc_->CreateWorkOrder(a, number, material, *qty, due_ms);
                  }));
    // Supervisor actions take {"reason": "..."}: required to hold, cancel, short-close and
    // delete (a Draft order, answered with the order as deleted),
    // kept on the audit record always.
    using WoAction =
        Pending<Row> (MesService::*)(const Actor&, const std::string&, const std::string&);
    for (const auto& [verb, action] : std::vector<std::pair<const char*, WoAction>>{
             {"release", &MesService::ReleaseWorkOrder},
             {"hold", &MesService::HoldWorkOrder},
             {"resume", &MesService::ResumeWorkOrder},
             {"cancel", &MesService::CancelWorkOrder},
             {"close", &MesService::CloseWorkOrder},
             {"short-close", &MesService::ShortCloseWorkOrder},
             {"delete", &MesService::DeleteWorkOrder}}) {
      r.AddAsync("POST", std::string("/api/v1/work-orders/{id}/") + verb,
                 WritesRow({"reason"}, 200,
                           [*this, action = action](const HttpRequest& req, const Actor& a,
                                                    const json& b) -> Pending<Row> {
                             MILLRACE_ASSIGN_OR_RETURN(auto reason, Str(b, "reason", false));
                             return (svc_->*action)(a, req.path_params.at("id"), reason);
                           }));
    }
  }

  void RegisterOperations(Router& r) const {
    using OpAction = Pending<Row> (MesService::*)(const Actor&, const std::string&);
    for (const auto& [verb, action] : std::vector<std::pair<const char*, OpAction>>{
             {"start", &MesService::StartOperation},
             {"pause", &MesService::PauseOperation},
             {"resume", &MesService::ResumeOperation},
             {"complete", &MesService::CompleteOperation}}) {
      r.AddAsync(
          "POST", std::string("/api/v1/operations/{id}/") + verb,
          WritesRow({}, 200,
                    [*this, action = action](const HttpRequest& req, const Actor& a, const json&) {
                      return (svc_->*action)(a, req.path_params.at("id"));
                    }));
    }
    // Counts and corrections take the same quantities.
    const auto counts = [](const json& b, CountReport* c) -> Status {
      MILLRACE_ASSIGN_OR_RETURN(auto good, Num(b, "good", false));
      MILLRACE_ASSIGN_OR_RETURN(auto scrap, Num(b, "scrap", false));
      MILLRACE_ASSIGN_OR_RETURN(auto rework, Num(b, "rework", false));
      MILLRACE_ASSIGN_OR_RETURN(c->scrap_reason_id, Str(b, "scrap_reason_id", false));
      MILLRACE_ASSIGN_OR_RETURN(c->note, Str(b, "note", false));
      c->good = good.value_or(0);
      c->scrap = scrap.value_or(0);
      c->rework = rework.value_or(0);
      return Status::Ok();
    };
    r.AddAsync("POST", "/api/v1/operations/{id}/counts",
               WritesRow({"good", "scrap", "rework", "scrap_reason_id", "note"}, 201,
                         [*this, counts](const HttpRequest& req, const Actor& a,
                                         const json& b) -> Pending<Row> {
                           CountReport c;
                           MILLRACE_RETURN_IF_ERROR(counts(b, &c));
                           return svc_->ReportCount(a, req.path_params.at("id"), c);
                         }));
    r.AddAsync("POST", "/api/v1/operations/{id}/corrections",
               WritesRow({"good", "scrap", "rework", "scrap_reason_id", "note", "reason"}, 201,
                         [*this, counts](const HttpRequest& req, const Actor& a,
                                         const json& b) -> Pending<Row> {
                           CountReport d;
                           MILLRACE_RETURN_IF_ERROR(counts(b, &d));
                           MILLRACE_ASSIGN_OR_RETURN(auto reason, Str(b, "reason", false));
                           return svc_->CorrectCounts(a, req.path_params.at("id"), d, reason);
                         }));
    r.AddAsync(
        "POST", "/api/v1/operations/{id}/consume",
        WritesRow({"lot_id", "quantity"}, 201,
                  [*this](const HttpRequest& req, const Actor& a, const json& b) -> Pending<Row> {
                    MILLRACE_ASSIGN_OR_RETURN(auto lot, Str(b, "lot_id", true));
                    MILLRACE_ASSIGN_OR_RETURN(auto qty, Num(b, "quantity", true));
                    return svc_->ConsumeLot(a, req.path_params.at("id"), lot, *qty);
                  }));
    r.AddAsync(
        "POST", "/api/v1/operations/{id}/produce",
        WritesRow({"quantity"}, 201,
                  [*this](const HttpRequest& req, const Actor& a, const json& b) -> Pending<Row> {
                    MILLRACE_ASSIGN_OR_RETURN(auto qty, Num(b, "quantity", true));
                    return svc_->ProduceOutput(a, req.path_params.at("id"), *qty);
                  }));

    // ---- downtime ----
    r.AddAsync(
        "POST", "/api/v1/downtime",
        WritesRow({"work_unit_id", "reason_id", "comment"}, 201,
                  [*this](const HttpRequest&, const Actor& a, const json& b) -> Pending<Row> {
                    MILLRACE_ASSIGN_OR_RETURN(auto unit, Str(b, "work_unit_id", false));
                    MILLRACE_ASSIGN_OR_RETURN(auto reason, Str(b, "reason_id", false));
                    MILLRACE_ASSIGN_OR_RETURN(auto comment, Str(b, "comment", false));
                    return svc_->StartDowntime(a, unit, reason, comment);
                  }));
    r.AddAsync(
        "POST", "/api/v1/downtime/{id}/classify",
        WritesRow({"reason_id"}, 200,
                  [*this](const HttpRequest& req, const Actor& a, const json& b) -> Pending<Row> {
                    MILLRACE_ASSIGN_OR_RETURN(auto reason, Str(b, "reason_id", true));
                    return svc_->ClassifyDowntime(a, req.path_params.at("id"), reason);
                  }));
    r.AddAsync("POST", "/api/v1/downtime/{id}/end",
               WritesRow({}, 200, [*this](const HttpRequest& req, const Actor& a, const json&) {
                 return svc_->EndDowntime(a, req.path_params.at("id"));
               }));
  }

  void RegisterQualityAndAdministration(Router& r) const {
    r.AddAsync("POST", "/api/v1/measurements",
               Writes<MeasurementResult>(
                   {"characteristic_id", "operation_id", "lot_id", "value", "passed", "hold_lot"},
                   [*this](const HttpRequest&, const Actor& a,
                           const json& b) -> Pending<MeasurementResult> {
                     MeasurementInput in;
                     MILLRACE_ASSIGN_OR_RETURN(in.characteristic_id,
                                               Str(b, "characteristic_id", true));
                     MILLRACE_ASSIGN_OR_RETURN(in.operation_id, Str(b, "operation_id", false));
                     MILLRACE_ASSIGN_OR_RETURN(in.lot_id, Str(b, "lot_id", false));
                     MILLRACE_ASSIGN_OR_RETURN(in.value, Num(b, "value", false));
                     MILLRACE_ASSIGN_OR_RETURN(in.passed, Bool(b, "passed"));
                     MILLRACE_ASSIGN_OR_RETURN(auto hold, Bool(b, "hold_lot"));
                     in.hold_lot_when_out_of_spec = hold.value_or(true);
                     return svc_->RecordMeasurement(a, in);
                   },
                   [](const MeasurementResult& m) {
                     json j{{"measurement", ToJson(m.measurement)},
                            {"non_conformance",
                             m.non_conformance ? ToJson(*m.non_conformance) : json(nullptr)}};
                     return Ok(j, 201);
                   }));
    r.AddAsync(
        "POST", "/api/v1/lots/{id}/status",
        WritesRow({"status", "reason"}, 200,
                  [*this](const HttpRequest& req, const Actor& a, const json& b) -> Pending<Row> {
                    MILLRACE_ASSIGN_OR_RETURN(auto status, Str(b, "status", true));
                    MILLRACE_ASSIGN_OR_RETURN(auto reason, Str(b, "reason", false));
                    return svc_->SetLotStatus(a, req.path_params.at("id"), status, reason);
                  }));
    r.AddAsync(
        "POST", "/api/v1/non-conformances/{id}/dispose",
        WritesRow({"disposition", "close", "reason"}, 200,
                  [*this](const HttpRequest& req, const Actor& a, const json& b) -> Pending<Row> {
                    MILLRACE_ASSIGN_OR_RETURN(auto disposition, Str(b, "disposition", true));
                    MILLRACE_ASSIGN_OR_RETURN(auto close, Bool(b, "close"));
                    MILLRACE_ASSIGN_OR_RETURN(auto reason, Str(b, "reason", false));
                    return svc_->DisposeNonConformance(a, req.path_params.at("id"), disposition,
                                                       close.value_or(false), reason);
                  }));

    // The site's audit trail, oldest first and keyset-paged (a supervisor's or quality
    // engineer's read); ?row_id=<id> for one row's history.
    r.Add("GET", "/api/v1/audit",
          WithRole({"supervisor", "quality"}, [*this](const HttpRequest& req, const Actor&) {
            std::string where;
            std::vector<Value> params;
            Filters(T("audit_record"), req.query, {"row_id", "action", "table_name"}, &where,
                    &params);
            auto page = Page(*store_, T("audit_record"), where, params, req.query);
            return page.ok() ? Ok(*page) : ApiError(page.status());
          }));
    // Administration: a supervisor's session. A backup copies every row of the site; the
    // outbox shows what the floor did.
    r.Add(
        "POST", "/api/v1/backups",
        WithRole({"supervisor"}, [*this](const HttpRequest&, const Actor&) {
          auto info = BackupStore(*store_, options_.backup_dir, options_.backup_keep);
          if (!info.ok()) return ApiError(info.status());
          return Ok({{"path", info->path}, {"bytes", info->bytes}, {"millis", info->millis}}, 201);
        }));
    r.Add("GET", "/api/v1/outbox",
          WithRole({"supervisor"}, [*this](const HttpRequest& req, const Actor&) {
            int limit = 20;
            if (req.query.count("limit"))
              limit = std::clamp(std::atoi(req.query.at("limit").c_str()), 0, kMaxPage);
            auto view = OutboxView(*store_, limit);
            return view.ok() ? Ok(*view) : ApiError(view.status());
          }));
  }

  // Copied into every handler: what they share lives behind pointers.
  MesService* svc_;
  EdgeStore* store_;
  ApiOptions options_;
  std::shared_ptr<LoginThrottle> throttle_;
  std::shared_ptr<TaskQueue> pin_checks_;  // badge-ins: PIN hashes off the I/O threads
  Counter* pin_failures_ = nullptr;
  Family<Counter>* pin_refusals_ = nullptr;
};

}  // namespace

std::string RowJson(const Row& row) {
  return ToJson(row).dump();
}

void AddTerminalApi(Router& router, MesService& service, ApiOptions options) {
  Api(service, std::move(options)).Register(router);
}

HttpHandler SupervisorOnly(MesService& service, HttpHandler handler) {
  return Api(service, {}).Supervisor(std::move(handler));
}

}  // namespace millrace::edge
