// mes-edge as a real process: a work order driven to Completed over HTTP, then kill -9
// in the middle of a stream of concurrent writes. After a restart every write that got
// an HTTP 2xx is present, and the outbox agrees with the domain rows.
// Usage: edge_process_tests /path/to/mes-edge [gtest flags]
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "millrace/common/http_client.h"
#include "millrace/common/uuid.h"
#include "millrace/edge/seed.h"
#include "millrace/edge/terminal_client.h"

namespace millrace::edge {
namespace {

using json = nlohmann::json;
std::string g_mes_edge;

class EdgeProcess {
 public:
  explicit EdgeProcess(std::filesystem::path dir) : dir_(std::move(dir)) {}
  ~EdgeProcess() { Kill(SIGKILL); }

  void Start() {
    std::filesystem::remove(dir_ / "port");
    pid_ = fork();
    if (pid_ == 0) {
      std::string log = (dir_ / "edge.log").string();
      freopen(log.c_str(), "a", stderr);
      execl(g_mes_edge.c_str(), "mes-edge", "serve", "-c", (dir_ / "edge.toml").c_str(),
            "--port-file", (dir_ / "port").c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    for (int i = 0; i < 200 && !std::filesystem::exists(dir_ / "port"); ++i) usleep(50000);
    std::ifstream in(dir_ / "port");
    int port = 0;
    in >> port;
    ASSERT_GT(port, 0) << "mes-edge did not start; see " << (dir_ / "edge.log");
    endpoint_ = {"127.0.0.1", static_cast<std::uint16_t>(port)};
  }

  void Kill(int sig) {
    if (pid_ <= 0) return;
    kill(pid_, sig);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
  }

  Result<json> Call(const std::string& method, const std::string& target,
                    const json& body = nullptr, const std::string& token = "",
                    int* http_status = nullptr) {
    edge::TerminalClient client(endpoint_, token);
    auto r = client.Send(method, target, body);
    if (!r.ok()) return r.status();
    if (http_status) *http_status = r->status;
    if (r->status >= 300)
      return Status::FailedPrecondition("HTTP " + std::to_string(r->status) + ": " + r->text);
    return std::move(r->body);
  }

 private:
  std::filesystem::path dir_;
  pid_t pid_ = -1;
  HttpEndpoint endpoint_;
};

class EdgeProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("millrace-proc-" + std::to_string(getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    std::ofstream(dir_ / "edge.toml")
        << "[site]\nid = \"plant-a\"\n[store]\npath = \"" << (dir_ / "edge.db").string()
        << "\"\n[http]\nport = 0\nthreads = 4\n[log]\nlevel = \"warn\"\n";
    std::string seed = g_mes_edge + " seed -c " + (dir_ / "edge.toml").string() + " > /dev/null";
    ASSERT_EQ(std::system(seed.c_str()), 0);
    edge_ = std::make_unique<EdgeProcess>(dir_);
    edge_->Start();
  }
  void TearDown() override {
    edge_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::string Id(const char* kind, const std::string& code) {
    return SeedId("plant-a", kind, code);
  }

  std::string Login(const char* badge, const std::string& unit_code) {
    auto r = edge_->Call(
        "POST", "/api/v1/sessions",
        {{"badge_id", badge}, {"pin", kDemoPin}, {"work_unit_id", Id("equipment", unit_code)}});
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? (*r)["token"].get<std::string>() : "";
  }

  void Post(const std::string& target, const std::string& token,
            const json& body = json::object()) {
    auto r = edge_->Call("POST", target, body, token);
    ASSERT_TRUE(r.ok()) << target << ": " << r.status().ToString();
  }

  std::filesystem::path dir_;
  std::unique_ptr<EdgeProcess> edge_;
};

// Rows of `sql` from the edge database, read by this process while the daemon runs.
std::vector<std::vector<std::string>> Query(const std::filesystem::path& db_path,
                                            const std::string& sql) {
  sqlite3* db = nullptr;
  sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
  sqlite3_stmt* stmt = nullptr;
  std::vector<std::vector<std::string>> rows;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK) {
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      std::vector<std::string> row;
      for (int i = 0; i < sqlite3_column_count(stmt); ++i) {
        const unsigned char* t = sqlite3_column_text(stmt, i);
        row.emplace_back(t ? reinterpret_cast<const char*>(t) : "");
      }
      rows.push_back(std::move(row));
    }
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return rows;
}

TEST_F(EdgeProcessTest, DrivesAWorkOrderToCompletedOverHttp) {
  std::string sam = Login("2001", "L1-PRESS");
  std::string wo = Id("work_order", "WO-1001");
  Post("/api/v1/work-orders/" + wo + "/release", sam);
  auto order = edge_->Call("GET", "/api/v1/work-orders/" + wo, nullptr, sam);
  ASSERT_TRUE(order.ok());
  const json ops = (*order)["operations"];
  ASSERT_EQ(ops.size(), 3u);
  const char* units[] = {"L1-CUT", "L1-PRESS", "L1-PACK"};
  const char* badges[] = {"1001", "1001", "1002"};
  for (std::size_t i = 0; i < 3; ++i) {
    std::string token = Login(badges[i], units[i]);
    std::string op = "/api/v1/operations/" + ops[i]["id"].get<std::string>();
    Post(op + "/start", token);
    Post(op + "/counts", token,
         {{"good", 49}, {"scrap", 1}, {"scrap_reason_id", Id("reason", "SC-DIM")}});
    Post(op + "/complete", token);
  }
  auto done = edge_->Call("GET", "/api/v1/work-orders/" + wo, nullptr, sam);
  ASSERT_TRUE(done.ok());
  EXPECT_EQ((*done)["status"], "Completed");
  EXPECT_EQ((*done)["good_quantity"], 49.0);
  EXPECT_EQ((*done)["scrap_quantity"], 3.0);
  Post("/api/v1/work-orders/" + wo + "/close", sam);
  EXPECT_EQ((*edge_->Call("GET", "/api/v1/work-orders/" + wo, nullptr, sam))["status"], "Closed");
}

TEST_F(EdgeProcessTest, KillNineLosesNoAcknowledgedWriteAndKeepsTheOutboxConsistent) {
  std::string sam = Login("2001", "L2-PRESS");
  std::string ana = Login("1001", "L2-CUT");
  std::string wo = Id("work_order", "WO-1002");
  Post("/api/v1/work-orders/" + wo + "/release", sam);
  auto order = edge_->Call("GET", "/api/v1/work-orders/" + wo, nullptr, sam);
  std::string op = (*order)["operations"][0]["id"];
  Post("/api/v1/operations/" + op + "/start", ana);

  // Four clients stream counts and measurements until the daemon dies under them.
  std::atomic<bool> stop{false};
  std::atomic<int> acked_counts{0}, attempted_counts{0};
  std::mutex mu;
  std::set<std::string> acked_measurements;
  std::vector<std::thread> clients;
  for (int c = 0; c < 4; ++c) {
    clients.emplace_back([&, c] {
      for (int i = 0; !stop; ++i) {
        int status = 0;
        if ((i + c) % 2 == 0) {
          ++attempted_counts;
          auto r = edge_->Call("POST", "/api/v1/operations/" + op + "/counts", {{"good", 1}}, ana,
                               &status);
          if (r.ok() && status == 201) ++acked_counts;
          if (!r.ok() && r.status().code() == StatusCode::kUnavailable) break;
        } else {
          auto r = edge_->Call(
              "POST", "/api/v1/measurements",
              {{"characteristic_id", Id("characteristic", "BRKT-HOLE")}, {"value", 8.0}}, ana,
              &status);
          if (r.ok() && status == 201) {
            std::lock_guard lock(mu);
            acked_measurements.insert((*r)["measurement"]["id"].get<std::string>());
          }
          if (!r.ok() && r.status().code() == StatusCode::kUnavailable) break;
        }
      }
    });
  }
  while (acked_counts < 150) usleep(10000);
  edge_->Kill(SIGKILL);  // power cut, as far as the process can tell
  stop = true;
  for (auto& t : clients) t.join();
  ASSERT_GT(acked_counts.load(), 0);
  ASSERT_GT(acked_measurements.size(), 0u);

  edge_->Start();
  const auto db = dir_ / "edge.db";
  // Every acknowledged measurement is there.
  auto stored = Query(db, "SELECT id FROM measurement");
  std::set<std::string> present;
  for (const auto& r : stored) present.insert(r[0]);
  for (const auto& id : acked_measurements)
    EXPECT_TRUE(present.count(id)) << "acknowledged measurement lost: " << id;
  // Every acknowledged count is there: the operation total is at least the acked counts,
  // at most the attempted ones, and equals the sum of its COUNT events.
  auto totals =
      Query(db, "SELECT (SELECT good_quantity FROM work_order_operation WHERE id = '" + op +
                    "'), (SELECT coalesce(sum(good_quantity), 0) FROM production_event WHERE "
                    "operation_id = '" +
                    op + "' AND kind = 'COUNT')");
  double good = std::stod(totals[0][0]);
  double events = std::stod(totals[0][1]);
  EXPECT_GE(good, acked_counts.load());
  EXPECT_LE(good, attempted_counts.load());
  EXPECT_EQ(good, events);
  // The outbox agrees with the domain rows: every append-only fact has exactly one
  // entry, and the newest entry of every mutable row carries the row's current HLC.
  for (const char* table :
       {"production_event", "measurement", "inventory_movement", "genealogy_link"}) {
    auto diff = Query(db, std::string("SELECT count(*) FROM ") + table +
                              " t WHERE (SELECT count(*) FROM outbox o "
                              "WHERE o.row_id = t.id) != 1");
    EXPECT_EQ(diff[0][0], "0") << table;
    auto orphans =
        Query(db, std::string("SELECT count(*) FROM outbox o WHERE o.table_name = '") + table +
                      "' AND NOT EXISTS (SELECT 1 FROM " + table + " t WHERE t.id = o.row_id)");
    EXPECT_EQ(orphans[0][0], "0") << table;
  }
  for (const char* table :
       {"work_order", "work_order_operation", "operator_session", "material_lot"}) {
    auto stale = Query(db, std::string("SELECT count(*) FROM ") + table +
                               " t WHERE t.origin LIKE 'edge:%' AND "
                               "t.hlc != (SELECT o.hlc FROM outbox o WHERE "
                               "o.row_id = t.id ORDER BY o.seq DESC LIMIT 1)");
    EXPECT_EQ(stale[0][0], "0") << table;
  }
  // And the restarted edge keeps working on the same operation.
  int status = 0;
  auto again =
      edge_->Call("POST", "/api/v1/operations/" + op + "/counts", {{"good", 1}}, ana, &status);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ((*again)["good_quantity"].get<double>(), good + 1);
  std::cout << "[ kill -9 ] " << acked_counts.load() << " acknowledged counts of "
            << attempted_counts.load() << " attempted, " << acked_measurements.size()
            << " acknowledged measurements, all present after restart\n";
}

}  // namespace
}  // namespace millrace::edge

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (argc < 2) {
    std::cerr << "usage: edge_process_tests /path/to/mes-edge\n";
    return 2;
  }
  millrace::edge::g_mes_edge = argv[1];
  return RUN_ALL_TESTS();
}
