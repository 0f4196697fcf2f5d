// Edges inside a benchmark's process, and the steady load the fan-in runs put on them:
// each edge its own SQLite store, sync client and CurveZMQ socket, provisioned like any
// site, so a thousand sites fit one process.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "millrace/edge/store.h"
#include "millrace/edge/sync_adapter.h"
#include "millrace/sync/client.h"
#include "millrace/sync/transport.h"

namespace millrace::bench {

using SteadyClock = std::chrono::steady_clock;
inline double Seconds(SteadyClock::duration d) { return std::chrono::duration<double>(d).count(); }

// Appends n events to the store's outbox, 10,000 per transaction.
void FillEvents(edge::EdgeStore& store, const std::string& site, std::int64_t first,
                std::int64_t n);

class InProcessEdge {
 public:
  // `dir` is the site's provisioned directory (site.key). `readers`: the store's read
  // connections (the sync client is the only reader here).
  InProcessEdge(const std::string& site, const std::filesystem::path& dir,
                const std::string& endpoint, const std::string& central_public_key,
                int batch_rows, int window, int readers = 4);
  ~InProcessEdge() { Stop(); }

  void Start();
  void Stop();
  sync::SyncClientStats Stats() const;
  edge::EdgeStore& store() { return *store_; }
  const std::string& site() const { return site_; }

 private:
  std::string site_;
  std::unique_ptr<edge::EdgeStore> store_;
  std::unique_ptr<edge::EdgeSyncAdapter> adapter_;
  sync::ZmqClientOptions zo_;
  sync::SyncClientOptions co_;
  std::unique_ptr<sync::SyncClient> client_;
};

using Edges = std::vector<std::unique_ptr<InProcessEdge>>;

// Waits until every edge's client reports acked_seq >= target[i]; the seconds since t0.
// Gives up (Die) after timeout_s.
double WaitAcked(const Edges& edges, const std::vector<std::uint64_t>& target,
                 SteadyClock::time_point t0, double timeout_s, const std::string& what);

struct SteadyLoad {
  double commits_per_s = 10;  // per site
  int rows_per_commit = 1;
  double seconds = 15;
  int writers = 16;  // threads committing (a commit waits for its fsync)
};
struct SteadyResult {
  std::uint64_t rows = 0;
  double rows_per_s = 0;  // committed, as the writers achieved it (not as asked)
  double worst_lag_s = 0;  // the oldest unacknowledged change, sampled every 25 ms
  std::string worst_site;
  double lag_p99_s = 0;
  double drained_after_s = 0;  // from the start until every change was acknowledged
  std::vector<std::uint64_t> acked_target;  // each site's seq once all is acknowledged
};
// Every edge commits `rows_per_commit` events `commits_per_s` times a second, spread over
// the writer threads, while a sampler watches each site's lag; then waits for the acks.
SteadyResult RunSteadyLoad(Edges& edges, const SteadyLoad& load);

}  // namespace millrace::bench
