// The reporting API on mes-central's HTTP: GET /api/v1/reports (what there is) and
// GET /api/v1/reports/<name> (reports.h), in JSON or CSV (Accept: text/csv or
// ?format=csv), with "data as of" in the body and the X-Data-As-Of header, an ETag
// answered 304 on If-None-Match, answers cached per tenant and query until the tenant's
// rollups change (report_cache.h), per-tenant limits answered 429 with Retry-After
// (report_limits.h), and a pooled connection (pg_pool.h) answered 503 with Retry-After
// when none frees up in time. Reads go to a replica when one is configured and fresh
// (replica_reads.h); the answer says where in "read_from" and "staleness_seconds" and the
// X-Read-From header.
//
// Thread-safety: the handlers run on any HTTP thread; everything they share is.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "millrace/central/people.h"
#include "millrace/central/replica_reads.h"
#include "millrace/central/report_cache.h"
#include "millrace/central/report_limits.h"
#include "millrace/common/http.h"

namespace millrace::central {

using Authenticator = std::function<Result<Viewer>(const HttpRequest&)>;

struct ReportRoutesOptions {
  ReportReads* reads = nullptr;  // the primary's pool, or a replica's (replica_reads.h)
  ReportCache* cache = nullptr;
  ReportLimits* limits = nullptr;
  Authenticator authenticate;
  MetricsRegistry* metrics = nullptr;
  const Clock* clock = SystemClock();  // for the default range (the last seven days)
};

void AddReportRoutes(Router& router, ReportRoutesOptions options);

}  // namespace millrace::central
