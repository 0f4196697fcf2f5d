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
#include "millrace/central/site_backups.h"

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

}  // namespace millrace::central
