// Sync benchmark. Measures, in one run on one machine against the suite's PostgreSQL:
//   1. baseline: raw COPY of N production events into a table shaped like central's
//      production_event (same columns and indexes), one connection, one transaction;
//   2. upstream: the same number of events captured in an edge store's outbox, then
//      synced end to end (outbox -> protobuf -> CurveZMQ over loopback -> central applier
//      -> PostgreSQL -> ack -> purge) by the real SyncClient and SyncServer; rows/s, and
//      the ratio to the baseline;
//   3. latency at light load: single events committed on the edge one at a time, time
//      from the edge's durable commit until the row is visible in central's PostgreSQL
//      (p50/p99).
//
// Usage: sync_bench [--rows 200000] [--samples 200] [--json FILE]   (needs MILLRACE_TEST_PG)
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "millrace/central/central_store.h"
#include "millrace/central/pg_rows.h"
#include "millrace/central/provision.h"
#include "millrace/central/schema.h"
#include "millrace/central/sync_service.h"
#include "millrace/common/logging.h"
#include "millrace/common/uuid.h"
#include "millrace/edge/store.h"
#include "millrace/edge/sync_adapter.h"
#include "millrace/sync/client.h"
#include "millrace/sync/server.h"
#include "millrace/sync/transport.h"
#include "test_pg.h"

namespace fs = std::filesystem;
using namespace millrace;
using json = nlohmann::json;
using SteadyClock = std::chrono::steady_clock;

namespace {

const catalog::TableSpec& T(const char* name) { return *catalog::MesCatalog().Find(name); }

Row EventRow(const std::string& site, int i) {
  Row r(T("production_event"));
  r.Set("id", Uuid::NewV7().ToString())
      .Set("site_id", site)
      .Set("kind", "COUNT")
      .Set("at", std::int64_t{1795413600000 + i})
      .Set("work_order_id", Uuid::NewV7().ToString())
      .Set("operation_id", Uuid::NewV7().ToString())
      .Set("work_unit_id", Uuid::NewV7().ToString())
      .Set("good_quantity", 1.0)
      .Set("scrap_quantity", 0.0)
      .Set("rework_quantity", 0.0)
      .Set("hlc", std::int64_t{(1795413600000LL << 16) + i})
      .Set("origin", "edge:" + site);
  return r;
}

double Seconds(SteadyClock::duration d) { return std::chrono::duration<double>(d).count(); }

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

[[noreturn]] void Die(const Status& s, const char* what) {
  std::cerr << "sync_bench: " << what << ": " << s.ToString() << "\n";
  std::exit(1);
}
#define CHECK_OK(expr, what)               \
  do {                                     \
    Status _s = (expr);                    \
    if (!_s.ok()) Die(_s, what);           \
  } while (0)

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Millrace sync benchmark: upstream rows/s against raw COPY, and latency"};
  int rows = 200000, samples = 200, batch_rows = 5000, window = 4;
  std::string json_path;
  app.add_option("--rows", rows, "Events for the throughput runs")->check(CLI::Range(1000, 5000000));
  app.add_option("--samples", samples, "Single events for the latency run")->check(CLI::Range(10, 10000));
  app.add_option("--json", json_path, "Also write the results here");
  app.add_option("--batch-rows", batch_rows, "Changes per upstream batch")->check(CLI::Range(1, 100000));
  app.add_option("--window", window, "Batches in flight")->check(CLI::Range(1, 64));
  CLI11_PARSE(app, argc, argv);
  (void)InitLogging({.level = "warn", .format = "human", .program = "sync_bench"});

  auto db = testing::TestDatabase::Create();
  if (!db.ok()) Die(db.status(), "test database");
  auto admin = (*db)->Connect("postgres");
  if (!admin.ok()) Die(admin.status(), "connect");
  CHECK_OK(central::MigrateCentralSchema(**admin).status(), "migrate");
  auto app_conn = (*db)->Connect("millrace_app");
  if (!app_conn.ok()) Die(app_conn.status(), "connect app");
  const fs::path dir = fs::temp_directory_path() / ("millrace-sync-bench-" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  auto central_keys = sync::GenerateCurveKeyPair();
  CHECK_OK(central::CreateTenant(**app_conn, "acme", "Acme"), "tenant");
  central::ProvisionOptions po;
  po.tenant_id = "acme";
  po.site_id = "lyon";
  po.out_dir = (dir / "lyon").string();
  po.endpoints = {"tcp://127.0.0.1:1"};
  po.central_public_key = central_keys->public_key;
  auto provisioned = central::ProvisionSite(**app_conn, po);
  if (!provisioned.ok()) Die(provisioned.status(), "provision");

  // ---- 1. baseline: raw COPY of the same rows ----
  std::vector<Row> events;
  events.reserve(static_cast<std::size_t>(rows));
  for (int i = 0; i < rows; ++i) events.push_back(EventRow("lyon", i));
  CHECK_OK((*admin)->Exec("CREATE TABLE bench_copy (LIKE millrace.production_event INCLUDING ALL)"),
           "baseline table");
  std::string data;
  for (const Row& r : events) central::AppendCopyLine("acme", r, &data);
  // Best of three, so a noisy moment cannot flatter the ratio.
  double copy_s = 1e9;
  auto t0 = SteadyClock::now();
  for (int attempt = 0; attempt < 3; ++attempt) {
    CHECK_OK((*admin)->Exec("TRUNCATE bench_copy"), "truncate");
    t0 = SteadyClock::now();
    CHECK_OK((*admin)->Exec("BEGIN"), "begin");
    auto copied = (*admin)->CopyIn(
        "COPY bench_copy (" + central::PgInsertColumns(T("production_event")) + ") FROM STDIN", data);
    if (!copied.ok()) Die(copied.status(), "COPY");
    CHECK_OK((*admin)->Exec("COMMIT"), "commit");
    copy_s = std::min(copy_s, Seconds(SteadyClock::now() - t0));
  }
  const double copy_rate = rows / copy_s;

  // ---- 2. upstream end to end ----
  edge::EdgeStoreOptions so;
  so.path = (dir / "lyon" / "edge.db").string();
  so.site_id = "lyon";
  auto store = edge::EdgeStore::Open(so);
  if (!store.ok()) Die(store.status(), "edge store");
  for (int start = 0; start < rows; start += 10000) {
    CHECK_OK((*store)->Write([&](edge::WriteTxn& txn) -> Status {
      for (int i = start; i < std::min(rows, start + 10000); ++i) {
        Row r = EventRow("lyon", i);
        MILLRACE_RETURN_IF_ERROR(txn.Insert(r));
      }
      return Status::Ok();
    }),
             "fill outbox");
  }
  MetricsRegistry metrics;
  central::SyncServiceOptions cso;
  cso.database_url = (*db)->ConnInfo("millrace_app");
  central::SyncService service(cso, &metrics);
  sync::SyncServerOptions sso;
  sso.secret_key = central_keys->secret_key;
  auto server = sync::SyncServer::Start(sso, &service, &metrics);
  if (!server.ok()) Die(server.status(), "server");
  edge::EdgeSyncAdapter adapter(store->get());
  sync::ZmqClientOptions zo;
  zo.endpoints = {(*server)->endpoint()};
  zo.secret_key = *sync::ReadKeyFile((dir / "lyon" / "site.key").string(), true);
  zo.public_key = *sync::CurvePublicKey(zo.secret_key);
  zo.server_public_key = central_keys->public_key;
  auto transport = sync::NewZmqClientTransport(zo);
  if (!transport.ok()) Die(transport.status(), "transport");
  sync::SyncClientOptions co;
  co.node_id = (*store)->node_id();
  co.site_id = "lyon";
  co.catalog_fingerprint = catalog::MesCatalog().FingerprintHex();
  co.batch_rows = batch_rows;
  co.window = window;
  sync::SyncClient client(co, &adapter, std::move(*transport));
  (*store)->SetCommitListener([&] { client.Wake(); });
  t0 = SteadyClock::now();
  client.Start();
  while (client.Stats().acked_seq < static_cast<std::uint64_t>(rows)) {
    std::this_thread::sleep_for(std::chrono::microseconds(500));
    if (Seconds(SteadyClock::now() - t0) > 600) Die(Status::Timeout("upstream did not drain"), "sync");
  }
  const double sync_s = Seconds(SteadyClock::now() - t0);
  const double sync_rate = rows / sync_s;
  auto central_rows = (*admin)->Query("SELECT count(*) FROM millrace.production_event");
  const long landed = central_rows.ok() ? std::stol(central_rows->GetString(0, 0)) : -1;

  // ---- 3. latency at light load ----
  std::vector<double> latency_ms;
  auto probe = (*db)->Connect("postgres");
  for (int i = 0; i < samples; ++i) {
    Row r = EventRow("lyon", rows + i);
    const std::string id = r.id();
    CHECK_OK((*store)->Write([&](edge::WriteTxn& txn) { return txn.Insert(r); }), "write");
    const auto committed = SteadyClock::now();
    while (true) {
      auto q = (*probe)->Query("SELECT 1 FROM millrace.production_event WHERE tenant_id = 'acme' AND id = $1",
                               {id});
      if (q.ok() && q->rows() == 1) break;
      if (Seconds(SteadyClock::now() - committed) > 10) Die(Status::Timeout("row never arrived"), "latency");
    }
    latency_ms.push_back(Seconds(SteadyClock::now() - committed) * 1000);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  client.Stop();
  (*store)->SetCommitListener(nullptr);

  const double p50 = Percentile(latency_ms, 0.50), p99 = Percentile(latency_ms, 0.99);
  std::cout << std::fixed << std::setprecision(0);
  std::cout << "Millrace sync benchmark (" << std::thread::hardware_concurrency() << " cores)\n";
  std::cout << "  raw COPY into PostgreSQL, " << rows << " events:          " << copy_rate
            << " rows/s  (baseline, best of 3)\n";
  std::cout << "  upstream edge outbox -> central, " << rows << " events: " << sync_rate
            << " rows/s  (" << std::setprecision(2) << sync_rate / copy_rate << "x COPY; "
            << landed << " rows landed)\n";
  std::cout << std::setprecision(2) << "  commit-to-central-visible latency, light load, " << samples
            << " events: p50 " << p50 << " ms, p99 " << p99 << " ms\n";
  if (!json_path.empty()) {
    json j{{"rows", rows},
           {"copy_rows_per_s", copy_rate},
           {"sync_rows_per_s", sync_rate},
           {"sync_vs_copy", sync_rate / copy_rate},
           {"latency_p50_ms", p50},
           {"latency_p99_ms", p99},
           {"landed", landed}};
    std::ofstream(json_path) << j.dump(2) << "\n";
  }
  server->reset();
  fs::remove_all(dir);
  return landed == rows + samples ? 0 : 1;
}
