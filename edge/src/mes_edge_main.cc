// mes-edge: the Millrace factory edge daemon.
#include <spdlog/spdlog.h>

#include <condition_variable>
#include <iostream>
#include <mutex>
#include <atomic>
#include <thread>

#include "millrace/common/catalog.h"
#include "millrace/common/cli.h"
#include "millrace/common/config_command.h"
#include "millrace/common/daemon_config.h"
#include "millrace/common/ddl.h"
#include "millrace/common/http_server.h"
#include "millrace/common/metrics.h"
#include "millrace/common/signals.h"
#include "millrace/common/version.h"
#include "millrace/edge/api.h"
#include "millrace/edge/backup.h"
#include "millrace/edge/backup_shipping.h"
#include "millrace/edge/retention.h"
#include "millrace/edge/disk_usage.h"
#include "millrace/edge/edge_config.h"
#include "millrace/edge/schema.h"
#include "millrace/edge/seed.h"
#include "millrace/edge/services.h"
#include "millrace/common/sqlite.h"
#include "millrace/edge/recovery.h"
#include "millrace/edge/store.h"
#include "millrace/edge/sync_adapter.h"
#include "millrace/edge/terminal_page.h"
#include "millrace/sync/client.h"
#include "millrace/sync/site_keys.h"
#include "millrace/edge/enroll.h"
#include "millrace/sync/transport.h"

#include <nlohmann/json.hpp>

namespace millrace::edge {
namespace {

int Fail(const Status& s) {
  std::cerr << "mes-edge: " << s.ToString() << "\n";
  return s.code() == StatusCode::kInvalidArgument ? 2 : 1;
}

Result<std::unique_ptr<EdgeStore>> OpenStore(const EdgeConfig& config) {
  EdgeStoreOptions o;
  o.path = config.store_path;
  o.site_id = config.site_id;
  if (!config.clock_offset_file.empty()) {
    // Lives as long as the process: the store, its services and the sync client read it.
    static OffsetFileClock clock(SystemClock(), config.clock_offset_file);
    o.clock = &clock;
  }
  return EdgeStore::Open(o);
}

int Init(const std::string& db_path) {
  (void)InitLogging({.level = "info", .format = "human", .program = "mes-edge"});
  auto file = PrepareStoreFile(db_path);
  if (!file.ok()) return Fail(file.status());
  std::cout << "edge database " << db_path << " is at schema version " << kEdgeSchemaVersion
            << " (catalog " << catalog::MesCatalog().FingerprintHex() << ")\n";
  return 0;
}

int Seed(const std::string& config_path, bool if_empty) {
  auto config = LoadEdgeConfig(config_path);
  if (!config.ok()) return Fail(config.status());
  (void)InitLogging({.level = "warn", .format = "human", .program = "mes-edge"});
  auto store = OpenStore(*config);
  if (!store.ok()) return Fail(store.status());
  if (config->sync.enabled && !config->sync.snapshot_file.empty()) {
    EdgeSyncAdapter adapter(store->get());
    auto cursor = adapter.FeedCursor();
    if (!cursor.ok()) return Fail(cursor.status());
    if (*cursor == 0) {
      if (Status a = ApplySnapshotFile(**store, config->sync.snapshot_file); !a.ok()) return Fail(a);
    }
  }
  // A synced edge gets its master data from central; only a standalone one makes its own.
  Status s = SeedDemoSite(**store, /*master_data=*/!config->sync.enabled);
  if (s.code() == StatusCode::kAlreadyExists && if_empty) {
    std::cout << "site " << config->site_id << " already has data; left as it is\n";
    return 0;
  }
  if (!s.ok()) return Fail(s);
  std::cout
      << "seeded the demo factory into site " << config->site_id << " (" << config->store_path
      << "): 2 lines, 6 work units, 2 work orders; badges 1001/1002 operators, 2001 supervisor, "
         "3001 quality, PIN "
      << kDemoPin << "\n";
  return 0;
}

// The sync client of a [sync] edge, with the provisioning snapshot applied first if the
// store has never synced. Not started yet.
Result<std::unique_ptr<sync::SyncClient>> MakeSyncClient(const EdgeConfig& config, EdgeStore* store,
                                                    EdgeSyncAdapter* adapter,
                                                    sync::SiteKeys* site_keys,
                                                    sync::BackupSource* backups) {
  const EdgeSyncConfig& y = config.sync;
  if (!y.snapshot_file.empty()) {
    MILLRACE_ASSIGN_OR_RETURN(std::uint64_t cursor, adapter->FeedCursor());
    if (cursor == 0) {
      MILLRACE_RETURN_IF_ERROR(ApplySnapshotFile(*store, y.snapshot_file));
      MILLRACE_ASSIGN_OR_RETURN(cursor, adapter->FeedCursor());
      spdlog::info("applied the provisioning snapshot {} (feed position {})", y.snapshot_file,
                   cursor);
    }
  }
  sync::ZmqClientOptions t;
  t.endpoints = y.endpoints;
  t.insecure_development = y.insecure_development;
  if (!y.insecure_development) {
    // A rotation that did not finish (a crash after central had the new key) resumes with
    // the next pair once connected; until then the current key still works.
    MILLRACE_ASSIGN_OR_RETURN(t.secret_key, sync::ReadKeyFile(y.secret_key_file, true));
    MILLRACE_ASSIGN_OR_RETURN(t.public_key, sync::CurvePublicKey(t.secret_key));
    MILLRACE_ASSIGN_OR_RETURN(t.server_public_key,
                              sync::ReadKeyFile(y.central_public_key_file, false));
  }
  MILLRACE_ASSIGN_OR_RETURN(auto transport, sync::NewZmqClientTransport(std::move(t)));
  sync::SyncClientOptions o = SyncClientOptionsFor(*store);
  o.batch_rows = y.batch_rows;
  o.window = y.window;
  if (site_keys) o.keys = site_keys;
  o.backups = backups;
  o.backup_chunk_bytes = static_cast<std::size_t>(config.backup_ship_chunk_kib) * 1024;
  auto client = std::make_unique<sync::SyncClient>(o, adapter, std::move(transport));
  sync::SyncClient* c = client.get();
  store->SetCommitListener([c] { c->Wake(); });
  return client;  // not started: the caller attaches its metrics first
}

void AddSyncMetrics(MetricsRegistry& metrics, sync::SyncClient* client) {
  auto& connected = metrics.AddGauge("mes_sync_connected", "1 while central answers").Get();
  auto& last_ack = metrics
                       .AddGauge("mes_sync_last_ack_timestamp_seconds",
                                 "When central last acknowledged a batch (0: never)")
                       .Get();
  auto& sent = metrics.AddGauge("mes_sync_batches_sent", "Upstream batches sent").Get();
  auto& acked_batches =
      metrics.AddGauge("mes_sync_batches_acked", "Upstream batches acknowledged").Get();
  auto& rows_sent = metrics.AddGauge("mes_sync_rows_sent", "Upstream changes sent").Get();
  auto& nacks = metrics.AddGauge("mes_sync_nacks", "Rewinds asked for by central").Get();
  auto& reconnects =
      metrics.AddGauge("mes_sync_reconnects", "Times the link to central was restarted").Get();
  auto& cursor = metrics.AddGauge("mes_sync_feed_cursor", "Downstream feed position applied").Get();
  auto& feed_changes =
      metrics.AddGauge("mes_sync_feed_changes_applied", "Downstream changes applied").Get();
  auto& rejected = metrics
                      .AddGauge("mes_sync_rejects",
                                "Changes of this site central parked as unappliable (from acks)")
                      .Get();
  auto& conflicts =
      metrics.AddGauge("mes_sync_conflicts", "Concurrent edits central resolved (from acks)").Get();
  auto& feed_apply =
      metrics
          .AddHistogram("mes_sync_feed_apply_seconds", "Time to apply one downstream feed batch")
          .Get();
  auto& backups_shipped =
      metrics.AddGauge("mes_sync_backups_shipped", "Site backups central took whole").Get();
  auto& last_backup = metrics
                          .AddGauge("mes_sync_last_backup_shipped_timestamp_seconds",
                                    "When central last took a site backup whole (0: never)")
                          .Get();
  client->SetFeedObserver([&feed_apply](double seconds, int) { feed_apply.Observe(seconds); });
  metrics.AddCollector([&, client] {
    const auto st = client->Stats();
    rejected.Set(static_cast<double>(st.rejected));
    conflicts.Set(static_cast<double>(st.conflicts));
    connected.Set(st.connected ? 1 : 0);
    last_ack.Set(static_cast<double>(st.last_ack_ms) / 1000.0);
    sent.Set(static_cast<double>(st.batches_sent));
    acked_batches.Set(static_cast<double>(st.batches_acked));
    rows_sent.Set(static_cast<double>(st.rows_sent));
    nacks.Set(static_cast<double>(st.nacks));
    reconnects.Set(static_cast<double>(st.reconnects));
    cursor.Set(static_cast<double>(st.feed_cursor));
    feed_changes.Set(static_cast<double>(st.feed_changes));
    backups_shipped.Set(static_cast<double>(st.backups_shipped));
    last_backup.Set(static_cast<double>(st.last_backup_shipped_ms) / 1000.0);
  });
}

nlohmann::json SyncStatusJson(EdgeStore& store, const std::string& db_path, sync::SyncClient* client) {
  nlohmann::json j;
  j["site"] = store.site_id();
  j["enabled"] = client != nullptr;
  j["store_epoch"] = store.epoch().id;
  j["store_epoch_since"] = store.epoch().started_ms;
  auto stats = store.Outbox();
  if (stats.ok()) {
    const std::int64_t now = store.clock()->NowMillis();
    j["backlog_rows"] = stats->rows;
    j["backlog_bytes"] = stats->bytes;
    j["oldest_unacked_age_s"] =
        stats->oldest_captured_ms ? static_cast<double>(now - stats->oldest_captured_ms) / 1000.0
                                  : 0.0;
    j["head_seq"] = stats->head_seq;
    j["acked_seq"] = stats->acked_seq;
  }
  if (auto disk = StoreDiskUsage(db_path); disk.ok()) {
    j["store_bytes"] = disk->store_bytes;
    j["disk_free_bytes"] = disk->disk_free_bytes;
  }
  if (client) {
    const auto st = client->Stats();
    j["connected"] = st.connected;
    j["endpoint"] = st.endpoint;
    j["last_ack_ms"] = st.last_ack_ms;
    j["last_ack_age_s"] = st.last_ack_ms ? nlohmann::json(static_cast<double>(
                                               SystemClock()->NowMillis() - st.last_ack_ms) /
                                           1000.0)
                                         : nlohmann::json(nullptr);
    j["batches_sent"] = st.batches_sent;
    j["batches_acked"] = st.batches_acked;
    j["rows_sent"] = st.rows_sent;
    j["nacks"] = st.nacks;
    j["reconnects"] = st.reconnects;
    j["feed_cursor"] = st.feed_cursor;
    j["feed_head"] = st.feed_head;
    j["feed_changes_applied"] = st.feed_changes;
    j["rejected"] = st.rejected;
    j["conflicts"] = st.conflicts;
    j["key_rotations"] = st.key_rotations;
    j["backups_shipped"] = st.backups_shipped;
    j["backups_refused"] = st.backups_refused;
    j["backup_bytes_sent"] = st.backup_bytes_sent;
    j["last_backup_shipped_ms"] = st.last_backup_shipped_ms;
    j["backup_shipping"] = st.backup_shipping;
    j["backup_shipping_offset"] = st.backup_offset;
    j["drift_checks"] = st.drift_checks;
    j["drift_checks_failed"] = st.drift_checks_failed;
    j["drift_rows_found"] = st.drift_rows_found;
    j["drift_rows_repaired"] = st.drift_rows_repaired;
    j["drift_check_running"] = st.drift_check;
    j["last_error"] = st.last_error;
    j["state"] = st.state;
    j["link_up"] = st.link_up;
    j["in_flight_batches"] = st.in_flight;
    j["loop_steps"] = st.steps;
    j["retry_in_ms"] = st.retry_in_ms;
    j["last_heard_ago_ms"] = st.last_heard_ago_ms;
  }
  return j;
}

int Serve(const std::string& config_path, int port_override, const std::string& port_file) {
  auto config = LoadEdgeConfig(config_path);
  if (!config.ok()) return Fail(config.status());
  if (port_override >= 0) config->http.port = static_cast<std::uint16_t>(port_override);
  if (Status s = InitLogging(config->log); !s.ok()) return Fail(s);

  auto store = OpenStore(*config);
  if (!store.ok()) return Fail(store.status());
  MesService service(store->get(), 12 * 3600 * 1000, config->time_zone);

  MetricsRegistry metrics;
  metrics.AddGauge("mes_edge_info", "Build and site of this edge", {"version", "site", "catalog"})
      .With({kVersion, config->site_id, catalog::MesCatalog().FingerprintHex()})
      .Set(1);
  auto& rows =
      metrics
          .AddGauge("mes_outbox_backlog_rows", "Captured changes not yet acknowledged by central")
          .Get();
  auto& bytes =
      metrics.AddGauge("mes_outbox_backlog_bytes", "Bytes of captured changes not yet acknowledged")
          .Get();
  auto& age = metrics
                  .AddGauge("mes_outbox_oldest_unacked_age_seconds",
                            "Age of the oldest change central has not acknowledged (0 when none)")
                  .Get();
  auto& head = metrics.AddGauge("mes_outbox_head_seq", "Highest outbox seq captured").Get();
  auto& acked =
      metrics.AddGauge("mes_outbox_acked_seq", "Highest outbox seq acknowledged by central").Get();
  EdgeStore* s = store->get();
  metrics.AddCollector([&, s] {
    auto stats = s->Outbox();
    if (!stats.ok()) return;
    rows.Set(static_cast<double>(stats->rows));
    bytes.Set(static_cast<double>(stats->bytes));
    head.Set(static_cast<double>(stats->head_seq));
    acked.Set(static_cast<double>(stats->acked_seq));
    age.Set(stats->oldest_captured_ms
                ? static_cast<double>(s->clock()->NowMillis() - stats->oldest_captured_ms) / 1000
                : 0.0);
  });
  auto& store_bytes =
      metrics.AddGauge("mes_edge_store_bytes", "Size of the store: the database with its WAL").Get();
  auto& disk_free = metrics
                        .AddGauge("mes_edge_disk_free_bytes",
                                  "Free space on the file system that holds the store")
                        .Get();
  metrics.AddCollector([&, path = config->store_path] {
    auto disk = StoreDiskUsage(path);
    if (!disk.ok()) return;
    store_bytes.Set(static_cast<double>(disk->store_bytes));
    disk_free.Set(static_cast<double>(disk->disk_free_bytes));
  });
  Router router(&metrics);
  router.AddOperationalRoutes({{"store", [s] { return s->CheckReady(); }}});

  EdgeSyncAdapter sync_adapter(s, std::chrono::hours(config->sync.keep_acked_hours));
  // Rows central sent back before a crash that were not yet taken into account (tried
  // again with the next feed batch if this fails: the floor works on meanwhile).
  if (auto r = ReconcileRecovered(*s); !r.ok())
    spdlog::error("taking the rows central sent back into account failed: {}",
                  r.status().ToString());
  // A site provisioned with a one-time code: its key pair is made now, and registered with
  // central in the background while the floor works (enroll.h).
  std::unique_ptr<Enroller> enroller;
  if (config->sync.enabled && !config->sync.insecure_development && !config->sync.enrollment_code.empty()) {
    const EnrollOptions eo{config->sync.secret_key_file, config->sync.central_public_key_file, config->site_id,
                           config->sync.enrollment_code, config->sync.enroll_url};
    auto pending = PrepareEnrollment(eo);
    if (!pending.ok()) return Fail(pending.status());
    if (*pending) enroller = std::make_unique<Enroller>(eo);
  }
  auto& enrollment_pending =
      metrics.AddGauge("mes_edge_enrollment_pending",
                       "1 while this site's key waits to be registered with its enrollment code, "
                       "2 if central refused the code")
          .Get();
  metrics.AddCollector([&enrollment_pending, &enroller] {
    if (!enroller) return;
    const Enroller::State st = enroller->state();
    enrollment_pending.Set(st == Enroller::State::kPending ? 1 : st == Enroller::State::kRefused ? 2 : 0);
  });
  // The site's key files, for key rotation: <secret>.next while a rotation is under way,
  // and the public key beside the secret (site.key -> site.pub) as provisioning wrote it.
  std::unique_ptr<sync::SiteKeys> site_keys;
  if (config->sync.enabled && !config->sync.insecure_development) {
    std::string pub = config->sync.secret_key_file;
    if (pub.size() > 4 && pub.compare(pub.size() - 4, 4, ".key") == 0)
      pub.replace(pub.size() - 4, 4, ".pub");
    else
      pub.clear();
    site_keys = std::make_unique<sync::FileSiteKeys>(config->sync.secret_key_file, pub);
  }
  // Scheduled backups staged for central, which the sync client ships.
  std::unique_ptr<OutgoingBackups> outgoing;
  if (config->sync.enabled && config->backup_ship)
    outgoing = std::make_unique<OutgoingBackups>(config->backup_dir + "/outgoing");
  std::unique_ptr<sync::SyncClient> sync_client;
  if (config->sync.enabled) {
    auto client = MakeSyncClient(*config, s, &sync_adapter, site_keys.get(), outgoing.get());
    if (!client.ok()) return Fail(client.status());
    sync_client = std::move(*client);
    AddSyncMetrics(metrics, sync_client.get());
    auto& refused = metrics
                        .AddGauge("mes_sync_feed_rows_refused",
                                  "Feed rows this edge refused (out of its bounds; see the log)")
                        .Get();
    metrics.AddCollector([&refused, &sync_adapter] {
      refused.Set(static_cast<double>(sync_adapter.feed_rows_refused()));
    });
    sync_client->Start();
    spdlog::info("syncing with {}", config->sync.endpoints.front());
  }
  // Retention (retention.h): what the purge has let go of so far, and the horizon.
  std::atomic<std::int64_t> facts_purged{0};
  auto& purged_gauge = metrics
                           .AddGauge("mes_edge_facts_purged",
                                     "The site's facts purged by retention since the edge started")
                           .Get();
  auto& horizon_gauge =
      metrics
          .AddGauge("mes_edge_fact_horizon_timestamp_seconds",
                    "Facts made before this are left out of comparisons with central (0: none)")
          .Get();
  metrics.AddCollector([&, s] {
    purged_gauge.Set(static_cast<double>(facts_purged.load()));
    if (auto h = FactHorizon(*s); h.ok()) horizon_gauge.Set(static_cast<double>(*h) / 1000.0);
  });
  router.Add("GET", "/api/v1/sync", [&](const HttpRequest&) {
    nlohmann::json j = SyncStatusJson(*s, config->store_path, sync_client.get());
    j["keep_facts_days"] = config->keep_facts_days;
    j["facts_purged"] = facts_purged.load();
    if (auto h = FactHorizon(*s); h.ok()) j["fact_horizon_ms"] = *h;
    return HttpResponse::Json(200, j.dump());
  });
  // Per-table digests of what this site holds; equal to central's once converged. Derived
  // from every row of the site: a supervisor's session.
  router.Add("GET", "/api/v1/sync/content",
             SupervisorOnly(service, [s](const HttpRequest&) {
               auto content = StoreContent(*s);
               if (!content.ok()) return HttpResponse::Error(content.status());
               return HttpResponse::Json(200, nlohmann::json(*content).dump());
             }));
  AddTerminalPage(router);
  ApiOptions api;
  api.backup_dir = config->backup_dir;
  api.backup_keep = config->backup_keep;
  api.metrics = &metrics;
  AddTerminalApi(router, service, api);

  // Scheduled online backups, on their own thread; terminals keep writing meanwhile.
  std::mutex backup_mu;
  std::condition_variable backup_cv;
  bool stopping = false;
  std::thread backups;
  if (config->backup_interval_minutes > 0) {
    backups = std::thread([&] {
      std::unique_lock lock(backup_mu);
      while (!backup_cv.wait_for(
          lock, std::chrono::duration<double, std::ratio<60>>(config->backup_interval_minutes),
          [&] { return stopping; })) {
        lock.unlock();
        auto info = BackupStore(*s, config->backup_dir, config->backup_keep);
        if (info.ok()) {
          spdlog::info("backup written to {} ({} bytes in {} ms)", info->path, info->bytes,
                       info->millis);
          if (outgoing) {
            auto staged = outgoing->Stage(info->path);
            if (staged.ok()) {
              spdlog::info("backup {} staged for central ({} bytes compressed)",
                           staged->backup_id(), staged->bytes());
              sync_client->Wake();
            } else {
              spdlog::error("staging backup {} for central failed: {}", info->path,
                            staged.status().ToString());
            }
          }
        } else {
          spdlog::error("scheduled backup failed: {}", info.status().ToString());
        }
        lock.lock();
      }
    });
  }
  // Retention: the site's facts central holds, purged once old, on their own thread.
  std::thread purges;
  if (config->sync.enabled && config->keep_facts_days > 0) {
    purges = std::thread([&] {
      std::unique_lock lock(backup_mu);
      do {
        lock.unlock();
        auto purged = PurgeSyncedFacts(*s, config->keep_facts_days, 5000, [&] {
          std::lock_guard stop_lock(backup_mu);
          return stopping;
        });
        if (!purged.ok()) {
          spdlog::error("purging facts older than {} days failed: {}", config->keep_facts_days,
                        purged.status().ToString());
        } else if (purged->rows > 0) {
          facts_purged += purged->rows;
          spdlog::info("retention: purged {} fact(s) made before {} ms, held at central",
                       purged->rows, purged->horizon_ms);
        }
        lock.lock();
      } while (!backup_cv.wait_for(
          lock, std::chrono::duration<double, std::ratio<60>>(config->purge_interval_minutes),
          [&] { return stopping; }));
    });
  }
  Status st =
      ServeUntilShutdownSignal(config->http, router, port_file,
                               "site " + config->site_id + " (store " + config->store_path + ")");
  {
    std::lock_guard lock(backup_mu);
    stopping = true;
  }
  backup_cv.notify_all();
  if (backups.joinable()) backups.join();
  if (purges.joinable()) purges.join();
  if (sync_client) {
    s->SetCommitListener(nullptr);
    sync_client->Stop();
  }
  return st.ok() ? 0 : Fail(st);
}

// `mes-edge enroll`: one attempt, its outcome, and an exit code a script can act on.
int EnrollCommand(const std::string& config_path) {
  auto config = LoadEdgeConfig(config_path);
  if (!config.ok()) return Fail(config.status());
  if (!config->sync.enabled || config->sync.enrollment_code.empty())
    return Fail(Status::InvalidArgument(config_path + " has no [sync] enrollment_code"));
  const EnrollOptions eo{config->sync.secret_key_file, config->sync.central_public_key_file, config->site_id,
                         config->sync.enrollment_code, config->sync.enroll_url};
  auto pending = PrepareEnrollment(eo);
  if (!pending.ok()) return Fail(pending.status());
  if (!*pending) {
    std::cout << "site " << config->site_id << " is enrolled already\n";
    return 0;
  }
  Status s = EnrollOnce(eo);
  if (s.ok()) {
    std::cout << "site " << config->site_id << " enrolled: central registered its key\n";
    return 0;
  }
  std::cerr << "mes-edge enroll: " << s.ToString() << "\n";
  return s.code() == StatusCode::kPermissionDenied ? 1 : 3;
}

}  // namespace
}  // namespace millrace::edge

int main(int argc, char** argv) {
  using namespace millrace;
  BlockShutdownSignals();
  CLI::App app{
      "mes-edge: the Millrace factory edge. Runs one site's MES on local SQLite so the shop floor "
      "keeps working with or without the WAN, and syncs with mes-central."};
  ServeOptions serve_options;
  auto* serve =
      SetUpDaemonCommandLine(app, "mes-edge",
                             "Run the edge daemon: open the store and serve the terminal HTTP API "
                             "with /health, /ready and /metrics until SIGINT or SIGTERM",
                             &serve_options);
  std::string db_path, config_path;

  auto* init =
      app.add_subcommand("init", "Create the edge database, or migrate it to this build's schema");
  init->add_option("--db", db_path, "Path of the SQLite database")->required();

  bool if_empty = false;
  auto* seed =
      app.add_subcommand("seed",
                         "Load the demo factory (2 lines, 6 work units, materials, routings, "
                         "reasons, shifts, users, stock, work orders) into the edge's store");
  seed->add_option("-c,--config", config_path, "Edge configuration file (TOML)")
      ->required()
      ->check(CLI::ExistingFile);
  seed->add_flag("--if-empty", if_empty, "Succeed without changes when the site already has data");

  auto* schema =
      app.add_subcommand("schema", "Print the SQLite DDL derived from the schema catalog");

  auto* enroll = app.add_subcommand(
      "enroll",
      "Register this site's key with its one-time enrollment code now, once, and say how it "
      "went (serve does this by itself, retrying): makes the key pair first if there is none. "
      "Exit 0 enrolled, 1 refused by central, 3 central not reached or not proven");
  enroll->add_option("-c,--config", config_path, "Edge configuration file (TOML)")
      ->required()
      ->check(CLI::ExistingFile);

  ConfigCommand config_command;
  AddConfigCommand(app, &config_command);

  if (auto exit_code = ParseCommandLine(app, argc, argv)) return *exit_code;
  if (*config_command.root)
    return RunConfigCommand(config_command, "mes-edge", edge::CheckEdgeConfig,
                            edge::EdgeConfigReference);
  if (*serve)
    return edge::Serve(serve_options.config_path, serve_options.http_port, serve_options.port_file);
  if (*init) return edge::Init(db_path);
  if (*seed) return edge::Seed(config_path, if_empty);
  if (*enroll) return edge::EnrollCommand(config_path);
  if (*schema) {
    for (const auto& sql : catalog::SqliteDdl(catalog::MesCatalog())) std::cout << sql << ";\n";
    return 0;
  }
  return 2;
}
