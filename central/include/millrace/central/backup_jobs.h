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
//
// Thread-safety: the jobs run on job workers (job_runner.h); the store is thread-safe.
#pragma once

#include <string>

#include "millrace/central/backup_retention.h"
#include "millrace/central/backup_store.h"
#include "millrace/central/job_runner.h"

namespace millrace::central {

struct BackupJobOptions {
  BackupStore* store = nullptr;  // null: the jobs fail (this node keeps no backups)
  std::string work_dir;          // where a backup is expanded to be opened
  BackupRetention retention;
};

void AddBackupJobKinds(JobKinds& kinds, const BackupJobOptions& options);

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
