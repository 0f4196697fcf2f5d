// The PostgreSQL storage of central's half of sync (private to central/src): one session
// per server worker, with its own connection. The protocol itself (dispatch, cursors,
// gaps, duplicates, sorting by merge policy, clamps) is sync::CentralProtocol; this file
// only stores what it decided. Its methods live in three files by subject:
// sync_service.cc (the site lock, batches, the feed), sync_store_epochs.cc (Hello and the
// site's store incarnations), sync_key_rotation.cc (site key rotation), sync_backups.cc
// (the site backups edges ship), sync_drift.cc (the drift checks sites run).
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "millrace/central/central_store.h"
#include "millrace/central/pg.h"
#include "millrace/central/sync_service.h"
#include "millrace/common/row.h"
#include "millrace/sync/central_side.h"
#include "millrace/sync/drift.h"
#include "millrace/sync/v1/sync.pb.h"

namespace millrace::central {

namespace v1 = sync::v1;

// The disk a site reported (free beside its store, or the store's size), as a statement
// parameter: NULL when it did not say (central keeps what it last heard).
inline PgParam ReportedDisk(const v1::SiteStatus& s, bool free) {
  if (free ? !s.has_disk_free_bytes() : !s.has_store_bytes()) return std::nullopt;
  return std::to_string(free ? s.disk_free_bytes() : s.store_bytes());
}

// The indexes central took of sites' rows for the drift checks running, one per site, shared
// by the workers (a check's probes may reach any of them). Entries unused for a quarter of
// an hour are dropped; a dropped index is taken again at the next probe.
class DriftIndexCache {
 public:
  std::shared_ptr<const sync::RangeIndexes> Find(const std::string& site_key,
                                                 std::uint64_t check_id);
  void Put(const std::string& site_key, std::uint64_t check_id,
           std::shared_ptr<const sync::RangeIndexes> indexes);
  void Drop(const std::string& site_key);

 private:
  struct Entry {
    std::uint64_t check_id = 0;
    std::shared_ptr<const sync::RangeIndexes> indexes;
    std::chrono::steady_clock::time_point used;
  };
  std::mutex mu_;
  std::map<std::string, Entry> entries_;
};

class SyncService::Session final : public sync::CentralSession {
 public:
  explicit Session(SyncService* svc) : svc_(svc) {}

  Result<sync::SiteCursor> LockSite(const sync::Peer& peer) override;
  Status Release() override;
  Result<sync::ApplyOutcome> CommitBatch(const sync::Peer& peer, sync::SortedBatch& batch,
                                         std::uint64_t last_seq, const std::string& epoch,
                                         bool row_by_row) override;
  Result<sync::FeedPage> ReadFeed(const sync::Peer& peer, std::uint64_t cursor,
                                  std::uint32_t limit) override;
  Result<v1::HelloReply> Hello(const sync::Peer& peer, const v1::Hello& h) override;
  Result<v1::KeyRotated> RotateKey(const sync::Peer& peer, const v1::KeyRotation& k) override;
  Status EdgeRefused(const sync::Peer& peer, const v1::Hello& h, const std::string& why) override;
  Result<v1::BackupOfferReply> BackupOffer(const sync::Peer& peer,
                                           const v1::BackupOffer& offer) override;
  Result<v1::BackupChunkAck> BackupChunk(const sync::Peer& peer,
                                         const v1::BackupChunk& chunk) override;
  Result<v1::DriftReply> Drift(const sync::Peer& peer, const v1::DriftRequest& r) override;
  void Reset(const Status& why) override;

 private:
  // sync_drift.cc: central's index of the site's rows for a check, taken (and the check
  // marked running) at its first probe, the site's facts before the later of the edge's
  // horizon (the probe's) and the tenant's retention left out; fingerprinted in the shape of
  // the edge's schema (sync/schema_translation.h).
  Result<std::shared_ptr<const sync::RangeIndexes>> DriftIndex(const sync::Peer& peer,
                                                               std::uint64_t check_id,
                                                               std::uint64_t horizon_ms,
                                                               int edge_schema);
  Result<v1::DriftRepaired> DriftRepair(const sync::Peer& peer, std::uint64_t check_id,
                                        const v1::DriftRepair& r, int edge_schema);
  Status DriftOutcome(const sync::Peer& peer, std::uint64_t check_id, const v1::DriftOutcome& o);
  Status Connect();

  // The site's registry row as the applier needs it.
  struct SiteRow {
    std::uint64_t applied = 0;
    std::string epoch;            // empty: no store has connected since epochs began
    double silent_s = -1;         // seconds since the site was last heard; -1: never
    bool rotate_key = false;      // mes-central rotate-site-key asked for a new key
    int rotation_grace_s = 3600;  // how long the old key works once the new one is in
    std::uint64_t drift_check = 0;  // the drift check the site is asked to run; 0: none
  };

  // Locks (or reads) the site's row. PermissionDenied when the site is revoked or unknown,
  // or the connection's key has been retired (rotated) since its handshake.
  Result<SiteRow> Site(const sync::Peer& peer, bool lock);

  Result<std::uint64_t> FeedHead(const std::string& tenant);

  // A Hello from a store that is not the site's current one: the site's first store
  // epoch (adopted with the cursor as it stands), a new incarnation (restored or copied:
  // it becomes the site's store, resumed after its base seq, and gets back the site's rows
  // stamped after its fork HLC), or a refusal (a superseded store; a second store while
  // the current one is live).
  Result<v1::HelloReply> NewStore(const sync::Peer& peer, const v1::Hello& h);

  // The site's own rows (facts, site-owned and shared) stamped after `hlc`, and the
  // deletes of its shared rows made after it: what a store whose clock stood at `hlc`
  // lacks or holds still. Central's own master data reaches it by its feed cursor.
  Result<std::vector<FeedRow>> RowsStampedAfter(const sync::Peer& peer, std::uint64_t hlc);

  // Runs `write` inside a savepoint; on failure rolls it back and parks the row.
  template <typename F>
  Status Guarded(const F& write, sync::ParkedChange reject,
                 std::vector<sync::ParkedChange>& rejects);

  static sync::ParkedChange RejectOf(const Row& row, std::uint64_t seq,
                                     v1::Op op = v1::OP_UPSERT);

  // Writes a sorted batch. Fast: COPY and multi-row statements. Row by row: one row at a
  // time, parking each row that fails.
  Status Write(const sync::Peer& peer, sync::SortedBatch& b, bool row_by_row,
               std::vector<FeedRow>* feed, std::size_t* conflicts);

  Status StoreRejects(const sync::Peer& peer, const std::vector<sync::ParkedChange>& rejects);

  SyncService* svc_;
  std::unique_ptr<PgConnection> conn_;
};

}  // namespace millrace::central
