// The pg_backup job (platform): backs up central's PostgreSQL cluster with pgBackRest
// (pgbackrest.h), full, differential or incremental (payload type, default incr; the
// first backup of a repository is always full). Progress is the percent pgBackRest reports
// as it copies; the result names the backup (label, type, size, what it added to the
// repository, its WAL range and when it started and stopped). A node whose configuration
// has no [pg_backup] section registers no such kind, so its workers never take one (and
// its HTTP API refuses to queue one; `mes-central jobs enqueue pg_backup` always can).
//
// One runs at a time over all nodes (a PostgreSQL advisory lock): a job that finds another
// running waits for it.
//
// Schedules: a full backup every full_every_hours and an incremental one every
// incr_every_hours (0: none of that type), each once per period over all nodes.
//
// Thread-safety: the job runs on a job worker (job_runner.h).
#pragma once

#include <chrono>
#include <vector>

#include "millrace/central/job_runner.h"
#include "millrace/central/pg_pool.h"
#include "millrace/central/pgbackrest.h"
#include "millrace/common/metrics.h"

namespace millrace::central {

struct PgBackupJobOptions {
  PgBackRestOptions pgbackrest;
  int full_every_hours = 168;
  int incr_every_hours = 24;
  // The one-backup-at-a-time lock is a session advisory lock, so it is taken on a connection
  // of its own to this address ([database] session_url), never through a transaction pooler.
  // Empty: on the job's own connection.
  std::string session_url;
};

void AddPgBackupJobKind(JobKinds& kinds, const PgBackupJobOptions& options);
// /metrics of a node that backs up: mes_central_pg_backup_succeeded_timestamp_seconds, when
// the newest pg_backup job succeeded (0: none has), read from PostgreSQL at most once per
// `refresh`.
void AddPgBackupMetrics(MetricsRegistry& metrics, PgPool* pool,
                        std::chrono::milliseconds refresh = std::chrono::seconds(15));
std::vector<JobSchedule> PgBackupSchedules(const PgBackupJobOptions& options);

}  // namespace millrace::central
