// The jobs that run drift checks (the checks themselves: sync.proto DriftRequest, the
// edge's half in sync/src/drift_run.h, central's in central/src/sync_drift.cc):
//
//   drift_check (tenant)  asks one site (payload "site") or every active site of the
//                         tenant to run a drift check at its next contact (a check still
//                         unfinished for a site is superseded), then waits up to
//                         wait_seconds (default 600; 0: does not wait) for the outcomes,
//                         with progress in sites; its result lists each check as it
//                         stands (drifted, repaired, left to sync, round trips), a site
//                         that has not answered yet as pending (it runs the check when it
//                         connects).
//   drift_sweep (platform) daily: asks every active site of every tenant for a check, and
//                         forgets checks older than 90 days.
//
// Thread-safety: the jobs run on job workers (job_runner.h).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "millrace/central/job_runner.h"
#include "millrace/central/pg.h"
#include "millrace/central/pg_pool.h"
#include "millrace/common/metrics.h"

namespace millrace::central {

// Asks `sites` of the tenant (all its active sites when empty) for a drift check each, in
// the tenant's transaction of its own: the new checks' ids, by site. NotFound for a site
// that is not an active site of the tenant.
struct RequestedCheck {
  std::string site;
  std::int64_t check_id = 0;
};
Result<std::vector<RequestedCheck>> RequestDriftChecks(PgConnection& conn,
                                                       const std::string& tenant,
                                                       const std::vector<std::string>& sites,
                                                       const std::string& requested_by);

void AddDriftJobKinds(JobKinds& kinds);
// drift_sweep, daily.
JobSchedule DriftSweepSchedule();
// mes_central_drift_* gauges: each active site's latest finished check, read at most once
// per `refresh`.
void AddDriftMetrics(MetricsRegistry& metrics, PgPool* pool,
                     std::chrono::milliseconds refresh = std::chrono::seconds(30));

}  // namespace millrace::central
