// What each key of mes-central's configuration means: the text of the configuration
// reference (config_reference.h). Types, defaults and ranges come from the loader
// (central_config.cc).
#include "millrace/central/central_config.h"
#include "millrace/common/config_reference.h"
#include "millrace/common/daemon_config.h"

namespace millrace::central {
namespace {

const ConfigKeyDoc kCentralDocs[] = {
    {"database.url", "PostgreSQL, as a libpq conninfo string or URI (e.g. \"host=/run/postgresql "
                     "dbname=millrace user=millrace_app\"). Through PgBouncer in transaction mode "
                     "is fine: central uses no named prepared statements and sets the tenant per "
                     "transaction (database.pooler)."},
    {"database.pooler", "What database.url reaches: \"none\" (PostgreSQL itself) or "
                        "\"transaction\" (a pooler in transaction mode, such as PgBouncer): then "
                        "central sets nothing per session (the role and statement timeout of "
                        "pooled connections are SET LOCAL in each transaction, as the tenant "
                        "always is) and takes LISTEN/NOTIFY from session_url."},
    {"database.session_url", "PostgreSQL's own address for what needs a session: LISTEN/NOTIFY "
                             "(feed nudges, report invalidation, job wake-ups) and the backup "
                             "lock. With a Patroni cluster, HAProxy's write port. Default: "
                             "database.url; required when pooler = \"transaction\"."},
    {"database.replica_url", "A streaming replica (or PgBouncer's database for it) that reports "
                             "read, each answer naming where it was read and how stale. Empty: "
                             "reports read the primary."},
    {"database.replica_max_staleness_seconds",
     "A replica whose replay is further behind than this, or that is not streaming, is not read: "
     "reports go to the primary (counted, on /metrics)."},
    {"database.replica_retry_seconds", "After the replica failed or fell behind, reports read the "
                                       "primary this long before the replica is tried again (a "
                                       "circuit breaker)."},
    {"cluster.name", "This node's PostgreSQL cluster in the tenant map: the node only creates, "
                     "provisions and restores tenants the map puts on it, and its database.url "
                     "must be that cluster's. Without a [cluster] table every tenant is on one "
                     "cluster."},
    {"cluster.tenant_map", "The tenant -> cluster map (TOML: [clusters.NAME] sync = \"tcp://...\", "
                           "[tenants] acme = \"NAME\"), the same file on every node; `mes-central "
                           "tenant-map` checks it against the database and prints HAProxy's map. "
                           "Relative to this file's directory."},
    {"sync.bind", "Where edges connect: a ZeroMQ endpoint, tcp://host:port (\"tcp://*:7400\" for "
                  "every interface). Without a [sync] table no edge can connect to this node."},
    {"sync.insecure_development", "true: no CurveZMQ (development only; logged at start)."},
    {"sync.secret_key_file", "Central's Curve secret key (Z85, mode 0600: a looser file is "
                             "refused; `mes-central keygen` makes one). Required unless "
                             "insecure_development. Relative to this file's directory."},
    {"sync.workers", "Appliers of edges' batches, each with its own PostgreSQL connection."},
    {"sync.max_forward_skew_seconds", "A shared row's clock further ahead of this node's clock "
                                      "than this is clamped, with a counted warning."},
    {"sync.store_takeover_grace_seconds", "A restored or copied store becomes the site's store "
                                          "only once the current one has been silent this long "
                                          "(edges say Hello every 5 s when idle)."},
    {"reports.db_connections", "Pooled PostgreSQL connections for reports and the dashboard "
                               "(the sync appliers have their own)."},
    {"reports.statement_timeout_seconds", "A report query running longer is cancelled."},
    {"reports.cache_mib", "MiB of memory for cached report answers; 0: no cache."},
    {"reports.requests_per_second", "Report requests per tenant per second (bursts of twice as "
                                    "many); more get 429 with Retry-After."},
    {"reports.rows_per_minute", "Report rows sent per tenant per minute."},
    {"jobs.workers", "Job workers on this node, each with its own connection; 0: this node runs "
                     "none (other nodes do)."},
    {"jobs.lease_seconds", "A running job's lease: a node that stops renewing it (killed, cut "
                           "off) loses the job to another node after this."},
    {"jobs.keep_finished_days", "Succeeded and cancelled jobs are deleted after this many days."},
    {"jobs.keep_dead_days", "Dead (dead-letter) jobs are deleted after this many days."},
    {"jobs.export_dir", "Report exports (CSV), a directory per tenant, pruned with their jobs. "
                        "Relative to this file's directory."},
    {"backups.dir", "The store of the site backups edges ship and of exported facts, a "
                    "directory per tenant. Relative to this file's directory; \"\": this node "
                    "declines site backups."},
    {"backups.keep_hourly", "Keep the newest backup of each of the last this many hours that "
                            "have one (the newest usable backup is always kept)."},
    {"backups.keep_daily", "Keep the newest backup of each of the last this many days that "
                           "have one."},
    {"backups.reverify_days", "A verified backup is checked again after this many days."},
    {"pg_backup.pgbackrest_config", "pgBackRest's configuration file. Without a [pg_backup] "
                                    "table this node schedules no PostgreSQL backups. Relative "
                                    "to this file's directory."},
    {"pg_backup.stanza", "The stanza naming central's cluster in pgBackRest's configuration."},
    {"pg_backup.command", "How to run pgbackrest, as the user owning the cluster's data (e.g. "
                          "[\"runuser\", \"-u\", \"postgres\", \"--\", \"pgbackrest\"])."},
    {"pg_backup.full_every_hours", "A full backup this often; 0: none scheduled."},
    {"pg_backup.incr_every_hours", "An incremental backup this often; 0: none scheduled."},
    {"pg_backup.timeout_minutes", "A backup running longer is stopped."},
    {"http.session_idle_minutes", "A dashboard login lasts this long past its last use (and "
                                  "never more than a day)."},
    {"http.public_tenant_metrics", "true: /metrics shows per-tenant and per-site series to "
                                   "anyone; false: only with an admin token."},
};

// A file naming every table, so the loader reads every key.
constexpr char kEveryTable[] = R"(
[database]
url = "host=/run/postgresql dbname=millrace"
[cluster]
name = "a"
tenant_map = "tenants.toml"
[sync]
bind = "tcp://*:7400"
secret_key_file = "central.key"
[pg_backup]
pgbackrest_config = "pgbackrest.conf"
)";

}  // namespace

Result<std::string> CentralConfigReference() {
  MILLRACE_ASSIGN_OR_RETURN(ConfigFile file,
                            ConfigFile::Parse(kEveryTable, "/etc/millrace/central.toml"));
  MILLRACE_RETURN_IF_ERROR(ReadCentralConfig(file).status());
  return ConfigReference(
      "mes-central (`/etc/millrace/central.toml`)",
      "The central service: `mes-central serve --config FILE`; `mes-central config check FILE` "
      "checks a file without starting anything. Unknown keys are errors.",
      file.reads(), {kCentralDocs, DaemonSectionDocs()});
}

}  // namespace millrace::central
