// The sync benchmark runner. One run on one machine, against the suite's PostgreSQL, with
// every timing next to a baseline measured in the same run:
//
//   baseline   raw COPY of N production events into a table shaped like central's
//              production_event (same columns, same indexes): rows/s; and one single-row
//              INSERT + COMMIT round trip to the same server: p50/p99.
//   upstream   N events captured in an edge store's outbox, synced end to end (outbox ->
//              protobuf -> CurveZMQ over loopback -> central's applier -> PostgreSQL -> ack
//              -> purge) by the real SyncClient and SyncServer: rows/s against COPY; and the
//              same with the report rollups' triggers turned off, to show what they cost.
//   latency    single events committed on the edge, time until the row is visible in
//              central's PostgreSQL, p50/p99: at light load (one at a time) and under heavy
//              load (a background stream at half the measured upstream rate).
//   catch-up   1,000,000 events queued at a site while mes-central is down; time from
//              central's restart until all are acknowledged, against COPY of as many rows.
//   fan-in     100 sites (in-process edges, each its own SQLite store, sync client and
//              CurveZMQ socket) against one mes-central process: a steady load with the
//              worst site lag (age of the oldest unacknowledged change, sampled every
//              25 ms), then a drain of a queued backlog at every site at once: rows/s.
//   fan-out    a master-data change made at central reaching all 100 sites: p50/p99.
//   floor      the simulator (mes-sim's code) driving a real mes-edge with the demo factory
//              through its terminal API as fast as it answers: writes/s, and the time from
//              the end of the floor until every synced table at central equals the site's.
//   memory     resident size of that mes-edge idle and at its peak under the floor, and of
//              mes-central idle and at its peak under the fan-in load.
//
// Prints a table and writes JSON. Usage:
//   sync_bench --mes-central PATH --mes-edge PATH [--rows N] [--catchup-rows N]
//              [--edges N] [--only upstream,latency,floor,catchup,fanin,fanout,memory] [--json FILE]
// (needs MILLRACE_TEST_PG: run through ctest -L bench, or tests/run --label bench)
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <limits>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "millrace/central/central_store.h"
#include "millrace/central/pg_binary.h"
#include "millrace/central/pg_rows.h"
#include "millrace/central/provision.h"
#include "millrace/central/schema.h"
#include "millrace/central/sync_service.h"
#include "millrace/common/files.h"
#include "millrace/common/hlc.h"
#include "millrace/common/logging.h"
#include "millrace/common/process_limits.h"
#include "millrace/common/uuid.h"
#include "millrace/edge/simulator.h"
#include "millrace/edge/store.h"
#include "millrace/edge/sync_adapter.h"
#include "millrace/sync/client.h"
#include "millrace/sync/server.h"
#include "millrace/sync/transport.h"
#include "bench_common.h"
#include "in_process_edge.h"
#include "sync_cluster.h"
#include "test_pg.h"

namespace fs = std::filesystem;
using namespace millrace;
using namespace millrace::bench;
using json = nlohmann::json;

namespace {

// The processes a failed run must not leave behind (mes-central, the idle mes-edge).
std::atomic<testing::SyncCluster*> g_cluster{nullptr};
void StopCluster() {
  if (auto* c = g_cluster.exchange(nullptr)) {
    c->StopEdge("lyon", SIGKILL);
    c->StopCentral(SIGKILL);
  }
}

struct Options {
  std::string mes_central, mes_edge, json_path;
  int rows = 200000, samples = 200, batch_rows = 5000, window = 4;
  int catchup_rows = 1000000, edges = 100, fanin_seconds = 15;
  double fanin_rate = 5;  // commits per second per site
  int fanin_rows_per_commit = 10, fleet_sites = 1000;
  double fleet_rate = 1;  // events per second per site
  int fanin_backlog = 2000, fanout_changes = 20, floor_seconds = 15, floor_units = 6;
  std::set<std::string> only;
  bool Want(const std::string& s) const { return only.empty() || only.count(s) > 0; }
};

class Bench {
 public:
  explicit Bench(Options o) : o_(std::move(o)) {}

  int Run() {
    Baseline();
    if (o_.Want("upstream") || o_.Want("latency")) UpstreamAndLatency();
    if (o_.Want("catchup") || o_.Want("fanin") || o_.Want("fanout") || o_.Want("memory") ||
        o_.Want("floor") || o_.Want("fleet")) {
      cluster_ = Must(testing::SyncCluster::Create({o_.mes_central, o_.mes_edge}, "bench"),
                      "cluster");
      g_cluster = cluster_.get();
      CHECK_OK(cluster_->StartCentral(), "start mes-central");
      central_pub_ = Must(ReadFile((cluster_->dir() / "central.pub").string()), "central.pub");
      while (!central_pub_.empty() && std::isspace(static_cast<unsigned char>(central_pub_.back())))
        central_pub_.pop_back();
      if (o_.Want("memory") || o_.Want("floor")) EdgeUnderFloor();
      if (o_.Want("catchup")) CatchUp();
      if (o_.Want("fanin") || o_.Want("fanout")) FanInAndOut();
      if (o_.Want("fleet")) Fleet();
    }
    Print();
    return ok_ ? 0 : 1;
  }

 private:
  // ---- baselines ----
  void Baseline() {
    db_ = Must(testing::TestDatabase::Create(), "test database");
    admin_ = Must(db_->Connect("postgres"), "connect");
    CHECK_OK(central::MigrateCentralSchema(*admin_).status(), "migrate");
    CHECK_OK(admin_->Exec("CREATE TABLE bench_copy (LIKE millrace.production_event INCLUDING ALL)"),
             "baseline table");
    // The same shape partitioned as central's facts are (by the time in the ids: this
    // month's partition, and a default one), to show what partitioning costs COPY.
    CHECK_OK(admin_->Exec("CREATE TABLE bench_copy_parted (LIKE millrace.production_event INCLUDING "
                          "ALL) PARTITION BY RANGE (id); CREATE TABLE bench_copy_parted_now PARTITION "
                          "OF bench_copy_parted FOR VALUES FROM (millrace.uuid7_floor(date_trunc("
                          "'month', now()))) TO (millrace.uuid7_floor(date_trunc('month', now()) + "
                          "interval '1 month')); CREATE TABLE bench_copy_parted_default PARTITION OF "
                          "bench_copy_parted DEFAULT"),
             "partitioned baseline table");
    const auto copy = [&](int n, int attempts, const std::string& table = "bench_copy") {
      std::string data;
      for (int i = 0; i < n; ++i) central::AppendCopyLine("acme", EventRow("lyon", i), &data);
      double best = 1e9;
      for (int a = 0; a < attempts; ++a) {
        CHECK_OK(admin_->Exec("TRUNCATE " + table), "truncate");
        const auto t0 = SteadyClock::now();
        CHECK_OK(admin_->Exec("BEGIN"), "begin");
        CHECK_OK(admin_
                     ->CopyIn("COPY " + table + " (" + central::PgInsertColumns(T("production_event")) +
                                  ") FROM STDIN",
                              data)
                     .status(),
                 "COPY");
        CHECK_OK(admin_->Exec("COMMIT"), "commit");
        best = std::min(best, Seconds(SteadyClock::now() - t0));
      }
      return best;
    };
    // Best of three, so a noisy moment cannot flatter the ratios.
    copy_rate_ = o_.rows / copy(o_.rows, 3);
    r_["baseline"]["copy_rows"] = o_.rows;
    r_["baseline"]["copy_rows_per_s"] = copy_rate_;
    r_["baseline"]["copy_partitioned_rows_per_s"] = o_.rows / copy(o_.rows, 3, "bench_copy_parted");
    CHECK_OK(admin_->Exec("DROP TABLE bench_copy_parted"), "drop");
    if (o_.Want("catchup")) {
      catchup_copy_s_ = copy(o_.catchup_rows, 1);
      r_["baseline"]["copy_catchup_rows_s"] = catchup_copy_s_;
    }
    CHECK_OK(admin_->Exec("TRUNCATE bench_copy"), "truncate");
    std::vector<double> rt;
    for (int i = 0; i < o_.samples; ++i) {
      std::string line;
      central::AppendCopyLine("acme", EventRow("lyon", i), &line);
      const Row r = EventRow("lyon", i);
      const auto t0 = SteadyClock::now();
      CHECK_OK(admin_
                   ->Query("INSERT INTO bench_copy (tenant_id, id, site_id, kind, at, work_order_id, "
                           "operation_id, work_unit_id, good_quantity, scrap_quantity, "
                           "rework_quantity, hlc, origin) VALUES ('acme', $1, 'lyon', 'COUNT', "
                           "now(), $2, $3, $4, 1, 0, 0, $5, 'edge:lyon')",
                           {r.id(), r.Text("work_order_id"), r.Text("operation_id"),
                            r.Text("work_unit_id"), std::to_string(r.Int("hlc"))})
                   .status(),
               "insert");
      rt.push_back(Seconds(SteadyClock::now() - t0) * 1000);
    }
    rt_p50_ = Percentile(rt, 0.5);
    rt_p99_ = Percentile(rt, 0.99);
    r_["baseline"]["insert_roundtrip_p50_ms"] = rt_p50_;
    r_["baseline"]["insert_roundtrip_p99_ms"] = rt_p99_;
  }

  // ---- upstream and latency, central in this process ----
  void UpstreamAndLatency() {
    auto app = Must(db_->Connect("millrace_app"), "connect app");
    const fs::path dir = fs::temp_directory_path() / ("millrace-sync-bench-" + std::to_string(getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    auto keys = Must(sync::GenerateCurveKeyPair(), "keys");
    CHECK_OK(central::CreateTenant(*app, "acme", "Acme"), "tenant");
    central::ProvisionOptions po;
    po.tenant_id = "acme";
    po.site_id = "lyon";
    po.out_dir = (dir / "lyon").string();
    po.endpoints = {"tcp://127.0.0.1:1"};
    po.central_public_key = keys.public_key;
    (void)Must(central::ProvisionSite(*app, po), "provision");
    for (const char* raw : {"lyon-raw-a", "lyon-raw-b"}) {
      po.site_id = raw;
      po.out_dir = (dir / raw).string();
      (void)Must(central::ProvisionSite(*app, po), "provision");
    }

    MetricsRegistry metrics;
    central::SyncServiceOptions cso;
    cso.database_url = db_->ConnInfo("millrace_app");
    central::SyncService service(cso, &metrics);
    sync::SyncServerOptions sso;
    sso.secret_key = keys.secret_key;
    auto server = Must(sync::SyncServer::Start(sso, &service, &metrics), "server");
    const auto drain = [&](InProcessEdge& edge, const std::string& site, std::int64_t rows) {
      FillEvents(edge.store(), site, 0, rows);
      auto t0 = SteadyClock::now();
      edge.Start();
      while (edge.Stats().acked_seq < static_cast<std::uint64_t>(rows)) {
        std::this_thread::sleep_for(std::chrono::microseconds(500));
        if (Seconds(SteadyClock::now() - t0) > 600) Die(Status::Timeout("upstream did not drain"), "sync");
      }
      return Seconds(SteadyClock::now() - t0);
    };
    // What keeping the report rollups costs: half the rows with their triggers off before the
    // run, half after it (so a table grown by the run weighs on both sides alike).
    const auto without_rollups = [&](const char* site) {
      for (const char* op : {"insert", "update", "delete"})
        CHECK_OK(admin_->Exec(std::string("ALTER TABLE millrace.production_event DISABLE TRIGGER report_") + op),
                 "rollups off");
      InProcessEdge raw(site, dir / site, server->endpoint(), keys.public_key, o_.batch_rows, o_.window);
      const double seconds = drain(raw, site, o_.rows / 2);
      for (const char* op : {"insert", "update", "delete"})
        CHECK_OK(admin_->Exec(std::string("ALTER TABLE millrace.production_event ENABLE TRIGGER report_") + op),
                 "rollups on");
      return seconds;
    };
    // What central's own statement makes of the same rows with nothing else running: the
    // applier's INSERT ... SELECT unnest (row-level security applies, so not COPY), one
    // transaction in the tenant's context per batch, the rollups' triggers on. The ceiling
    // of the sync path on this machine, where the COPY baseline is the ceiling of PostgreSQL.
    {
      po.site_id = "lyon-stmt";
      po.out_dir = (dir / "lyon-stmt").string();
      (void)Must(central::ProvisionSite(*app, po), "provision");
      std::vector<std::vector<Row>> batches;
      for (std::int64_t i = 0; i < o_.rows; i += o_.batch_rows) {
        batches.emplace_back();
        for (std::int64_t k = i; k < std::min<std::int64_t>(o_.rows, i + o_.batch_rows); ++k)
          batches.back().push_back(EventRow("lyon-stmt", k));
      }
      const auto t0 = SteadyClock::now();
      for (const auto& b : batches) {
        CHECK_OK(central::BeginTenant(*app, "acme"), "begin");
        CHECK_OK(central::InsertRowsBinary(*app, "acme", T("production_event"), b), "insert");
        CHECK_OK(app->Exec("COMMIT"), "commit");
      }
      stmt_rate_ = o_.rows / Seconds(SteadyClock::now() - t0);
      r_["baseline"]["central_statement_rows_per_s"] = stmt_rate_;
    }
    double raw_seconds = without_rollups("lyon-raw-a");
    InProcessEdge e("lyon", dir / "lyon", server->endpoint(), keys.public_key, o_.batch_rows,
                    o_.window);
    const double up_rate = o_.rows / drain(e, "lyon", o_.rows);
    raw_seconds += without_rollups("lyon-raw-b");
    const double raw_rate = (o_.rows / 2) * 2 / raw_seconds;
    r_["upstream"] = {{"rows", o_.rows},
                      {"rows_per_s", up_rate},
                      {"vs_copy", up_rate / copy_rate_},
                      {"vs_central_statement", up_rate / stmt_rate_},
                      {"rows_per_s_without_rollups", raw_rate},
                      {"with_vs_without_rollups", up_rate / raw_rate},
                      {"batch_rows", o_.batch_rows},
                      {"window", o_.window}};
    std::int64_t next = o_.rows;
    std::uint64_t written = static_cast<std::uint64_t>(o_.rows);

    auto probe = Must(db_->Connect("postgres"), "probe");
    const auto measure = [&](int samples) {
      std::vector<double> ms;
      for (int i = 0; i < samples; ++i) {
        Row r = EventRow("lyon", next++);
        const std::string id = r.id();
        CHECK_OK(e.store().Write([&](edge::WriteTxn& txn) { return txn.Insert(r); }), "write");
        const auto committed = SteadyClock::now();
        while (true) {
          auto q = probe->Query(
              "SELECT 1 FROM millrace.production_event WHERE tenant_id = 'acme' AND id = $1", {id});
          if (q.ok() && q->rows() == 1) break;
          if (Seconds(SteadyClock::now() - committed) > 10) Die(Status::Timeout("row never arrived"), "latency");
        }
        ms.push_back(Seconds(SteadyClock::now() - committed) * 1000);
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      return ms;
    };
    if (o_.Want("latency")) {
      auto light = measure(o_.samples);
      written += static_cast<std::uint64_t>(o_.samples);
      // Heavy: a background stream of 100-event transactions at half the upstream rate.
      const double heavy_rate = up_rate / 2;
      std::atomic<bool> stop{false};
      std::atomic<std::int64_t> streamed{0};
      std::thread writer([&] {
        const auto start = SteadyClock::now();
        std::int64_t i = 0;
        while (!stop) {
          const double due = Seconds(SteadyClock::now() - start) * heavy_rate;
          if (static_cast<double>(i) + 100 > due) {
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
            continue;
          }
          CHECK_OK(e.store().Write([&](edge::WriteTxn& txn) -> Status {
            for (int k = 0; k < 100; ++k) {
              Row r = EventRow("lyon", 100000000 + i + k);
              MILLRACE_RETURN_IF_ERROR(txn.Insert(r));
            }
            return Status::Ok();
          }),
                   "heavy stream");
          i += 100;
          streamed = i;
        }
      });
      std::this_thread::sleep_for(std::chrono::seconds(1));
      const std::uint64_t before = e.Stats().acked_seq;
      const auto heavy_t0 = SteadyClock::now();
      auto heavy = measure(o_.samples);
      const double achieved =
          static_cast<double>(e.Stats().acked_seq - before) / Seconds(SteadyClock::now() - heavy_t0);
      stop = true;
      writer.join();
      written += static_cast<std::uint64_t>(o_.samples + streamed.load());
      r_["latency"] = {{"samples", o_.samples},
                       {"light_p50_ms", Percentile(light, 0.5)},
                       {"light_p99_ms", Percentile(light, 0.99)},
                       {"heavy_p50_ms", Percentile(heavy, 0.5)},
                       {"heavy_p99_ms", Percentile(heavy, 0.99)},
                       {"heavy_offered_rows_per_s", heavy_rate},
                       {"heavy_synced_rows_per_s", achieved}};
      while (e.Stats().acked_seq < written) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    e.Stop();
    // lyon's: the runs with the rollups off come from sites of their own.
    auto landed = Must(admin_->Query("SELECT count(*) FROM millrace.production_event WHERE site_id = 'lyon'"), "count");
    const auto n = std::stoull(landed.GetString(0, 0));
    r_["upstream"]["central_events_after_all_phases"] = n;  // the upstream rows plus the probes
    if (n != written) {
      std::cerr << "sync_bench: central holds " << n << " events, the edge wrote " << written << "\n";
      ok_ = false;
    }
    server.reset();
    fs::remove_all(dir);
  }

  // ---- a real mes-edge with the demo factory: idle, then under a simulated floor ----
  void EdgeUnderFloor() {
    CHECK_OK(cluster_->CreateTenant("acme"), "tenant acme");
    CHECK_OK(cluster_->SeedDemo("acme", {"lyon"}), "seed demo");
    CHECK_OK(cluster_->AddSite("acme", "lyon"), "add lyon");
    CHECK_OK(cluster_->StartEdge("lyon"), "start lyon");
    CHECK_OK(cluster_->WaitConverged(std::chrono::seconds(60)), "lyon converges");
    std::this_thread::sleep_for(std::chrono::seconds(3));
    const Rss idle = ReadRss(cluster_->edge_pid("lyon"));
    central_idle_ = ReadRss(cluster_->central_pid());
    r_["memory"]["idle_edge_rss_mib"] = idle.now_mib;
    r_["memory"]["central_idle_rss_mib"] = central_idle_.now_mib;
    if (o_.Want("floor")) {
      // Operators through the terminal API (mes-sim's code), as fast as the edge answers
      // them; then the time until every synced table at central equals the site's.
      edge::SimulatorOptions so;
      so.edges = {cluster_->edge_url("lyon")};
      so.seed = 1;
      so.units = o_.floor_units;
      so.cycle = std::chrono::milliseconds(1);
      so.duration = std::chrono::seconds(o_.floor_seconds);
      edge::Simulator sim(so);
      std::atomic<bool> running{true};
      double edge_peak = idle.now_mib;
      std::thread sampler([&] {
        while (running) {
          edge_peak = std::max(edge_peak, ReadRss(cluster_->edge_pid("lyon")).now_mib);
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
      });
      const auto t0 = SteadyClock::now();
      const Status ran = sim.Run();
      const double floor_s = Seconds(SteadyClock::now() - t0);
      const auto c0 = SteadyClock::now();
      const Status converged = cluster_->WaitConverged(std::chrono::seconds(120));
      const double converge_s = Seconds(SteadyClock::now() - c0);
      running = false;
      sampler.join();
      CHECK_OK(ran, "simulated floor");
      CHECK_OK(converged, "lyon converges after the floor");
      const auto st = sim.Snapshot();
      if (st.failed > 0) {
        std::cerr << "sync_bench: " << st.failed << " terminal writes failed\n";
        ok_ = false;
      }
      r_["floor"] = {{"units", o_.floor_units},
                     {"seconds", floor_s},
                     {"writes", st.total},
                     {"writes_per_s", static_cast<double>(st.total) / floor_s},
                     {"refused_by_rule", st.refused},
                     {"failed", st.failed},
                     {"write_p50_ms", st.write_ms.Percentile(0.5)},
                     {"write_p99_ms", st.write_ms.Percentile(0.99)},
                     {"read_p50_ms", st.read_ms.Percentile(0.5)},
                     {"read_p99_ms", st.read_ms.Percentile(0.99)},
                     {"converged_after_s", converge_s},
                     {"edge_peak_rss_mib", edge_peak}};
    }
    cluster_->StopEdge("lyon");
  }

  // ---- catch-up after a central outage ----
  void CatchUp() {
    CHECK_OK(cluster_->CreateTenant("catchup"), "tenant");
    CHECK_OK(cluster_->Provision("catchup", "backlog"), "provision");
    InProcessEdge e("backlog", cluster_->site_dir("backlog"), cluster_->sync_endpoint(),
                    central_pub_, o_.batch_rows, o_.window);
    e.Start();
    cluster_->StopCentral();
    const auto fill0 = SteadyClock::now();
    FillEvents(e.store(), "backlog", 0, o_.catchup_rows);
    const double fill_s = Seconds(SteadyClock::now() - fill0);
    std::this_thread::sleep_for(std::chrono::seconds(2));  // the client is well into backoff
    const auto t0 = SteadyClock::now();
    CHECK_OK(cluster_->StartCentral(), "restart mes-central");
    std::uint64_t first_ack = 0;
    double first_ack_s = 0;
    while (true) {
      const auto st = e.Stats();
      if (st.acked_seq > 0 && first_ack == 0) {
        first_ack = st.acked_seq;
        first_ack_s = Seconds(SteadyClock::now() - t0);
      }
      if (st.acked_seq >= static_cast<std::uint64_t>(o_.catchup_rows)) break;
      if (Seconds(SteadyClock::now() - t0) > 900) Die(Status::Timeout("catch-up"), "catch-up");
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    const double drain_s = Seconds(SteadyClock::now() - t0);
    e.Stop();
    r_["catchup"] = {{"events", o_.catchup_rows},
                     {"queue_fill_s", fill_s},
                     {"first_ack_after_restart_s", first_ack_s},
                     {"drain_s", drain_s},
                     {"rows_per_s", o_.catchup_rows / drain_s},
                     {"copy_s", catchup_copy_s_},
                     {"vs_copy_time", drain_s / catchup_copy_s_}};
  }

  // ---- fan-in and fan-out over many sites ----
  void FanInAndOut() {
    CHECK_OK(cluster_->CreateTenant("fleet"), "tenant fleet");
    std::vector<std::unique_ptr<InProcessEdge>> edges;
    std::cout << "sync_bench: provisioning " << o_.edges << " sites" << std::flush;
    for (int i = 0; i < o_.edges; ++i) {
      char name[16];
      std::snprintf(name, sizeof name, "site-%03d", i + 1);
      CHECK_OK(cluster_->Provision("fleet", name), std::string("provision ") + name);
      edges.push_back(std::make_unique<InProcessEdge>(name, cluster_->site_dir(name),
                                                      cluster_->sync_endpoint(), central_pub_,
                                                      o_.batch_rows, o_.window));
      if ((i + 1) % 25 == 0) std::cout << " " << i + 1 << std::flush;
    }
    std::cout << "\n";
    for (auto& e : edges) e->Start();
    // Everyone connected.
    for (auto& e : edges)
      while (!e->Stats().connected) std::this_thread::sleep_for(std::chrono::milliseconds(5));

    std::atomic<bool> sampling{true};
    double central_peak_mib = 0;
    std::thread mem([&] {
      while (sampling) {
        central_peak_mib = std::max(central_peak_mib, ReadRss(cluster_->central_pid()).now_mib);
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    });

    if (o_.Want("fanin")) {
      // Steady load: each site commits fanin_rows_per_commit events fanin_rate times a
      // second (so the sites' own fsyncs are not the bound), from sixteen writer threads; a
      // sampler watches the oldest unacknowledged change. What the writers achieve is
      // reported, not what was asked.
      const std::size_t n = edges.size();
      const SteadyResult steady = RunSteadyLoad(
          edges, {o_.fanin_rate, o_.fanin_rows_per_commit, static_cast<double>(o_.fanin_seconds), 16});
      std::vector<std::uint64_t> target = steady.acked_target;
      // Drain: every site queues a backlog with its client stopped, then all start at once.
      for (auto& e : edges) e->Stop();
      for (std::size_t i = 0; i < n; ++i) {
        FillEvents(edges[i]->store(), edges[i]->site(), 10000000, o_.fanin_backlog);
        target[i] += static_cast<std::uint64_t>(o_.fanin_backlog);
      }
      const auto drain0 = SteadyClock::now();
      for (auto& e : edges) e->Start();
      const double drain_s = WaitAcked(edges, target, drain0, 600, "fan-in drain");
      const double drain_rate = static_cast<double>(n) * o_.fanin_backlog / drain_s;
      r_["fanin"] = {{"sites", n},
                     {"offered_rows_per_s", static_cast<double>(n) * o_.fanin_rate * o_.fanin_rows_per_commit},
                     {"rows_per_commit", o_.fanin_rows_per_commit},
                     {"steady_seconds", o_.fanin_seconds},
                     {"steady_rows", steady.rows},
                     {"steady_rows_per_s", steady.rows_per_s},
                     {"worst_site_lag_s", steady.worst_lag_s},
                     {"worst_site", steady.worst_site},
                     {"lag_p99_s", steady.lag_p99_s},
                     {"drain_rows", static_cast<double>(n) * o_.fanin_backlog},
                     {"drain_rows_per_s", drain_rate},
                     {"drain_vs_copy", drain_rate / copy_rate_}};
    }

    if (o_.Want("fanout")) {
      // A master-data change at central (a new downtime reason, tenant-wide) until every
      // site has applied it; the change is committed when PutRows returns.
      auto app = Must(cluster_->db().Connect("millrace_app"), "connect app");
      HybridClock hlc(SystemClock(), 60000);
      std::vector<double> ms;
      for (int k = 0; k < o_.fanout_changes; ++k) {
        json row = {{"code", "FO-" + std::to_string(k)}, {"name", "Fan-out probe " + std::to_string(k)},
                    {"category", "downtime"}, {"planned", false}, {"is_failure", false}, {"active", true}};
        auto put = Must(central::PutRows(*app, "fleet", "reason_code", json::array({row}), hlc),
                        "put reason_code");
        const auto t0 = SteadyClock::now();
        std::vector<bool> seen(edges.size(), false);
        std::size_t left = edges.size();
        while (left > 0) {
          for (std::size_t i = 0; i < edges.size(); ++i) {
            if (seen[i] || edges[i]->Stats().feed_cursor < put.feed_head) continue;
            seen[i] = true;
            --left;
            ms.push_back(Seconds(SteadyClock::now() - t0) * 1000);
          }
          if (Seconds(SteadyClock::now() - t0) > 30) Die(Status::Timeout("fan-out"), "fan-out");
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      r_["fanout"] = {{"sites", edges.size()},
                      {"changes", o_.fanout_changes},
                      {"p50_ms", Percentile(ms, 0.5)},
                      {"p99_ms", Percentile(ms, 0.99)},
                      {"max_ms", Percentile(ms, 1.0)}};
    }
    sampling = false;
    mem.join();
    r_["memory"]["central_fanin_peak_rss_mib"] = central_peak_mib;
    r_["memory"]["central_sites"] = edges.size();
    for (auto& e : edges) e->Stop();
  }

  // ---- a thousand sites on one mes-central ----
  void Fleet() {
    CHECK_OK(cluster_->CreateTenant("fleet1k"), "tenant fleet1k");
    auto app = Must(cluster_->db().Connect("millrace_app"), "connect app");
    Edges edges;
    std::cout << "sync_bench: provisioning " << o_.fleet_sites << " sites" << std::flush;
    for (int i = 0; i < o_.fleet_sites; ++i) {
      char name[16];
      std::snprintf(name, sizeof name, "f%04d", i + 1);
      central::ProvisionOptions po;
      po.tenant_id = "fleet1k";
      po.site_id = name;
      po.out_dir = cluster_->site_dir(name);
      po.endpoints = {cluster_->sync_endpoint()};
      po.central_public_key = central_pub_;
      (void)Must(central::ProvisionSite(*app, po), std::string("provision ") + name);
      edges.push_back(std::make_unique<InProcessEdge>(name, cluster_->site_dir(name),
                                                      cluster_->sync_endpoint(), central_pub_,
                                                      o_.batch_rows, o_.window, /*readers=*/1));
      if ((i + 1) % 100 == 0) std::cout << " " << i + 1 << std::flush;
    }
    std::cout << "\n";
    const pid_t central = cluster_->central_pid();
    const Rss before = ReadRss(central);
    for (auto& e : edges) e->Start();
    const auto t0 = SteadyClock::now();
    for (auto& e : edges)
      while (!e->Stats().connected) {
        if (Seconds(SteadyClock::now() - t0) > 300) Die(Status::Timeout("sites not connected"), "fleet");
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
    const double connect_s = Seconds(SteadyClock::now() - t0);
    // Idle: every site connected and nothing to sync; what heartbeats, pings and acks cost.
    std::this_thread::sleep_for(std::chrono::seconds(3));
    const double idle_cpu0 = CpuSeconds(central);
    const auto idle0 = SteadyClock::now();
    std::this_thread::sleep_for(std::chrono::seconds(10));
    const double idle_cpu = (CpuSeconds(central) - idle_cpu0) / Seconds(SteadyClock::now() - idle0);
    const Rss idle = ReadRss(central);
    // Loaded: every site commits fleet_rate events a second.
    std::atomic<bool> sampling{true};
    double peak_mib = idle.now_mib;
    std::thread mem([&] {
      while (sampling) {
        peak_mib = std::max(peak_mib, ReadRss(central).now_mib);
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    });
    const double load_cpu0 = CpuSeconds(central);
    const auto load0 = SteadyClock::now();
    const SteadyResult steady =
        RunSteadyLoad(edges, {o_.fleet_rate, 1, static_cast<double>(o_.fanin_seconds), 16});
    const double load_cpu = (CpuSeconds(central) - load_cpu0) / Seconds(SteadyClock::now() - load0);
    sampling = false;
    mem.join();
    for (auto& e : edges) e->Stop();
    r_["fleet"] = {{"sites", edges.size()},
                   {"connect_all_s", connect_s},
                   {"central_rss_before_mib", before.now_mib},
                   {"central_rss_idle_mib", idle.now_mib},
                   {"central_idle_cpu_cores", idle_cpu},
                   {"offered_rows_per_s", static_cast<double>(edges.size()) * o_.fleet_rate},
                   {"steady_rows_per_s", steady.rows_per_s},
                   {"worst_site_lag_s", steady.worst_lag_s},
                   {"worst_site", steady.worst_site},
                   {"lag_p99_s", steady.lag_p99_s},
                   {"central_load_cpu_cores", load_cpu},
                   {"central_peak_rss_mib", peak_mib}};
  }

  void Print() {
    r_["machine"] = MachineJson();
    std::ostringstream host;
    host << r_["machine"].value("cores", 0) << " cores, " << r_["machine"].value("cpu", std::string("?"))
         << ", commit " << r_["machine"].value("commit", std::string("?"));
    std::cout << std::fixed;
    const auto line = [](const std::string& what, const std::string& value, const std::string& vs) {
      std::cout << "  " << std::left << std::setw(58) << what << std::setw(24) << value << vs << "\n";
    };
    const auto num = [](double v, int prec, const std::string& unit) {
      std::ostringstream s;
      s << std::fixed << std::setprecision(prec) << v << unit;
      return s.str();
    };
    const auto ratio = [&](double v, double base, const std::string& what) {
      return num(v / base, 2, "x " + what);
    };
    std::cout << "Millrace sync benchmark (" << host.str() << ")\n";
    line("measure", "value", "against the same-run baseline");
    line("baseline: raw COPY, " + std::to_string(o_.rows) + " events", num(copy_rate_, 0, " rows/s"),
         "(best of 3)");
    line("COPY into the same table partitioned by id time",
         num(r_["baseline"]["copy_partitioned_rows_per_s"].get<double>(), 0, " rows/s"),
         ratio(r_["baseline"]["copy_partitioned_rows_per_s"].get<double>(), copy_rate_, "COPY"));
    line("baseline: single-row INSERT+COMMIT p50 / p99",
         num(rt_p50_, 2, "") + " / " + num(rt_p99_, 2, " ms"), "");
    if (r_.contains("upstream")) {
      const json& u = r_["upstream"];
      line("central's own INSERT of the same rows, no sync", num(stmt_rate_, 0, " rows/s"),
           ratio(stmt_rate_, copy_rate_, "COPY"));
      line("upstream edge -> central, " + std::to_string(o_.rows) + " events",
           num(u["rows_per_s"].get<double>(), 0, " rows/s"),
           ratio(u["rows_per_s"].get<double>(), copy_rate_, "COPY") + "; " +
               ratio(u["rows_per_s"].get<double>(), stmt_rate_, "central's INSERT"));
    line("upstream with the report rollups' triggers off",
         num(u["rows_per_s_without_rollups"].get<double>(), 0, " rows/s"),
         ratio(u["rows_per_s_without_rollups"].get<double>(), copy_rate_, "COPY") + "; with = " +
             num(u["with_vs_without_rollups"].get<double>(), 2, "x without"));
    }
    if (r_.contains("latency")) {
      const json& l = r_["latency"];
      line("commit -> visible at central, light, p50 / p99",
           num(l["light_p50_ms"].get<double>(), 2, "") + " / " +
               num(l["light_p99_ms"].get<double>(), 2, " ms"),
           ratio(l["light_p99_ms"].get<double>(), rt_p99_, "INSERT p99"));
      line("commit -> visible, heavy (" +
               num(l["heavy_offered_rows_per_s"].get<double>(), 0, " rows/s") + "), p50 / p99",
           num(l["heavy_p50_ms"].get<double>(), 2, "") + " / " +
               num(l["heavy_p99_ms"].get<double>(), 2, " ms"),
           ratio(l["heavy_p99_ms"].get<double>(), rt_p99_, "INSERT p99"));
    }
    if (r_.contains("catchup")) {
      const json& c = r_["catchup"];
      line("catch-up: " + std::to_string(o_.catchup_rows) + " queued events, restart -> drained",
           num(c["drain_s"].get<double>(), 2, " s"),
           num(c["vs_copy_time"].get<double>(), 2, "x COPY time (") +
               num(catchup_copy_s_, 2, " s)"));
      line("  first acknowledgement after the restart", num(c["first_ack_after_restart_s"].get<double>(), 2, " s"), "");
    }
    if (r_.contains("fanin")) {
      const json& f = r_["fanin"];
      line("fan-in: " + std::to_string(f["sites"].get<int>()) + " sites, " +
               num(f["steady_rows_per_s"].get<double>(), 0, " rows/s committed, worst lag"),
           num(f["worst_site_lag_s"].get<double>() * 1000, 0, " ms"),
           ratio(f["worst_site_lag_s"].get<double>() * 1000, rt_p99_, "INSERT p99"));
      line("fan-in: all sites draining a backlog at once", num(f["drain_rows_per_s"].get<double>(), 0, " rows/s"),
           ratio(f["drain_rows_per_s"].get<double>(), copy_rate_, "COPY"));
    }
    if (r_.contains("fleet")) {
      const json& f = r_["fleet"];
      const std::string sites = std::to_string(f["sites"].get<int>());
      line("fleet: " + sites + " sites connected, idle: mes-central CPU",
           num(f["central_idle_cpu_cores"].get<double>() * 100, 1, "% of a core"),
           "resident " + num(f["central_rss_idle_mib"].get<double>(), 1, " MiB"));
      line("fleet: " + sites + " sites, " + num(f["steady_rows_per_s"].get<double>(), 0, " rows/s") +
               " committed, worst lag",
           num(f["worst_site_lag_s"].get<double>() * 1000, 0, " ms"),
           "p99 " + num(f["lag_p99_s"].get<double>() * 1000, 0, " ms") + "; mes-central " +
               num(f["central_load_cpu_cores"].get<double>() * 100, 0, "% of a core, peak ") +
               num(f["central_peak_rss_mib"].get<double>(), 1, " MiB"));
    }
    if (r_.contains("fanout")) {
      const json& f = r_["fanout"];
      line("fan-out: master-data change to " + std::to_string(f["sites"].get<int>()) + " sites, p50 / p99",
           num(f["p50_ms"].get<double>(), 1, "") + " / " + num(f["p99_ms"].get<double>(), 1, " ms"),
           ratio(f["p99_ms"].get<double>(), rt_p99_, "INSERT p99"));
    }
    if (r_.contains("floor")) {
      const json& f = r_["floor"];
      line("floor: " + std::to_string(f["units"].get<int>()) + " operators via the terminal API (mes-sim)",
           num(f["writes_per_s"].get<double>(), 0, " writes/s"),
           std::to_string(f["refused_by_rule"].get<std::uint64_t>()) + " refused by a rule, " +
               std::to_string(f["failed"].get<std::uint64_t>()) + " failed");
      line("floor: a write answered in, p50 / p99",
           num(f["write_p50_ms"].get<double>(), 2, "") + " / " + num(f["write_p99_ms"].get<double>(), 2, " ms"),
           "reads p50 / p99 " + num(f["read_p50_ms"].get<double>(), 2, "") + " / " +
               num(f["read_p99_ms"].get<double>(), 2, " ms"));
      line("floor: stop -> every synced table equal at central",
           num(f["converged_after_s"].get<double>() * 1000, 0, " ms"), "");
    }
    if (r_.contains("memory")) {
      const json& m = r_["memory"];
      if (m.contains("idle_edge_rss_mib"))
        line("memory: idle mes-edge (demo factory), resident", num(m["idle_edge_rss_mib"].get<double>(), 1, " MiB"), "");
      if (r_.contains("floor") && m.contains("idle_edge_rss_mib"))
        line("memory: mes-edge under the simulated floor, peak",
             num(r_["floor"]["edge_peak_rss_mib"].get<double>(), 1, " MiB"),
             ratio(r_["floor"]["edge_peak_rss_mib"].get<double>(), m["idle_edge_rss_mib"].get<double>(), "idle"));
      if (m.contains("central_fanin_peak_rss_mib") && m.contains("central_idle_rss_mib"))
        line("memory: mes-central under fan-in, peak resident",
             num(m["central_fanin_peak_rss_mib"].get<double>(), 1, " MiB"),
             ratio(m["central_fanin_peak_rss_mib"].get<double>(), m["central_idle_rss_mib"].get<double>(),
                   "idle (" + num(m["central_idle_rss_mib"].get<double>(), 1, " MiB)")));
    }
    if (!o_.json_path.empty()) std::ofstream(o_.json_path) << r_.dump(2) << "\n";
  }

  Options o_;
  json r_;
  bool ok_ = true;
  std::unique_ptr<testing::TestDatabase> db_;
  std::unique_ptr<central::PgConnection> admin_;
  std::unique_ptr<testing::SyncCluster> cluster_;
  std::string central_pub_;
  double copy_rate_ = 0, stmt_rate_ = 0, catchup_copy_s_ = 0, rt_p50_ = 0, rt_p99_ = 0;
  Rss central_idle_;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Millrace sync benchmarks: upstream, latency, catch-up, fan-in, fan-out, memory"};
  Options o;
  std::string only;
  std::vector<std::string> compare;
  app.add_option("--compare", compare,
                 "Print two result files (--json) side by side, the second as a ratio of the first")
      ->expected(2);
  app.add_option("--mes-central", o.mes_central, "mes-central binary");
  app.add_option("--mes-edge", o.mes_edge, "mes-edge binary");
  app.add_option("--rows", o.rows, "Events for the upstream run and the COPY baseline")
      ->check(CLI::Range(1000, 5000000));
  app.add_option("--samples", o.samples, "Single events per latency run")->check(CLI::Range(10, 10000));
  app.add_option("--batch-rows", o.batch_rows, "Changes per upstream batch")->check(CLI::Range(1, 50000));
  app.add_option("--window", o.window, "Batches in flight")->check(CLI::Range(1, 64));
  app.add_option("--catchup-rows", o.catchup_rows, "Events queued while central is down")
      ->check(CLI::Range(1000, 10000000));
  app.add_option("--edges", o.edges, "Sites for fan-in and fan-out")->check(CLI::Range(1, 1000));
  app.add_option("--fanin-seconds", o.fanin_seconds, "Length of the steady fan-in load")
      ->check(CLI::Range(1, 3600));
  app.add_option("--fanin-rate", o.fanin_rate, "Commits per second per site in the steady load")
      ->check(CLI::Range(0.1, 10000.0));
  app.add_option("--fanin-rows-per-commit", o.fanin_rows_per_commit,
                 "Events per commit in the steady load")
      ->check(CLI::Range(1, 10000));
  app.add_option("--fleet-sites", o.fleet_sites, "Sites of the fleet run (one mes-central)")
      ->check(CLI::Range(1, 5000));
  app.add_option("--fleet-rate", o.fleet_rate, "Events per second per site in the fleet run")
      ->check(CLI::Range(0.01, 1000.0));
  app.add_option("--fanin-backlog", o.fanin_backlog, "Events per site in the fan-in drain")
      ->check(CLI::Range(1, 1000000));
  app.add_option("--fanout-changes", o.fanout_changes, "Master-data changes timed in fan-out")
      ->check(CLI::Range(1, 1000));
  app.add_option("--floor-seconds", o.floor_seconds, "Length of the simulated floor")
      ->check(CLI::Range(1, 3600));
  app.add_option("--floor-units", o.floor_units, "Operators (work units) on the simulated floor")
      ->check(CLI::Range(1, 64));
  app.add_option("--only", only,
                 "Comma-separated: upstream,latency,floor,catchup,fanin,fanout,fleet,memory");
  app.add_option("--json", o.json_path, "Also write the results here");
  CLI11_PARSE(app, argc, argv);
  if (!compare.empty()) return CompareResults(compare[0], compare[1]);
  if (o.mes_central.empty() || o.mes_edge.empty()) {
    std::cerr << "sync_bench: --mes-central and --mes-edge are required (or --compare A B)\n";
    return 2;
  }
  std::stringstream list(only);
  for (std::string item; std::getline(list, item, ',');) {
    static const std::set<std::string> known = {"upstream", "latency", "catchup", "fanin",
                                                "fanout",   "fleet",   "memory",  "floor"};
    if (!known.count(item)) {
      std::cerr << "sync_bench: --only: unknown measure '" << item << "'\n";
      return 2;
    }
    o.only.insert(item);
  }
  (void)InitLogging({.level = "error", .format = "human", .program = "sync_bench"});
  RaiseOpenFileLimit();
  g_program = "sync_bench";
  g_before_exit = StopCluster;
  return Bench(o).Run();
}
