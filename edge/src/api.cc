#include "millrace/edge/api.h"

#include <nlohmann/json.hpp>
#include <set>

#include "millrace/common/ddl.h"
#include "millrace/common/row_json.h"
#include "millrace/edge/backup.h"

namespace millrace::edge {
namespace {

using json = nlohmann::json;
using catalog::ColumnType;

const catalog::TableSpec& T(const char* name) {
  return *catalog::MesCatalog().Find(name);
}

constexpr int kDefaultPage = 50;
constexpr int kMaxPage = 500;

json ToJson(const Row& row) {
  json j = json::object();
  const auto& cols = row.table().columns;
  for (std::size_t i = 0; i < cols.size(); ++i) {
    if (row.table().name == "users" && cols[i].name == "pin_hash") continue;
    j[cols[i].name] = ValueToJson(cols[i], row.values()[i]);
  }
  return j;
}

// {"error":{"code","rule","message"}}; the rule is the message's leading "rule_name: ".
HttpResponse ApiError(const Status& s) {
  HttpResponse r = HttpResponse::Error(s);
  const std::string& m = s.message();
  auto colon = m.find(": ");
  bool is_rule = colon != std::string::npos && colon > 0;
  for (std::size_t i = 0; is_rule && i < colon; ++i)
    is_rule = (m[i] >= 'a' && m[i] <= 'z') || m[i] == '_';
  if (is_rule) {
    json j = json::parse(r.body);
    j["error"]["rule"] = m.substr(0, colon);
    r.body = j.dump();
  }
  return r;
}

HttpResponse Ok(const json& body, int status = 200) {
  return HttpResponse::Json(status, body.dump());
}

Result<json> Body(const HttpRequest& req) {
  if (req.body.empty()) return json::object();
  json j = json::parse(req.body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return Status::InvalidArgument("bad_json: the request body must be a JSON object");
  }
  return j;
}

// Refuses a body field the request does not take: a misspelt field ("scrapp") must not
// be dropped silently while the request is answered as if it had been understood.
Status OnlyFields(const json& body, const std::vector<std::string>& known) {
  std::string unknown;
  for (auto it = body.begin(); it != body.end(); ++it)
    if (std::find(known.begin(), known.end(), it.key()) == known.end())
      unknown += (unknown.empty() ? "'" : ", '") + it.key() + "'";
  if (unknown.empty()) return Status::Ok();
  std::string list;
  for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
  return Status::InvalidArgument("unknown_field: " + unknown + (unknown.find(',') == std::string::npos ? " is" : " are") +
                                 " not a field of this request" +
                                 (list.empty() ? " (it takes no body)" : " (it takes " + list + ")"));
}

Result<std::string> Str(const json& body, const char* key, bool required) {
  if (!body.contains(key) || body[key].is_null()) {
    if (required)
      return Status::InvalidArgument(std::string("field_required: '") + key + "' is required");
    return std::string();
  }
  if (!body[key].is_string())
    return Status::InvalidArgument(std::string("bad_field: '") + key + "' must be a string");
  return body[key].get<std::string>();
}

Result<std::optional<double>> Num(const json& body, const char* key, bool required) {
  if (!body.contains(key) || body[key].is_null()) {
    if (required)
      return Status::InvalidArgument(std::string("field_required: '") + key + "' is required");
    return std::optional<double>();
  }
  if (!body[key].is_number())
    return Status::InvalidArgument(std::string("bad_field: '") + key + "' must be a number");
  return std::optional<double>(body[key].get<double>());
}

Result<std::optional<bool>> Bool(const json& body, const char* key) {
  if (!body.contains(key) || body[key].is_null()) return std::optional<bool>();
  if (!body[key].is_boolean())
    return Status::InvalidArgument(std::string("bad_field: '") + key + "' must be true or false");
  return std::optional<bool>(body[key].get<bool>());
}

std::string Bearer(const HttpRequest& req) {
  std::string h = req.Header("authorization");
  const std::string prefix = "Bearer ";
  if (h.rfind(prefix, 0) == 0) return h.substr(prefix.size());
  // The web terminal keeps its token in a cookie.
  std::string cookie = req.Header("cookie");
  auto pos = cookie.find("millrace_token=");
  if (pos != std::string::npos) {
    auto end = cookie.find(';', pos);
    return cookie.substr(pos + 15, end == std::string::npos ? std::string::npos : end - pos - 15);
  }
  return "";
}

// Keyset pagination over one table, ordered by id (UUIDv7: creation order).
Result<json> Page(EdgeStore& store, const catalog::TableSpec& table, std::string where,
                  std::vector<Value> params, const HttpRequest& req) {
  int limit = kDefaultPage;
  if (auto it = req.query.find("limit"); it != req.query.end()) {
    try {
      limit = std::stoi(it->second);
    } catch (const std::exception&) {
      limit = -1;
    }
    if (limit < 1 || limit > kMaxPage) {
      return Status::InvalidArgument("bad_limit: limit must be 1.." + std::to_string(kMaxPage));
    }
  }
  if (auto it = req.query.find("after"); it != req.query.end() && !it->second.empty()) {
    where += std::string(where.empty() ? "" : " AND ") + "id > ?";
    params.push_back(it->second);
  }
  json out;
  out["items"] = json::array();
  MILLRACE_RETURN_IF_ERROR(store.Read([&](ReadTxn& txn) -> Status {
    MILLRACE_ASSIGN_OR_RETURN(auto rows, txn.Select(table, where, params, "id", limit + 1));
    bool more = rows.size() > static_cast<std::size_t>(limit);
    if (more) rows.pop_back();
    for (const Row& r : rows) out["items"].push_back(ToJson(r));
    out["next"] = more ? json(rows.back().id()) : json(nullptr);
    return Status::Ok();
  }));
  return out;
}

// Adds equality filters for the query parameters that name columns of `table`.
void Filters(const catalog::TableSpec& table, const HttpRequest& req,
             const std::vector<std::string>& allowed, std::string* where,
             std::vector<Value>* params) {
  for (const auto& name : allowed) {
    auto it = req.query.find(name);
    if (it == req.query.end() || !table.Find(name)) continue;
    *where += std::string(where->empty() ? "" : " AND ") + catalog::QuoteIdent(name) + " = ?";
    params->push_back(it->second);
  }
}

class Api {
 public:
  Api(MesService& svc, ApiOptions options)
      : svc_(&svc),
        store_(&svc.store()),
        options_(std::move(options)),
        throttle_(std::make_shared<LoginThrottle>(options_.pin_throttle)) {
    if (options_.metrics) {
      pin_failures_ = &options_.metrics->AddCounter("mes_edge_pin_failures_total",
                                                    "Badge-ins refused for a wrong badge or PIN")
                           .Get();
      pin_refusals_ = &options_.metrics->AddCounter(
          "mes_edge_pin_refusals_total",
          "Badge-ins refused unchecked while a badge or address is locked after wrong PINs",
          {"locked"});
    }
  }

  // Wraps a handler that needs a badged-in actor of one of `roles` (any role if empty).
  template <typename F>
  HttpHandler WithRole(std::vector<std::string> roles, F f) const {
    return [*this, roles, f](const HttpRequest& req) -> HttpResponse {
      auto actor = svc_->Authenticate(Bearer(req));
      if (!actor.ok()) return ApiError(actor.status());
      if (!roles.empty() && std::find(roles.begin(), roles.end(), actor->role) == roles.end())
        return ApiError(Status::PermissionDenied("role_not_allowed: this needs a " + roles.front() +
                                                 "; " + actor->user_name + " is an " + actor->role));
      return f(req, *actor);
    };
  }

  // Wraps a handler that needs a badged-in actor and takes the body fields `fields`.
  template <typename F>
  HttpHandler Authed(std::vector<std::string> fields, F f) const {
    return [*this, fields, f](const HttpRequest& req) -> HttpResponse {
      auto actor = svc_->Authenticate(Bearer(req));
      if (!actor.ok()) return ApiError(actor.status());
      auto body = Body(req);
      if (!body.ok()) return ApiError(body.status());
      if (Status s = OnlyFields(*body, fields); !s.ok()) return ApiError(s);
      Result<HttpResponse> r = f(req, *actor, *body);
      return r.ok() ? *r : ApiError(r.status());
    };
  }

  // A row-returning service call -> {"<name>": row}.
  static Result<HttpResponse> RowReply(const Result<Row>& r, int status = 200) {
    if (!r.ok()) return r.status();
    return Ok(ToJson(*r), status);
  }

  Result<HttpResponse> GetOne(const char* table, const std::string& id) const {
    std::optional<Row> row;
    MILLRACE_RETURN_IF_ERROR(store_->Read([&](ReadTxn& txn) -> Status {
      MILLRACE_ASSIGN_OR_RETURN(row, txn.Get(T(table), id));
      return Status::Ok();
    }));
    if (!row) return Status::NotFound(std::string(table) + "_not_found: " + id + " does not exist");
    return Ok(ToJson(*row));
  }

  void Register(Router& r) const {
    // ---- sessions ----
    r.Add("POST", "/api/v1/sessions", [*this](const HttpRequest& req) -> HttpResponse {
      auto body = Body(req);
      if (!body.ok()) return ApiError(body.status());
      if (Status s = OnlyFields(*body, {"badge_id", "pin", "work_unit_id", "work_unit"}); !s.ok())
        return ApiError(s);
      auto badge = Str(*body, "badge_id", true);
      auto pin = Str(*body, "pin", true);
      auto unit_id = Str(*body, "work_unit_id", false);
      auto unit_code = Str(*body, "work_unit", false);
      for (const auto* s : {&badge, &pin, &unit_id, &unit_code})
        if (!s->ok()) return ApiError(s->status());
      if (!unit_id->empty() && !unit_code->empty())
        return ApiError(Status::InvalidArgument(
            "bad_field: give work_unit_id or work_unit (a code), not both"));
      // Locked after wrong PINs: refused without looking at the PIN, the right one included.
      if (auto refusal = throttle_->Check(*badge, req.remote_address)) {
        const bool by_badge = refusal->why == LoginRefusal::Why::kKey;
        if (pin_refusals_) pin_refusals_->With({by_badge ? "badge" : "address"}).Increment();
        const std::int64_t seconds = (refusal->retry_after_ms + 999) / 1000;
        HttpResponse res = ApiError(Status(
            StatusCode::kRateLimited,
            std::string(by_badge ? "badge_locked: too many wrong PINs for this badge"
                                 : "address_locked: too many wrong PINs from this terminal") +
                "; try again in " + std::to_string(seconds) + " s"));
        res.headers["Retry-After"] = std::to_string(seconds);
        return res;
      }
      auto session = svc_->BadgeIn(*badge, *pin, unit_id->empty() ? *unit_code : *unit_id);
      if (!session.ok()) {
        if (session.status().code() == StatusCode::kUnauthenticated) {
          throttle_->Failed(*badge, req.remote_address);
          if (pin_failures_) pin_failures_->Increment();
        } else {
          // Refused for another reason (a unit, a site): the PIN was not the question.
          throttle_->Succeeded(*badge, req.remote_address);
        }
        return ApiError(session.status());
      }
      throttle_->Succeeded(*badge, req.remote_address);
      json j{{"token", session->token},
             {"expires_at", session->expires_ms},
             {"user",
              {{"id", session->actor.user_id},
               {"name", session->actor.user_name},
               {"role", session->actor.role}}},
             {"session_id", session->actor.session_id},
             {"work_unit_id", session->actor.work_unit_id}};
      HttpResponse res = Ok(j, 201);
      res.headers["Set-Cookie"] =
          "millrace_token=" + session->token + "; Path=/; HttpOnly; SameSite=Strict";
      return res;
    });
    r.Add("DELETE", "/api/v1/sessions/current",
          Authed({}, [*this](const HttpRequest&, const Actor& a, const json&) -> Result<HttpResponse> {
            MILLRACE_RETURN_IF_ERROR(svc_->BadgeOut(a));
            HttpResponse res = HttpResponse::Json(200, R"({"status":"badged_out"})");
            res.headers["Set-Cookie"] = "millrace_token=; Path=/; Max-Age=0";
            return res;
          }));
    r.Add("GET", "/api/v1/me",
          Authed({}, [](const HttpRequest&, const Actor& a, const json&) -> Result<HttpResponse> {
            return Ok({{"user_id", a.user_id},
                       {"name", a.user_name},
                       {"role", a.role},
                       {"session_id", a.session_id},
                       {"work_unit_id", a.work_unit_id},
                       {"shift_instance_id", a.shift_instance_id},
                       {"qualifications", a.qualifications}});
          }));

    // ---- reads ----
    r.Add("GET", "/api/v1/work-units",
          Authed({}, [*this](const HttpRequest& req, const Actor&, const json&) -> Result<HttpResponse> {
            std::string where = "level = 'work_unit' AND active = 1";
            std::vector<Value> params;
            Filters(T("equipment"), req, {"code"}, &where, &params);
            MILLRACE_ASSIGN_OR_RETURN(json page, Page(*store_, T("equipment"), where, params, req));
            return Ok(page);
          }));
    r.Add(
        "GET", "/api/v1/work-units/{id}/queue",
        Authed({}, [*this](const HttpRequest& req, const Actor&, const json&) -> Result<HttpResponse> {
          std::string unit = req.path_params.at("id");
          MILLRACE_ASSIGN_OR_RETURN(json page, Page(*store_, T("work_order_operation"),
                                                    "(work_unit_id = ? OR work_unit_id IS NULL) "
                                                    "AND status IN ('Ready', 'Running', 'Paused')",
                                                    {unit}, req));
          // Attach the order number and product so a terminal can show the queue as is.
          MILLRACE_RETURN_IF_ERROR(store_->Read([&](ReadTxn& txn) -> Status {
            for (auto& item : page["items"]) {
              MILLRACE_ASSIGN_OR_RETURN(
                  auto wo, txn.Get(T("work_order"), item["work_order_id"].get<std::string>()));
              if (!wo) continue;
              item["work_order_number"] = wo->Text("number");
              item["work_order_status"] = wo->Text("status");
              MILLRACE_ASSIGN_OR_RETURN(auto product,
                                        txn.Get(T("material_definition"), wo->Text("material_id")));
              if (product) item["product"] = product->Text("code") + " " + product->Text("name");
            }
            return Status::Ok();
          }));
          return Ok(page);
        }));
    r.Add(
        "GET", "/api/v1/work-orders",
        Authed({}, [*this](const HttpRequest& req, const Actor&, const json&) -> Result<HttpResponse> {
          std::string where;
          std::vector<Value> params;
          Filters(T("work_order"), req, {"status", "number", "material_id"}, &where, &params);
          MILLRACE_ASSIGN_OR_RETURN(json page, Page(*store_, T("work_order"), where, params, req));
          return Ok(page);
        }));
    r.Add(
        "GET", "/api/v1/work-orders/{id}",
        Authed({}, [*this](const HttpRequest& req, const Actor&, const json&) -> Result<HttpResponse> {
          json out;
          MILLRACE_RETURN_IF_ERROR(store_->Read([&](ReadTxn& txn) -> Status {
            MILLRACE_ASSIGN_OR_RETURN(auto wo, txn.Get(T("work_order"), req.path_params.at("id")));
            if (!wo)
              return Status::NotFound("work_order_not_found: " + req.path_params.at("id") +
                                      " does not exist");
            out = ToJson(*wo);
            out["operations"] = json::array();
            MILLRACE_ASSIGN_OR_RETURN(auto ops, txn.Select(T("work_order_operation"),
                                                           "work_order_id = ?", {wo->id()}, "seq"));
            for (const Row& op : ops) out["operations"].push_back(ToJson(op));
            return Status::Ok();
          }));
          return Ok(out);
        }));
    r.Add("GET", "/api/v1/operations/{id}",
          Authed({}, [*this](const HttpRequest& req, const Actor&, const json&) {
            return GetOne("work_order_operation", req.path_params.at("id"));
          }));
    r.Add("GET", "/api/v1/reasons",
          Authed({}, [*this](const HttpRequest& req, const Actor&, const json&) -> Result<HttpResponse> {
            std::string where = "active = 1";
            std::vector<Value> params;
            Filters(T("reason_code"), req, {"category", "parent_id", "code"}, &where, &params);
            MILLRACE_ASSIGN_OR_RETURN(json page, Page(*store_, T("reason_code"), where, params, req));
            return Ok(page);
          }));
    r.Add(
        "GET", "/api/v1/characteristics",
        Authed({}, [*this](const HttpRequest& req, const Actor&, const json&) -> Result<HttpResponse> {
          std::string where;
          std::vector<Value> params;
          Filters(T("inspection_characteristic"), req, {"plan_id"}, &where, &params);
          MILLRACE_ASSIGN_OR_RETURN(
              json page, Page(*store_, T("inspection_characteristic"), where, params, req));
          return Ok(page);
        }));
    r.Add(
        "GET", "/api/v1/downtime",
        Authed({}, [*this](const HttpRequest& req, const Actor&, const json&) -> Result<HttpResponse> {
          std::string where;
          std::vector<Value> params;
          Filters(T("downtime_event"), req, {"work_unit_id"}, &where, &params);
          if (req.query.count("open") && req.query.at("open") == "true")
            where += std::string(where.empty() ? "" : " AND ") + "ended_at IS NULL";
          MILLRACE_ASSIGN_OR_RETURN(json page,
                                    Page(*store_, T("downtime_event"), where, params, req));
          return Ok(page);
        }));
    r.Add(
        "GET", "/api/v1/lots",
        Authed({}, [*this](const HttpRequest& req, const Actor&, const json&) -> Result<HttpResponse> {
          std::string where;
          std::vector<Value> params;
          Filters(T("material_lot"), req, {"status", "material_id", "lot_no"}, &where, &params);
          MILLRACE_ASSIGN_OR_RETURN(json page,
                                    Page(*store_, T("material_lot"), where, params, req));
          return Ok(page);
        }));
    r.Add("GET", "/api/v1/lots/{id}",
          Authed({}, [*this](const HttpRequest& req, const Actor&, const json&) {
            return GetOne("material_lot", req.path_params.at("id"));
          }));
    r.Add(
        "GET", "/api/v1/lots/{id}/genealogy",
        Authed({}, [*this](const HttpRequest& req, const Actor&, const json&) -> Result<HttpResponse> {
          std::string direction =
              req.query.count("direction") ? req.query.at("direction") : "backward";
          if (direction != "backward" && direction != "forward") {
            return Status::InvalidArgument("bad_direction: direction is backward or forward");
          }
          // Walks the links breadth-first: backward finds what a lot was made from, forward
          // what it went into (recall scoping).
          json links = json::array();
          MILLRACE_RETURN_IF_ERROR(store_->Read([&](ReadTxn& txn) -> Status {
            std::vector<std::string> frontier{req.path_params.at("id")};
            std::set<std::string> seen(frontier.begin(), frontier.end());
            const std::string from = direction == "backward" ? "child_id" : "parent_id";
            const std::string to = direction == "backward" ? "parent_id" : "child_id";
            while (!frontier.empty() && links.size() < 10000) {
              std::string lot = frontier.back();
              frontier.pop_back();
              MILLRACE_ASSIGN_OR_RETURN(
                  auto rows, txn.Select(T("genealogy_link"), from + " = ?", {lot}, "id"));
              for (const Row& l : rows) {
                links.push_back(ToJson(l));
                if (seen.insert(l.Text(to)).second) frontier.push_back(l.Text(to));
              }
            }
            return Status::Ok();
          }));
          return Ok(
              {{"lot_id", req.path_params.at("id")}, {"direction", direction}, {"links", links}});
        }));
    r.Add(
        "GET", "/api/v1/non-conformances",
        Authed({}, [*this](const HttpRequest& req, const Actor&, const json&) -> Result<HttpResponse> {
          std::string where;
          std::vector<Value> params;
          Filters(T("non_conformance"), req, {"status", "lot_id"}, &where, &params);
          MILLRACE_ASSIGN_OR_RETURN(json page,
                                    Page(*store_, T("non_conformance"), where, params, req));
          return Ok(page);
        }));

    // ---- work orders (supervisor) ----
    r.Add(
        "POST", "/api/v1/work-orders",
        Authed({"number", "material_id", "quantity", "due_at"}, [*this](const HttpRequest&, const Actor& a, const json& b) -> Result<HttpResponse> {
          MILLRACE_ASSIGN_OR_RETURN(auto number, Str(b, "number", true));
          MILLRACE_ASSIGN_OR_RETURN(auto material, Str(b, "material_id", true));
          MILLRACE_ASSIGN_OR_RETURN(auto qty, Num(b, "quantity", true));
          MILLRACE_ASSIGN_OR_RETURN(auto due, Num(b, "due_at", false));
          std::optional<std::int64_t> due_ms;
          if (due) due_ms = static_cast<std::int64_t>(*due);
          return RowReply(svc_->CreateWorkOrder(a, number, material, *qty, due_ms), 201);
        }));
    // Supervisor actions take {"reason": "..."}: required to hold, cancel and short-close,
    // kept on the audit record always.
    using WoAction =
        Result<Row> (MesService::*)(const Actor&, const std::string&, const std::string&);
    for (const auto& [verb, action] : std::vector<std::pair<const char*, WoAction>>{
             {"release", &MesService::ReleaseWorkOrder},
             {"hold", &MesService::HoldWorkOrder},
             {"resume", &MesService::ResumeWorkOrder},
             {"cancel", &MesService::CancelWorkOrder},
             {"close", &MesService::CloseWorkOrder},
             {"short-close", &MesService::ShortCloseWorkOrder}}) {
      r.Add("POST", std::string("/api/v1/work-orders/{id}/") + verb,
            Authed({"reason"}, [*this, action = action](const HttpRequest& req, const Actor& a,
                                                        const json& b) -> Result<HttpResponse> {
              MILLRACE_ASSIGN_OR_RETURN(auto reason, Str(b, "reason", false));
              return RowReply((svc_->*action)(a, req.path_params.at("id"), reason));
            }));
    }

    // ---- operations ----
    using OpAction = Result<Row> (MesService::*)(const Actor&, const std::string&);
    for (const auto& [verb, action] : std::vector<std::pair<const char*, OpAction>>{
             {"start", &MesService::StartOperation},
             {"pause", &MesService::PauseOperation},
             {"resume", &MesService::ResumeOperation},
             {"complete", &MesService::CompleteOperation}}) {
      r.Add("POST", std::string("/api/v1/operations/{id}/") + verb,
            Authed({}, [*this, action = action](const HttpRequest& req, const Actor& a, const json&) {
              return RowReply((svc_->*action)(a, req.path_params.at("id")));
            }));
    }
    r.Add("POST", "/api/v1/operations/{id}/counts",
          Authed({"good", "scrap", "rework", "scrap_reason_id"}, [*this](const HttpRequest& req, const Actor& a,
                         const json& b) -> Result<HttpResponse> {
            CountReport c;
            MILLRACE_ASSIGN_OR_RETURN(auto good, Num(b, "good", false));
            MILLRACE_ASSIGN_OR_RETURN(auto scrap, Num(b, "scrap", false));
            MILLRACE_ASSIGN_OR_RETURN(auto rework, Num(b, "rework", false));
            MILLRACE_ASSIGN_OR_RETURN(c.scrap_reason_id, Str(b, "scrap_reason_id", false));
            c.good = good.value_or(0);
            c.scrap = scrap.value_or(0);
            c.rework = rework.value_or(0);
            return RowReply(svc_->ReportCount(a, req.path_params.at("id"), c), 201);
          }));
    r.Add("POST", "/api/v1/operations/{id}/corrections",
          Authed({"good", "scrap", "rework", "scrap_reason_id", "reason"},
                 [*this](const HttpRequest& req, const Actor& a,
                         const json& b) -> Result<HttpResponse> {
            CountReport d;
            MILLRACE_ASSIGN_OR_RETURN(auto good, Num(b, "good", false));
            MILLRACE_ASSIGN_OR_RETURN(auto scrap, Num(b, "scrap", false));
            MILLRACE_ASSIGN_OR_RETURN(auto rework, Num(b, "rework", false));
            MILLRACE_ASSIGN_OR_RETURN(d.scrap_reason_id, Str(b, "scrap_reason_id", false));
            MILLRACE_ASSIGN_OR_RETURN(auto reason, Str(b, "reason", false));
            d.good = good.value_or(0);
            d.scrap = scrap.value_or(0);
            d.rework = rework.value_or(0);
            return RowReply(svc_->CorrectCounts(a, req.path_params.at("id"), d, reason), 201);
          }));
    r.Add("POST", "/api/v1/operations/{id}/consume",
          Authed({"lot_id", "quantity"}, [*this](const HttpRequest& req, const Actor& a,
                         const json& b) -> Result<HttpResponse> {
            MILLRACE_ASSIGN_OR_RETURN(auto lot, Str(b, "lot_id", true));
            MILLRACE_ASSIGN_OR_RETURN(auto qty, Num(b, "quantity", true));
            return RowReply(svc_->ConsumeLot(a, req.path_params.at("id"), lot, *qty), 201);
          }));
    r.Add("POST", "/api/v1/operations/{id}/produce",
          Authed({"quantity"}, [*this](const HttpRequest& req, const Actor& a,
                         const json& b) -> Result<HttpResponse> {
            MILLRACE_ASSIGN_OR_RETURN(auto qty, Num(b, "quantity", true));
            return RowReply(svc_->ProduceOutput(a, req.path_params.at("id"), *qty), 201);
          }));

    // ---- downtime ----
    r.Add(
        "POST", "/api/v1/downtime",
        Authed({"work_unit_id", "reason_id", "comment"}, [*this](const HttpRequest&, const Actor& a, const json& b) -> Result<HttpResponse> {
          MILLRACE_ASSIGN_OR_RETURN(auto unit, Str(b, "work_unit_id", false));
          MILLRACE_ASSIGN_OR_RETURN(auto reason, Str(b, "reason_id", false));
          MILLRACE_ASSIGN_OR_RETURN(auto comment, Str(b, "comment", false));
          return RowReply(svc_->StartDowntime(a, unit, reason, comment), 201);
        }));
    r.Add("POST", "/api/v1/downtime/{id}/classify",
          Authed({"reason_id"}, [*this](const HttpRequest& req, const Actor& a,
                         const json& b) -> Result<HttpResponse> {
            MILLRACE_ASSIGN_OR_RETURN(auto reason, Str(b, "reason_id", true));
            return RowReply(svc_->ClassifyDowntime(a, req.path_params.at("id"), reason));
          }));
    r.Add("POST", "/api/v1/downtime/{id}/end",
          Authed({}, [*this](const HttpRequest& req, const Actor& a, const json&) {
            return RowReply(svc_->EndDowntime(a, req.path_params.at("id")));
          }));

    // ---- quality ----
    r.Add(
        "POST", "/api/v1/measurements",
        Authed({"characteristic_id", "operation_id", "lot_id", "value", "passed", "hold_lot"}, [*this](const HttpRequest&, const Actor& a, const json& b) -> Result<HttpResponse> {
          MeasurementInput in;
          MILLRACE_ASSIGN_OR_RETURN(in.characteristic_id, Str(b, "characteristic_id", true));
          MILLRACE_ASSIGN_OR_RETURN(in.operation_id, Str(b, "operation_id", false));
          MILLRACE_ASSIGN_OR_RETURN(in.lot_id, Str(b, "lot_id", false));
          MILLRACE_ASSIGN_OR_RETURN(in.value, Num(b, "value", false));
          MILLRACE_ASSIGN_OR_RETURN(in.passed, Bool(b, "passed"));
          MILLRACE_ASSIGN_OR_RETURN(auto hold, Bool(b, "hold_lot"));
          in.hold_lot_when_out_of_spec = hold.value_or(true);
          MILLRACE_ASSIGN_OR_RETURN(auto result, svc_->RecordMeasurement(a, in));
          json j{{"measurement", ToJson(result.measurement)},
                 {"non_conformance",
                  result.non_conformance ? ToJson(*result.non_conformance) : json(nullptr)}};
          return Ok(j, 201);
        }));
    r.Add("POST", "/api/v1/lots/{id}/status",
          Authed({"status", "reason"}, [*this](const HttpRequest& req, const Actor& a,
                         const json& b) -> Result<HttpResponse> {
            MILLRACE_ASSIGN_OR_RETURN(auto status, Str(b, "status", true));
            MILLRACE_ASSIGN_OR_RETURN(auto reason, Str(b, "reason", false));
            return RowReply(svc_->SetLotStatus(a, req.path_params.at("id"), status, reason));
          }));
    r.Add("POST", "/api/v1/non-conformances/{id}/dispose",
          Authed({"disposition", "close", "reason"}, [*this](const HttpRequest& req, const Actor& a,
                         const json& b) -> Result<HttpResponse> {
            MILLRACE_ASSIGN_OR_RETURN(auto disposition, Str(b, "disposition", true));
            MILLRACE_ASSIGN_OR_RETURN(auto close, Bool(b, "close"));
            MILLRACE_ASSIGN_OR_RETURN(auto reason, Str(b, "reason", false));
            return RowReply(svc_->DisposeNonConformance(a, req.path_params.at("id"), disposition,
                                                        close.value_or(false), reason));
          }));

    // ---- administration ----
    // The site's audit trail, oldest first and keyset-paged (a supervisor's or quality
    // engineer's read); ?row_id=<id> for one row's history.
    r.Add("GET", "/api/v1/audit",
          WithRole({"supervisor", "quality"}, [*this](const HttpRequest& req, const Actor&) -> HttpResponse {
            std::string where;
            std::vector<Value> params;
            Filters(T("audit_record"), req, {"row_id", "action", "table_name"}, &where, &params);
            auto page = Page(*store_, T("audit_record"), where, params, req);
            return page.ok() ? Ok(*page) : ApiError(page.status());
          }));
    // Administration: a supervisor's session. A backup copies every row of the site; the
    // outbox shows what the floor did.
    r.Add("POST", "/api/v1/backups",
          WithRole({"supervisor"}, [*this](const HttpRequest&, const Actor&) -> HttpResponse {
      auto info = BackupStore(*store_, options_.backup_dir, options_.backup_keep);
      if (!info.ok()) return ApiError(info.status());
      return Ok({{"path", info->path}, {"bytes", info->bytes}, {"millis", info->millis}}, 201);
    }));
    r.Add("GET", "/api/v1/outbox",
          WithRole({"supervisor"}, [*this](const HttpRequest& req, const Actor&) -> HttpResponse {
      auto stats = store_->Outbox();
      if (!stats.ok()) return ApiError(stats.status());
      int limit = 20;
      if (req.query.count("limit"))
        limit = std::clamp(std::atoi(req.query.at("limit").c_str()), 0, kMaxPage);
      auto entries = store_->ReadOutbox(stats->acked_seq, limit);
      if (!entries.ok()) return ApiError(entries.status());
      json j{{"rows", stats->rows},
             {"bytes", stats->bytes},
             {"head_seq", stats->head_seq},
             {"acked_seq", stats->acked_seq},
             {"oldest_captured_at",
              stats->oldest_captured_ms ? json(stats->oldest_captured_ms) : json(nullptr)},
             {"entries", json::array()}};
      for (const auto& e : *entries) {
        j["entries"].push_back({{"seq", e.seq},
                                {"table", e.table},
                                {"row_id", e.row_id},
                                {"hlc", e.hlc},
                                {"captured_at", e.captured_ms},
                                {"bytes", e.payload.size()}});
      }
      return Ok(j);
    }));
  }

  HttpHandler Supervisor(HttpHandler handler) const {
    return WithRole({"supervisor"},
                    [handler](const HttpRequest& req, const Actor&) { return handler(req); });
  }

 private:
  // Copied into every handler: what they share lives behind pointers.
  MesService* svc_;
  EdgeStore* store_;
  ApiOptions options_;
  std::shared_ptr<LoginThrottle> throttle_;
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
