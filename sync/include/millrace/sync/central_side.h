// CentralSide: what central's storage plugs into the server's half of the sync protocol,
// the mirror of the edge's EdgeSide (client.h). The protocol (central_protocol.h) owns
// dispatch, cursors, gap and duplicate handling, sorting changes by merge policy and
// clamping clocks; a CentralSide stores what it decided, in PostgreSQL in production
// (central/), in memory in unit tests. Nothing here knows a database or an MES table.
//
// A CentralSide is shared by every worker of the server; each worker owns one
// CentralSession (one database connection), used by that worker's thread only.
//
// Thread-safety: CentralSide methods from any thread; a CentralSession from one thread.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "millrace/common/catalog.h"
#include "millrace/common/clock.h"
#include "millrace/common/hlc.h"
#include "millrace/common/row.h"
#include "millrace/common/status.h"
#include "millrace/sync/merge.h"
#include "millrace/sync/v1/sync.pb.h"

namespace millrace::sync {

class CentralSyncMetrics;  // central_metrics.h

// An authenticated connection's site. Tenant and site come from the Curve key, never from
// a payload.
struct Peer {
  std::string tenant_id;
  std::string site_id;
  std::string public_key;  // the Curve key of the connection; empty in development mode
};

// A change the site sent that central cannot apply: parked with its reason, the stream
// moves on.
struct ParkedChange {
  std::uint64_t seq = 0;
  std::string table, row_id, reason;
  std::string change;  // the serialized v1::Change as it arrived (or as it was decoded)
};

// A site-owned row and the seq of the change that carried it.
struct SeqRow {
  std::uint64_t seq;
  Row row;
};

// A change of a shared row, with its column clock (merge.h).
struct SharedChange {
  Row row;
  ColumnClock clock;
  std::uint64_t base_hlc = 0;
  std::vector<std::uint32_t> changed_columns;
  bool publish = false;   // central altered the row (its clock clamped): send it back
  std::uint64_t seq = 0;  // the upstream change that carried it (0: central's own edit)
  // A delete (v1::OP_DELETE): `row` is the row as its writer last held it, stamped with the
  // delete's clock; base_hlc the row's hlc before the delete (merge.h MergeDelete).
  bool deleted = false;
};

// A shared-row change whose clock central clamped: logged and counted once the batch
// commits, so a batch retried row by row counts it once.
struct Clamp {
  std::string table, row_id, clamped_to;
  std::int64_t ahead_ms;
};

// A batch sorted into what each merge policy does with it (SortBatch). Every row keeps the
// seq of its change, so a row parked on the row-by-row path is parked under its own seq.
struct SortedBatch {
  std::map<const catalog::TableSpec*, std::vector<Row>> facts;
  std::map<const catalog::TableSpec*, std::vector<std::uint64_t>> fact_seqs;      // parallel
  std::map<const catalog::TableSpec*, std::map<std::string, SeqRow>> site_owned;  // by id
  std::map<const catalog::TableSpec*, std::vector<SharedChange>> shared;          // in seq order
  std::vector<ParkedChange> rejects;
  std::vector<Clamp> clamps;
  std::size_t rows = 0;  // changes past the cursor, parked ones included
  v1::SiteStatus status;  // what the site reported with the batch (its outbox, its disk)
};

// The site's cursor row as the protocol needs it.
struct SiteCursor {
  std::uint64_t applied = 0;  // highest contiguous seq applied in the current epoch
  std::string epoch;          // empty: no store has named its epoch yet
  bool rotate_key = false;    // central asks the site for a new Curve key pair
  std::uint64_t drift_check = 0;  // central asks the site to run this drift check; 0: none
};

// What committing a batch did.
struct ApplyOutcome {
  std::size_t conflicts = 0;    // concurrent edits of shared rows the merge resolved
  std::uint64_t feed_head = 0;  // the tenant's feed head after the batch; 0: it did not grow
};

// One page of a tenant's downstream feed in a site's scope.
struct FeedPage {
  std::vector<v1::Change> changes;  // in feed order; Change.seq is the feed position
  std::uint64_t head = 0;           // the tenant's feed head when the page was read
};

// One worker's storage session. Every method is called from that worker's thread.
class CentralSession {
 public:
  virtual ~CentralSession() = default;

  // Opens a transaction in the peer's tenant and locks the site's cursor row until
  // CommitBatch() or Release(). PermissionDenied for a revoked or unknown site, or a
  // connection whose key was retired (rotated) since its handshake.
  virtual Result<SiteCursor> LockSite(const Peer& peer) = 0;
  // Ends LockSite()'s transaction without writing.
  virtual Status Release() = 0;
  // Inside LockSite()'s transaction: writes `batch` (all at once, or when `row_by_row` one
  // row at a time, parking each row that fails into batch.rejects), parks batch.rejects,
  // puts the shared rows whose merged state differs from what the site sent on the feed,
  // advances the cursor to `last_seq` of `epoch`, and commits. On failure nothing of it
  // stays (the transaction is rolled back) and the error says why; Unavailable means the
  // database is out of reach, anything else that a row refused.
  virtual Result<ApplyOutcome> CommitBatch(const Peer& peer, SortedBatch& batch,
                                           std::uint64_t last_seq, const std::string& epoch,
                                           bool row_by_row) = 0;
  // The changes of the tenant's feed after `cursor` that the site's scope receives, at
  // most `limit`, read in one snapshot with the head. PermissionDenied as LockSite().
  virtual Result<FeedPage> ReadFeed(const Peer& peer, std::uint64_t cursor,
                                    std::uint32_t limit) = 0;
  // A Hello the protocol has checked (site, catalog, epoch named): the site's store
  // epochs (sync.proto), its liveness, its feed head. A refusal of the store is an error
  // the edge shows.
  virtual Result<v1::HelloReply> Hello(const Peer& peer, const v1::Hello& hello) = 0;
  // The site's new public key, sent over the link its current key authenticated.
  // An edge central does not serve (its schema or catalog): recorded for the fleet view.
  virtual Status EdgeRefused(const Peer& peer, const v1::Hello& hello, const std::string& why) {
    (void)peer, (void)hello, (void)why;
    return Status::Ok();
  }
  virtual Result<v1::KeyRotated> RotateKey(const Peer& peer, const v1::KeyRotation& rotation) = 0;
  // Site backups (sync.proto BackupOffer), offers the protocol has checked
  // (CheckBackupOffer): where central's copy of the backup stands. A central that keeps no
  // site backups declines, which is the default.
  virtual Result<v1::BackupOfferReply> BackupOffer(const Peer& peer, const v1::BackupOffer& offer) {
    (void)peer;
    v1::BackupOfferReply r;
    r.set_backup_id(offer.backup_id());
    r.set_declined(true);
    r.set_reason("this central keeps no site backups");
    return r;
  }
  // Appends a chunk of a backup offered before; the chunk that completes it makes central
  // check the whole file's SHA-256 and keep it (complete) or drop it (refused).
  virtual Result<v1::BackupChunkAck> BackupChunk(const Peer& peer, const v1::BackupChunk& chunk) {
    (void)peer;
    (void)chunk;
    return Status::FailedPrecondition("this central keeps no site backups");
  }
  // One step of a drift check the site runs (sync.proto DriftRequest, drift_run.h), a
  // request the protocol has checked (CheckDriftRequest): answers a probe from central's
  // index of the site's tables as of the check's first probe, central's copies of rows,
  // central taking the site's copies (each only while central's row is as that index
  // holds it), or records the outcome. A central that checks no drift refuses, which is
  // the default.
  virtual Result<v1::DriftReply> Drift(const Peer& peer, const v1::DriftRequest& request) {
    (void)peer;
    (void)request;
    return Status::FailedPrecondition("this central checks no drift");
  }
  // A request failed with `why`: drop whatever is open (and the connection itself when
  // the database was out of reach), so the next request starts clean.
  virtual void Reset(const Status& why) = 0;
};

// How central's clock treats the HLCs it receives.
struct ClockPolicy {
  const Clock* clock = SystemClock();
  HybridClock* hlc = nullptr;  // observes every HLC applied; stamps clamped changes
  // A shared-row change stamped further ahead than this is clamped to central's clock.
  std::int64_t max_forward_skew_ms = 5 * 60 * 1000;
};

class CentralSide {
 public:
  virtual ~CentralSide() = default;
  // A storage session for one worker.
  virtual Result<std::unique_ptr<CentralSession>> NewSession() = 0;
  // The active site whose Curve public key (Z85) this is; nullopt for unknown or revoked.
  // Called from the transport's handshake thread.
  virtual Result<std::optional<Peer>> FindActiveKey(const std::string& public_key) = 0;
  // Development mode only: the active site with this id.
  virtual Result<std::optional<Peer>> FindActiveSite(const std::string& site_id) = 0;
  // The catalog the sites' changes are decoded with, and its clocks.
  virtual const catalog::Catalog& Catalog() const = 0;
  virtual ClockPolicy Clocks() = 0;
  // A commit grew the tenant's feed to `head` (after the commit): nudge its sites.
  virtual void FeedGrew(const std::string& tenant_id, std::uint64_t head) = 0;
  // Where the protocol counts what it did; lives as long as the CentralSide.
  virtual CentralSyncMetrics& Metrics() = 0;
};

}  // namespace millrace::sync
