// Central's side of sync: admits site keys, applies upstream batches into PostgreSQL,
// serves the downstream feed. Plugs into sync::SyncServer (sync/server.h).
//
// A batch is applied in one transaction: tenant context by SET LOCAL, the site's cursor
// row locked, seqs at or below it skipped, facts COPYed straight into their tables (the
// locked cursor makes a replay harmless), site-owned rows upserted last-writer-wins,
// shared rows merged per column (central_store.h), the cursor advanced, then the ack.
// If the fast path fails on a row (a bad value, a fact already present) the batch is
// redone row by row: each unappliable row is parked in sync_reject with its reason and
// the stream moves on.
//
// Thread-safety: the CentralSide methods may be called from several threads; each
// handler is used by one worker thread.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "millrace/central/pg.h"
#include "millrace/common/clock.h"
#include "millrace/common/hlc.h"
#include "millrace/common/metrics.h"
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
};

class SyncService final : public sync::CentralSide {
 public:
  SyncService(SyncServiceOptions options, MetricsRegistry* metrics);
  ~SyncService() override;

  Result<std::unique_ptr<sync::RequestHandler>> NewHandler() override;
  Result<std::optional<sync::Peer>> FindActiveKey(const std::string& public_key) override;
  Result<std::optional<sync::Peer>> FindActiveSite(const std::string& site_id) override;

  // Called after a commit that grew a tenant's feed (wired to SyncServer::NotifyFeed).
  void SetFeedListener(std::function<void(const std::string&, std::uint64_t)> listener);

  class Handler;

 private:
  friend class Handler;
  struct SiteView {
    std::uint64_t applied_seq = 0;
    std::int64_t last_ack_ms = 0;
    std::uint64_t head_seq = 0, backlog_rows = 0, backlog_bytes = 0;
    std::int64_t oldest_unacked_ms = 0;
  };
  // acked: a batch was acknowledged (applied_seq only grows); otherwise a Hello, whose
  // applied_seq is the site's cursor in its current store epoch (it may be lower).
  void Observe(const sync::Peer& peer, const sync::v1::SiteStatus* status, std::uint64_t applied_seq,
               bool acked);
  void Collect();
  Result<std::optional<sync::Peer>> Lookup(const std::string& sql, const std::string& arg);
  void FeedGrew(const std::string& tenant, std::uint64_t head);

  SyncServiceOptions options_;
  std::unique_ptr<HybridClock> own_hlc_;
  HybridClock* hlc_;
  std::mutex lookup_mu_;
  std::unique_ptr<PgConnection> lookup_conn_;
  std::mutex listener_mu_;
  std::function<void(const std::string&, std::uint64_t)> listener_;

  std::mutex sites_mu_;
  std::map<std::pair<std::string, std::string>, SiteView> sites_;

  Family<Counter>& batches_;
  Family<Counter>& rows_;
  Family<Counter>& duplicates_;
  Family<Counter>& nacks_;
  Family<Counter>& conflicts_;
  Family<Counter>& rejects_;
  Family<Counter>& clamped_;
  Family<Counter>& epochs_started_;
  Family<Counter>& store_refusals_;
  Family<Histogram>& apply_seconds_;
  Family<Gauge>& applied_seq_;
  Family<Gauge>& last_ack_;
  Family<Gauge>& backlog_rows_;
  Family<Gauge>& backlog_bytes_;
  Family<Gauge>& oldest_age_;
};

}  // namespace millrace::central
