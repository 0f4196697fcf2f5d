#include "millrace/central/alert_jobs.h"

#include <spdlog/spdlog.h>

#include <cstdio>
#include <map>
#include <set>
#include <utility>

#include "millrace/central/admin_token.h"
#include "millrace/central/alert_store.h"
#include "millrace/central/central_store.h"
#include "millrace/central/job_queue.h"
#include "millrace/common/http_client.h"

namespace millrace::central {
namespace {

using nlohmann::json;

constexpr int kNotifyAttempts = 8;
constexpr const char* kEvaluator = "alert_evaluate";  // who queues notifications

struct OpenAlert {
  std::int64_t id = 0;
  AlertState state;
  std::string severity;
};

std::string Key(const std::string& kind, const std::string& subject) {
  return kind + '\n' + subject;
}

// Queues one alert_notify per webhook the alert's severity reaches.
Result<int> QueueNotifications(PgConnection& conn, const std::string& tenant,
                               const std::vector<AlertWebhook>& hooks, std::int64_t alert_id,
                               std::int64_t event_id, AlertSeverity severity,
                               const std::string& by) {
  int n = 0;
  for (const AlertWebhook& w : hooks) {
    if (static_cast<int>(severity) < static_cast<int>(w.min_severity)) continue;
    NewJob j;
    j.tenant_id = tenant;
    j.kind = "alert_notify";
    j.payload = {{"alert", alert_id}, {"event", event_id}, {"webhook", w.name}};
    j.max_attempts = kNotifyAttempts;
    j.backoff_ms = 2000;
    j.priority = 10;  // ahead of reports and backups: people wait on it
    j.dedupe_key = "alert_notify:" + tenant + ":" + std::to_string(event_id) + ":" + w.name;
    j.created_by = by;
    MILLRACE_RETURN_IF_ERROR(EnqueueJob(conn, j).status());
    ++n;
  }
  return n;
}

Result<std::int64_t> AddEvent(PgConnection& conn, const std::string& tenant, std::int64_t alert,
                              const std::string& event, const std::string& actor,
                              const std::string& detail) {
  MILLRACE_ASSIGN_OR_RETURN(
      PgResult r, conn.Query("INSERT INTO millrace.alert_event (tenant_id, alert_id, event, actor, "
                             "detail) VALUES ($1, $2, $3, $4, $5) RETURNING event_id",
                             {tenant, std::to_string(alert), event, actor, detail}));
  return std::stoll(r.GetString(0, 0));
}

std::string FormatValue(double v, const std::string& unit) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.6g %s", v, unit.c_str());
  return buf;
}

Status AlertEvaluate(JobContext& ctx) {
  MILLRACE_ASSIGN_OR_RETURN(PgResult t, ctx.conn().Query("SELECT millrace.alert_tenants()"));
  std::vector<std::string> tenants{kPlatformTenant};
  for (int i = 0; i < t.rows(); ++i) tenants.push_back(t.GetString(i, 0));
  AlertEvaluation sum;
  std::int64_t done = 0;
  std::vector<std::string> failed;
  for (const std::string& tenant : tenants) {
    if (ctx.Stopping()) break;
    auto e = EvaluateTenantAlerts(ctx.conn(), tenant);
    if (!e.ok()) {
      // One tenant's trouble does not keep the others' alerts from being evaluated.
      spdlog::error("alerts: evaluating tenant {} failed: {}", tenant, e.status().ToString());
      failed.push_back(tenant + ": " + e.status().message());
    } else {
      sum.observed += e->observed;
      sum.began += e->began;
      sum.fired += e->fired;
      sum.resolved += e->resolved;
      sum.dropped += e->dropped;
      sum.notifications += e->notifications;
    }
    ctx.Progress(++done, static_cast<std::int64_t>(tenants.size()), "tenants");
  }
  ctx.result = {{"tenants", done},
                {"observed", sum.observed},
                {"began", sum.began},
                {"fired", sum.fired},
                {"resolved", sum.resolved},
                {"dropped", sum.dropped},
                {"notifications", sum.notifications}};
  if (!failed.empty()) {
    std::string why;
    for (const std::string& f : failed) why += (why.empty() ? "" : "; ") + f;
    return Status::Unavailable("evaluating the alerts of " + std::to_string(failed.size()) +
                               " tenant(s) failed: " + why);
  }
  return Status::Ok();
}

Status AlertNotify(JobContext& ctx) {
  const std::string& tenant = ctx.job().tenant_id;
  const std::int64_t alert_id = ctx.payload().at("alert").get<std::int64_t>();
  const std::int64_t event_id = ctx.payload().at("event").get<std::int64_t>();
  const std::string hook_name = ctx.payload().at("webhook").get<std::string>();
  MILLRACE_ASSIGN_OR_RETURN(std::optional<AlertWithHistory> a,
                            GetAlert(ctx.conn(), tenant, alert_id));
  if (!a) return Status::NotFound("no alert " + std::to_string(alert_id) + " of tenant " + tenant);
  const AlertEvent* event = nullptr;
  for (const AlertEvent& e : a->history)
    if (e.id == event_id) event = &e;
  if (!event)
    return Status::NotFound("alert " + std::to_string(alert_id) + " has no event " +
                            std::to_string(event_id));
  MILLRACE_ASSIGN_OR_RETURN(std::vector<AlertWebhook> hooks, AlertWebhooks(ctx.conn(), tenant));
  const AlertWebhook* hook = nullptr;
  for (const AlertWebhook& w : hooks)
    if (w.name == hook_name) hook = &w;
  // A webhook removed since: nobody to tell.
  if (!hook) {
    ctx.result = {{"skipped", "webhook " + hook_name + " was removed"}};
    return Status::Ok();
  }
  MILLRACE_ASSIGN_OR_RETURN(HttpEndpoint endpoint, ParseHttpUrl(hook->url));
  std::string target = "/";
  if (auto slash = hook->url.find('/', 7); slash != std::string::npos)
    target = hook->url.substr(slash);
  json body = {{"tenant", tenant},
               {"event", event->event},
               {"at", AlertEventJson(*event)["at"]},
               {"alert", AlertJson(a->alert)}};
  auto reply = HttpCall(endpoint, "POST", target, body.dump(),
                        {{"Content-Type", "application/json"}}, std::chrono::seconds(10));
  std::string problem;
  if (!reply.ok())
    problem = reply.status().ToString();
  else if (reply->status < 200 || reply->status > 299)
    problem = "HTTP " + std::to_string(reply->status);
  const std::string actor = "job:" + std::to_string(ctx.job().id);
  if (problem.empty()) {
    MILLRACE_RETURN_IF_ERROR(InTenantTransaction(ctx.conn(), tenant, [&]() -> Status {
      return AddEvent(ctx.conn(), tenant, alert_id, "notified", actor,
                      hook_name + ": " + event->event + " delivered (HTTP " +
                          std::to_string(reply->status) + ")")
          .status();
    }));
    ctx.result = {{"webhook", hook_name}, {"status", reply->status}};
    return Status::Ok();
  }
  if (ctx.job().attempts >= ctx.job().max_attempts) {
    (void)InTenantTransaction(ctx.conn(), tenant, [&]() -> Status {
      return AddEvent(ctx.conn(), tenant, alert_id, "notify_failed", actor,
                      hook_name + ": " + event->event + " not delivered after " +
                          std::to_string(ctx.job().attempts) + " attempts: " + problem)
          .status();
    });
  }
  return Status::Unavailable("webhook " + hook_name + " (" + hook->url + "): " + problem);
}

}  // namespace

Result<AlertEvaluation> EvaluateTenantAlerts(PgConnection& conn, const std::string& tenant) {
  AlertEvaluation ev;
  const std::string by = kEvaluator;
  MILLRACE_RETURN_IF_ERROR(InTenantTransaction(conn, tenant, [&]() -> Status {
    // One evaluation of a tenant at a time, over every node: a second waits for the first
    // and then sees what it wrote.
    MILLRACE_ASSIGN_OR_RETURN(
        PgResult now_r,
        conn.Query("SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint FROM "
                   "pg_advisory_xact_lock(hashtext('millrace.alert_evaluate:' || $1))",
                   {tenant}));
    const std::int64_t now_ms = std::stoll(now_r.GetString(0, 0));
    MILLRACE_ASSIGN_OR_RETURN(std::vector<AlertRule> rule_list, ReadAlertRules(conn));
    std::map<std::string, AlertRule> rules;
    for (const AlertRule& r : rule_list) rules[r.kind] = r;
    MILLRACE_ASSIGN_OR_RETURN(std::vector<AlertWebhook> hooks, ReadAlertWebhooks(conn));
    MILLRACE_ASSIGN_OR_RETURN(std::vector<AlertObservation> seen, ObserveAlerts(conn, tenant));
    ev.observed = static_cast<int>(seen.size());

    std::map<std::string, OpenAlert> open;
    MILLRACE_ASSIGN_OR_RETURN(PgResult o,
                              conn.Query(std::string("SELECT ") + kAlertColumns +
                                         " FROM millrace.alert a WHERE a.state <> 'resolved'"));
    // Every subject to step: those observed now and those open from before.
    std::map<std::string, std::pair<std::string, std::string>> subjects;  // key -> kind, subject
    for (int i = 0; i < o.rows(); ++i) {
      AlertRecord a = AlertFromRow(o, i);
      OpenAlert x;
      x.id = a.id;
      x.severity = a.severity;
      x.state.phase =
          a.state == "firing" ? AlertState::Phase::kFiring : AlertState::Phase::kPending;
      x.state.pending_since_ms = a.pending_since_ms;
      x.state.fired_at_ms = a.fired_at_ms;
      x.state.clear_since_ms = a.clear_since_ms;
      open[Key(a.kind, a.subject)] = x;
      subjects[Key(a.kind, a.subject)] = {a.kind, a.subject};
    }
    std::map<std::string, const AlertObservation*> values;
    for (const AlertObservation& s : seen) {
      values[Key(s.kind, s.subject)] = &s;
      subjects[Key(s.kind, s.subject)] = {s.kind, s.subject};
    }

    for (const auto& [key, ks] : subjects) {
      const auto& [kind_name, subject] = ks;
      const AlertRuleKind* kind = FindAlertRuleKind(kind_name);
      if (!kind) continue;  // a kind this build no longer has: left as it was
      const AlertRule& rule = rules.at(kind_name);
      const auto v = values.find(key);
      const std::optional<double> value =
          v == values.end() ? std::nullopt : std::optional<double>(v->second->value);
      const std::string detail = v == values.end() ? "" : v->second->detail;
      const auto was = open.find(key);
      const AlertState prev = was == open.end() ? AlertState{} : was->second.state;
      const AlertStep step = StepAlert(rule, kind->higher_is_worse, prev, value, now_ms);
      using P = AlertState::Phase;
      const AlertState& s = step.state;
      const auto ts = [](std::int64_t ms) -> PgParam {
        if (ms == 0) return std::nullopt;
        return std::to_string(ms);
      };
      const PgParam value_p = value ? PgParam(std::to_string(*value)) : std::nullopt;
      std::int64_t id = was == open.end() ? 0 : was->second.id;
      AlertSeverity severity = rule.severity;
      if (was != open.end()) {
        MILLRACE_ASSIGN_OR_RETURN(severity, ParseAlertSeverity(was->second.severity));
      }

      if (prev.phase == P::kNone) {
        if (s.phase == P::kNone) continue;
        MILLRACE_ASSIGN_OR_RETURN(
            PgResult ins,
            conn.Query(
                "INSERT INTO millrace.alert (tenant_id, kind, subject, severity, state, "
                "value, threshold, detail, pending_since, fired_at, evaluated_at) VALUES ($1, "
                "$2, $3, $4, $5, $6, $7, $8, to_timestamp($9::bigint / 1000.0), "
                "to_timestamp($10::bigint / 1000.0), to_timestamp($11::bigint / 1000.0)) "
                "RETURNING alert_id",
                {tenant, kind_name, subject, std::string(AlertSeverityName(severity)),
                 std::string(s.phase == P::kFiring ? "firing" : "pending"), value_p,
                 std::to_string(rule.threshold), detail, ts(s.pending_since_ms), ts(s.fired_at_ms),
                 std::to_string(now_ms)}));
        id = std::stoll(ins.GetString(0, 0));
        ++ev.began;
      } else if (step.transition == AlertTransition::kDropped) {
        MILLRACE_RETURN_IF_ERROR(
            conn.Query("DELETE FROM millrace.alert WHERE alert_id = $1", {std::to_string(id)})
                .status());
        ++ev.dropped;
        continue;
      } else {
        MILLRACE_RETURN_IF_ERROR(
            conn.Query("UPDATE millrace.alert SET state = $2, value = coalesce($3::double "
                       "precision, value), detail = CASE WHEN $4 = '' THEN detail ELSE $4 END, "
                       "fired_at = to_timestamp($5::bigint / 1000.0), clear_since = "
                       "to_timestamp($6::bigint / 1000.0), resolved_at = CASE WHEN $2 = "
                       "'resolved' THEN to_timestamp($7::bigint / 1000.0) END, evaluated_at = "
                       "to_timestamp($7::bigint / 1000.0) WHERE alert_id = $1",
                       {std::to_string(id),
                        std::string(s.phase == P::kFiring    ? "firing"
                                    : s.phase == P::kPending ? "pending"
                                                             : "resolved"),
                        value_p, detail, ts(s.fired_at_ms), ts(s.clear_since_ms),
                        std::to_string(now_ms)})
                .status());
      }
      std::string event;
      if (step.transition == AlertTransition::kFired) {
        event = "fired";
        ++ev.fired;
      } else if (step.transition == AlertTransition::kResolved) {
        event = "resolved";
        ++ev.resolved;
      }
      if (event.empty()) continue;
      const std::string what =
          subject + ": " + kind->help + " is " +
          (value ? FormatValue(*value, kind->unit) : std::string("no longer observed")) +
          (event == "fired" ? ", past " : ", back within ") +
          FormatValue(event == "fired" ? rule.threshold : rule.clear_threshold, kind->unit);
      MILLRACE_ASSIGN_OR_RETURN(std::int64_t event_id, AddEvent(conn, tenant, id, event, by, what));
      MILLRACE_ASSIGN_OR_RETURN(
          int n, QueueNotifications(conn, tenant, hooks, id, event_id, severity, by));
      ev.notifications += n;
      spdlog::info("alerts: {} {} {} ({})", tenant, event, kind_name, what);
    }
    // Resolved alerts are kept for 90 days, with their history.
    return conn
        .Query(
            "DELETE FROM millrace.alert WHERE state = 'resolved' AND resolved_at < now() - "
            "interval '90 days'")
        .status();
  }));
  return ev;
}

void AddAlertJobKinds(JobKinds& kinds) {
  kinds.Add({"alert_evaluate",
             "Evaluate every tenant's alert rules now: fire, resolve and notify by webhook",
             true,
             {},
             AlertEvaluate,
             nullptr,
             3,
             5000});
  kinds.Add({"alert_notify",
             "Post one alert event to one of the tenant's webhooks (retried with backoff)",
             false,
             {{"alert", JobField::Type::kInt, true, 1, std::int64_t{1} << 62, "the alert's id"},
              {"event", JobField::Type::kInt, true, 1, std::int64_t{1} << 62,
               "the id of the alert's event to post"},
              {"webhook", JobField::Type::kString, true, 1, 64, "the webhook's name"}},
             AlertNotify,
             [](const NewJob& job) {
               // Queued with the event it posts; one made by hand could post any history.
               return job.created_by == kEvaluator
                          ? Status::Ok()
                          : Status::InvalidArgument(
                                "alert_notify jobs are queued by alert_evaluate only (retry a "
                                "dead one with `jobs retry`)");
             },
             kNotifyAttempts,
             2000});
}

JobSchedule AlertEvaluateSchedule() {
  return {"alert_evaluate", std::chrono::seconds(60), json::object()};
}

}  // namespace millrace::central
