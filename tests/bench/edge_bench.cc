// Edge benchmark. Measures, in one run on one machine:
//   1. raw SQLite: the same rows (a production event + its outbox entry) inserted with
//      prepared statements, synchronous=FULL, 1 and 1000 rows per transaction (baselines);
//   2. EdgeStore::Write from N concurrent writers (group commit), rows/s and latency;
//   3. a real mes-edge process: HTTP terminal writes (POST .../counts) from N keep-alive
//      clients, requests/s and p50/p99 latency, and its resident memory idle and loaded.
// Ratios are against the raw SQLite baseline measured in the same run.
//
// Usage: edge_bench --mes-edge PATH [--seconds 5] [--clients 16] [--json FILE]
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "millrace/common/http_client.h"
#include "millrace/common/uuid.h"
#include "millrace/edge/schema.h"
#include "millrace/edge/seed.h"
#include "millrace/edge/store.h"
#include "millrace/sync/row_codec.h"
#include "bench_common.h"

namespace fs = std::filesystem;
using namespace millrace;
using namespace millrace::edge;
using namespace millrace::bench;
using json = nlohmann::json;
using Clock_ = std::chrono::steady_clock;

namespace {

// Raw SQLite: event row + outbox row per write, `per_txn` writes per transaction.
double RawSqlite(const fs::path& dir, int per_txn, double seconds) {
  fs::remove_all(dir);
  fs::create_directories(dir);
  auto db = SqliteDb::Open((dir / "raw.db").string());
  if (!db.ok() || !MigrateEdgeSchema(*db).ok()) std::abort();
  std::string cols, params;
  for (std::size_t i = 0; i < T("production_event").columns.size(); ++i) {
    cols += (i ? ", " : "") + T("production_event").columns[i].name;
    params += i ? ", ?" : "?";
  }
  std::string ins_sql = "INSERT INTO production_event (" + cols + ") VALUES (" + params + ")";
  std::string out_sql =
      "INSERT INTO outbox (table_name, row_id, op, hlc, captured_at, payload) VALUES (?, ?, 1, ?, "
      "?, ?)";
  long rows = 0;
  auto start = Clock_::now();
  while (std::chrono::duration<double>(Clock_::now() - start).count() < seconds) {
    if (!db->Exec("BEGIN").ok()) std::abort();
    for (int k = 0; k < per_txn; ++k, ++rows) {
      Row r = EventRow("plant-a", rows);
      auto* s = *db->Prepare(ins_sql);
      (void)s->BindAll(r.values());
      if (!s->Run().ok()) std::abort();
      std::string payload = sync::EncodeChange(r, sync::v1::OP_UPSERT).SerializeAsString();
      auto* o = *db->Prepare(out_sql);
      (void)o->BindAll({r.table().name, r.id(), r.Int("hlc"), std::int64_t{1}});
      sqlite3_bind_blob(o->raw(), 5, payload.data(), static_cast<int>(payload.size()),
                        SQLITE_TRANSIENT);
      if (!o->Run().ok()) std::abort();
    }
    if (!db->Exec("COMMIT").ok()) std::abort();
  }
  return static_cast<double>(rows) / std::chrono::duration<double>(Clock_::now() - start).count();
}

struct StoreResult {
  double rows_per_s, p50_ms, p99_ms, avg_group;
};

StoreResult StoreWrites(const fs::path& dir, int clients, double seconds) {
  fs::remove_all(dir);
  fs::create_directories(dir);
  EdgeStoreOptions o;
  o.path = (dir / "store.db").string();
  o.site_id = "plant-a";
  auto store = EdgeStore::Open(o);
  if (!store.ok()) std::abort();
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::vector<double> lat;
  std::vector<std::thread> threads;
  auto start = Clock_::now();
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      std::vector<double> mine;
      for (int i = 0; !stop; ++i) {
        auto t0 = Clock_::now();
        Status s = (*store)->Write([&](WriteTxn& txn) {
          Row r = EventRow("plant-a", c * 1000000 + i);
          return txn.Insert(r);
        });
        if (!s.ok()) std::abort();
        mine.push_back(std::chrono::duration<double, std::milli>(Clock_::now() - t0).count());
      }
      std::lock_guard lock(mu);
      lat.insert(lat.end(), mine.begin(), mine.end());
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& t : threads) t.join();
  double elapsed = std::chrono::duration<double>(Clock_::now() - start).count();
  return {static_cast<double>(lat.size()) / elapsed, Percentile(lat, 0.5), Percentile(lat, 0.99),
          static_cast<double>((*store)->requests_committed()) /
              static_cast<double>((*store)->groups_committed())};
}

struct HttpResult {
  double req_per_s, p50_ms, p99_ms;
  double edge_cpu_us_per_req;
  long errors;
  double rss_idle_mib, rss_loaded_mib;
};

HttpResult HttpWrites(const std::string& mes_edge, const fs::path& dir, int clients,
                      double seconds, int edge_threads) {
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::ofstream(dir / "edge.toml")
      << "[site]\nid = \"plant-a\"\n[store]\npath = \"" << (dir / "edge.db").string()
      << "\"\n[http]\nport = 0\n"
      << (edge_threads > 0 ? "threads = " + std::to_string(edge_threads) + "\n" : "") << "[backup]\ninterval_minutes = 0\n[log]\nlevel = \"warn\"\n";
  if (std::system(
          (mes_edge + " seed -c " + (dir / "edge.toml").string() + " > /dev/null").c_str()) != 0)
    std::abort();
  pid_t pid = fork();
  if (pid == 0) {
    execl(mes_edge.c_str(), "mes-edge", "serve", "-c", (dir / "edge.toml").c_str(), "--port-file",
          (dir / "port").c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  while (!fs::exists(dir / "port")) usleep(20000);
  int port = 0;
  std::ifstream(dir / "port") >> port;
  HttpEndpoint ep{"127.0.0.1", static_cast<std::uint16_t>(port)};
  usleep(500000);
  HttpResult result{};
  result.rss_idle_mib = bench::ReadRss(pid).now_mib;

  auto call = [&](const std::string& method, const std::string& target, const json& body,
                  const std::string& token) {
    std::map<std::string, std::string> h;
    if (!token.empty()) h["authorization"] = "Bearer " + token;
    auto r = HttpCall(ep, method, target, body.is_null() ? "" : body.dump(), h);
    if (!r.ok() || r->status >= 300) {
      std::cerr << "setup call " << target
                << " failed: " << (r.ok() ? r->body : r.status().ToString()) << "\n";
      std::abort();
    }
    return json::parse(r->body);
  };
  auto id = [](const char* kind, const std::string& code) { return SeedId("plant-a", kind, code); };
  std::string sam =
      call("POST", "/api/v1/sessions",
           {{"badge_id", "2001"}, {"pin", kDemoPin}, {"work_unit_id", id("equipment", "L1-PRESS")}},
           "")["token"];
  std::string ana =
      call("POST", "/api/v1/sessions",
           {{"badge_id", "1001"}, {"pin", kDemoPin}, {"work_unit_id", id("equipment", "L1-CUT")}},
           "")["token"];
  call("POST", "/api/v1/work-orders/" + id("work_order", "WO-1001") + "/release", nullptr, sam);
  std::string op = call("GET", "/api/v1/work-orders/" + id("work_order", "WO-1001"), nullptr,
                        sam)["operations"][0]["id"];
  call("POST", "/api/v1/operations/" + op + "/start", nullptr, ana);

  namespace beast = boost::beast;
  namespace http = beast::http;
  std::atomic<bool> stop{false};
  std::atomic<long> errors{0};
  std::mutex mu;
  std::vector<double> lat;
  std::vector<std::thread> threads;
  const std::string target = "/api/v1/operations/" + op + "/counts";
  const double cpu0 = CpuSeconds(pid);
  auto start = Clock_::now();
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&] {
      boost::asio::io_context ioc;
      boost::asio::ip::tcp::socket sock(ioc);
      sock.connect({boost::asio::ip::make_address("127.0.0.1"), ep.port});
      beast::flat_buffer buf;
      std::vector<double> mine;
      while (!stop) {
        http::request<http::string_body> req{http::verb::post, target, 11};
        req.set(http::field::host, "127.0.0.1");
        req.set(http::field::authorization, "Bearer " + ana);
        req.set(http::field::content_type, "application/json");
        req.body() = R"({"good":1})";
        req.keep_alive(true);
        req.prepare_payload();
        auto t0 = Clock_::now();
        http::write(sock, req);
        http::response<http::string_body> res;
        http::read(sock, buf, res);
        mine.push_back(std::chrono::duration<double, std::milli>(Clock_::now() - t0).count());
        if (res.result_int() != 201) ++errors;
      }
      std::lock_guard lock(mu);
      lat.insert(lat.end(), mine.begin(), mine.end());
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds * 0.8));
  result.rss_loaded_mib = bench::ReadRss(pid).now_mib;
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds * 0.2));
  stop = true;
  for (auto& t : threads) t.join();
  double elapsed = std::chrono::duration<double>(Clock_::now() - start).count();
  result.edge_cpu_us_per_req = (CpuSeconds(pid) - cpu0) * 1e6 / static_cast<double>(lat.size());
  result.req_per_s = static_cast<double>(lat.size()) / elapsed;
  result.p50_ms = Percentile(lat, 0.5);
  result.p99_ms = Percentile(lat, 0.99);
  result.errors = errors;
  // Every acknowledged count must be in the operation's total.
  double good = call("GET", "/api/v1/operations/" + op, nullptr, ana)["good_quantity"];
  if (good < static_cast<double>(lat.size() - static_cast<std::size_t>(result.errors))) {
    std::cerr << "acknowledged counts missing: total " << good << " < " << lat.size() << "\n";
    std::abort();
  }
  kill(pid, SIGTERM);
  waitpid(pid, nullptr, 0);
  return result;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "edge_bench: Millrace edge write throughput, latency and memory, as ratios to raw SQLite"};
  std::string mes_edge, json_path;
  double seconds = 5;
  int clients = 16;
  int edge_threads = 0;
  std::vector<std::string> compare;
  app.add_option("--compare", compare,
                 "Print two result files (--json) side by side, the second as a ratio of the first")
      ->expected(2);
  app.add_option("--mes-edge", mes_edge, "Path of the mes-edge binary")->check(CLI::ExistingFile);
  app.add_option("--seconds", seconds, "Seconds per measurement")->check(CLI::Range(0.5, 600.0));
  app.add_option("--clients", clients, "Concurrent writers / HTTP clients")
      ->check(CLI::Range(1, 256));
  app.add_option("--edge-http-threads", edge_threads,
                 "The edge's [http] threads (0: the edge's default)")
      ->check(CLI::Range(0, 256));
  app.add_option("--json", json_path, "Also write the results to this JSON file");
  CLI11_PARSE(app, argc, argv);
  if (!compare.empty()) return CompareResults(compare[0], compare[1]);
  if (mes_edge.empty()) {
    std::cerr << "edge_bench: --mes-edge is required (or --compare A B)\n";
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);

  fs::path dir = fs::temp_directory_path() / ("millrace-bench-" + std::to_string(getpid()));
  double raw1 = RawSqlite(dir / "raw1", 1, seconds);
  double raw1000 = RawSqlite(dir / "raw1000", 1000, seconds);
  StoreResult store = StoreWrites(dir / "store", clients, seconds);
  HttpResult http = HttpWrites(mes_edge, dir / "http", clients, seconds, edge_threads);
  fs::remove_all(dir);

  std::cout << std::fixed << std::setprecision(2);
  const json machine = MachineJson();
  std::cout << "Millrace edge benchmark (" << clients << " clients, " << seconds
            << " s each, synchronous=FULL; " << machine.value("cores", 0) << " cores, "
            << machine.value("cpu", std::string("?")) << ", commit "
            << machine.value("commit", std::string("?")) << ")\n"
            << "  raw SQLite, 1 row per commit      " << std::setw(10) << raw1 << " rows/s\n"
            << "  raw SQLite, 1000 rows per commit  " << std::setw(10) << raw1000
            << " rows/s   (baseline)\n"
            << "  EdgeStore group commit            " << std::setw(10) << store.rows_per_s
            << " rows/s   ratio " << store.rows_per_s / raw1000 << " of baseline, "
            << store.rows_per_s / raw1 << "x per-commit; p50 " << store.p50_ms << " ms, p99 "
            << store.p99_ms << " ms; " << store.avg_group << " writes per commit\n"
            << "  HTTP terminal counts (mes-edge)   " << std::setw(10) << http.req_per_s
            << " req/s    ratio " << http.req_per_s / raw1 << " of 1 row per commit; p50 "
            << http.p50_ms << " ms, p99 " << http.p99_ms << " ms, errors " << http.errors << "\n"
            << "  mes-edge CPU per HTTP write       " << std::setw(10) << http.edge_cpu_us_per_req
            << " us\n"
            << "  mes-edge resident memory          idle " << http.rss_idle_mib
            << " MiB, under load " << http.rss_loaded_mib << " MiB\n";
  if (!json_path.empty()) {
    json j{{"machine", MachineJson()},
           {"clients", clients},
           {"seconds", seconds},
           {"raw_sqlite_rows_per_s_1_per_commit", raw1},
           {"raw_sqlite_rows_per_s_1000_per_commit", raw1000},
           {"store_rows_per_s", store.rows_per_s},
           {"store_ratio_to_raw_batched", store.rows_per_s / raw1000},
           {"store_p50_ms", store.p50_ms},
           {"store_p99_ms", store.p99_ms},
           {"store_writes_per_commit", store.avg_group},
           {"http_req_per_s", http.req_per_s},
           {"http_p50_ms", http.p50_ms},
           {"http_p99_ms", http.p99_ms},
           {"http_errors", http.errors},
           {"http_ratio_to_raw_1_per_commit", http.req_per_s / raw1},
           {"edge_cpu_us_per_http_write", http.edge_cpu_us_per_req},
           {"rss_idle_mib", http.rss_idle_mib},
           {"rss_loaded_mib", http.rss_loaded_mib}};
    std::ofstream(json_path) << j.dump(2) << "\n";
  }
  return http.errors == 0 ? 0 : 1;
}
