#include "millrace/central/alert_routes.h"

#include "json_body.h"
#include "json_route.h"

#include <set>

#include "millrace/central/alert_store.h"
#include "millrace/common/catalog.h"

namespace millrace::central {
namespace {

using nlohmann::json;

// Who may do what with a tenant's alerts: read and acknowledge from site_manager up,
// change rules and webhooks from tenant_admin up.
enum class Need { kRead, kAck, kConfigure };

// The tenant the request acts on: the caller's own, or for a platform operator the one
// named (required).
Result<std::string> Scope(const Viewer& who, const std::string& named, Need need) {
  if (!RoleAtLeast(who.role, need == Need::kConfigure ? Role::kTenantAdmin : Role::kSiteManager))
    return Status::PermissionDenied(std::string(need == Need::kConfigure
                                                    ? "only a tenant_admin (or a platform_operator) "
                                                      "changes alert rules and webhooks"
                                                    : "only a site_manager, a tenant_admin or a "
                                                      "platform_operator sees and acknowledges "
                                                      "alerts"));
  if (who.role == Role::kPlatformOperator) {
    if (named.empty())
      return Status::InvalidArgument("'tenant' is required: alerts belong to a tenant ('*': the "
                                     "platform's own)");
    if (named != "*" && !catalog::IsValidSiteId(named))
      return Status::InvalidArgument("'tenant': \"" + named + "\" is not a tenant id");
    return named;
  }
  if (!named.empty() && named != who.tenant_id)
    return Status::PermissionDenied("you see only the alerts of tenant " + who.tenant_id);
  return who.tenant_id;
}

// ?tenant= as the only query parameter a request takes.
Result<std::string> TenantParam(const HttpRequest& req) {
  std::string tenant;
  for (const auto& [k, v] : req.query) {
    if (k != "tenant")
      return Status::InvalidArgument("unknown query parameter '" + k + "' (tenant is known)");
    tenant = v;
  }
  return tenant;
}

Result<std::int64_t> AlertId(const HttpRequest& req) {
  const std::string& text = req.path_params.at("id");
  if (text.empty() || text.size() > 18 || text.find_first_not_of("0123456789") != std::string::npos)
    return Status::InvalidArgument("alert id '" + text + "' is not a number");
  return std::stoll(text);
}

// The body's "tenant" (a platform operator's), else ?tenant=.
Result<std::string> BodyTenant(const HttpRequest& req, const json& body) {
  MILLRACE_ASSIGN_OR_RETURN(std::string tenant, TenantParam(req));
  if (body.contains("tenant")) {
    if (!body["tenant"].is_string()) return Status::InvalidArgument("'tenant': expected a string");
    tenant = body["tenant"].get<std::string>();
  }
  return tenant;
}

Result<double> NumberField(const json& body, const std::string& field) {
  if (!body[field].is_number()) return Status::InvalidArgument("'" + field + "': expected a number");
  return body[field].get<double>();
}

}  // namespace

void AddAlertRoutes(Router& router, AlertRoutesOptions o) {
  const auto handle = [o](JsonRouteBody body) {
    return JsonRoute(o.pool, o.authenticate, std::move(body));
  };

  router.Add("GET", "/api/v1/alerts", handle([](const HttpRequest& req, const Viewer& who, PgConnection& conn) -> Result<json> {
    AlertFilter f;
    std::string tenant;
    for (const auto& [k, v] : req.query) {
      if (k == "tenant") tenant = v;
      else if (k == "state") f.state = v;
      else if (k == "kind") f.kind = v;
      else if (k == "limit" || k == "before") {
        MILLRACE_RETURN_IF_ERROR(PageParam(k, v, 1000, &f.limit, &f.before));
      } else {
        return Status::InvalidArgument("unknown query parameter '" + k +
                                       "' (tenant, state, kind, before and limit are known)");
      }
    }
    MILLRACE_ASSIGN_OR_RETURN(std::string scope, Scope(who, tenant, Need::kRead));
    MILLRACE_RETURN_IF_ERROR(CheckAlertTenant(conn, scope));
    f.sites = who.sites;
    MILLRACE_ASSIGN_OR_RETURN(std::vector<AlertRecord> list, ListAlerts(conn, scope, f));
    json items = json::array();
    for (const AlertRecord& a : list) items.push_back(AlertJson(a));
    json out{{"tenant", scope}, {"items", std::move(items)}};
    if (static_cast<int>(list.size()) == f.limit && !list.empty()) out["next_before"] = list.back().id;
    return out;
  }));

  router.Add("GET", "/api/v1/alerts/{id}", handle([](const HttpRequest& req, const Viewer& who, PgConnection& conn) -> Result<json> {
    MILLRACE_ASSIGN_OR_RETURN(std::int64_t id, AlertId(req));
    MILLRACE_ASSIGN_OR_RETURN(std::string tenant, TenantParam(req));
    MILLRACE_ASSIGN_OR_RETURN(std::string scope, Scope(who, tenant, Need::kRead));
    MILLRACE_ASSIGN_OR_RETURN(std::optional<AlertWithHistory> a, GetAlert(conn, scope, id));
    if (!a || !AlertVisibleTo(a->alert, who.sites)) return Status::NotFound("no alert " + std::to_string(id));
    json out = AlertJson(a->alert);
    out["history"] = json::array();
    for (const AlertEvent& e : a->history) out["history"].push_back(AlertEventJson(e));
    return out;
  }));

  router.Add("POST", "/api/v1/alerts/{id}/ack", handle([](const HttpRequest& req, const Viewer& who, PgConnection& conn) -> Result<json> {
    MILLRACE_ASSIGN_OR_RETURN(std::int64_t id, AlertId(req));
    MILLRACE_ASSIGN_OR_RETURN(json body, JsonObjectBody(req, {"comment", "tenant"}));
    if (!body.contains("comment") || !body["comment"].is_string() ||
        body["comment"].get<std::string>().empty())
      return Status::InvalidArgument("'comment' is required: what is being done about it");
    MILLRACE_ASSIGN_OR_RETURN(std::string tenant, BodyTenant(req, body));
    MILLRACE_ASSIGN_OR_RETURN(std::string scope, Scope(who, tenant, Need::kAck));
    MILLRACE_ASSIGN_OR_RETURN(AlertRecord a, AcknowledgeAlert(conn, scope, id, who.name,
                                                              body["comment"].get<std::string>(), who.sites));
    return AlertJson(a);
  }));

  router.Add("GET", "/api/v1/alert-rules", handle([](const HttpRequest& req, const Viewer& who, PgConnection& conn) -> Result<json> {
    MILLRACE_ASSIGN_OR_RETURN(std::string tenant, TenantParam(req));
    MILLRACE_ASSIGN_OR_RETURN(std::string scope, Scope(who, tenant, Need::kRead));
    MILLRACE_RETURN_IF_ERROR(CheckAlertTenant(conn, scope));
    MILLRACE_ASSIGN_OR_RETURN(std::vector<AlertRule> rules, AlertRules(conn, scope));
    json items = json::array();
    for (const AlertRule& r : rules) items.push_back(AlertRuleJson(r));
    return json{{"tenant", scope}, {"items", std::move(items)}};
  }));

  router.Add("PUT", "/api/v1/alert-rules/{kind}", handle([](const HttpRequest& req, const Viewer& who, PgConnection& conn) -> Result<json> {
    const std::string kind = req.path_params.at("kind");
    MILLRACE_ASSIGN_OR_RETURN(json body, JsonObjectBody(req, {"enabled", "severity", "threshold", "clear_threshold", "for_s", "tenant"}));
    MILLRACE_ASSIGN_OR_RETURN(std::string tenant, BodyTenant(req, body));
    MILLRACE_ASSIGN_OR_RETURN(std::string scope, Scope(who, tenant, Need::kConfigure));
    MILLRACE_RETURN_IF_ERROR(CheckAlertTenant(conn, scope));
    if (!FindAlertRuleKind(kind)) return CheckAlertRule(AlertRule{kind});
    if (body.size() == (body.contains("tenant") ? 1u : 0u))
      return Status::InvalidArgument("nothing to change: give enabled, severity, threshold, clear_threshold or for_s");
    MILLRACE_ASSIGN_OR_RETURN(std::vector<AlertRule> rules, AlertRules(conn, scope));
    AlertRule rule;
    for (const AlertRule& r : rules)
      if (r.kind == kind) rule = r;
    if (body.contains("enabled")) {
      if (!body["enabled"].is_boolean()) return Status::InvalidArgument("'enabled': expected true or false");
      rule.enabled = body["enabled"].get<bool>();
    }
    if (body.contains("severity")) {
      if (!body["severity"].is_string()) return Status::InvalidArgument("'severity': expected a string");
      auto s = ParseAlertSeverity(body["severity"].get<std::string>());
      if (!s.ok()) return Status::InvalidArgument("'severity': " + s.status().message());
      rule.severity = *s;
    }
    if (body.contains("threshold")) {
      MILLRACE_ASSIGN_OR_RETURN(rule.threshold, NumberField(body, "threshold"));
    }
    if (body.contains("clear_threshold")) {
      MILLRACE_ASSIGN_OR_RETURN(rule.clear_threshold, NumberField(body, "clear_threshold"));
    }
    if (body.contains("for_s")) {
      if (!body["for_s"].is_number_integer()) return Status::InvalidArgument("'for_s': expected an integer");
      const auto v = body["for_s"].get<std::int64_t>();
      if (v < 0 || v > 604800) return Status::InvalidArgument("for_s is out of range (seconds, 0 .. 604800)");
      rule.for_s = static_cast<int>(v);
    }
    MILLRACE_RETURN_IF_ERROR(PutAlertRule(conn, scope, rule, who.name));
    rule.overridden = true;
    return AlertRuleJson(rule);
  }));

  router.Add("DELETE", "/api/v1/alert-rules/{kind}", handle([](const HttpRequest& req, const Viewer& who, PgConnection& conn) -> Result<json> {
    const std::string kind = req.path_params.at("kind");
    MILLRACE_ASSIGN_OR_RETURN(std::string tenant, TenantParam(req));
    MILLRACE_ASSIGN_OR_RETURN(std::string scope, Scope(who, tenant, Need::kConfigure));
    MILLRACE_ASSIGN_OR_RETURN(bool found, ResetAlertRule(conn, scope, kind));
    return json{{"kind", kind}, {"was_overridden", found}};
  }));

  router.Add("GET", "/api/v1/alert-webhooks", handle([](const HttpRequest& req, const Viewer& who, PgConnection& conn) -> Result<json> {
    MILLRACE_ASSIGN_OR_RETURN(std::string tenant, TenantParam(req));
    MILLRACE_ASSIGN_OR_RETURN(std::string scope, Scope(who, tenant, Need::kConfigure));
    MILLRACE_ASSIGN_OR_RETURN(std::vector<AlertWebhook> hooks, AlertWebhooks(conn, scope));
    json items = json::array();
    for (const AlertWebhook& w : hooks) items.push_back(AlertWebhookJson(w));
    return json{{"tenant", scope}, {"items", std::move(items)}};
  }));

  router.Add("PUT", "/api/v1/alert-webhooks/{name}", handle([](const HttpRequest& req, const Viewer& who, PgConnection& conn) -> Result<json> {
    MILLRACE_ASSIGN_OR_RETURN(json body, JsonObjectBody(req, {"url", "min_severity", "tenant"}));
    MILLRACE_ASSIGN_OR_RETURN(std::string tenant, BodyTenant(req, body));
    MILLRACE_ASSIGN_OR_RETURN(std::string scope, Scope(who, tenant, Need::kConfigure));
    MILLRACE_RETURN_IF_ERROR(CheckAlertTenant(conn, scope));
    if (!body.contains("url") || !body["url"].is_string())
      return Status::InvalidArgument("'url' is required: http://host:port/path");
    AlertWebhook w{req.path_params.at("name"), body["url"].get<std::string>(), AlertSeverity::kWarning, who.name};
    // A webhook changed without min_severity keeps the one it had.
    MILLRACE_ASSIGN_OR_RETURN(std::vector<AlertWebhook> hooks, AlertWebhooks(conn, scope));
    for (const AlertWebhook& h : hooks)
      if (h.name == w.name) w.min_severity = h.min_severity;
    if (body.contains("min_severity")) {
      if (!body["min_severity"].is_string()) return Status::InvalidArgument("'min_severity': expected a string");
      auto s = ParseAlertSeverity(body["min_severity"].get<std::string>());
      if (!s.ok()) return Status::InvalidArgument("'min_severity': " + s.status().message());
      w.min_severity = *s;
    }
    MILLRACE_RETURN_IF_ERROR(PutAlertWebhook(conn, scope, w, who.name));
    return AlertWebhookJson(w);
  }));

  router.Add("DELETE", "/api/v1/alert-webhooks/{name}", handle([](const HttpRequest& req, const Viewer& who, PgConnection& conn) -> Result<json> {
    MILLRACE_ASSIGN_OR_RETURN(std::string tenant, TenantParam(req));
    MILLRACE_ASSIGN_OR_RETURN(std::string scope, Scope(who, tenant, Need::kConfigure));
    const std::string name = req.path_params.at("name");
    MILLRACE_ASSIGN_OR_RETURN(bool found, DeleteAlertWebhook(conn, scope, name));
    if (!found) return Status::NotFound("no webhook " + name);
    return json{{"name", name}, {"deleted", true}};
  }));
}

}  // namespace millrace::central
