// The edge store as the sync client sees it (sync/client.h): outbox reads and purges,
// the downstream cursor, applying feed batches, and the edge's half of drift checks.
//
// A feed batch applies in one SQLite transaction together with the new cursor, without
// capture. A shared row (work order, lot, ...) with a local change still waiting in the
// outbox is left alone: that change is on its way to central, which merges it and sends
// the merged row back, so the edge never loses its own edit to an older central copy. Nor
// is a row older than the store's copy taken (one published before central merged the
// store's later write), unless central clamped the store's clock of it. A row central
// sends back to a restored store is put right afterwards (recovery.h).
//
// Thread-safety: used by the sync client's thread; the store itself is thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "millrace/edge/store.h"
#include "millrace/sync/client.h"

namespace millrace::edge {

class EdgeSyncAdapter final : public sync::EdgeSide {
 public:
  // REQUIRES: store outlives the adapter. Acknowledged outbox entries are purged once
  // older than keep_acked (0: at once), so a central restored from an older backup gets
  // them again.
  explicit EdgeSyncAdapter(EdgeStore* store,
                           std::chrono::milliseconds keep_acked = std::chrono::milliseconds(0));
  ~EdgeSyncAdapter() override;  // finishes the last purge
  EdgeSyncAdapter(const EdgeSyncAdapter&) = delete;
  EdgeSyncAdapter& operator=(const EdgeSyncAdapter&) = delete;

  // Records the watermark and returns at once: a purge thread deletes the acknowledged
  // entries (coalescing acks), so the client keeps sending while SQLite commits the purge.
  Result<std::vector<sync::OutboxRecord>> ReadOutbox(std::uint64_t after_seq, int limit) override;
  Status Acknowledged(std::uint64_t seq) override;
  // Waits until every watermark recorded so far is purged (tests, shutdown).
  void FlushPurges();
  Result<std::uint64_t> FeedCursor() override;
  Status RewindFeed(std::uint64_t cursor) override;
  Status ApplyFeed(const sync::v1::FeedBatch& batch) override;
  Result<sync::v1::SiteStatus> Backlog() override;
  // Retention (retention.h): central's fact horizon recorded (written only when it
  // changes); the horizon comparisons cut the site's facts at.
  Status CentralFactHorizon(std::uint64_t horizon_ms) override;
  // Drift checks (sync/drift_run.h), in sync_drift.cc: every table of the catalog in one
  // read snapshot (the site's facts before the horizon left out); central's copies written
  // as they stand and the edge's read, each only while the row is as indexed and no change
  // of it waits in the outbox.
  Result<sync::RangeIndexes> DriftIndexes(std::uint64_t* horizon_ms) override;
  Result<std::size_t> WriteCentralCopies(const std::string& table,
                                         const std::vector<sync::v1::Change>& rows,
                                         const std::vector<std::string>& remove,
                                         const sync::RangeIndex& indexed) override;
  Result<std::vector<sync::v1::Change>> EdgeCopies(const std::string& table,
                                                   const std::vector<std::string>& ids,
                                                   const sync::RangeIndex& indexed) override;
  // Feed rows this edge refused (logged): out of its bounds, or of a table it lacks.
  std::uint64_t feed_rows_refused() const { return feed_rows_refused_; }

 private:
  void PurgeLoop();

  EdgeStore* store_;
  const std::chrono::milliseconds keep_acked_;
  std::optional<std::uint64_t> central_horizon_;  // as last recorded
  std::atomic<std::uint64_t> feed_rows_refused_{0};
  // A note of sent-back rows may be left (a failed reconcile, here or at start): look at
  // the first batch, and after each failure. Used by ApplyFeed's thread only.
  bool reconcile_again_ = true;
  std::mutex mu_;
  std::condition_variable cv_;
  std::uint64_t purge_target_ = 0, purged_ = 0;
  bool stopping_ = false;
  std::thread purger_;
};

// The sync client's options that come from the store: node and site, the catalog, and the
// store epoch it speaks for (central refuses a client that names none). The caller adds
// tuning (batch size, window) and keys.
sync::SyncClientOptions SyncClientOptionsFor(const EdgeStore& store);

// table -> content digest (sync/content.h) of every row the store holds, in one read
// snapshot, the site's facts made before the fact horizon left out (retention.h). Equal to
// central's SiteContent() for this site once the two have converged.
Result<std::map<std::string, std::string>> StoreContent(EdgeStore& store);

// Applies a snapshot written by central's site provisioning (a serialized FeedBatch) to a
// store that has never synced. FailedPrecondition when the store already has a cursor.
Status ApplySnapshotFile(EdgeStore& store, const std::string& path);

}  // namespace millrace::edge
