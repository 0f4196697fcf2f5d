// The kinds of job mes-central runs (job_runner.h) and the periodic ones it schedules:
//
//   partition_maintenance (platform)  the site fact tables' monthly partitions, ahead of time
//   rollup_rebuild (tenant)           a site's report rollups recomputed from its raw facts
//                                     over a range, a day at a time, with progress
//   tenant_provision (platform)       a new tenant, with the demo factory's master data if asked
//   report_export (tenant)            a whole report (every page) as CSV into the export
//                                     directory, written as it is read, with progress;
//                                     downloaded by GET /api/v1/jobs/{id}/file
//   pg_backup (platform)              central's PostgreSQL cluster backed up by pgBackRest
//                                     (pg_backup_jobs.h), when [pg_backup] is configured
//   backup_verify, backup_prune       the site backups central keeps (backup_jobs.h)
//   site_restore (tenant)             the bundle a replacement edge starts from
//                                     (restore_site.h)
//   alert_evaluate, alert_notify      central's alerts and their webhooks (alert_jobs.h)
//   fact_retention (platform)         facts past each tenant's retention exported to the
//                                     backup store and purged, daily (retention.h)
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "millrace/central/alert_jobs.h"
#include "millrace/central/backup_jobs.h"
#include "millrace/central/job_runner.h"
#include "millrace/central/pg_backup_jobs.h"
#include "millrace/central/restore_site.h"

namespace millrace::central {

struct JobKindsOptions {
  // Where report exports go, one directory per tenant (a node without one fails exports).
  std::string export_dir;
  std::string node;                // this node's name, recorded with an export it wrote
  int report_statement_timeout_s = 300;
  int export_page_rows = 1000;     // rows read per report page (1 .. 1000)
  BackupJobOptions backups;        // the site backups' store, work directory and retention
  RestoreJobOptions restore;       // site_restore: the backup store, central's key
  std::optional<PgBackupJobOptions> pg_backup;  // absent: no pg_backup kind on this node
  // [cluster]: tenant_provision refuses a tenant the map puts on another cluster.
  std::string cluster, tenant_map_file;
};

JobKinds CentralJobKinds(const JobKindsOptions& options = {});
std::vector<JobSchedule> CentralJobSchedules();

// The file a succeeded report_export wrote: <export_dir>/<tenant>/<name from its result>.
// NotFound when the job is not a succeeded export.
Result<std::string> ExportFilePath(const std::string& export_dir, const Job& job);
// Deletes exports older than `days`; how many.
int PruneExports(const std::string& export_dir, int days);

}  // namespace millrace::central
