// mes-central's configuration file (TOML): what each key means, its default and its range
// are in the configuration reference, deploy/config/README.md, which `mes-central config
// reference` prints from the loader itself (central_config.cc, central_config_docs.cc).
// A minimal file:
//
//   [database]
//   url = "host=/run/postgresql dbname=millrace user=millrace_app"
//   [sync]                                # absent: no edge can connect
//   bind = "tcp://*:7400"
//   secret_key_file = "central.key"
#pragma once

#include <cstdint>
#include <string>

#include "millrace/central/backup_retention.h"
#include "millrace/central/pg_backup_jobs.h"
#include "millrace/common/config.h"
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

// Where central's PostgreSQL connections go ([database]).
struct CentralDatabaseConfig {
  // Every transaction; may be PgBouncer in transaction mode.
  std::string url;
  // LISTEN/NOTIFY and session advisory locks: PostgreSQL itself (or a session pooler).
  // Defaults to url.
  std::string session_url;
  // true: url is a pooler in transaction mode, so nothing is set per session: the role
  // and statement timeout of pooled connections are SET LOCAL in each transaction.
  bool transaction_pooler = false;
  // Reports read here when set and fresh enough (replica_reads.h).
  std::string replica_url;
  int replica_max_staleness_s = 30;
  int replica_retry_s = 10;
};

// [cluster]: this node's PostgreSQL cluster in the tenant -> cluster map (tenant_map.h).
// Absent: one cluster, every tenant on it.
struct CentralClusterConfig {
  std::string name;
  std::string tenant_map_file;
};

struct CentralConfig {
  std::string database_url;  // database.url, which most of central uses
  CentralDatabaseConfig database;
  CentralClusterConfig cluster;
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

// Loads and validates; every error names the file and the key.
Result<CentralConfig> LoadCentralConfig(const std::string& path);
// The same for a file already parsed; relative paths are relative to file.name()'s directory.
Result<CentralConfig> ReadCentralConfig(ConfigFile& file);

// `mes-central config check`: LoadCentralConfig, then the files it names (the Curve secret
// key by its form and mode, TLS files, pgBackRest's configuration). A summary of what serve
// would do, or the first thing wrong. It does not connect to PostgreSQL.
Result<std::string> CheckCentralConfig(const std::string& path);

// mes-central's part of the configuration reference (Markdown; config_reference.h).
Result<std::string> CentralConfigReference();

}  // namespace millrace::central
