// `mes-central serve`: the central daemon. Its sync server, HTTP routes (dashboard, reports,
// administration, enrollment), job runner and LISTEN/NOTIFY listener, wired from one
// configuration file and run until SIGINT or SIGTERM.
#include "serve_command.h"

#include <iostream>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include "millrace/central/admin_token.h"
#include "millrace/central/alert_routes.h"
#include "millrace/central/central_audit.h"
#include "millrace/central/central_config.h"
#include "millrace/central/central_store.h"
#include "millrace/central/drift_jobs.h"
#include "millrace/central/enrollment.h"
#include "millrace/central/job_kinds.h"
#include "millrace/central/job_queue.h"
#include "millrace/central/job_routes.h"
#include "millrace/central/people.h"
#include "millrace/central/people_routes.h"
#include "millrace/central/pg.h"
#include "millrace/central/pg_listener.h"
#include "millrace/central/pg_pool.h"
#include "millrace/central/provision.h"
#include "millrace/central/report_routes.h"
#include "millrace/central/restore_site.h"
#include "millrace/central/schema.h"
#include "millrace/central/sync_service.h"
#include "millrace/central/tenant_map.h"
#include "millrace/central/web_assets.h"
#include "millrace/common/catalog.h"
#include "millrace/common/daemon_config.h"
#include "millrace/common/ddl.h"
#include "millrace/common/files.h"
#include "millrace/common/http_server.h"
#include "millrace/common/metrics.h"
#include "millrace/common/process_limits.h"
#include "millrace/common/signals.h"
#include "millrace/common/version.h"
#include "millrace/sync/server.h"
#include "millrace/sync/transport.h"

namespace millrace::central {
namespace {

int Fail(const Status& s) {
  std::cerr << "mes-central: " << s.ToString() << "\n";
  return s.code() == StatusCode::kInvalidArgument ? 2 : 1;
}

// This node's name in its job workers' names: host and process.
std::string NodeName() {
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0) std::snprintf(host, sizeof host, "node");
  return std::string(host) + ":" + std::to_string(getpid());
}

}  // namespace

int ServeCentral(const std::string& config_path, int port_override, const std::string& port_file,
          const std::string& sync_endpoint_file) {
  auto config = LoadCentralConfig(config_path);
  if (!config.ok()) return Fail(config.status());
  if (port_override >= 0) config->http.port = static_cast<std::uint16_t>(port_override);
  if (Status s = InitLogging(config->log); !s.ok()) return Fail(s);
  if (!config->cluster.name.empty()) {
    auto map = LoadTenantMap(config->cluster.tenant_map_file);
    if (!map.ok()) return Fail(map.status());
    if (!map->clusters.count(config->cluster.name))
      return Fail(Status::InvalidArgument("cluster.name \"" + config->cluster.name +
                                          "\" is not declared in " + map->file));
    int here = 0;
    for (const auto& [tenant, cluster] : map->tenants) here += cluster == config->cluster.name;
    spdlog::info("cluster {}: {} of the {} tenants in {}", config->cluster.name, here,
                 map->tenants.size(), map->file);
  }
  // A socket per connected site.
  const rlim_t open_files = RaiseOpenFileLimit();
  if (open_files < 4096)
    spdlog::warn("mes-central may open only {} files: fewer sites than that can connect", open_files);

  // The process's one hybrid clock: it observes every HLC central applies and stamps
  // central's own changes.
  HybridClock hlc(SystemClock(), config->sync.max_forward_skew_ms);
  MetricsRegistry metrics;
  metrics.AddGauge("mes_central_info", "Build of this central node", {"version", "catalog"})
      .With({kVersion, catalog::MesCatalog().FingerprintHex()})
      .Set(1);
  Router router(&metrics);
  const std::string db_url = config->database_url;
  // Per-tenant and per-site series name the tenants, their sites and their volumes: an
  // admin token (or the config's opt-in) shows them; without one /metrics has the rest.
  auto tokens = std::make_shared<AdminTokenCache>(db_url);
  MetricsExposure exposure;
  exposure.private_labels = {"tenant", "site"};
  if (!config->public_tenant_metrics)
    exposure.may_see_private = [tokens](const HttpRequest& req) { return tokens->Check(req).ok(); };
  // Handlers draw PostgreSQL connections from two bounded pools: reports from one, the
  // rest (/ready, logins and sessions, people, content digests, the audit trail) from
  // another, so a burst of slow reports cannot fail readiness or logins. The sync appliers
  // have their own.
  const auto& rc = config->reports;
  const CentralDatabaseConfig& dbc = config->database;
  PgPool ops_pool({WithConnectTimeout(db_url, 3), "ops", 4, std::chrono::milliseconds(3000),
                   std::chrono::milliseconds(10000), 30000, "", dbc.transaction_pooler},
                  &metrics);
  PgPool report_pool({db_url, "reports", rc.db_connections, std::chrono::milliseconds(5000),
                      std::chrono::milliseconds(10000), rc.statement_timeout_s * 1000,
                      catalog::PostgresDdlOptions{}.report_role, dbc.transaction_pooler},
                     &metrics);
  // Reports read a replica when there is one and it keeps up (replica_reads.h). Its pool
  // connects with a short timeout: a replica that is down must not hold a report long.
  std::unique_ptr<PgPool> replica_pool;
  if (!dbc.replica_url.empty()) {
    replica_pool = std::make_unique<PgPool>(
        PgPoolOptions{WithConnectTimeout(dbc.replica_url, 2), "replica", rc.db_connections,
                      std::chrono::milliseconds(2000), std::chrono::milliseconds(1000),
                      rc.statement_timeout_s * 1000, catalog::PostgresDdlOptions{}.report_role,
                      dbc.transaction_pooler, std::chrono::milliseconds(1500)},
        &metrics);
    spdlog::info("reports read the replica while it is at most {} s behind", dbc.replica_max_staleness_s);
  }
  ReportReads report_reads({&report_pool, replica_pool.get(),
                            std::chrono::seconds(dbc.replica_max_staleness_s),
                            std::chrono::seconds(dbc.replica_retry_s)},
                           &metrics);
  // People: logins (throttled per login and address), sessions, API tokens, admin tokens.
  LoginThrottle login_throttle({5, 20, 5'000, 15 * 60'000, 60 * 60'000, 10 * 60'000, 10'000});
  CentralAuth auth({&ops_pool, tokens.get(), &login_throttle, config->session_idle_s,
                    !config->http.tls_cert_file.empty(), &metrics});
  auth.AddRoutes(router);
  AddDashboardRoutes(router);
  // Enrollment answers in boxes made with central's Curve key (enrollment.h).
  std::string enroll_secret;
  if (config->sync.enabled && !config->sync.insecure_development) {
    auto key = sync::ReadKeyFile(config->sync.secret_key_file, true);
    if (!key.ok()) return Fail(key.status());
    enroll_secret = *key;
  }
  AddEnrollRoute(router, &ops_pool, enroll_secret);
  router.AddOperationalRoutes({{"postgres", [&ops_pool] {
                                  auto conn = ops_pool.Acquire();
                                  if (!conn.ok()) return conn.status();
                                  return CheckSchemaCurrent(**conn);
                                }}},
                              exposure);

  // Per-table digests of what central holds for a site; an edge in sync answers the same
  // on its GET /api/v1/sync/content. Derived from every row of the site: an admin token.
  router.Add("GET", "/api/v1/tenants/{tenant}/sites/{site}/content",
             [&ops_pool, &auth](const HttpRequest& req) {
               auto who = auth.Authenticate(req);
               if (!who.ok()) return HttpResponse::Error(who.status());
               if (Status s = CentralAuth::RequireAdmin(*who, req.path_params.at("tenant")); !s.ok())
                 return HttpResponse::Error(s);
               auto conn = ops_pool.Acquire();
               if (!conn.ok()) return HttpResponse::Error(conn.status());
               auto content =
                   SiteContent(**conn, req.path_params.at("tenant"), req.path_params.at("site"));
               if (!content.ok()) return HttpResponse::Error(content.status());
               return HttpResponse::Json(200, nlohmann::json(*content).dump());
             });

  // The tenant's audit trail (the sites' records and central's own), newest first.
  router.Add("GET", "/api/v1/tenants/{tenant}/audit", [&ops_pool, &auth](const HttpRequest& req) {
    auto who = auth.Authenticate(req);
    if (!who.ok()) return HttpResponse::Error(who.status());
    if (Status s = CentralAuth::RequireAdmin(*who, req.path_params.at("tenant")); !s.ok())
      return HttpResponse::Error(s);
    AuditQuery q;
    q.tenant_id = req.path_params.at("tenant");
    for (const auto& [k, v] : req.query) {
      if (k == "site") q.site_id = v;
      else if (k == "row") q.row_id = v;
      else if (k == "limit") q.limit = std::atoi(v.c_str());
      else
        return HttpResponse::Error(Status::InvalidArgument(
            "unknown query parameter '" + k + "' (site, row and limit are known)"));
    }
    auto conn = ops_pool.Acquire();
    if (!conn.ok()) return HttpResponse::Error(conn.status());
    auto records = ListAudit(**conn, q);
    if (!records.ok()) return HttpResponse::Error(records.status());
    return HttpResponse::Json(200, nlohmann::json{{"items", *records}}.dump());
  });

  // The reporting API: any user, API token or admin token of the tenant (held to its sites).
  ReportCache report_cache(static_cast<std::size_t>(rc.cache_mib) << 20);
  ReportLimits report_limits({rc.requests_per_second, rc.rows_per_minute});
  AddReportRoutes(router, {&report_reads, &report_cache, &report_limits,
                           [&auth](const HttpRequest& req) { return auth.Authenticate(req); },
                           &metrics, SystemClock()});

  // The site backups edges ship: kept in the backup store, checked and pruned by jobs.
  std::unique_ptr<BackupStore> backup_store;
  if (!config->backups.dir.empty()) {
    auto opened = OpenDirectoryBackupStore(config->backups.dir);
    if (!opened.ok()) return Fail(opened.status());
    backup_store = std::move(*opened);
    spdlog::info("site backups are kept in {}", config->backups.dir);
  }
  std::unique_ptr<SyncService> service;
  std::unique_ptr<sync::SyncServer> server;
  sync::SyncServer* srv = nullptr;
  if (config->sync.enabled) {
    const auto& y = config->sync;
    sync::SyncServerOptions o;
    o.bind = y.bind;
    o.insecure_development = y.insecure_development;
    o.workers = y.workers;
    if (!y.insecure_development) {
      auto key = sync::ReadKeyFile(y.secret_key_file, true);
      if (!key.ok()) return Fail(key.status());
      o.secret_key = *key;
    }
    service = std::make_unique<SyncService>(
        SyncServiceOptions{db_url, SystemClock(), y.max_forward_skew_ms, &hlc,
                           y.store_takeover_grace_ms, backup_store.get(), NodeName()},
        &metrics);
    auto started = sync::SyncServer::Start(o, service.get(), &metrics);
    if (!started.ok()) return Fail(started.status());
    server = std::move(*started);
    srv = server.get();
    service->SetFeedListener([srv](const std::string& t, std::uint64_t h) { srv->NotifyFeed(t, h); });
    spdlog::info("edges connect to {}", server->endpoint());
    if (!sync_endpoint_file.empty()) {
      if (Status s = WriteFileAtomically(sync_endpoint_file, server->endpoint() + "\n"); !s.ok())
        return Fail(s);
    }
  }
  // Jobs: the queue's routes, this node's workers, and the periodic jobs (partition
  // maintenance) scheduled by whichever node comes first in each period.
  const std::string node = NodeName();
  RestoreJobOptions restore_jobs{backup_store.get(), config->jobs.export_dir, "",
                                 config->sync.insecure_development,
                                 config->sync.store_takeover_grace_ms, config->cluster.name,
                                 config->cluster.tenant_map_file};
  if (config->sync.enabled && !config->sync.insecure_development) {
    auto secret = sync::ReadKeyFile(config->sync.secret_key_file, true);
    auto pub = secret.ok() ? sync::CurvePublicKey(*secret) : Result<std::string>(secret.status());
    if (!pub.ok()) return Fail(pub.status());
    restore_jobs.central_public_key = *pub;
  }
  std::optional<PgBackupJobOptions> pg_backup_jobs;
  if (config->pg_backup.enabled) {
    pg_backup_jobs = config->pg_backup.jobs;
    pg_backup_jobs->session_url = dbc.session_url;
    spdlog::info("pg_backup: pgBackRest stanza '{}' ({}): a full backup every {} h, an "
                 "incremental one every {} h",
                 pg_backup_jobs->pgbackrest.stanza, pg_backup_jobs->pgbackrest.config,
                 pg_backup_jobs->full_every_hours, pg_backup_jobs->incr_every_hours);
  }
  const JobKinds job_kinds =
      CentralJobKinds({config->jobs.export_dir, node, std::max(rc.statement_timeout_s, 300), 1000,
                       {backup_store.get(),
                        config->backups.dir.empty() ? "" : config->backups.dir + "/.work",
                        config->backups.retention, config->backups.reverify_days},
                       restore_jobs, pg_backup_jobs, config->cluster.name,
                       config->cluster.tenant_map_file});
  AddSiteBackupMetrics(metrics, &ops_pool);
  AddDriftMetrics(metrics, &ops_pool);
  if (pg_backup_jobs) AddPgBackupMetrics(metrics, &ops_pool);
  AddJobRoutes(router, {&ops_pool, &job_kinds,
                        [&auth](const HttpRequest& req) { return auth.Authenticate(req); },
                        config->jobs.export_dir});
  AddAlertRoutes(router,
                 {&ops_pool, [&auth](const HttpRequest& req) { return auth.Authenticate(req); }});
  std::unique_ptr<JobRunner> jobs;
  if (config->jobs.workers > 0) {
    JobRunnerOptions jo;
    jo.db_url = db_url;
    jo.node = node;
    jo.workers = config->jobs.workers;
    jo.lease = std::chrono::seconds(config->jobs.lease_s);
    jo.schedules = CentralJobSchedules();
    if (pg_backup_jobs)
      for (JobSchedule& sc : PgBackupSchedules(*pg_backup_jobs)) jo.schedules.push_back(std::move(sc));
    jo.keep_finished_days = config->jobs.keep_finished_days;
    jo.keep_dead_days = config->jobs.keep_dead_days;
    jo.hourly = [dir = config->jobs.export_dir, days = config->jobs.keep_finished_days] {
      if (int n = PruneExports(dir, days); n > 0) spdlog::info("jobs: pruned {} report export(s)", n);
    };
    jobs = std::make_unique<JobRunner>(jo, &job_kinds, &metrics);
    spdlog::info("jobs: {} worker(s) on node {}", jo.workers, jo.node);
  } else {
    spdlog::warn("jobs: [jobs] workers = 0: this node runs no jobs (partition maintenance and "
                 "every queued job wait for a node that does)");
  }
  JobRunner* job_runner = jobs.get();
  // Feed growth committed by any process (mes-central put, another node) nudges this
  // node's edges; changed rollups drop the cached reports they touch; an enqueued job
  // wakes the workers.
  auto listener = std::make_unique<PgListener>(
      dbc.session_url, std::vector<std::string>{kFeedChannel, "millrace_reports", "millrace_jobs"},
      [srv, &report_cache, job_runner](const std::string& channel, const std::string& payload) {
        if (channel == "millrace_jobs") {
          if (job_runner) job_runner->Wake();
          return;
        }
        std::vector<std::string> words;
        for (std::size_t at = 0; at <= payload.size();) {
          const std::size_t space = std::min(payload.find(' ', at), payload.size());
          words.push_back(payload.substr(at, space - at));
          at = space + 1;
        }
        if (channel == kFeedChannel && srv && words.size() == 2)
          srv->NotifyFeed(words[0], std::strtoull(words[1].c_str(), nullptr, 10));
        if (channel == "millrace_reports" && words.size() == 4)
          report_cache.Invalidate(words[0], words[1], words[2], words[3]);
      },
      [&report_cache] { report_cache.Clear(); });
  Status s = ServeUntilShutdownSignal(config->http, router, port_file, "central");
  listener.reset();  // before the server it nudges and the runner it wakes
  jobs.reset();
  server.reset();
  return s.ok() ? 0 : Fail(s);
}

}  // namespace millrace::central
