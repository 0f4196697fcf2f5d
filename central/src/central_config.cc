#include "millrace/central/central_config.h"

#include "millrace/common/daemon_config.h"

namespace millrace::central {

Result<CentralConfig> LoadCentralConfig(const std::string& path) {
  MILLRACE_ASSIGN_OR_RETURN(ConfigFile file, ConfigFile::Load(path));
  return ReadCentralConfig(file);
}

Result<CentralConfig> ReadCentralConfig(ConfigFile& file) {
  const std::string& path = file.name();
  CentralConfig c;
  c.http.port = 8090;
  c.http.threads = 2;
  c.log.program = "mes-central";
  MILLRACE_ASSIGN_OR_RETURN(c.database_url, file.GetString("database.url"));
  if (c.database_url.empty()) return file.Invalid("database.url", "must not be empty");
  {
    CentralDatabaseConfig& d = c.database;
    d.url = c.database_url;
    MILLRACE_ASSIGN_OR_RETURN(auto pooler,
                              file.GetEnum("database.pooler", {"none", "transaction"}, "none"));
    d.transaction_pooler = pooler == "transaction";
    MILLRACE_ASSIGN_OR_RETURN(d.session_url, file.GetString("database.session_url", ""));
    if (d.session_url.empty()) {
      if (d.transaction_pooler)
        return file.Invalid("database.session_url",
                            "is required when pooler = \"transaction\": LISTEN/NOTIFY and session "
                            "locks need a connection that is PostgreSQL's own, not a pooled one");
      d.session_url = d.url;
    } else if (d.session_url == d.url && d.transaction_pooler) {
      return file.Invalid("database.session_url",
                          "is database.url, a pooler in transaction mode; give PostgreSQL's own "
                          "address (e.g. HAProxy's write port)");
    }
    MILLRACE_ASSIGN_OR_RETURN(d.replica_url, file.GetString("database.replica_url", ""));
    MILLRACE_ASSIGN_OR_RETURN(auto stale,
                              file.GetInt("database.replica_max_staleness_seconds", 30, 1, 86400));
    MILLRACE_ASSIGN_OR_RETURN(auto retry, file.GetInt("database.replica_retry_seconds", 10, 1, 3600));
    d.replica_max_staleness_s = static_cast<int>(stale);
    d.replica_retry_s = static_cast<int>(retry);
  }
  if (file.Has("cluster")) {
    CentralClusterConfig& k = c.cluster;
    MILLRACE_ASSIGN_OR_RETURN(k.name, file.GetString("cluster.name"));
    if (k.name.empty()) return file.Invalid("cluster.name", "must not be empty");
    MILLRACE_ASSIGN_OR_RETURN(k.tenant_map_file, file.GetString("cluster.tenant_map"));
    if (k.tenant_map_file.empty()) return file.Invalid("cluster.tenant_map", "must not be empty");
    if (k.tenant_map_file[0] != '/') {
      const auto slash = path.rfind('/');
      k.tenant_map_file =
          (slash == std::string::npos ? std::string(".") : path.substr(0, slash)) + "/" + k.tenant_map_file;
    }
  }
  if (file.Has("sync")) {
    CentralSyncConfig& y = c.sync;
    y.enabled = true;
    MILLRACE_ASSIGN_OR_RETURN(y.bind, file.GetString("sync.bind"));
    if (y.bind.rfind("tcp://", 0) != 0)
      return file.Invalid("sync.bind", "expected tcp://host:port, got \"" + y.bind + "\"");
    MILLRACE_ASSIGN_OR_RETURN(y.insecure_development,
                              file.GetBool("sync.insecure_development", false));
    MILLRACE_ASSIGN_OR_RETURN(y.secret_key_file, file.GetString("sync.secret_key_file", ""));
    if (!y.secret_key_file.empty() && y.secret_key_file[0] != '/' && path.find('/') != std::string::npos)
      y.secret_key_file = path.substr(0, path.rfind('/')) + "/" + y.secret_key_file;
    if (!y.insecure_development && y.secret_key_file.empty())
      return file.Invalid("sync.secret_key_file",
                          "central's Curve secret key is required unless insecure_development = "
                          "true (make one with 'mes-central keygen')");
    MILLRACE_ASSIGN_OR_RETURN(auto workers, file.GetInt("sync.workers", 2, 1, 64));
    MILLRACE_ASSIGN_OR_RETURN(auto skew, file.GetInt("sync.max_forward_skew_seconds", 300, 1,
                                                     7 * 24 * 3600));
    y.workers = static_cast<int>(workers);
    y.max_forward_skew_ms = skew * 1000;
    MILLRACE_ASSIGN_OR_RETURN(auto grace,
                              file.GetInt("sync.store_takeover_grace_seconds", 30, 0, 3600));
    y.store_takeover_grace_ms = grace * 1000;
  }
  {
    CentralReportsConfig& r = c.reports;
    MILLRACE_ASSIGN_OR_RETURN(auto conns, file.GetInt("reports.db_connections", 4, 1, 256));
    MILLRACE_ASSIGN_OR_RETURN(auto timeout, file.GetInt("reports.statement_timeout_seconds", 30, 1, 3600));
    MILLRACE_ASSIGN_OR_RETURN(auto cache, file.GetInt("reports.cache_mib", 64, 0, 65536));
    MILLRACE_ASSIGN_OR_RETURN(auto rps, file.GetInt("reports.requests_per_second", 20, 1, 100000));
    MILLRACE_ASSIGN_OR_RETURN(r.rows_per_minute,
                              file.GetInt("reports.rows_per_minute", 500'000, 1000, 1'000'000'000));
    r.db_connections = static_cast<int>(conns);
    r.statement_timeout_s = static_cast<int>(timeout);
    r.cache_mib = static_cast<int>(cache);
    r.requests_per_second = static_cast<double>(rps);
  }
  {
    CentralJobsConfig& j = c.jobs;
    MILLRACE_ASSIGN_OR_RETURN(auto workers, file.GetInt("jobs.workers", 2, 0, 64));
    MILLRACE_ASSIGN_OR_RETURN(auto lease, file.GetInt("jobs.lease_seconds", 30, 1, 3600));
    MILLRACE_ASSIGN_OR_RETURN(auto keep, file.GetInt("jobs.keep_finished_days", 14, 1, 3650));
    MILLRACE_ASSIGN_OR_RETURN(auto dead, file.GetInt("jobs.keep_dead_days", 90, 1, 3650));
    j.workers = static_cast<int>(workers);
    j.lease_s = static_cast<int>(lease);
    j.keep_finished_days = static_cast<int>(keep);
    j.keep_dead_days = static_cast<int>(dead);
    MILLRACE_ASSIGN_OR_RETURN(j.export_dir, file.GetString("jobs.export_dir", "exports"));
    if (j.export_dir.empty()) return file.Invalid("jobs.export_dir", "must not be empty");
    if (j.export_dir[0] != '/') {
      const auto slash = path.rfind('/');
      j.export_dir = (slash == std::string::npos ? std::string(".") : path.substr(0, slash)) + "/" + j.export_dir;
    }
  }
  {
    CentralBackupsConfig& b = c.backups;
    MILLRACE_ASSIGN_OR_RETURN(b.dir, file.GetString("backups.dir", "backups"));
    if (!b.dir.empty() && b.dir[0] != '/') {
      const auto slash = path.rfind('/');
      b.dir = (slash == std::string::npos ? std::string(".") : path.substr(0, slash)) + "/" + b.dir;
    }
    MILLRACE_ASSIGN_OR_RETURN(auto hourly, file.GetInt("backups.keep_hourly", 24, 0, 8760));
    MILLRACE_ASSIGN_OR_RETURN(auto daily, file.GetInt("backups.keep_daily", 30, 0, 3660));
    b.retention.keep_hourly = static_cast<int>(hourly);
    b.retention.keep_daily = static_cast<int>(daily);
    MILLRACE_ASSIGN_OR_RETURN(auto reverify, file.GetInt("backups.reverify_days", 7, 1, 3650));
    b.reverify_days = static_cast<int>(reverify);
  }
  if (file.Has("pg_backup")) {
    CentralPgBackupConfig& g = c.pg_backup;
    g.enabled = true;
    PgBackRestOptions& p = g.jobs.pgbackrest;
    MILLRACE_ASSIGN_OR_RETURN(p.config, file.GetString("pg_backup.pgbackrest_config"));
    if (p.config.empty()) return file.Invalid("pg_backup.pgbackrest_config", "must not be empty");
    if (p.config[0] != '/') {
      const auto slash = path.rfind('/');
      p.config = (slash == std::string::npos ? std::string(".") : path.substr(0, slash)) + "/" + p.config;
    }
    MILLRACE_ASSIGN_OR_RETURN(p.stanza, file.GetString("pg_backup.stanza", "millrace"));
    if (p.stanza.empty() || p.stanza.find_first_of(" \t/=") != std::string::npos)
      return file.Invalid("pg_backup.stanza", "\"" + p.stanza + "\" is not a stanza name");
    MILLRACE_ASSIGN_OR_RETURN(p.command,
                              file.GetStringList("pg_backup.command", std::vector<std::string>{"pgbackrest"}));
    if (p.command.empty() || p.command[0].empty())
      return file.Invalid("pg_backup.command", "must name a program");
    MILLRACE_ASSIGN_OR_RETURN(auto full, file.GetInt("pg_backup.full_every_hours", 168, 0, 24 * 366));
    MILLRACE_ASSIGN_OR_RETURN(auto incr, file.GetInt("pg_backup.incr_every_hours", 24, 0, 24 * 366));
    MILLRACE_ASSIGN_OR_RETURN(auto timeout, file.GetInt("pg_backup.timeout_minutes", 720, 1, 7 * 24 * 60));
    g.jobs.full_every_hours = static_cast<int>(full);
    g.jobs.incr_every_hours = static_cast<int>(incr);
    p.timeout_minutes = static_cast<int>(timeout);
  }
  MILLRACE_ASSIGN_OR_RETURN(auto idle, file.GetInt("http.session_idle_minutes", 480, 5, 24 * 60));
  c.session_idle_s = static_cast<int>(idle) * 60;
  MILLRACE_ASSIGN_OR_RETURN(c.public_tenant_metrics,
                            file.GetBool("http.public_tenant_metrics", false));
  MILLRACE_RETURN_IF_ERROR(ReadHttpSection(file, &c.http));
  MILLRACE_RETURN_IF_ERROR(ReadLogSection(file, &c.log));
  MILLRACE_RETURN_IF_ERROR(file.Finish());
  return c;
}

}  // namespace millrace::central
