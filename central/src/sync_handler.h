// The worker-side handler of central's sync service (private to central/src): one per
// worker thread, with its own PostgreSQL connection. Its methods live in three files by
// subject: sync_service.cc (dispatch, the upstream applier, the feed), sync_store_epochs.cc
// (Hello and the site's store incarnations), sync_key_rotation.cc (site key rotation).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "millrace/central/central_store.h"
#include "millrace/central/pg.h"
#include "millrace/central/sync_service.h"
#include "millrace/common/row.h"
#include "millrace/sync/v1/sync.pb.h"

namespace millrace::central {

namespace v1 = sync::v1;

namespace detail {

struct Reject {
  std::uint64_t seq;
  std::string table, row_id, reason, change;
};

// A site-owned row and the seq of the change that carried it.
struct SeqRow {
  std::uint64_t seq;
  Row row;
};

// A shared-row change whose clock central clamped: logged and counted once the batch
// commits, so a batch retried on the row-by-row path counts it once.
struct Clamp {
  std::string table, row_id, clamped_to;
  std::int64_t ahead_ms;
};

// A batch sorted into what each merge policy does with it. Every row keeps the seq of its
// change, so a row parked on the row-by-row path is parked under its own seq.
struct SortedBatch {
  std::map<const catalog::TableSpec*, std::vector<Row>> facts;
  std::map<const catalog::TableSpec*, std::vector<std::uint64_t>> fact_seqs;  // parallel
  std::map<const catalog::TableSpec*, std::map<std::string, SeqRow>> site_owned;
  std::map<const catalog::TableSpec*, std::vector<SharedChange>> shared;
  std::vector<Reject> rejects;
  std::vector<Clamp> clamps;
  std::size_t rows = 0;
};

}  // namespace detail

class SyncService::Handler final : public sync::RequestHandler {
 public:
  explicit Handler(SyncService* svc) : svc_(svc) {}

  v1::Envelope Handle(const sync::Peer& peer, const v1::Envelope& req) override;

 private:
  Status Connect();

  Result<v1::Envelope> Dispatch(const sync::Peer& peer, const v1::Envelope& req);

  // The site's registry row as the applier needs it.
  struct SiteRow {
    std::uint64_t applied = 0;
    std::string epoch;                // empty: no store has connected since epochs began
    double silent_s = -1;             // seconds since the site was last heard; -1: never
    bool rotate_key = false;          // mes-central rotate-site-key asked for a new key
    int rotation_grace_s = 3600;      // how long the old key works once the new one is in
  };

  // Locks (or reads) the site's row. PermissionDenied when the site is revoked or unknown,
  // or the connection's key has been retired (rotated) since its handshake.
  Result<SiteRow> Site(const sync::Peer& peer, bool lock);

  Result<std::uint64_t> SiteCursor(const sync::Peer& peer, bool lock);

  Result<std::uint64_t> FeedHead(const std::string& tenant);

  // A refusal of a store (not of a frame): counted by reason, logged loudly, answered with
  // an Error the edge shows in its sync status.
  Status RefuseStore(const sync::Peer& peer, const std::string& reason, const std::string& why);

  Result<v1::Envelope> Hello(const sync::Peer& peer, const v1::Hello& h);

  // The site sends the public key of its new pair over the link its current key
  // authenticated: central records it, gives the site's other keys `grace` more to live,
  // and clears the request. Sent again (a crash midway), it is answered the same.
  Result<v1::Envelope> RotateKey(const sync::Peer& peer, const v1::KeyRotation& k);

  // A Hello from a store that is not the site's current one: the site's first store
  // epoch (adopted with the cursor as it stands), a new incarnation (restored or copied:
  // it becomes the site's store, resumed after its base seq, and gets back the site's rows
  // stamped after its fork HLC), or a refusal (a superseded store; a second store while
  // the current one is live).
  Result<v1::Envelope> NewStore(const sync::Peer& peer, const v1::Hello& h);

  // The site's own rows (facts, site-owned and shared) stamped after `hlc`: what a store
  // whose clock stood at `hlc` lacks. Central's own master data reaches it by its feed
  // cursor as always.
  Result<std::vector<Row>> RowsStampedAfter(const sync::Peer& peer, std::uint64_t hlc);

  Result<v1::Envelope> Pull(const sync::Peer& peer, const v1::PullRequest& p);

  detail::SortedBatch Sort(const sync::Peer& peer, const v1::PushBatch& batch, std::uint64_t applied);

  // Runs `write` inside a savepoint; on failure rolls it back and parks the row.
  template <typename F>
  Status Guarded(const F& write, detail::Reject reject, std::vector<detail::Reject>& rejects);

  static detail::Reject RejectOf(const Row& row, std::uint64_t seq);

  // Writes a sorted batch. Fast: COPY and multi-row statements. Safe: one row at a time,
  // parking each row that fails.
  Status Write(const sync::Peer& peer, detail::SortedBatch& b, bool safe, std::vector<Row>* feed,
               std::size_t* conflicts);

  Status StoreRejects(const sync::Peer& peer, const std::vector<detail::Reject>& rejects);

  Result<v1::Envelope> Push(const sync::Peer& peer, const v1::PushBatch& batch);

  SyncService* svc_;
  std::unique_ptr<PgConnection> conn_;
};

}  // namespace millrace::central
