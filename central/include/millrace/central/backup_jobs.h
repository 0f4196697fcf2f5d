// The jobs that look after the site backups central keeps (sync_backups.cc receives them):
//
//   backup_verify (tenant)  fetches a stored backup, checks its SHA-256 at rest, expands it
//                           and opens it: PRAGMA integrity_check, its schema version and
//                           catalog, its store epoch, and for each of the site's tables the
//                           rows the backup holds as acknowledged against the rows central
//                           holds (and parked) for the site. Marks the backup verified or
//                           failed (with why), then queues backup_prune for the site.
//                           Queued when a backup is received.
//   backup_prune (tenant)   applies the retention (backup_retention.h) to a site's backups:
//                           the pruned ones leave the store and the list; uploads that
//                           stalled for a day are dropped.
//   backup_sweep (platform) hourly: queues backup_verify for every backup verified longer
//                           ago than reverify_days (or stored and never verified), and
//                           backup_prune for every site that has backups.
//
// Thread-safety: the jobs run on job workers (job_runner.h); the store is thread-safe.
#pragma once

#include <string>

#include "millrace/central/backup_retention.h"
#include "millrace/central/backup_store.h"
#include "millrace/central/job_runner.h"
#include "millrace/central/pg_pool.h"
#include "millrace/common/metrics.h"

namespace millrace::central {

struct BackupJobOptions {
  BackupStore* store = nullptr;  // null: the jobs fail (this node keeps no backups)
  std::string work_dir;          // where a backup is expanded to be opened
  BackupRetention retention;
  int reverify_days = 7;  // a verified backup is verified again after this long
};

void AddBackupJobKinds(JobKinds& kinds, const BackupJobOptions& options);
// backup_sweep, hourly.
JobSchedule BackupSweepSchedule();

// /metrics, read from PostgreSQL at each scrape (every node sees every site's):
//   mes_central_site_backup_verified_timestamp_seconds{tenant,site}  when the newest
//       verified backup of the site was taken (0: none is)
//   mes_central_site_backups_failed{tenant,site}  backups kept that failed verification
// REQUIRES: pool outlives the registry's renders.
void AddSiteBackupMetrics(MetricsRegistry& metrics, PgPool* pool);

// One site backup as central lists it.
struct SiteBackup {
  std::string tenant_id, site_id, backup_id, store_key, state, node, sha256, store_epoch;
  std::int64_t bytes = 0, raw_bytes = 0, schema_version = 0;
  std::int64_t taken_ms = 0, received_ms = 0, verified_ms = 0;  // Unix ms; 0: not yet
  std::string verify_error;
  nlohmann::json verify_result;  // null until verified
};

// The tenant's backups (of `site`, or of every site when empty), newest first.
Result<std::vector<SiteBackup>> ListSiteBackups(PgConnection& conn, const std::string& tenant_id,
                                                const std::string& site_id);
nlohmann::json SiteBackupJson(const SiteBackup& b);

}  // namespace millrace::central
