#include "alerts_command.h"

#include <cstdio>
#include <iostream>

#include "millrace/central/alert_store.h"
#include "millrace/central/central_audit.h"
#include "millrace/central/central_config.h"
#include "millrace/common/catalog.h"
#include "millrace/common/logging.h"

namespace millrace::central {
namespace {

int Fail(const Status& s) {
  std::cerr << "mes-central alerts: " << s.ToString() << "\n";
  return s.code() == StatusCode::kInvalidArgument ? 2 : 1;
}

// -c and --tenant, which every subcommand takes.
void Common(CLI::App* sub, AlertsCommand* c) {
  sub->add_option("-c,--config", c->config_path, "mes-central configuration file (TOML)")
      ->required()
      ->check(CLI::ExistingFile);
  sub->add_option("--tenant", c->tenant, "The tenant ('*': the platform's own alerts)")->required();
}

std::string Value(const nlohmann::json& v) {
  if (v.is_null()) return "-";
  if (v.is_number()) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.4g", v.get<double>());
    return buf;
  }
  return v.is_string() ? v.get<std::string>() : v.dump();
}

void PrintAlert(const AlertRecord& a, bool json) {
  const nlohmann::json j = AlertJson(a);
  if (json) {
    std::cout << j.dump() << "\n";
    return;
  }
  std::cout << a.id << "\t" << a.state << "\t" << a.severity << "\t" << a.kind << "\t" << a.subject
            << "\t" << Value(j["value"]) << " " << j["unit"].get<std::string>() << " (threshold "
            << Value(j["threshold"]) << ")\t"
            << Value(a.state == "pending"  ? j["pending_since"]
                     : a.state == "firing" ? j["fired_at"]
                                           : j["resolved_at"]);
  if (a.acknowledged_at_ms) std::cout << "\tacknowledged by " << a.acknowledged_by;
  std::cout << "\n";
}

}  // namespace

void AddAlertsCommand(CLI::App& app, AlertsCommand* c) {
  c->root = app.add_subcommand(
      "alerts",
      "Central's alerts: what fired and resolved, acknowledging, the rules' settings and the "
      "webhooks alerts are posted to. The alert_evaluate job (every minute on a node with "
      "job workers) fires and resolves them");
  c->root->require_subcommand(1);

  c->list = c->root->add_subcommand("list", "A tenant's alerts, newest first");
  Common(c->list, c);
  c->list->add_option("--state", c->state, "open (pending or firing), pending, firing or resolved");
  c->list->add_option("--kind", c->kind, "Only this kind of rule (see `alerts rules`)");
  c->list->add_option("--limit", c->limit, "At most this many (1 .. 1000)")->capture_default_str();
  c->list->add_flag("--json", c->json, "One JSON object per alert");

  c->show = c->root->add_subcommand("show", "One alert as JSON, with its history");
  Common(c->show, c);
  c->show->add_option("id", c->id, "The alert's id")->required();

  c->ack = c->root->add_subcommand("ack", "Acknowledge an open alert, with a comment");
  Common(c->ack, c);
  c->ack->add_option("id", c->id, "The alert's id")->required();
  c->ack
      ->add_option("--comment", c->comment, "What is being done about it (at most 2000 characters)")
      ->required();
  c->ack->add_option("--actor", c->actor, "Who acknowledges (default: $SUDO_USER or $USER @ host)");

  c->rules = c->root->add_subcommand(
      "rules", "Every kind of rule with the settings it runs with for the tenant");
  Common(c->rules, c);
  c->rules->add_flag("--json", c->json, "One JSON object per rule");

  c->rule_set = c->root->add_subcommand(
      "rule-set",
      "Set a kind's settings for the tenant (what is not given keeps its current setting); "
      "thresholds are in the kind's unit, and the clear threshold lies on the good side");
  Common(c->rule_set, c);
  c->rule_set->add_option("kind", c->kind, "The kind of rule (see `alerts rules`)")->required();
  c->severity_opt =
      c->rule_set->add_option("--severity", c->severity, "info, warning, critical or page");
  c->threshold_opt =
      c->rule_set->add_option("--threshold", c->threshold, "Bad at or past this value");
  c->clear_opt = c->rule_set->add_option("--clear", c->clear_threshold,
                                         "A firing alert resolves back at or within this value");
  c->for_opt = c->rule_set->add_option(
      "--for-s", c->for_s,
      "Seconds a value must stay bad before firing, and good before resolving");
  auto* en = c->rule_set->add_flag("--enable", c->enable, "Evaluate this kind");
  c->rule_set->add_flag("--disable", c->disable, "Do not evaluate this kind (its alerts resolve)")
      ->excludes(en);
  c->rule_set->add_option("--actor", c->actor,
                          "Who changes it (default: $SUDO_USER or $USER @ host)");

  c->rule_reset = c->root->add_subcommand("rule-reset", "Put a kind back to its defaults");
  Common(c->rule_reset, c);
  c->rule_reset->add_option("kind", c->kind, "The kind of rule")->required();

  c->webhooks =
      c->root->add_subcommand("webhooks", "The webhooks the tenant's alerts are posted to");
  Common(c->webhooks, c);

  c->webhook_set = c->root->add_subcommand(
      "webhook-set",
      "Add or change a webhook: each alert that fires or resolves at min-severity or above is "
      "POSTed to it as JSON, retried with backoff");
  Common(c->webhook_set, c);
  c->webhook_set->add_option("name", c->name, "The webhook's name")->required();
  c->webhook_set->add_option("--url", c->url, "http://host:port/path (plain http)")->required();
  c->webhook_set->add_option("--min-severity", c->min_severity,
                             "info, warning, critical or page (default: as the webhook has it, "
                             "or warning for a new one)");
  c->webhook_set->add_option("--actor", c->actor,
                             "Who changes it (default: $SUDO_USER or $USER @ host)");

  c->webhook_delete = c->root->add_subcommand("webhook-delete", "Remove a webhook");
  Common(c->webhook_delete, c);
  c->webhook_delete->add_option("name", c->name, "The webhook's name")->required();
}

int RunAlertsCommand(const AlertsCommand& c) {
  (void)InitLogging({.level = "warn", .format = "human", .program = "mes-central"});
  if (c.tenant != "*" && !catalog::IsValidSiteId(c.tenant))
    return Fail(Status::InvalidArgument("--tenant \"" + c.tenant + "\" is not a tenant id"));
  auto config = LoadCentralConfig(c.config_path);
  if (!config.ok()) return Fail(config.status());
  auto conn_r = PgConnection::Connect(config->database_url);
  if (!conn_r.ok()) return Fail(conn_r.status());
  PgConnection& conn = **conn_r;
  const std::string actor = CommandLineActor(c.actor);
  if (Status s = CheckAlertTenant(conn, c.tenant); !s.ok()) return Fail(s);

  if (*c.list) {
    AlertFilter f{c.state, c.kind, 0, c.limit, {}};
    auto list = ListAlerts(conn, c.tenant, f);
    if (!list.ok()) return Fail(list.status());
    for (const AlertRecord& a : *list) PrintAlert(a, c.json);
    if (!c.json && list->empty()) std::cerr << "no alerts\n";
    return 0;
  }
  if (*c.show) {
    auto a = GetAlert(conn, c.tenant, c.id);
    if (!a.ok()) return Fail(a.status());
    if (!*a) return Fail(Status::NotFound("no alert " + std::to_string(c.id)));
    nlohmann::json j = AlertJson((*a)->alert);
    j["history"] = nlohmann::json::array();
    for (const AlertEvent& e : (*a)->history) j["history"].push_back(AlertEventJson(e));
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  if (*c.ack) {
    auto a = AcknowledgeAlert(conn, c.tenant, c.id, actor, c.comment);
    if (!a.ok()) return Fail(a.status());
    PrintAlert(*a, false);
    return 0;
  }
  if (*c.rules) {
    auto rules = AlertRules(conn, c.tenant);
    if (!rules.ok()) return Fail(rules.status());
    for (const AlertRule& r : *rules) {
      const nlohmann::json j = AlertRuleJson(r);
      if (c.json) {
        std::cout << j.dump() << "\n";
        continue;
      }
      std::cout << r.kind << "\t" << (r.enabled ? "on" : "off") << "\t"
                << AlertSeverityName(r.severity) << "\tbad " << j["bad_when"].get<std::string>()
                << " than " << Value(j["threshold"]) << ", clear at " << Value(j["clear_threshold"])
                << " " << j["unit"].get<std::string>() << "\tfor " << r.for_s << " s"
                << (r.overridden ? "\t(the tenant's)" : "\t(default)") << "\t"
                << j["help"].get<std::string>() << "\n";
    }
    return 0;
  }
  if (*c.rule_set) {
    if (!FindAlertRuleKind(c.kind)) return Fail(CheckAlertRule(AlertRule{c.kind}));
    if (!c.severity_opt->count() && !c.threshold_opt->count() && !c.clear_opt->count() &&
        !c.for_opt->count() && !c.enable && !c.disable)
      return Fail(Status::InvalidArgument(
          "nothing to change: give --severity, --threshold, --clear, --for-s, --enable or "
          "--disable"));
    auto rules = AlertRules(conn, c.tenant);
    if (!rules.ok()) return Fail(rules.status());
    AlertRule rule;
    for (const AlertRule& r : *rules)
      if (r.kind == c.kind) rule = r;
    if (c.severity_opt->count()) {
      auto s = ParseAlertSeverity(c.severity);
      if (!s.ok()) return Fail(Status::InvalidArgument("--severity: " + s.status().message()));
      rule.severity = *s;
    }
    if (c.threshold_opt->count()) rule.threshold = c.threshold;
    if (c.clear_opt->count()) rule.clear_threshold = c.clear_threshold;
    if (c.for_opt->count()) rule.for_s = c.for_s;
    if (c.enable) rule.enabled = true;
    if (c.disable) rule.enabled = false;
    if (Status s = PutAlertRule(conn, c.tenant, rule, actor); !s.ok()) return Fail(s);
    rule.overridden = true;
    std::cout << AlertRuleJson(rule).dump() << "\n";
    return 0;
  }
  if (*c.rule_reset) {
    auto found = ResetAlertRule(conn, c.tenant, c.kind);
    if (!found.ok()) return Fail(found.status());
    std::cerr << c.kind << (*found ? ": back to its defaults\n" : ": already at its defaults\n");
    return 0;
  }
  if (*c.webhooks) {
    auto hooks = AlertWebhooks(conn, c.tenant);
    if (!hooks.ok()) return Fail(hooks.status());
    for (const AlertWebhook& w : *hooks)
      std::cout << w.name << "\t" << w.url << "\t" << AlertSeverityName(w.min_severity)
                << " and above\n";
    if (hooks->empty()) std::cerr << "no webhooks\n";
    return 0;
  }
  if (*c.webhook_set) {
    AlertWebhook w{c.name, c.url, AlertSeverity::kWarning, actor};
    if (!c.min_severity.empty()) {
      auto severity = ParseAlertSeverity(c.min_severity);
      if (!severity.ok())
        return Fail(Status::InvalidArgument("--min-severity: " + severity.status().message()));
      w.min_severity = *severity;
    } else {
      auto hooks = AlertWebhooks(conn, c.tenant);
      if (!hooks.ok()) return Fail(hooks.status());
      for (const AlertWebhook& h : *hooks)
        if (h.name == c.name) w.min_severity = h.min_severity;
    }
    if (Status s = PutAlertWebhook(conn, c.tenant, w, actor); !s.ok()) return Fail(s);
    std::cout << AlertWebhookJson(w).dump() << "\n";
    return 0;
  }
  if (*c.webhook_delete) {
    auto found = DeleteAlertWebhook(conn, c.tenant, c.name);
    if (!found.ok()) return Fail(found.status());
    if (!*found) return Fail(Status::NotFound("no webhook " + c.name));
    std::cerr << "webhook " << c.name << " removed\n";
    return 0;
  }
  return Fail(Status::InvalidArgument("no alerts subcommand"));
}

}  // namespace millrace::central
