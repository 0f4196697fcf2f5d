// A tenant's alerts in PostgreSQL (central migration 13): its rules' settings, the
// webhooks its alerts go to, the alerts themselves with their history, and their
// acknowledgement. Every function runs in a transaction of the tenant's own (row-level
// security holds it to the tenant), except the Read* ones, which expect the caller's
// tenant transaction (BeginTenant) to be open already. alert_jobs.h evaluates and
// notifies.
//
// Thread-safety: functions over one connection, used by one thread.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "millrace/central/alerts.h"
#include "millrace/central/pg.h"

namespace millrace::central {

struct AlertRecord {
  std::int64_t id = 0;
  std::string tenant_id, kind, subject, severity, state;  // state: pending, firing, resolved
  std::optional<double> value;                            // the last one observed
  double threshold = 0;
  std::string detail;
  // Unix milliseconds; 0: not (yet).
  std::int64_t pending_since_ms = 0, fired_at_ms = 0, clear_since_ms = 0, resolved_at_ms = 0,
               evaluated_at_ms = 0, acknowledged_at_ms = 0;
  std::string acknowledged_by, ack_comment;
};

struct AlertEvent {
  std::int64_t id = 0, alert_id = 0, at_ms = 0;
  std::string event;  // fired, resolved, acknowledged, notified, notify_failed
  std::string actor, detail;
};

struct AlertWebhook {
  std::string name;  // [A-Za-z0-9][A-Za-z0-9._-]{0,63}
  std::string url;   // http://host:port/path (plain http)
  AlertSeverity min_severity = AlertSeverity::kWarning;
  std::string updated_by;
};

// Every kind's settings for the tenant: its own where it set them, the defaults elsewhere.
Result<std::vector<AlertRule>> ReadAlertRules(PgConnection& conn);
Result<std::vector<AlertRule>> AlertRules(PgConnection& conn, const std::string& tenant);
// CheckAlertRule() first (InvalidArgument naming the field).
Status PutAlertRule(PgConnection& conn, const std::string& tenant, const AlertRule& rule,
                    const std::string& by);
// Back to the kind's defaults; false when the tenant had not set it.
Result<bool> ResetAlertRule(PgConnection& conn, const std::string& tenant, const std::string& kind);

Result<std::vector<AlertWebhook>> ReadAlertWebhooks(PgConnection& conn);
Result<std::vector<AlertWebhook>> AlertWebhooks(PgConnection& conn, const std::string& tenant);
// InvalidArgument naming the field: a bad name, a URL that is not http://host:port/path.
Status CheckAlertWebhook(const AlertWebhook& hook);
Status PutAlertWebhook(PgConnection& conn, const std::string& tenant, const AlertWebhook& hook,
                       const std::string& by);
// False when there was no such webhook.
Result<bool> DeleteAlertWebhook(PgConnection& conn, const std::string& tenant,
                                const std::string& name);

struct AlertFilter {
  std::string state;        // "" any, "open" (pending or firing), pending, firing, resolved
  std::string kind;         // "" any
  std::int64_t before = 0;  // only alerts older than this id (the next page); 0: any
  int limit = 100;          // 1 .. 1000
  // Non-empty: only the alerts about these sites (a site manager's), none of the kinds
  // whose subject is not a site.
  std::vector<std::string> sites;
};
// Whether someone limited to `sites` (empty: every site) may see the alert.
bool AlertVisibleTo(const AlertRecord& alert, const std::vector<std::string>& sites);
// Newest first. InvalidArgument for an unknown state or kind.
Result<std::vector<AlertRecord>> ListAlerts(PgConnection& conn, const std::string& tenant,
                                            const AlertFilter& filter);
struct AlertWithHistory {
  AlertRecord alert;
  std::vector<AlertEvent> history;  // oldest first
};
Result<std::optional<AlertWithHistory>> GetAlert(PgConnection& conn, const std::string& tenant,
                                                 std::int64_t id);
// Acknowledges an open alert with a comment (1 .. 2000 characters); NotFound for no such
// alert (or one outside `sites`, when given), FailedPrecondition for a resolved one. The
// alert after.
Result<AlertRecord> AcknowledgeAlert(PgConnection& conn, const std::string& tenant, std::int64_t id,
                                     const std::string& by, const std::string& comment,
                                     const std::vector<std::string>& sites = {});
// NotFound unless the tenant is registered ('*', the platform's own, always is).
Status CheckAlertTenant(PgConnection& conn, const std::string& tenant);

// The SELECT list AlertFromRow reads (over "alert a").
extern const char* const kAlertColumns;
AlertRecord AlertFromRow(const PgResult& r, int row);

// For the CLI and the HTTP API: times as ISO 8601 UTC, null when not (yet).
nlohmann::json AlertJson(const AlertRecord& a);
nlohmann::json AlertEventJson(const AlertEvent& e);
nlohmann::json AlertRuleJson(const AlertRule& r);
nlohmann::json AlertWebhookJson(const AlertWebhook& w);

}  // namespace millrace::central
