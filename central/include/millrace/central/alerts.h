// Central's alert rules and the state machine every alert follows. Pure: no PostgreSQL
// here (alert_store.h keeps a tenant's settings and alerts, alert_jobs.h observes,
// evaluates and notifies).
//
// One declaration (AlertRuleKinds) names each kind of rule: what it measures and in which
// unit, whether a higher or a lower value is the bad side, and its defaults. An AlertRule
// holds the settings one kind runs with for a tenant - severity, thresholds, delay,
// whether it runs - the kind's defaults (DefaultAlertRule) unless the tenant set its own,
// which CheckAlertRule checks.
//
// An alert is one (tenant, kind, subject) - a site, a line, a characteristic, a tenant -
// and moves
//
//   (none) --bad--> pending --bad for for_s--> firing --good for for_s--> resolved
//             pending --not bad--> (dropped)    firing --not good--> firing (clearing ends)
//
// "bad" is a value past `threshold`; "good" is a value back past `clear_threshold`, which
// lies on the good side of the threshold, so a value wavering around the threshold neither
// fires nor resolves again and again (hysteresis). A value between the two keeps the
// state it has. A subject no longer observed (a site revoked, a window emptied) counts as
// good. A resolved alert is history; the next bad value begins a new one.
//
// Thread-safety: everything here is a value or a pure function.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "millrace/common/status.h"

namespace millrace::central {

enum class AlertSeverity { kInfo, kWarning, kCritical, kPage };
const char* AlertSeverityName(AlertSeverity s);
Result<AlertSeverity> ParseAlertSeverity(const std::string& name);

struct AlertRuleKind {
  std::string name;
  std::string help;  // what is measured, for --help, the API and the dashboard
  std::string unit;  // of the value and the thresholds
  bool higher_is_worse = true;
  AlertSeverity severity = AlertSeverity::kWarning;
  double threshold = 0, clear_threshold = 0;
  int for_s = 0;
  double max_threshold = 1e12;  // thresholds must lie in [0, max_threshold]
  std::string subject = "site";  // what one alert of the kind is about: site, tenant, jobs, line,
                                 // characteristic
};

// Every kind, in the order they are shown.
const std::vector<AlertRuleKind>& AlertRuleKinds();
const AlertRuleKind* FindAlertRuleKind(const std::string& name);

// A kind's settings for one tenant: its defaults, or the tenant's override.
struct AlertRule {
  std::string kind;
  AlertSeverity severity = AlertSeverity::kWarning;
  double threshold = 0, clear_threshold = 0;
  int for_s = 0;
  bool enabled = true;
  bool overridden = false;  // the tenant's own settings, not the kind's defaults
};
AlertRule DefaultAlertRule(const AlertRuleKind& kind);
// InvalidArgument naming the field: an unknown kind, a threshold out of [0, max], a
// clear_threshold on the bad side of the threshold, for_s outside 0 .. 604800.
Status CheckAlertRule(const AlertRule& rule);

// What the evaluator keeps of an open alert (pending or firing) between evaluations.
struct AlertState {
  enum class Phase { kNone, kPending, kFiring, kResolved };
  Phase phase = Phase::kNone;
  std::int64_t pending_since_ms = 0;
  std::int64_t fired_at_ms = 0;
  std::int64_t clear_since_ms = 0;  // 0: not clearing
};

enum class AlertTransition { kNone, kBegan, kFired, kResolved, kDropped };

struct AlertStep {
  AlertState state;
  AlertTransition transition = AlertTransition::kNone;
};

// One evaluation at `now_ms` of a subject whose value is `value` (nullopt: not observed).
AlertStep StepAlert(const AlertRule& rule, bool higher_is_worse, const AlertState& prev,
                    std::optional<double> value, std::int64_t now_ms);

}  // namespace millrace::central
