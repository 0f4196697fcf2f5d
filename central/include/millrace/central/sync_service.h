// Central's storage for the sync protocol: admits site keys, and gives each server worker
// a PostgreSQL session that applies upstream batches and serves the downstream feed.
// Plugs into sync::SyncServer as its sync::CentralSide (sync/central_side.h); the
// protocol's decisions are sync::CentralProtocol's.
//
// A batch is stored in one transaction: tenant context by SET LOCAL, the site's cursor
// row locked, facts COPYed straight into their tables (the locked cursor makes a replay
// harmless), site-owned rows upserted last-writer-wins, shared rows merged per column
// (central_store.h), rejects parked in sync_reject, rows to send back put on the feed,
// the cursor advanced, then the commit.
//
// Thread-safety: the CentralSide methods may be called from several threads; each
// session is used by one worker thread.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "millrace/central/backup_store.h"
#include "millrace/central/pg.h"
#include "millrace/common/clock.h"
#include "millrace/common/hlc.h"
#include "millrace/common/metrics.h"
#include "millrace/sync/central_metrics.h"
#include "millrace/sync/server.h"

namespace millrace::central {

struct SyncServiceOptions {
  std::string database_url;
  const Clock* clock = SystemClock();
  // A shared-row change stamped further ahead of central's clock than this is clamped to
  // central's clock (and counted): a site whose clock runs hours fast cannot win forever.
  std::int64_t max_forward_skew_ms = 5 * 60 * 1000;
  // The process's one hybrid clock, which observes every HLC the service applies and
  // stamps central's own changes; null: the service keeps its own. Outlives the service.
  HybridClock* hlc = nullptr;
  // A store that is not the site's current one (a new epoch: restored or copied) becomes
  // its store only when the current one has said nothing for this long; until then it is
  // refused, so a copy started next to a running edge cannot take the site over.
  std::int64_t store_takeover_grace_ms = 30'000;
  // Where the site backups edges ship over the sync link are kept (sync_backups.cc);
  // null: central declines them. Outlives the service.
  BackupStore* backups = nullptr;
  std::string node;  // this node's name, recorded with the backups it received
};

class DriftIndexCache;

class SyncService final : public sync::CentralSide {
 public:
  SyncService(SyncServiceOptions options, MetricsRegistry* metrics);
  ~SyncService() override;

  Result<std::unique_ptr<sync::CentralSession>> NewSession() override;
  Result<std::optional<sync::Peer>> FindActiveKey(const std::string& public_key) override;
  Result<std::optional<sync::Peer>> FindActiveSite(const std::string& site_id) override;
  const catalog::Catalog& Catalog() const override;
  sync::ClockPolicy Clocks() override;
  void FeedGrew(const std::string& tenant_id, std::uint64_t head) override;
  sync::CentralSyncMetrics& Metrics() override { return metrics_; }

  // Called after a commit that grew a tenant's feed (wired to SyncServer::NotifyFeed).
  void SetFeedListener(std::function<void(const std::string&, std::uint64_t)> listener);

  class Session;

 private:
  friend class Session;
  Result<std::optional<sync::Peer>> Lookup(const std::string& sql, const std::string& arg);

  SyncServiceOptions options_;
  std::unique_ptr<HybridClock> own_hlc_;
  HybridClock* hlc_;
  std::mutex lookup_mu_;
  std::unique_ptr<PgConnection> lookup_conn_;
  std::mutex listener_mu_;
  std::function<void(const std::string&, std::uint64_t)> listener_;
  sync::CentralSyncMetrics metrics_;
  std::unique_ptr<DriftIndexCache> drift_indexes_;  // sync_drift.cc
};

}  // namespace millrace::central
