// SyncWorld: edges and central in one process on simulated time, for sync scenarios
// (scenario_runner.cc). Each edge is a real EdgeStore (SQLite in a temp directory), the
// real EdgeSyncAdapter and the real SyncClient; central is sync::CentralProtocol over an
// in-memory CentralSide (tests/support/memory_central.h). Between them a simulated
// network carries frames that a scenario can cut, heal or drop. Time moves only when the
// scenario says so, in ticks; each tick steps every client and lets central answer
// everything that reached it, so a run is the same every time.
//
// Thread-safety: one thread.
#pragma once

#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "memory_central.h"
#include "millrace/common/clock.h"
#include "millrace/edge/store.h"
#include "millrace/edge/sync_adapter.h"
#include "millrace/sync/central_protocol.h"
#include "millrace/sync/client.h"

namespace millrace::testing {

// The world's wall clock plus an edge's drift.
class OffsetClock final : public Clock {
 public:
  explicit OffsetClock(const Clock* base) : base_(base) {}
  std::int64_t NowMillis() const override { return base_->NowMillis() + offset_ms; }
  std::int64_t offset_ms = 0;

 private:
  const Clock* base_;
};

class SyncWorld {
 public:
  static constexpr std::int64_t kStartMs = 1'800'000'000'000;
  static constexpr std::int64_t kTickMs = 10;

  explicit SyncWorld(std::filesystem::path dir);
  ~SyncWorld();

  const std::string& tenant() const { return tenant_; }
  MemoryCentral& central() { return central_; }

  // A new site: provisioned at central, its edge opened on a fresh store.
  Status AddSite(const std::string& site);
  bool HasSite(const std::string& site) const { return edges_.count(site) > 0; }
  edge::EdgeStore& store(const std::string& site);
  sync::SyncClientStats Stats(const std::string& site) const;

  // The link of a site: while cut, frames both ways are lost and the client sees no link.
  void SetLink(const std::string& site, bool up);
  // Loses the next `n` frames from the site to central (up) or back (down).
  void Drop(const std::string& site, bool up, int n);
  // The site's clock runs `ms` ahead of the world's (negative: behind).
  void SetDrift(const std::string& site, std::int64_t ms);
  // The edge process stops and starts again on the same store file.
  Status RestartEdge(const std::string& site);
  // Central's process restarts: its workers' sessions are new, its database stays.
  Status RestartCentral();

  // Advances time by `ms`, a tick at a time.
  Status Run(std::int64_t ms);
  std::int64_t now_ms() const { return wall_.NowMillis(); }

  // table -> digest of what central holds that belongs on the site's edge, and of what the
  // edge holds (tables empty on both sides are left out).
  std::map<std::string, std::string> CentralContent(const std::string& site) const;
  Result<std::map<std::string, std::string>> EdgeContent(const std::string& site);

 private:
  struct Edge;
  class Link;

  Status OpenEdge(Edge& e);
  void CloseEdge(Edge& e);
  void Tick();
  void DeliverNudges();

  std::filesystem::path dir_;
  std::string tenant_ = "acme";
  ManualClock wall_;
  MetricsRegistry metrics_;
  MemoryCentral central_;
  std::unique_ptr<sync::CentralProtocol> protocol_;
  std::map<std::string, std::unique_ptr<Edge>> edges_;
  std::size_t nudges_seen_ = 0;
};

}  // namespace millrace::testing
