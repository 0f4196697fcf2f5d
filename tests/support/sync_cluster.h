// SyncCluster: a whole Millrace installation as real processes for integration tests and
// benchmarks: a fresh database on the suite's PostgreSQL, mes-central serving sync over
// CurveZMQ on a kernel-chosen loopback port, tenants with the demo master data, and
// provisioned edges (mes-edge) with their site state.
//
// Convergence is checked by content: for every synced table and every site, a hash over
// the site's rows (sorted by id, each encoded as its wire change) on the edge's SQLite
// and in central's PostgreSQL must be equal.
//
// Thread-safety: one test thread drives a cluster.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "millrace/central/pg.h"
#include "millrace/common/http_client.h"
#include "test_pg.h"

namespace millrace::testing {

// Asks `pred` every 20 ms until it holds or `timeout` passes; its last answer.
template <typename Pred>
bool WaitFor(std::chrono::milliseconds timeout, Pred pred) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return pred();
}

class ChildProcess {
 public:
  ChildProcess(std::vector<std::string> argv, std::filesystem::path log);
  ~ChildProcess();  // SIGKILL if still running
  Status Start();
  // Sends `sig` and waits for the exit. Returns the exit code (128+signal when killed).
  int Signal(int sig);
  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }

 private:
  std::vector<std::string> argv_;
  std::filesystem::path log_;
  pid_t pid_ = -1;
};

// Runs a command to completion; its stdout and stderr go to *output.
int RunCommand(const std::vector<std::string>& argv, std::string* output);

struct ClusterBinaries {
  std::string mes_central;
  std::string mes_edge;
};

class SyncCluster {
 public:
  // Central's [sync] store_takeover_grace_seconds in the cluster: longer than an idle
  // edge's Hello interval (5 s), short enough for tests that restore or copy a store.
  static constexpr int kStoreTakeoverGraceSeconds = 10;

  static Result<std::unique_ptr<SyncCluster>> Create(ClusterBinaries bins,
                                                     const std::string& name);
  // The same over a released schema fixture (tests/fixtures/schema/release-N): its
  // central database and Curve keys, migrated to this build's schema by mes-central migrate.
  static Result<std::unique_ptr<SyncCluster>> CreateFromFixture(ClusterBinaries bins,
                                                                const std::string& name,
                                                                const std::string& fixture);
  ~SyncCluster();

  // Central. The first start binds a free port; later starts reuse it, so provisioned
  // edges find central again after a restart.
  Status StartCentral();
  int StopCentral(int sig = SIGTERM);
  const std::string& sync_endpoint() const { return sync_endpoint_; }
  HttpEndpoint central_http() const { return central_http_; }
  // An admin token for central's HTTP (mes-central token create), made with the cluster.
  const std::string& admin_token() const { return admin_token_; }
  // The value of central's /metrics line that starts with `prefix` (a name with its
  // labels); -1: central did not answer, 0: no such line.
  double CentralMetric(const std::string& prefix);

  Status CreateTenant(const std::string& tenant);
  Status SeedDemo(const std::string& tenant, const std::vector<std::string>& sites);
  // StartCentral, CreateTenant and SeedDemo for `sites`: where most process tests begin,
  // before they add their sites (each its own way: through a proxy, with backups...).
  Status StartWithTenant(const std::string& tenant, const std::vector<std::string>& sites);
  // Provisions the site and seeds its site state (stock lots, work orders). The edge
  // connects to `endpoint` (a proxy, say) instead of central's own when given.
  Status AddSite(const std::string& tenant, const std::string& site,
                 const std::string& endpoint = "");
  // The fixture's edge store (as that release left it) and keys as site `site`; mes-edge
  // migrates the store when StartEdge starts it.
  Status AddFixtureSite(const std::string& tenant, const std::string& site,
                        const std::string& fixture);
  // The IANA time zone a site is provisioned with from now on (default UTC).
  void SetTimeZone(const std::string& site, const std::string& zone) { time_zones_[site] = zone; }
  // The [backup] section a site is provisioned with from now on (default: no scheduled
  // backups), e.g. "interval_minutes = 0.05\nship_chunk_kib = 8\n".
  void SetBackupSection(const std::string& site, const std::string& toml) {
    backup_sections_[site] = toml;
  }
  // Another section of a site's edge.toml from now on, e.g. ("retention",
  // "keep_facts_days = 7\n").
  void SetEdgeSection(const std::string& site, const std::string& section,
                      const std::string& toml) {
    edge_sections_[site][section] = toml;
  }
  // `mes-central jobs enqueue drift_check --wait` for one site: the job's result (empty when
  // it did not finish).
  nlohmann::json RunDriftCheck(const std::string& tenant, const std::string& site);
  // Runs `mes-central ARGS -c <the cluster's central.toml>`; its output goes to *out.
  Status CentralCommand(std::vector<std::string> args, std::string* out = nullptr);
  // Runs `sql` on central's PostgreSQL in `tenant`'s context, behind the sync engine's back.
  Status TenantSql(const std::string& tenant, const std::string& sql);
  // Only the provisioning (mes-central provision-site into site_dir(site)): for edges run
  // in-process, as the benchmarks do.
  Status Provision(const std::string& tenant, const std::string& site,
                   const std::string& endpoint = "");
  std::uint16_t sync_port() const;
  bool edge_running(const std::string& site) const { return edges_.count(site) > 0; }
  bool central_running() const { return central_ && central_->running(); }
  // Restarts the suite's PostgreSQL server (fast shutdown, as a crash would drop
  // connections) and waits until it accepts connections again.
  Status RestartPostgres();
  // Connects admin() again, after the server was restarted or restored from outside.
  Status ReconnectAdmin();
  Status StartEdge(const std::string& site);
  // The mes-edge `site` runs from its next StartEdge on (another release's build, say).
  void SetEdgeBinary(const std::string& site, std::string path) { edge_bins_[site] = std::move(path); }
  // Steps the site's edge clock: every edge runs with [clock] offset_file, and the running
  // edge picks the new offset up within 100 ms.
  Status SetEdgeClockOffset(const std::string& site, std::chrono::milliseconds offset);
  int StopEdge(const std::string& site, int sig = SIGTERM);
  // The edge's machine dies with its disk: kill -9, its directory moved to `dead_dir`
  // (kept to look into), and a new one started from `mes-central restore-site --force`
  // into the site's directory, with the cluster's edge settings, on the same HTTP port.
  // The edge connects to `endpoint`. FailedPrecondition when the site has no verified
  // backup yet (the edge is then left running).
  Status ReplaceEdge(const std::string& tenant, const std::string& site,
                     const std::string& endpoint, const std::string& dead_dir);
  Status RevokeSite(const std::string& tenant, const std::string& site);
  // mes-central put; returns its JSON answer.
  Result<nlohmann::json> Put(const std::string& tenant, const std::string& table,
                             const nlohmann::json& rows);

  std::string edge_url(const std::string& site) const {
    auto it = edge_http_.find(site);
    return it == edge_http_.end() ? "" : "http://127.0.0.1:" + std::to_string(it->second.port);
  }
  Result<nlohmann::json> EdgeCall(const std::string& site, const std::string& method,
                                  const std::string& target,
                                  const nlohmann::json& body = nullptr,
                                  const std::string& token = "");
  // Badges in at a work unit (by code; "" for a supervisor's desk session) and returns the
  // session token.
  Result<std::string> BadgeIn(const std::string& site, const std::string& badge,
                              const std::string& unit_code);
  // The demo site's work: releases WO-1001 and starts its first operation at L1-CUT (as
  // supervisor 2001 and operator 1001); returns the operation's id.
  Result<std::string> StartDemoWork(const std::string& site);
  // `n` counts of one good each on `operation` at L1-CUT, every one answered as saved.
  Status CountGood(const std::string& site, const std::string& operation, int n);
  // The id of the site's row of `table` where `column` = value (edge's store).
  Result<std::string> EdgeId(const std::string& site, const std::string& table,
                             const std::string& column, const std::string& value);

  // table -> content digest of what the running site holds (its GET /api/v1/sync/content),
  // and of what central holds for that site (central::SiteContent).
  Result<std::map<std::string, std::string>> EdgeContent(const std::string& site);
  Result<std::map<std::string, std::string>> CentralContent(const std::string& tenant,
                                                            const std::string& site);
  // Waits until every started site's content equals central's; the error lists the
  // tables that still differ.
  Status WaitConverged(std::chrono::seconds timeout);
  // Where sync stands, for a failure to explain itself: per site the edge's link (state,
  // backlog, acked and head seq, last error, loop counters), central's cursor and store
  // epoch, row counts per table on both sides where they differ, central's handshake and
  // frame counters, and the end of every log. Sampled twice, `gap` apart, so what moves
  // (and what does not) shows.
  std::string Diagnose(std::chrono::milliseconds gap = std::chrono::seconds(3));
  // Keeps the cluster's directory (logs, stores) and database after it ends.
  void KeepAfterwards() { keep_ = true; }

  central::PgConnection& admin() { return *admin_; }
  TestDatabase& db() { return *db_; }
  pid_t central_pid() const { return central_ ? central_->pid() : -1; }
  pid_t edge_pid(const std::string& site) const {
    auto it = edges_.find(site);
    return it == edges_.end() ? -1 : it->second->pid();
  }
  const std::filesystem::path& dir() const { return dir_; }
  std::string site_dir(const std::string& site) const { return (dir_ / site).string(); }
  const std::map<std::string, std::string>& site_tenants() const { return site_tenant_; }

 private:
  SyncCluster(ClusterBinaries bins, std::filesystem::path dir) : bins_(bins), dir_(dir) {}
  std::map<std::string, std::string> edge_bins_;  // SetEdgeBinary

  ClusterBinaries bins_;
  std::filesystem::path dir_;
  std::unique_ptr<TestDatabase> db_;
  std::unique_ptr<central::PgConnection> admin_;
  std::unique_ptr<ChildProcess> central_;
  std::string sync_endpoint_;
  std::string admin_token_;
  HttpEndpoint central_http_;
  std::map<std::string, std::string> site_tenant_;
  std::map<std::string, std::string> backup_sections_;
  std::map<std::string, std::map<std::string, std::string>> edge_sections_;
  void AppendEdgeSettings(const std::string& site);
  std::map<std::string, std::string> time_zones_;
  std::map<std::string, std::unique_ptr<ChildProcess>> edges_;
  std::map<std::string, HttpEndpoint> edge_http_;
  std::map<std::string, std::pair<pid_t, std::string>> supervisor_tokens_;  // for EdgeContent
  bool keep_ = false;
};

}  // namespace millrace::testing
