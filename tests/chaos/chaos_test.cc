// Chaos: cycles of simulated shop-floor load (edge::Simulator through the terminal API of
// three real edges) with random faults: links cut and slowed (a TCP proxy between each
// edge and central), edges and central killed with -9 and restarted, PostgreSQL restarted,
// an edge's wall clock stepped forwards or backwards (by 90 s or 2 h) and corrected, and
// an edge's machine dying with its disk, replaced by one started from central's newest
// verified backup (mes-central restore-site) while the floor goes on.
// After every cycle the faults heal and the test asserts:
//   - every site's rows equal central's, table by table (content digests);
//   - no acknowledged write is lost and none is duplicated: central holds, per site,
//     between the COUNT events the terminals got a 2xx for and that number plus the
//     requests that went unanswered (a write can commit while its answer is lost), less
//     the counts lost with a dead disk, each of which must have been in that store's
//     outbox (central never acknowledged it);
//   - nothing is stuck in the reject table.
// Usage: chaos_tests MES_CENTRAL MES_EDGE [--cycles N] [--seconds S] [--seed X]
#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "millrace/common/logging.h"
#include "millrace/common/sqlite.h"
#include "millrace/edge/simulator.h"
#include "sync_cluster.h"
#include "tcp_proxy.h"

using namespace millrace;
using namespace millrace::testing;

namespace {

struct Totals {
  std::uint64_t counts = 0, unanswered = 0, lost_with_disk = 0;
};

std::set<std::string> Column(SqliteDb& db, const std::string& sql) {
  std::set<std::string> out;
  auto stmt = db.Prepare(sql);
  if (!stmt.ok()) return out;
  while (true) {
    auto row = (*stmt)->Step();
    if (!row.ok() || !*row) break;
    const Value v = (*stmt)->Column(0);
    if (const auto* s = std::get_if<std::string>(&v)) out.insert(*s);
  }
  (*stmt)->Reset();
  return out;
}

// The COUNT events of a dead machine's store that central does not hold. Fails (returns
// an error) when one of them had left the store's outbox: central had acknowledged it.
Result<std::uint64_t> LostWithDisk(SyncCluster& c, const std::string& site,
                                   const std::string& dead_dir) {
  MILLRACE_ASSIGN_OR_RETURN(SqliteDb db, SqliteDb::OpenReadOnly(dead_dir + "/edge.db"));
  const std::set<std::string> counts =
      Column(db, "SELECT id FROM production_event WHERE kind = 'COUNT'");
  // The outbox keeps acknowledged entries a while ([sync] keep_acked_hours): only those
  // past the store's watermark were never acknowledged.
  const std::set<std::string> unacked = Column(
      db, "SELECT row_id FROM outbox WHERE seq > (SELECT coalesce(max(value), 0) FROM sync_state "
          "WHERE key = 'acked_seq')");
  MILLRACE_ASSIGN_OR_RETURN(
      auto r, c.admin().Query("SELECT id::text FROM millrace.production_event WHERE kind = "
                              "'COUNT' AND site_id = $1",
                              {site}));
  std::set<std::string> at_central;
  for (int i = 0; i < r.rows(); ++i) at_central.insert(r.GetString(i, 0));
  std::uint64_t lost = 0;
  for (const auto& id : counts) {
    if (at_central.count(id)) continue;
    if (!unacked.count(id))
      return Status::Internal("count " + id + " of the dead " + site +
                              " store is missing at central but had left its outbox");
    ++lost;
  }
  return lost;
}

int Fail(const std::string& what) {
  std::cerr << "chaos: FAILED: " << what << "\n";
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: chaos_tests MES_CENTRAL MES_EDGE [--cycles N] [--seconds S] [--seed X]\n";
    return 2;
  }
  int cycles = 3, seconds = 8;
  std::uint64_t seed = 1;
  for (int i = 3; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--cycles") cycles = std::atoi(argv[i + 1]);
    else if (flag == "--seconds") seconds = std::atoi(argv[i + 1]);
    else if (flag == "--seed") seed = std::strtoull(argv[i + 1], nullptr, 10);
    else return Fail("unknown option " + flag);
  }
  (void)InitLogging({.level = "error", .format = "human", .program = "chaos"});
  auto created = SyncCluster::Create({argv[1], argv[2]}, "chaos");
  if (!created.ok()) return Fail(created.status().ToString());
  SyncCluster& c = **created;
  if (Status s = c.StartCentral(); !s.ok()) return Fail(s.ToString());
  const std::vector<std::pair<std::string, std::string>> sites = {
      {"acme", "lyon"}, {"acme", "porto"}, {"globex", "tokyo"}};
  for (const char* t : {"acme", "globex"})
    if (Status s = c.CreateTenant(t); !s.ok()) return Fail(s.ToString());
  if (Status s = c.SeedDemo("acme", {"lyon", "porto"}); !s.ok()) return Fail(s.ToString());
  if (Status s = c.SeedDemo("globex", {"tokyo"}); !s.ok()) return Fail(s.ToString());
  std::map<std::string, std::unique_ptr<TcpProxy>> proxies;
  for (const auto& [tenant, site] : sites) {
    auto proxy = TcpProxy::Start(c.sync_port());
    if (!proxy.ok()) return Fail(proxy.status().ToString());
    const std::string via = "tcp://127.0.0.1:" + std::to_string((*proxy)->port());
    proxies[site] = std::move(*proxy);
    c.SetBackupSection(site, "interval_minutes = 0.1\n");  // shipped to central every 6 s
    if (Status s = c.AddSite(tenant, site, via); !s.ok()) return Fail(s.ToString());
    if (Status s = c.StartEdge(site); !s.ok()) return Fail(s.ToString());
  }

  std::mt19937_64 rng(seed);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<std::uint64_t>(n)); };
  std::map<std::string, Totals> totals;
  std::map<std::string, int> fault_counts;
  std::vector<int> deck;
  int replaced = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (int cycle = 1; cycle <= cycles; ++cycle) {
    // Load: one simulator per site, so each site's acknowledged writes are known.
    std::vector<std::unique_ptr<edge::Simulator>> sims;
    std::vector<std::thread> runners;
    for (const auto& [tenant, site] : sites) {
      edge::SimulatorOptions o;
      o.edges = {c.edge_url(site)};
      o.seed = seed * 1000 + static_cast<std::uint64_t>(cycle);
      o.units = 3;
      o.cycle = std::chrono::milliseconds(40);
      o.duration = std::chrono::seconds(seconds);
      sims.push_back(std::make_unique<edge::Simulator>(o));
      edge::Simulator* sim = sims.back().get();
      runners.emplace_back([sim] { (void)sim->Run(); });
    }
    // Faults at random moments of the cycle.
    std::vector<std::string> faults, kinds;
    std::vector<std::pair<std::string, std::string>> dead;  // site, its dead machine's dir
    const int n_faults = 2 + pick(2);
    for (int f = 0; f < n_faults; ++f) {
      std::this_thread::sleep_for(std::chrono::milliseconds(300 + pick(seconds * 1000 / (n_faults + 1))));
      const std::string site = sites[static_cast<std::size_t>(pick(3))].second;
      // Kinds come from a shuffled deck, so any run with seven faults or more has them all.
      if (deck.empty()) {
        deck = {0, 1, 2, 3, 4, 5, 6};
        std::shuffle(deck.begin(), deck.end(), rng);
      }
      const int kind = deck.back();
      deck.pop_back();
      switch (kind) {
        case 0:
          faults.push_back("cut " + site);
          kinds.push_back("cut link");
          proxies[site]->Cut();
          std::this_thread::sleep_for(std::chrono::milliseconds(500 + pick(1500)));
          proxies[site]->Heal();
          break;
        case 1:
          faults.push_back("slow " + site);
          kinds.push_back("slow link");
          proxies[site]->SetDelay(std::chrono::milliseconds(20 + pick(150)));
          std::this_thread::sleep_for(std::chrono::milliseconds(1000 + pick(1000)));
          proxies[site]->SetDelay(std::chrono::milliseconds(0));
          break;
        case 2:
          faults.push_back("kill -9 edge " + site);
          kinds.push_back("kill -9 edge");
          c.StopEdge(site, SIGKILL);
          std::this_thread::sleep_for(std::chrono::milliseconds(300 + pick(700)));
          if (Status s = c.StartEdge(site); !s.ok()) return Fail(s.ToString());
          break;
        case 3:
          faults.push_back("kill -9 central");
          kinds.push_back("kill -9 central");
          c.StopCentral(SIGKILL);
          std::this_thread::sleep_for(std::chrono::milliseconds(300 + pick(1000)));
          if (Status s = c.StartCentral(); !s.ok()) return Fail(s.ToString());
          break;
        case 4:
          faults.push_back("restart postgres");
          kinds.push_back("restart postgres");
          if (Status s = c.RestartPostgres(); !s.ok()) return Fail(s.ToString());
          break;
        case 5: {
          // The edge's wall clock jumps (a bad NTP source, a dead RTC battery) and is
          // corrected later. Two hours ahead is past central's skew limit: central clamps
          // the site's shared-row clocks and sends the rows back.
          static const std::int64_t kSteps[] = {2 * 3600 * 1000, -2 * 3600 * 1000, 90 * 1000,
                                                -90 * 1000};
          const std::int64_t step = kSteps[pick(4)];
          faults.push_back("clock " + std::string(step > 0 ? "+" : "") + std::to_string(step / 1000) +
                           " s " + site);
          kinds.push_back(step > 0 ? "clock stepped forward" : "clock stepped back");
          if (Status s = c.SetEdgeClockOffset(site, std::chrono::milliseconds(step)); !s.ok())
            return Fail(s.ToString());
          std::this_thread::sleep_for(std::chrono::milliseconds(1000 + pick(1500)));
          if (Status s = c.SetEdgeClockOffset(site, std::chrono::milliseconds(0)); !s.ok())
            return Fail(s.ToString());
          break;
        }
        case 6: {
          const std::string dir = c.site_dir(site) + ".dead-" + std::to_string(++replaced);
          Status s = c.ReplaceEdge(c.site_tenants().at(site), site,
                                   "tcp://127.0.0.1:" + std::to_string(proxies[site]->port()), dir);
          if (s.code() == StatusCode::kFailedPrecondition) {  // no verified backup yet
            faults.push_back("replace edge " + site + " skipped: " + s.message());
            kinds.push_back("edge replacement skipped");
            break;
          }
          if (!s.ok()) return Fail(s.ToString());
          faults.push_back("edge " + site + " replaced from central's backup");
          kinds.push_back("edge replaced from central's backup");
          dead.emplace_back(site, dir);
          break;
        }
      }
      fault_counts[kinds.back()]++;
    }
    for (auto& r : runners) r.join();
    for (std::size_t i = 0; i < sites.size(); ++i) {
      auto st = sims[i]->Snapshot();
      totals[sites[i].second].counts += st.events["good"] + st.events["scrap"];
      totals[sites[i].second].unanswered += st.failed;
    }
    // Heal and converge.
    for (auto& [site, proxy] : proxies) {
      proxy->Heal();
      proxy->SetDelay(std::chrono::milliseconds(0));
    }
    Status converged = c.WaitConverged(std::chrono::seconds(120));
    if (!converged.ok()) {
      // Explain the failure: what this cycle did, where every site's sync stands, the logs.
      std::string did;
      for (const auto& f : faults) did += " [" + f + "]";
      std::cerr << "chaos: cycle " << cycle << " faults:" << did << "\n" << c.Diagnose();
      c.KeepAfterwards();
      return Fail("cycle " + std::to_string(cycle) + " (faults" + did + "): " + converged.ToString());
    }
    for (const auto& [site, dir] : dead) {
      auto lost = LostWithDisk(c, site, dir);
      if (!lost.ok()) {
        c.KeepAfterwards();
        return Fail(lost.status().ToString());
      }
      totals[site].lost_with_disk += *lost;
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
    for (const auto& [tenant, site] : sites) {
      auto r = c.admin().Query(
          "SELECT count(*) FROM millrace.production_event WHERE kind = 'COUNT' AND site_id = $1",
          {site});
      if (!r.ok()) return Fail(r.status().ToString());
      const std::uint64_t at_central = std::stoull(r->GetString(0, 0));
      const Totals& t = totals[site];
      if (at_central + t.lost_with_disk < t.counts || at_central > t.counts + t.unanswered) {
        std::cerr << c.Diagnose();
        c.KeepAfterwards();
        return Fail("site " + site + ": central holds " + std::to_string(at_central) +
                    " counts; terminals were told " + std::to_string(t.counts) + " succeeded and " +
                    std::to_string(t.unanswered) + " went unanswered; " +
                    std::to_string(t.lost_with_disk) + " were lost with a dead disk");
      }
    }
    auto rejects = c.admin().Query("SELECT count(*) FROM millrace.sync_reject");
    if (!rejects.ok() || rejects->GetString(0, 0) != "0") return Fail("rows in sync_reject");
    std::cout << "chaos: cycle " << cycle << "/" << cycles << " converged after";
    for (const auto& f : faults) std::cout << " [" << f << "]";
    std::cout << "; counts acked so far:";
    for (const auto& [site, t] : totals) {
      std::cout << " " << site << " " << t.counts;
      if (t.lost_with_disk) std::cout << " (" << t.lost_with_disk << " lost with a dead disk)";
    }
    std::cout << std::endl;
  }
  const double took =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::cout << "chaos: PASSED " << cycles << " cycles in " << static_cast<int>(took) << " s; faults:";
  for (const auto& [kind, n] : fault_counts) std::cout << " [" << kind << "] x" << n;
  std::cout << "\n";
  return 0;
}
