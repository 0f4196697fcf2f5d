// The jobs that run central's alerts (alerts.h: the rules; alert_store.h: their rows):
//
//   alert_evaluate (platform)  every minute: for each tenant (and the platform's own jobs,
//                              tenant '*'), in one transaction of the tenant's, observes
//                              every kind's subjects (ObserveAlerts; a disabled kind's
//                              alerts step as good and resolve), steps each
//                              open or observed alert through StepAlert, records firing and
//                              resolving in the alert's history, and queues alert_notify
//                              for each of the tenant's webhooks the alert's severity
//                              reaches
//   alert_notify (tenant)      posts one alert event as JSON to one webhook (with the alert
//                              as it stands when posted); a refused or failed delivery is
//                              retried with backoff (8 attempts), and the history says
//                              notified or, after the last, notify_failed. Queued by
//                              alert_evaluate only.
//
// Thread-safety: the jobs run on job workers (job_runner.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "millrace/central/job_runner.h"
#include "millrace/central/pg.h"

namespace millrace::central {

// One subject's value for one kind of rule, as observed now.
struct AlertObservation {
  std::string kind, subject;
  double value = 0;
  std::string detail;  // what the subject is, for people (a site's id, a characteristic's name)
};

// What the tenant's data says now, for every kind; in the tenant's transaction
// (BeginTenant).
Result<std::vector<AlertObservation>> ObserveAlerts(PgConnection& conn, const std::string& tenant);

struct AlertEvaluation {
  int observed = 0, began = 0, fired = 0, resolved = 0, dropped = 0, notifications = 0;
};
// One evaluation of one tenant's alerts, in a transaction of its own, at PostgreSQL's clock
// once it holds the tenant's evaluation lock (one evaluation of a tenant at a time).
Result<AlertEvaluation> EvaluateTenantAlerts(PgConnection& conn, const std::string& tenant);

void AddAlertJobKinds(JobKinds& kinds);
// alert_evaluate, every minute.
JobSchedule AlertEvaluateSchedule();

}  // namespace millrace::central
