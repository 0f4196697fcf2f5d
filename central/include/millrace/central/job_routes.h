// The job queue over central's HTTP, for a tenant's admins (their tenant's jobs) and the
// platform's operators (every tenant's and the platform's own, '*'):
//
//   GET  /api/v1/jobs?tenant=&state=&kind=&before=&limit=   newest first, with the counts by
//        kind and state; a full page names next_before, the keyset of the next
//   GET  /api/v1/jobs/{id}
//   POST /api/v1/jobs {kind, tenant?, payload?, priority?, max_attempts?}   enqueue
//   POST /api/v1/jobs/{id}/cancel, POST /api/v1/jobs/{id}/retry
//   GET  /api/v1/jobs/{id}/file   a finished report_export's CSV, streamed from disk
//   GET  /api/v1/backups?tenant=&site=   the site backups central keeps (backup_jobs.h),
//        newest first, with their verification (a platform operator names the tenant)
//
// A body's unknown field, a payload's unknown or out-of-range field, an unknown kind or
// state are refused by name (400); another tenant's job is not found (404).
//
// Thread-safety: the handlers run on any HTTP thread.
#pragma once

#include <functional>

#include "millrace/central/job_kinds.h"
#include "millrace/central/job_runner.h"
#include "millrace/central/people.h"
#include "millrace/central/pg_pool.h"
#include "millrace/common/http.h"

namespace millrace::central {

struct JobRoutesOptions {
  PgPool* pool = nullptr;
  const JobKinds* kinds = nullptr;
  std::function<Result<Viewer>(const HttpRequest&)> authenticate;
  std::string export_dir;  // where report_export wrote its files
};

// REQUIRES: what the options point to outlives the router.
void AddJobRoutes(Router& router, JobRoutesOptions options);

}  // namespace millrace::central
