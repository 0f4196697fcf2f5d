// mes-central's configuration file (TOML):
//
//   [database]
//   url = "host=/run/postgresql dbname=millrace user=millrace_app"   # libpq conninfo or URI
//
//   [sync]                                # absent: no edge can connect
//   bind = "tcp://*:7400"                 # where edges connect (ZeroMQ endpoint)
//   secret_key_file = "central.key"       # central's Curve secret key (0600); relative
//                                         # paths are relative to this file
//   insecure_development = false          # true: no Curve (development only, logged)
//   workers = 2                           # appliers, each with its own connection
//   max_forward_skew_seconds = 300        # shared-row clocks further ahead are clamped
//   store_takeover_grace_seconds = 30     # a restored or copied store may become the site's
//                                         # store only once the current one has been silent
//                                         # this long (edges say Hello every 5 s when idle)
//
//   [reports]
//   db_connections = 4                    # pooled PostgreSQL connections for reports (the
//                                         # sync appliers have their own)
//   statement_timeout_seconds = 30        # a report query running longer is cancelled
//   cache_mib = 64                        # memory for cached report answers
//   requests_per_second = 20              # per tenant (bursts of twice as many)
//   rows_per_minute = 500000              # report rows sent per tenant per minute
//
//   [jobs]
//   workers = 2                           # job workers on this node (0: it runs none; other
//                                         # nodes do), each with its own connection
//   lease_seconds = 30                    # a running job's lease; a node that stops renewing
//                                         # it (killed, cut off) loses the job to another
//   keep_finished_days = 14               # succeeded and cancelled jobs are deleted after this
//   keep_dead_days = 90                   # dead (dead-letter) jobs after this
//   export_dir = "exports"                # report exports (CSV), a directory per tenant;
//                                         # relative to this file; pruned with their jobs
//
//   [backups]                             # the site backups edges ship over the sync link
//   dir = "backups"                       # the backup store (a directory per tenant and
//                                         # site); relative to this file; "": central
//                                         # declines site backups
//   keep_hourly = 24                      # retention: the newest backup of each of the last
//   keep_daily = 30                       # N hours and M days that have one (the newest
//                                         # usable backup is always kept)
//   reverify_days = 7                     # a verified backup is checked again after this
//
//   [pg_backup]                           # absent: this node backs up no PostgreSQL
//   pgbackrest_config = "pgbackrest.conf" # pgBackRest's configuration; relative to this file
//   stanza = "millrace"                   # the stanza naming central's cluster in it
//   command = ["pgbackrest"]              # how to run pgbackrest, as the user owning the
//                                         # cluster's data (e.g. ["runuser", "-u",
//                                         # "postgres", "--", "pgbackrest"])
//   full_every_hours = 168                # a full backup this often (0: none scheduled)
//   incr_every_hours = 24                 # an incremental one this often (0: none)
//   timeout_minutes = 720                 # a backup running longer is stopped
//
//   [http] and [log]: see common/daemon_config.h; besides,
//   [http] public_tenant_metrics = false  # true: /metrics shows per-tenant and per-site
//                                         # series to anyone; false: only with an admin token
//   [http] session_idle_minutes = 480     # a login lasts this long past its last use (and
//                                         # never more than a day)
#pragma once

#include <cstdint>
#include <string>

#include "millrace/central/backup_retention.h"
#include "millrace/central/pg_backup_jobs.h"
#include "millrace/common/http_server.h"
#include "millrace/common/logging.h"
#include "millrace/common/status.h"

namespace millrace::central {

struct CentralSyncConfig {
  bool enabled = false;
  std::string bind;
  std::string secret_key_file;
  bool insecure_development = false;
  int workers = 2;
  std::int64_t max_forward_skew_ms = 300'000;
  std::int64_t store_takeover_grace_ms = 30'000;
};

struct CentralReportsConfig {
  int db_connections = 4;
  int statement_timeout_s = 30;
  int cache_mib = 64;
  double requests_per_second = 20;
  std::int64_t rows_per_minute = 500'000;
};

struct CentralJobsConfig {
  int workers = 2;
  int lease_s = 30;
  int keep_finished_days = 14;
  int keep_dead_days = 90;
  std::string export_dir;
};

struct CentralBackupsConfig {
  std::string dir;  // empty: no backup store
  BackupRetention retention;
  int reverify_days = 7;
};

struct CentralPgBackupConfig {
  bool enabled = false;
  PgBackupJobOptions jobs;
};

struct CentralConfig {
  std::string database_url;
  int session_idle_s = 8 * 3600;
  CentralReportsConfig reports;
  bool public_tenant_metrics = false;
  CentralSyncConfig sync;
  CentralJobsConfig jobs;
  CentralBackupsConfig backups;
  CentralPgBackupConfig pg_backup;
  HttpServerOptions http;
  LogOptions log;
};

Result<CentralConfig> LoadCentralConfig(const std::string& path);

}  // namespace millrace::central
