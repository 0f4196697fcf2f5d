#include "millrace/central/alert_store.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <ctime>
#include <map>

#include "millrace/central/central_store.h"
#include "millrace/common/http_client.h"

namespace millrace::central {
namespace {

using nlohmann::json;

std::string Ms(const std::string& column) {
  return "coalesce((extract(epoch FROM " + column + ") * 1000)::bigint, 0)";
}

json Iso(std::int64_t ms) {
  if (ms == 0) return nullptr;
  std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03dZ", buf, static_cast<int>(ms % 1000));
  return out;
}

std::int64_t Int(const PgResult& r, int row, int col) {
  return std::stoll(r.GetString(row, col));
}

// Every digit a double holds, so a threshold is stored as it was given.
std::string Exact(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

// The kinds whose subject is a site, as a PostgreSQL array literal.
std::string SiteKinds() {
  std::string out = "{";
  for (const AlertRuleKind& k : AlertRuleKinds())
    if (k.subject == "site") out += (out.size() > 1 ? "," : "") + k.name;
  return out + "}";
}

// Site ids (a-z, 0-9, '-': nothing to quote) as a PostgreSQL array literal.
std::string SiteArray(const std::vector<std::string>& sites) {
  std::string out = "{";
  for (const std::string& site : sites) out += (out.size() > 1 ? "," : "") + site;
  return out + "}";
}

}  // namespace

const char* const kAlertColumns =
    "a.alert_id, a.tenant_id, a.kind, a.subject, a.severity, a.state, a.value, a.threshold, "
    "a.detail, "
    "coalesce((extract(epoch FROM a.pending_since) * 1000)::bigint, 0), "
    "coalesce((extract(epoch FROM a.fired_at) * 1000)::bigint, 0), "
    "coalesce((extract(epoch FROM a.clear_since) * 1000)::bigint, 0), "
    "coalesce((extract(epoch FROM a.resolved_at) * 1000)::bigint, 0), "
    "coalesce((extract(epoch FROM a.evaluated_at) * 1000)::bigint, 0), "
    "coalesce((extract(epoch FROM a.acknowledged_at) * 1000)::bigint, 0), "
    "coalesce(a.acknowledged_by, ''), coalesce(a.ack_comment, '')";

AlertRecord AlertFromRow(const PgResult& r, int i) {
  AlertRecord a;
  a.id = Int(r, i, 0);
  a.tenant_id = r.GetString(i, 1);
  a.kind = r.GetString(i, 2);
  a.subject = r.GetString(i, 3);
  a.severity = r.GetString(i, 4);
  a.state = r.GetString(i, 5);
  if (!r.IsNull(i, 6)) a.value = std::stod(r.GetString(i, 6));
  a.threshold = std::stod(r.GetString(i, 7));
  a.detail = r.GetString(i, 8);
  a.pending_since_ms = Int(r, i, 9);
  a.fired_at_ms = Int(r, i, 10);
  a.clear_since_ms = Int(r, i, 11);
  a.resolved_at_ms = Int(r, i, 12);
  a.evaluated_at_ms = Int(r, i, 13);
  a.acknowledged_at_ms = Int(r, i, 14);
  a.acknowledged_by = r.GetString(i, 15);
  a.ack_comment = r.GetString(i, 16);
  return a;
}

// ---- rules ----

Result<std::vector<AlertRule>> ReadAlertRules(PgConnection& conn) {
  MILLRACE_ASSIGN_OR_RETURN(
      PgResult r, conn.Query("SELECT kind, enabled, severity, threshold, clear_threshold, for_s "
                             "FROM millrace.alert_rule"));
  std::map<std::string, int> own;
  for (int i = 0; i < r.rows(); ++i) own[r.GetString(i, 0)] = i;
  std::vector<AlertRule> rules;
  for (const AlertRuleKind& k : AlertRuleKinds()) {
    AlertRule rule = DefaultAlertRule(k);
    if (auto it = own.find(k.name); it != own.end()) {
      const int i = it->second;
      rule.enabled = r.Get(i, 1) == "t";
      MILLRACE_ASSIGN_OR_RETURN(rule.severity, ParseAlertSeverity(r.GetString(i, 2)));
      rule.threshold = std::stod(r.GetString(i, 3));
      rule.clear_threshold = std::stod(r.GetString(i, 4));
      rule.for_s = std::stoi(r.GetString(i, 5));
      rule.overridden = true;
    }
    rules.push_back(rule);
  }
  return rules;
}

Result<std::vector<AlertRule>> AlertRules(PgConnection& conn, const std::string& tenant) {
  std::vector<AlertRule> out;
  MILLRACE_RETURN_IF_ERROR(InTenantTransaction(conn, tenant, [&]() -> Status {
    MILLRACE_ASSIGN_OR_RETURN(out, ReadAlertRules(conn));
    return Status::Ok();
  }));
  return out;
}

Status PutAlertRule(PgConnection& conn, const std::string& tenant, const AlertRule& rule,
                    const std::string& by) {
  MILLRACE_RETURN_IF_ERROR(CheckAlertRule(rule));
  return InTenantTransaction(conn, tenant, [&]() -> Status {
    return conn
        .Query(
            "INSERT INTO millrace.alert_rule (tenant_id, kind, enabled, severity, threshold, "
            "clear_threshold, for_s, updated_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) "
            "ON CONFLICT (tenant_id, kind) DO UPDATE SET enabled = excluded.enabled, "
            "severity = excluded.severity, threshold = excluded.threshold, clear_threshold = "
            "excluded.clear_threshold, for_s = excluded.for_s, updated_by = "
            "excluded.updated_by, updated_at = now()",
            {tenant, rule.kind, rule.enabled ? "true" : "false",
             std::string(AlertSeverityName(rule.severity)), Exact(rule.threshold),
             Exact(rule.clear_threshold), std::to_string(rule.for_s), by})
        .status();
  });
}

Result<bool> ResetAlertRule(PgConnection& conn, const std::string& tenant,
                            const std::string& kind) {
  if (!FindAlertRuleKind(kind)) return CheckAlertRule(AlertRule{kind});
  bool found = false;
  MILLRACE_RETURN_IF_ERROR(InTenantTransaction(conn, tenant, [&]() -> Status {
    MILLRACE_ASSIGN_OR_RETURN(
        PgResult r, conn.Query("DELETE FROM millrace.alert_rule WHERE kind = $1", {kind}));
    found = r.affected() > 0;
    return Status::Ok();
  }));
  return found;
}

// ---- webhooks ----

Result<std::vector<AlertWebhook>> ReadAlertWebhooks(PgConnection& conn) {
  MILLRACE_ASSIGN_OR_RETURN(PgResult r,
                            conn.Query("SELECT name, url, min_severity, updated_by FROM "
                                       "millrace.alert_webhook ORDER BY name"));
  std::vector<AlertWebhook> out;
  for (int i = 0; i < r.rows(); ++i) {
    AlertWebhook w{r.GetString(i, 0), r.GetString(i, 1), AlertSeverity::kWarning,
                   r.GetString(i, 3)};
    MILLRACE_ASSIGN_OR_RETURN(w.min_severity, ParseAlertSeverity(r.GetString(i, 2)));
    out.push_back(std::move(w));
  }
  return out;
}

Result<std::vector<AlertWebhook>> AlertWebhooks(PgConnection& conn, const std::string& tenant) {
  std::vector<AlertWebhook> out;
  MILLRACE_RETURN_IF_ERROR(InTenantTransaction(conn, tenant, [&]() -> Status {
    MILLRACE_ASSIGN_OR_RETURN(out, ReadAlertWebhooks(conn));
    return Status::Ok();
  }));
  return out;
}

Status CheckAlertWebhook(const AlertWebhook& w) {
  const auto name_char = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
  };
  if (w.name.empty() || w.name.size() > 64 ||
      !std::isalnum(static_cast<unsigned char>(w.name[0])) ||
      !std::all_of(w.name.begin(), w.name.end(), name_char))
    return Status::InvalidArgument("name \"" + w.name +
                                   "\": 1-64 letters, digits, '.', '_' or '-', starting with a "
                                   "letter or digit");
  if (w.url.size() > 2000) return Status::InvalidArgument("url is longer than 2000 characters");
  if (w.url.rfind("http://", 0) != 0)
    return Status::InvalidArgument("url \"" + w.url + "\" is not plain http://host:port/path");
  if (w.url.find_first_of(" \t\r\n") != std::string::npos)
    return Status::InvalidArgument("url \"" + w.url + "\" holds white space");
  if (auto e = ParseHttpUrl(w.url); !e.ok())
    return Status::InvalidArgument("url \"" + w.url + "\": " + e.status().message());
  return Status::Ok();
}

Status PutAlertWebhook(PgConnection& conn, const std::string& tenant, const AlertWebhook& w,
                       const std::string& by) {
  MILLRACE_RETURN_IF_ERROR(CheckAlertWebhook(w));
  return InTenantTransaction(conn, tenant, [&]() -> Status {
    return conn
        .Query(
            "INSERT INTO millrace.alert_webhook (tenant_id, name, url, min_severity, "
            "updated_by) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant_id, name) DO UPDATE "
            "SET url = excluded.url, min_severity = excluded.min_severity, updated_by = "
            "excluded.updated_by, updated_at = now()",
            {tenant, w.name, w.url, std::string(AlertSeverityName(w.min_severity)), by})
        .status();
  });
}

Result<bool> DeleteAlertWebhook(PgConnection& conn, const std::string& tenant,
                                const std::string& name) {
  bool found = false;
  MILLRACE_RETURN_IF_ERROR(InTenantTransaction(conn, tenant, [&]() -> Status {
    MILLRACE_ASSIGN_OR_RETURN(
        PgResult r, conn.Query("DELETE FROM millrace.alert_webhook WHERE name = $1", {name}));
    found = r.affected() > 0;
    return Status::Ok();
  }));
  return found;
}

// ---- alerts ----

Result<std::vector<AlertRecord>> ListAlerts(PgConnection& conn, const std::string& tenant,
                                            const AlertFilter& f) {
  static const char* const kStates[] = {"", "open", "pending", "firing", "resolved"};
  if (std::find(std::begin(kStates), std::end(kStates), f.state) == std::end(kStates))
    return Status::InvalidArgument("state '" + f.state +
                                   "' is not one of open, pending, firing, resolved");
  if (!f.kind.empty() && !FindAlertRuleKind(f.kind)) return CheckAlertRule(AlertRule{f.kind});
  if (f.limit < 1 || f.limit > 1000)
    return Status::InvalidArgument("limit must be within 1 .. 1000, got " +
                                   std::to_string(f.limit));
  std::vector<AlertRecord> out;
  MILLRACE_RETURN_IF_ERROR(InTenantTransaction(conn, tenant, [&]() -> Status {
    MILLRACE_ASSIGN_OR_RETURN(
        PgResult r,
        conn.Query(std::string("SELECT ") + kAlertColumns +
                       " FROM millrace.alert a WHERE ($1 = '' OR ($1 = 'open' AND a.state <> "
                       "'resolved') OR a.state = $1) AND ($2 = '' OR a.kind = $2) AND "
                       "($3::bigint = 0 OR a.alert_id < $3::bigint) AND (cardinality($5::text[]) "
                       "= 0 OR (a.subject = ANY($5::text[]) AND a.kind = ANY($6::text[]))) "
                       "ORDER BY a.alert_id DESC LIMIT $4",
                   {f.state, f.kind, std::to_string(f.before), std::to_string(f.limit),
                    SiteArray(f.sites), SiteKinds()}));
    for (int i = 0; i < r.rows(); ++i) out.push_back(AlertFromRow(r, i));
    return Status::Ok();
  }));
  return out;
}

Result<std::optional<AlertWithHistory>> GetAlert(PgConnection& conn, const std::string& tenant,
                                                 std::int64_t id) {
  std::optional<AlertWithHistory> out;
  MILLRACE_RETURN_IF_ERROR(InTenantTransaction(conn, tenant, [&]() -> Status {
    MILLRACE_ASSIGN_OR_RETURN(PgResult r,
                              conn.Query(std::string("SELECT ") + kAlertColumns +
                                             " FROM millrace.alert a WHERE a.alert_id = $1",
                                         {std::to_string(id)}));
    if (r.rows() == 0) return Status::Ok();
    out = AlertWithHistory{AlertFromRow(r, 0), {}};
    MILLRACE_ASSIGN_OR_RETURN(
        PgResult h, conn.Query("SELECT event_id, alert_id, " + Ms("at") +
                                   ", event, actor, detail FROM millrace.alert_event WHERE "
                                   "alert_id = $1 ORDER BY event_id",
                               {std::to_string(id)}));
    for (int i = 0; i < h.rows(); ++i)
      out->history.push_back({Int(h, i, 0), Int(h, i, 1), Int(h, i, 2), h.GetString(i, 3),
                              h.GetString(i, 4), h.GetString(i, 5)});
    return Status::Ok();
  }));
  return out;
}

bool AlertVisibleTo(const AlertRecord& a, const std::vector<std::string>& sites) {
  if (sites.empty()) return true;
  const AlertRuleKind* k = FindAlertRuleKind(a.kind);
  return k && k->subject == "site" &&
         std::find(sites.begin(), sites.end(), a.subject) != sites.end();
}

Status CheckAlertTenant(PgConnection& conn, const std::string& tenant) {
  if (tenant == "*") return Status::Ok();
  MILLRACE_ASSIGN_OR_RETURN(
      PgResult r, conn.Query("SELECT 1 FROM millrace.alert_tenants() t WHERE t = $1", {tenant}));
  if (r.rows() == 0) return Status::NotFound("no tenant " + tenant);
  return Status::Ok();
}

Result<AlertRecord> AcknowledgeAlert(PgConnection& conn, const std::string& tenant, std::int64_t id,
                                     const std::string& by, const std::string& comment,
                                     const std::vector<std::string>& sites) {
  if (comment.empty())
    return Status::InvalidArgument("comment is required: what is being done about it");
  if (comment.size() > 2000)
    return Status::InvalidArgument("comment is longer than 2000 characters");
  AlertRecord out;
  MILLRACE_RETURN_IF_ERROR(InTenantTransaction(conn, tenant, [&]() -> Status {
    MILLRACE_ASSIGN_OR_RETURN(
        PgResult r, conn.Query(std::string("SELECT ") + kAlertColumns +
                                   " FROM millrace.alert a WHERE a.alert_id = $1 FOR UPDATE",
                               {std::to_string(id)}));
    if (r.rows() == 0 || !AlertVisibleTo(AlertFromRow(r, 0), sites))
      return Status::NotFound("no alert " + std::to_string(id));
    if (r.Get(0, 5) == "resolved")
      return Status::FailedPrecondition("alert " + std::to_string(id) +
                                        " is resolved: only an open alert is acknowledged");
    MILLRACE_RETURN_IF_ERROR(
        conn.Query("UPDATE millrace.alert SET acknowledged_at = now(), acknowledged_by = $2, "
                   "ack_comment = $3 WHERE alert_id = $1",
                   {std::to_string(id), by, comment})
            .status());
    MILLRACE_RETURN_IF_ERROR(
        conn.Query("INSERT INTO millrace.alert_event (tenant_id, alert_id, event, actor, detail) "
                   "VALUES ($1, $2, 'acknowledged', $3, $4)",
                   {tenant, std::to_string(id), by, comment})
            .status());
    MILLRACE_ASSIGN_OR_RETURN(PgResult a,
                              conn.Query(std::string("SELECT ") + kAlertColumns +
                                             " FROM millrace.alert a WHERE a.alert_id = $1",
                                         {std::to_string(id)}));
    out = AlertFromRow(a, 0);
    return Status::Ok();
  }));
  return out;
}

// ---- JSON ----

json AlertJson(const AlertRecord& a) {
  return {{"id", a.id},
          {"tenant", a.tenant_id},
          {"kind", a.kind},
          {"subject", a.subject},
          {"severity", a.severity},
          {"state", a.state},
          {"value", a.value ? json(*a.value) : json(nullptr)},
          {"threshold", a.threshold},
          {"unit", FindAlertRuleKind(a.kind) ? FindAlertRuleKind(a.kind)->unit : ""},
          {"detail", a.detail},
          {"pending_since", Iso(a.pending_since_ms)},
          {"fired_at", Iso(a.fired_at_ms)},
          {"clear_since", Iso(a.clear_since_ms)},
          {"resolved_at", Iso(a.resolved_at_ms)},
          {"evaluated_at", Iso(a.evaluated_at_ms)},
          {"acknowledged_at", Iso(a.acknowledged_at_ms)},
          {"acknowledged_by", a.acknowledged_by.empty() ? json(nullptr) : json(a.acknowledged_by)},
          {"ack_comment", a.acknowledged_at_ms ? json(a.ack_comment) : json(nullptr)}};
}

json AlertEventJson(const AlertEvent& e) {
  return {{"id", e.id},         {"alert", e.alert_id}, {"event", e.event},
          {"at", Iso(e.at_ms)}, {"actor", e.actor},    {"detail", e.detail}};
}

json AlertRuleJson(const AlertRule& r) {
  const AlertRuleKind* k = FindAlertRuleKind(r.kind);
  return {{"kind", r.kind},           {"help", k ? k->help : ""},
          {"unit", k ? k->unit : ""}, {"bad_when", k && !k->higher_is_worse ? "lower" : "higher"},
          {"enabled", r.enabled},     {"severity", AlertSeverityName(r.severity)},
          {"threshold", r.threshold}, {"clear_threshold", r.clear_threshold},
          {"for_s", r.for_s},         {"overridden", r.overridden}};
}

json AlertWebhookJson(const AlertWebhook& w) {
  return {{"name", w.name},
          {"url", w.url},
          {"min_severity", AlertSeverityName(w.min_severity)},
          {"updated_by", w.updated_by}};
}

}  // namespace millrace::central
