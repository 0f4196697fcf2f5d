#include "millrace/central/people_routes.h"

#include "json_body.h"

#include <spdlog/spdlog.h>

#include <set>

#include "millrace/common/digest.h"

namespace millrace::central {

namespace {

using json = nlohmann::json;

constexpr const char* kSessionCookie = "millrace_session";

std::string Cookie(const HttpRequest& req, const std::string& name) {
  const std::string all = req.Header("cookie");
  for (std::size_t at = 0; at < all.size();) {
    std::size_t end = all.find(';', at);
    if (end == std::string::npos) end = all.size();
    std::string pair = all.substr(at, end - at);
    const auto first = pair.find_first_not_of(' ');
    pair = first == std::string::npos ? "" : pair.substr(first);
    if (pair.rfind(name + "=", 0) == 0) return pair.substr(name.size() + 1);
    at = end + 1;
  }
  return "";
}

bool Mutating(const HttpRequest& req) { return req.method != "GET" && req.method != "HEAD"; }

Result<std::string> Text(const json& body, const std::string& field, bool required = true) {
  if (!body.contains(field)) {
    if (required) return Status::InvalidArgument("'" + field + "' is required");
    return std::string();
  }
  if (!body[field].is_string()) return Status::InvalidArgument("'" + field + "': expected a string");
  return body[field].get<std::string>();
}

Result<std::vector<std::string>> Sites(const json& body) {
  std::vector<std::string> out;
  if (!body.contains("sites")) return out;
  if (!body["sites"].is_array()) return Status::InvalidArgument("'sites': expected an array of site ids");
  for (const auto& s : body["sites"]) {
    if (!s.is_string()) return Status::InvalidArgument("'sites': expected an array of site ids");
    out.push_back(s);
  }
  return out;
}

json PersonJson(const Person& p) {
  return {{"login", p.login}, {"name", p.name}, {"tenant", p.tenant_id.empty() ? json(nullptr) : json(p.tenant_id)},
          {"role", RoleName(p.role)}, {"sites", p.sites}, {"active", p.active}};
}

std::string SetCookie(const std::string& name, const std::string& value, int max_age, bool http_only,
                      bool secure) {
  return name + "=" + value + "; Path=/; Max-Age=" + std::to_string(max_age) + "; SameSite=Strict" +
         (http_only ? "; HttpOnly" : "") + (secure ? "; Secure" : "");
}

// The tenant= of a people route's query (its only parameter).
Result<std::string> QueryTenant(const HttpRequest& req) {
  for (const auto& [k, v] : req.query)
    if (k != "tenant") return Status::InvalidArgument("unknown parameter '" + k + "' (tenant is known)");
  auto it = req.query.find("tenant");
  return it == req.query.end() ? std::string() : it->second;
}

// Who asks, and the tenant a people route is about (the viewer's own, or for the platform
// the one named), for an admin of that tenant only.
Result<std::pair<Viewer, std::string>> AdminOf(const CentralAuth& auth, const HttpRequest& req,
                                               const std::string& named) {
  MILLRACE_ASSIGN_OR_RETURN(Viewer who, auth.Authenticate(req));
  std::string tenant = who.tenant_id;
  if (tenant.empty()) {
    if (named.empty()) return Status::InvalidArgument("a platform credential names the tenant (tenant=)");
    tenant = named;
  } else if (!named.empty() && named != tenant) {
    return Status::PermissionDenied("tenant " + named + " is not yours");
  }
  MILLRACE_RETURN_IF_ERROR(CentralAuth::RequireAdmin(who, tenant));
  return std::pair<Viewer, std::string>(std::move(who), std::move(tenant));
}

}  // namespace

CentralAuth::CentralAuth(CentralAuthOptions options) : o_(options) {
  if (o_.metrics)
    logins_ = &o_.metrics->AddCounter("mes_central_logins_total",
                                      "Logins at central by outcome (ok, wrong, throttled)", {"outcome"});
}

Result<Viewer> CentralAuth::Authenticate(const HttpRequest& req) const {
  const std::string bearer = BearerToken(req);
  if (!bearer.empty()) {
    if (bearer.rfind(kApiTokenPrefix, 0) == 0) {
      MILLRACE_ASSIGN_OR_RETURN(auto conn, o_.pool->Acquire());
      MILLRACE_ASSIGN_OR_RETURN(auto grant, FindApiToken(*conn, bearer));
      if (!grant) return Status::Unauthenticated("unknown or revoked API token");
      return Viewer{"token:" + grant->name, grant->tenant_id, grant->role, grant->sites};
    }
    MILLRACE_ASSIGN_OR_RETURN(std::string name, o_.admin_tokens->Check(req));
    return Viewer{"admin-token:" + name, "", Role::kPlatformOperator, {}};
  }
  const std::string token = Cookie(req, kSessionCookie);
  if (token.empty())
    return Status::Unauthenticated("log in (POST /api/v1/session) or send an API token");
  MILLRACE_ASSIGN_OR_RETURN(auto conn, o_.pool->Acquire());
  MILLRACE_ASSIGN_OR_RETURN(auto session, FindSession(*conn, token, o_.idle_seconds));
  if (!session) return Status::Unauthenticated("the session has ended: log in again");
  if (Mutating(req) && Sha256Hex(req.Header("x-csrf-token")) != session->csrf_hash)
    return Status::PermissionDenied("missing or wrong X-CSRF-Token (GET /api/v1/session gives it)");
  const Person& p = session->person;
  return Viewer{"user:" + p.login, p.tenant_id, p.role, p.sites};
}

Status CentralAuth::RequireAdmin(const Viewer& v, const std::string& tenant) {
  if (v.role == Role::kPlatformOperator) return Status::Ok();
  if (v.role == Role::kTenantAdmin && (tenant.empty() || tenant == v.tenant_id)) return Status::Ok();
  return Status::PermissionDenied("only a tenant_admin of the tenant (or a platform_operator) may do this");
}

void CentralAuth::AddRoutes(Router& router) const {
  const CentralAuth* self = this;
  router.Add("POST", "/api/v1/session", [self](const HttpRequest& req) {
    auto body = JsonObjectBody(req, {"login", "password"});
    if (!body.ok()) return HttpResponse::Error(body.status());
    auto login = Text(*body, "login");
    auto password = Text(*body, "password");
    if (!login.ok()) return HttpResponse::Error(login.status());
    if (!password.ok()) return HttpResponse::Error(password.status());
    auto count = [self](const char* outcome) {
      if (self->logins_) self->logins_->With({outcome}).Increment();
    };
    if (auto refused = self->o_.throttle->Check(*login, req.remote_address)) {
      count("throttled");
      const int secs = static_cast<int>((refused->retry_after_ms + 999) / 1000);
      HttpResponse r = HttpResponse::Error(Status::RateLimited(
          std::string("too many wrong passwords ") +
          (refused->why == LoginRefusal::Why::kKey ? "for this login" : "from this address") +
          "; retry after " + std::to_string(secs) + " s"));
      r.headers["Retry-After"] = std::to_string(secs);
      return r;
    }
    auto session = Login(*self->o_.pool, *login, *password, req.remote_address, self->o_.idle_seconds);
    if (!session.ok()) {
      if (session.status().code() == StatusCode::kUnauthenticated) {
        self->o_.throttle->Failed(*login, req.remote_address);
        count("wrong");
      } else {
        self->o_.throttle->Abandoned(*login, req.remote_address);  // could not tell
      }
      return HttpResponse::Error(session.status());
    }
    self->o_.throttle->Succeeded(*login, req.remote_address);
    count("ok");
    json out = PersonJson(session->person);
    out["csrf_token"] = session->csrf;
    out["expires_at"] = session->expires_at;
    HttpResponse r = HttpResponse::Json(200, out.dump());
    // The browser keeps it for the longest a session may live; the server ends it sooner
    // when it is idle.
    r.headers["Set-Cookie"] = SetCookie(kSessionCookie, session->token, 24 * 3600, true,
                                        self->o_.secure_cookies);
    return r;
  });

  router.Add("GET", "/api/v1/session", [self](const HttpRequest& req) {
    auto who = self->Authenticate(req);
    if (!who.ok()) return HttpResponse::Error(who.status());
    json out{{"name", who->name},
             {"tenant", who->tenant_id.empty() ? json(nullptr) : json(who->tenant_id)},
             {"role", RoleName(who->role)},
             {"sites", who->sites}};
    if (const std::string token = Cookie(req, kSessionCookie); !token.empty())
      out["csrf_token"] = CsrfToken(token);
    return HttpResponse::Json(200, out.dump());
  });

  router.Add("DELETE", "/api/v1/session", [self](const HttpRequest& req) {
    auto who = self->Authenticate(req);
    if (!who.ok()) return HttpResponse::Error(who.status());
    const std::string token = Cookie(req, kSessionCookie);
    if (!token.empty()) {
      auto conn = self->o_.pool->Acquire();
      if (!conn.ok()) return HttpResponse::Error(conn.status());
      if (Status s = EndSession(**conn, token); !s.ok()) return HttpResponse::Error(s);
    }
    HttpResponse r = HttpResponse::Json(200, R"({"logged_out":true})");
    r.headers["Set-Cookie"] = SetCookie(kSessionCookie, "", 0, true, self->o_.secure_cookies);
    return r;
  });

  router.Add("GET", "/api/v1/users", [self](const HttpRequest& req) {
    auto named = QueryTenant(req);
    if (!named.ok()) return HttpResponse::Error(named.status());
    auto scope = AdminOf(*self, req, *named);
    if (!scope.ok()) return HttpResponse::Error(scope.status());
    auto conn = self->o_.pool->Acquire();
    if (!conn.ok()) return HttpResponse::Error(conn.status());
    auto users = ListUsers(**conn, scope->second);
    if (!users.ok()) return HttpResponse::Error(users.status());
    json items = json::array();
    for (const auto& u : *users) items.push_back(PersonJson(u));
    return HttpResponse::Json(200, json{{"items", items}}.dump());
  });

  router.Add("POST", "/api/v1/users", [self](const HttpRequest& req) {
    auto body = JsonObjectBody(req, {"tenant", "login", "name", "role", "sites", "password"});
    if (!body.ok()) return HttpResponse::Error(body.status());
    NewUser u;
    for (auto [field, out] : {std::pair{"login", &u.login}, {"name", &u.name}, {"password", &u.password}}) {
      auto v = Text(*body, field);
      if (!v.ok()) return HttpResponse::Error(v.status());
      *out = *v;
    }
    auto named = Text(*body, "tenant", false);
    auto role = Text(*body, "role");
    auto sites = Sites(*body);
    if (!named.ok() || !role.ok() || !sites.ok())
      return HttpResponse::Error(!named.ok() ? named.status() : !role.ok() ? role.status() : sites.status());
    auto scope = AdminOf(*self, req, *named);
    if (!scope.ok()) return HttpResponse::Error(scope.status());
    const auto& [who, tenant] = *scope;
    auto parsed = ParseRole(*role);
    if (!parsed.ok()) return HttpResponse::Error(parsed.status());
    if (*parsed == Role::kPlatformOperator)
      return HttpResponse::Error(Status::PermissionDenied(
          "platform operators are made with mes-central create-user, never over HTTP"));
    u.tenant_id = tenant;
    u.role = *parsed;
    u.sites = *sites;
    auto conn = self->o_.pool->Acquire();
    if (!conn.ok()) return HttpResponse::Error(conn.status());
    auto id = CreateUser(**conn, u, {who.name, ""});
    if (!id.ok()) return HttpResponse::Error(id.status());
    return HttpResponse::Json(201, json{{"login", u.login}, {"tenant", u.tenant_id}, {"role", RoleName(u.role)},
                                        {"sites", u.sites}}
                                       .dump());
  });

  router.Add("PATCH", "/api/v1/users/{login}", [self](const HttpRequest& req) {
    auto named = QueryTenant(req);
    if (!named.ok()) return HttpResponse::Error(named.status());
    auto scope = AdminOf(*self, req, *named);
    if (!scope.ok()) return HttpResponse::Error(scope.status());
    json changes = json::parse(req.body, nullptr, false);
    if (changes.is_discarded()) return HttpResponse::Error(Status::InvalidArgument("expected a JSON object"));
    auto conn = self->o_.pool->Acquire();
    if (!conn.ok()) return HttpResponse::Error(conn.status());
    if (Status s = UpdateUser(**conn, scope->second, req.path_params.at("login"), changes,
                              {scope->first.name, ""});
        !s.ok())
      return HttpResponse::Error(s);
    return HttpResponse::Json(200, R"({"updated":true})");
  });

  router.Add("GET", "/api/v1/api-tokens", [self](const HttpRequest& req) {
    auto named = QueryTenant(req);
    if (!named.ok()) return HttpResponse::Error(named.status());
    auto scope = AdminOf(*self, req, *named);
    if (!scope.ok()) return HttpResponse::Error(scope.status());
    auto conn = self->o_.pool->Acquire();
    if (!conn.ok()) return HttpResponse::Error(conn.status());
    auto tokens = ListApiTokens(**conn, scope->second);
    if (!tokens.ok()) return HttpResponse::Error(tokens.status());
    json items = json::array();
    for (const auto& t : *tokens)
      items.push_back({{"name", t.name}, {"role", RoleName(t.role)}, {"sites", t.sites},
                       {"created_by", t.created_by}, {"created_at", t.created_at},
                       {"revoked_at", t.revoked_at.empty() ? json(nullptr) : json(t.revoked_at)}});
    return HttpResponse::Json(200, json{{"items", items}}.dump());
  });

  router.Add("POST", "/api/v1/api-tokens", [self](const HttpRequest& req) {
    auto body = JsonObjectBody(req, {"tenant", "name", "role", "sites"});
    if (!body.ok()) return HttpResponse::Error(body.status());
    auto named = Text(*body, "tenant", false);
    auto name = Text(*body, "name");
    auto role = Text(*body, "role");
    auto sites = Sites(*body);
    for (const Status& s : {named.status(), name.status(), role.status(), sites.status()})
      if (!s.ok()) return HttpResponse::Error(s);
    auto scope = AdminOf(*self, req, *named);
    if (!scope.ok()) return HttpResponse::Error(scope.status());
    auto parsed = ParseRole(*role);
    if (!parsed.ok()) return HttpResponse::Error(parsed.status());
    auto conn = self->o_.pool->Acquire();
    if (!conn.ok()) return HttpResponse::Error(conn.status());
    auto token = CreateApiToken(**conn, scope->second, *name, *parsed, *sites, {scope->first.name, ""});
    if (!token.ok()) return HttpResponse::Error(token.status());
    return HttpResponse::Json(201, json{{"name", *name}, {"token", *token},
                                        {"note", "shown only this once; send it as Authorization: Bearer <token>"}}
                                       .dump());
  });

  router.Add("DELETE", "/api/v1/api-tokens/{name}", [self](const HttpRequest& req) {
    auto named = QueryTenant(req);
    if (!named.ok()) return HttpResponse::Error(named.status());
    auto scope = AdminOf(*self, req, *named);
    if (!scope.ok()) return HttpResponse::Error(scope.status());
    auto conn = self->o_.pool->Acquire();
    if (!conn.ok()) return HttpResponse::Error(conn.status());
    if (Status s = RevokeApiToken(**conn, scope->second, req.path_params.at("name"), {scope->first.name, ""});
        !s.ok())
      return HttpResponse::Error(s);
    return HttpResponse::Json(200, R"({"revoked":true})");
  });
}

}  // namespace millrace::central
