#include "millrace/central/alerts.h"

#include <cmath>

namespace millrace::central {
namespace {

using S = AlertSeverity;

bool Bad(const AlertRule& r, bool higher_is_worse, double v) {
  return higher_is_worse ? v >= r.threshold : v <= r.threshold;
}
bool Good(const AlertRule& r, bool higher_is_worse, double v) {
  return higher_is_worse ? v <= r.clear_threshold : v >= r.clear_threshold;
}

}  // namespace

const char* AlertSeverityName(AlertSeverity s) {
  switch (s) {
    case S::kInfo:
      return "info";
    case S::kWarning:
      return "warning";
    case S::kCritical:
      return "critical";
    case S::kPage:
      return "page";
  }
  return "?";
}

Result<AlertSeverity> ParseAlertSeverity(const std::string& name) {
  for (S s : {S::kInfo, S::kWarning, S::kCritical, S::kPage})
    if (name == AlertSeverityName(s)) return s;
  return Status::InvalidArgument("severity '" + name +
                                 "' is not one of info, warning, critical, page");
}

const std::vector<AlertRuleKind>& AlertRuleKinds() {
  // name, help, unit, higher_is_worse, severity, threshold, clear_threshold, for_s, max
  static const std::vector<AlertRuleKind> kKinds = {
      {"site_offline", "time since central last heard from a site", "minutes", true, S::kWarning,
       15, 2, 0, 525600},
      {"oldest_unacked", "age of a site's oldest change central has not acknowledged", "minutes",
       true, S::kWarning, 30, 10, 0, 525600},
      {"backlog", "a site's outbox waiting for central", "MiB", true, S::kWarning, 512, 256, 300,
       1e7},
      {"disk_free", "free disk where a site's store lives, as the edge reports it", "MiB", false,
       S::kCritical, 2048, 4096, 300, 1e9},
      {"rejects_parked", "a site's changes parked in the reject table in the last 24 hours",
       "changes", true, S::kWarning, 1, 0, 0, 1e9},
      {"conflict_rate",
       "concurrent edits central resolved in the last hour, over the tenant's sites", "conflicts",
       true, S::kInfo, 100, 50, 0, 1e9, "tenant"},
      {"backup_failed",
       "a site's backups that failed their upload or verification in the last 24 hours", "backups",
       true, S::kCritical, 1, 0, 0, 1e6},
      {"backup_unverified", "age of a site's newest verified backup (sites that ship backups)",
       "hours", true, S::kWarning, 48, 26, 0, 87600},
      {"drift",
       "rows a site's latest drift check (in the last 7 days) found differing from central, "
       "repaired or not",
       "rows", true, S::kWarning, 1, 0, 0, 1e9},
      {"job_dead", "jobs that went to the dead letter in the last 24 hours", "jobs", true,
       S::kWarning, 1, 0, 0, 1e6, "jobs"},
      {"oee_below_target",
       "OEE of a line over its last shift that ended (in the last two days, with planned time)",
       "percent", false, S::kWarning, 60, 65, 0, 100, "line"},
      {"out_of_spec_rate",
       "share of a characteristic's inspections out of spec in this hour and the one before "
       "(at least 5 inspections)",
       "percent", true, S::kWarning, 5, 2, 0, 100, "characteristic"},
  };
  return kKinds;
}

const AlertRuleKind* FindAlertRuleKind(const std::string& name) {
  for (const auto& k : AlertRuleKinds())
    if (k.name == name) return &k;
  return nullptr;
}

AlertRule DefaultAlertRule(const AlertRuleKind& k) {
  return {k.name, k.severity, k.threshold, k.clear_threshold, k.for_s, true, false};
}

Status CheckAlertRule(const AlertRule& r) {
  const AlertRuleKind* k = FindAlertRuleKind(r.kind);
  if (!k) {
    std::string names;
    for (const auto& x : AlertRuleKinds()) names += (names.empty() ? "" : ", ") + x.name;
    return Status::InvalidArgument("kind: no alert rule '" + r.kind + "'; there are " + names);
  }
  const auto in_range = [&](double v) {
    return std::isfinite(v) && v >= 0 && v <= k->max_threshold;
  };
  const std::string range = " (" + k->unit + ", 0 .. " +
                            std::to_string(static_cast<std::int64_t>(k->max_threshold)) + ")";
  if (!in_range(r.threshold)) return Status::InvalidArgument("threshold is out of range" + range);
  if (!in_range(r.clear_threshold))
    return Status::InvalidArgument("clear_threshold is out of range" + range);
  if (k->higher_is_worse ? r.clear_threshold > r.threshold : r.clear_threshold < r.threshold)
    return Status::InvalidArgument(
        std::string("clear_threshold must be ") + (k->higher_is_worse ? "at most" : "at least") +
        " the threshold: " + r.kind + " is bad when " + (k->higher_is_worse ? "higher" : "lower"));
  if (r.for_s < 0 || r.for_s > 604800)
    return Status::InvalidArgument("for_s is out of range (seconds, 0 .. 604800)");
  return Status::Ok();
}

AlertStep StepAlert(const AlertRule& rule, bool higher_is_worse, const AlertState& prev,
                    std::optional<double> value, std::int64_t now_ms) {
  const bool bad = rule.enabled && value && Bad(rule, higher_is_worse, *value);
  const bool good = !rule.enabled || !value || (!bad && Good(rule, higher_is_worse, *value));
  const std::int64_t hold_ms = static_cast<std::int64_t>(rule.for_s) * 1000;
  AlertStep out{prev, AlertTransition::kNone};
  AlertState& s = out.state;
  using P = AlertState::Phase;
  switch (prev.phase) {
    case P::kNone:
    case P::kResolved:
      if (!bad) return {AlertState{}, AlertTransition::kNone};
      s = AlertState{P::kPending, now_ms, 0, 0};
      out.transition = AlertTransition::kBegan;
      [[fallthrough]];
    case P::kPending:
      // Firing needs for_s of bad values without a break: anything else and the alert
      // never was.
      if (!bad) return {AlertState{}, AlertTransition::kDropped};
      if (now_ms - s.pending_since_ms >= hold_ms) {
        s.phase = P::kFiring;
        s.fired_at_ms = now_ms;
        s.clear_since_ms = 0;
        out.transition = AlertTransition::kFired;
      }
      return out;
    case P::kFiring:
      if (!good) {
        s.clear_since_ms = 0;  // bad again, or between the thresholds: clearing starts over
        return out;
      }
      if (s.clear_since_ms == 0) s.clear_since_ms = now_ms;
      if (now_ms - s.clear_since_ms >= hold_ms) {
        s.phase = P::kResolved;
        out.transition = AlertTransition::kResolved;
      }
      return out;
  }
  return out;
}

}  // namespace millrace::central
