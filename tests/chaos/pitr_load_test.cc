// Point-in-time recovery of central's PostgreSQL under load: two edges' simulated floors
// work on while mes-central's pg_backup jobs take a full backup and, after a chosen moment,
// an incremental one; central is stopped, its cluster restored to that moment with
// pgBackRest and central started again, the floors working throughout. Then:
//   - a tenant made after the moment is gone (the restore went back);
//   - every site's rows equal central's again, table by table: each edge sent again what
//     central lost (its outbox keeps acknowledged changes) and pulled the feed again from
//     central's head;
//   - no count a terminal was told succeeded is missing at central and none is doubled;
//   - nothing was skipped as lost (mes_sync_lost_seqs_total) and nothing is parked.
// Usage: pitr_load_tests MES_CENTRAL MES_EDGE PG_ARCHIVE_SH [--seconds S]
#include <signal.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <thread>

#include "millrace/common/http_client.h"
#include "millrace/common/logging.h"
#include "millrace/edge/simulator.h"
#include "sync_cluster.h"

using namespace millrace;
using namespace millrace::testing;

namespace {

int Fail(const std::string& what) {
  std::cerr << "pitr: FAILED: " << what << "\n";
  return 1;
}

struct Floor {
  std::vector<std::unique_ptr<edge::Simulator>> sims;
  std::vector<std::thread> runners;
  void Start(SyncCluster& c, const std::vector<std::string>& sites, std::uint64_t seed,
             int seconds) {
    for (const auto& site : sites) {
      edge::SimulatorOptions o;
      o.edges = {c.edge_url(site)};
      o.seed = seed++;
      o.units = 3;
      o.cycle = std::chrono::milliseconds(40);
      o.duration = std::chrono::seconds(seconds);
      sims.push_back(std::make_unique<edge::Simulator>(o));
      runners.emplace_back([sim = sims.back().get()] { (void)sim->Run(); });
    }
  }
  // Waits for the floor to stop; adds each site's acknowledged and unanswered counts.
  void Join(const std::vector<std::string>& sites, std::map<std::string, std::uint64_t>& counts,
            std::map<std::string, std::uint64_t>& unanswered) {
    for (auto& r : runners) r.join();
    for (std::size_t i = 0; i < sims.size(); ++i) {
      auto st = sims[i]->Snapshot();
      counts[sites[i]] += st.events["good"] + st.events["scrap"];
      unanswered[sites[i]] += st.failed;
    }
    sims.clear();
    runners.clear();
  }
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::cerr << "usage: pitr_load_tests MES_CENTRAL MES_EDGE PG_ARCHIVE_SH [--seconds S]\n";
    return 2;
  }
  const std::string archive = argv[3];
  int seconds = 8;
  for (int i = 4; i + 1 < argc; i += 2) {
    if (std::string(argv[i]) == "--seconds")
      seconds = std::atoi(argv[i + 1]);
    else
      return Fail(std::string("unknown option ") + argv[i]);
  }
  (void)InitLogging({.level = "error", .format = "human", .program = "pitr"});
  const std::string pg_dir = "/tmp/millrace-pitr-pg-" + std::to_string(::getpid());
  const std::string port = "5438";  // names the socket file only
  std::string out;
  if (RunCommand({archive, "start", pg_dir, port}, &out) != 0)
    return Fail("pg_archive.sh start: " + out);
  struct StopServer {
    std::string archive, dir, port;
    ~StopServer() {
      std::string o;
      (void)RunCommand({archive, "stop", dir, port}, &o);
    }
  } stop_server{archive, pg_dir, port};
  while (!out.empty() && out.back() == '\n') out.pop_back();
  ::setenv("MILLRACE_TEST_PG", out.c_str(), 1);
  std::string command;
  if (RunCommand({archive, "command", pg_dir}, &command) != 0) return Fail("pg_archive.sh command");

  auto created = SyncCluster::Create({argv[1], argv[2]}, "pitr");
  if (!created.ok()) return Fail(created.status().ToString());
  SyncCluster& c = **created;
  std::ofstream(c.dir() / "central.toml", std::ios::app)
      << "[pg_backup]\npgbackrest_config = \"" << pg_dir
      << "/pbr/pgbackrest.conf\"\ncommand = " << command
      << "full_every_hours = 0\nincr_every_hours = 0\n";
  if (Status s = c.StartCentral(); !s.ok()) return Fail(s.ToString());
  const std::vector<std::string> sites = {"lyon", "porto"};
  if (Status s = c.CreateTenant("acme"); !s.ok()) return Fail(s.ToString());
  if (Status s = c.SeedDemo("acme", sites); !s.ok()) return Fail(s.ToString());
  for (const auto& site : sites) {
    if (Status s = c.AddSite("acme", site); !s.ok()) return Fail(s.ToString());
    if (Status s = c.StartEdge(site); !s.ok()) return Fail(s.ToString());
  }
  std::map<std::string, std::uint64_t> counts, unanswered;
  auto backup = [&](const std::string& type) -> Status {
    std::string o;
    return c
        .CentralCommand(
            {"jobs", "enqueue", "pg_backup", "--payload", "{\"type\":\"" + type + "\"}", "--wait"},
            &o)
        .WithContext("pg_backup " + type + ": " + o);
  };
  const auto t0 = std::chrono::steady_clock::now();

  // 1. A full backup while the floors work.
  Floor floor;
  floor.Start(c, sites, 1, seconds);
  if (Status s = backup("full"); !s.ok()) return Fail(s.ToString());
  floor.Join(sites, counts, unanswered);

  // 2. The moment to go back to, mid-shift; a tenant made after it; an incremental backup
  // (which also archives the WAL past the moment).
  floor.Start(c, sites, 10, seconds);
  std::this_thread::sleep_for(std::chrono::seconds(seconds / 2));
  auto now = c.admin().Query(
      "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00'");
  if (!now.ok()) return Fail(now.status().ToString());
  const std::string target = now->GetString(0, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  if (Status s = c.CreateTenant("lost"); !s.ok()) return Fail(s.ToString());
  floor.Join(sites, counts, unanswered);
  if (Status s = backup("incr"); !s.ok()) return Fail(s.ToString());
  if (Status s = c.WaitConverged(std::chrono::seconds(60)); !s.ok())
    return Fail("before the restore: " + s.ToString());

  // 3. Central stops, its cluster goes back to the moment, central starts again; the
  // floors work on throughout.
  floor.Start(c, sites, 20, seconds * 2);
  std::this_thread::sleep_for(std::chrono::seconds(1));
  c.StopCentral(SIGTERM);
  const auto restore_start = std::chrono::steady_clock::now();
  if (RunCommand({archive, "restore", pg_dir, port, target}, &out) != 0)
    return Fail("pg_archive.sh restore: " + out);
  const double restore_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - restore_start).count();
  if (Status s = c.ReconnectAdmin(); !s.ok()) return Fail(s.ToString());
  if (Status s = c.StartCentral(); !s.ok()) return Fail(s.ToString());
  floor.Join(sites, counts, unanswered);

  auto lost = c.admin().Query("SELECT count(*) FROM millrace.sync_tenant WHERE tenant_id = 'lost'");
  if (!lost.ok() || lost->GetString(0, 0) != "0")
    return Fail("the tenant made after " + target + " is still there: the restore did not go back");
  const auto converge_start = std::chrono::steady_clock::now();
  if (Status s = c.WaitConverged(std::chrono::seconds(180)); !s.ok()) {
    std::cerr << c.Diagnose();
    c.KeepAfterwards();
    return Fail("after the restore: " + s.ToString());
  }
  const double converge_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - converge_start).count();
  for (const auto& site : sites) {
    auto r = c.admin().Query(
        "SELECT count(*) FROM millrace.production_event WHERE kind = 'COUNT' AND site_id = $1",
        {site});
    if (!r.ok()) return Fail(r.status().ToString());
    const std::uint64_t at_central = std::stoull(r->GetString(0, 0));
    if (at_central < counts[site] || at_central > counts[site] + unanswered[site]) {
      c.KeepAfterwards();
      return Fail("site " + site + ": central holds " + std::to_string(at_central) +
                  " counts; terminals were told " + std::to_string(counts[site]) +
                  " succeeded and " + std::to_string(unanswered[site]) + " went unanswered");
    }
    std::cout << "pitr: " << site << ": " << at_central << " counts at central, " << counts[site]
              << " acknowledged to the terminals\n";
  }
  auto rejects = c.admin().Query("SELECT count(*) FROM millrace.sync_reject");
  if (!rejects.ok() || rejects->GetString(0, 0) != "0") return Fail("rows in sync_reject");
  auto metrics = HttpCall(c.central_http(), "GET", "/metrics", "",
                          {{"authorization", "Bearer " + c.admin_token()}});
  if (!metrics.ok()) return Fail(metrics.status().ToString());
  if (metrics->body.find("mes_sync_lost_seqs_total{") != std::string::npos)
    return Fail("central counted seqs as lost though the edges kept them");
  for (const auto& site : sites) {
    std::ifstream log(c.site_dir(site) + "/edge.log");
    const std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
    if (text.find("central lost acknowledged changes") == std::string::npos)
      return Fail("edge " + site + " did not notice that central went back");
  }
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::cout << "pitr: PASSED in " << static_cast<int>(took) << " s: restored to " << target
            << " in " << restore_s << " s under load; converged " << converge_s
            << " s after the floors stopped\n";
  return 0;
}
