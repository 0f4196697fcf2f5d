#include "millrace/edge/sync_adapter.h"

#include <spdlog/spdlog.h>

#include "millrace/common/files.h"
#include "millrace/edge/disk_usage.h"
#include "millrace/edge/recovery.h"
#include "millrace/edge/retention.h"
#include "millrace/common/schema_versions.h"
#include "millrace/common/uuid.h"
#include "millrace/common/version.h"
#include "millrace/sync/merge.h"
#include "millrace/sync/content.h"
#include "millrace/sync/row_codec.h"
#include "millrace/sync/schema_translation.h"

namespace millrace::edge {

Result<std::vector<sync::OutboxRecord>> EdgeSyncAdapter::ReadOutbox(std::uint64_t after_seq,
                                                                    int limit) {
  MILLRACE_ASSIGN_OR_RETURN(auto entries,
                            store_->ReadOutbox(static_cast<std::int64_t>(after_seq), limit));
  std::vector<sync::OutboxRecord> out;
  out.reserve(entries.size());
  for (auto& e : entries)
    out.push_back({static_cast<std::uint64_t>(e.seq), std::move(e.payload)});
  return out;
}

// The recorded watermark to start from: the outbox may keep acknowledged entries, which
// hold off no feed row.
static std::uint64_t RecordedAck(EdgeStore* store) {
  auto stats = store->Outbox();
  return stats.ok() ? static_cast<std::uint64_t>(stats->acked_seq) : 0;
}

EdgeSyncAdapter::EdgeSyncAdapter(EdgeStore* store, std::chrono::milliseconds keep_acked)
    : store_(store),
      keep_acked_(keep_acked),
      purge_target_(RecordedAck(store)),
      purged_(purge_target_),
      purger_([this] { PurgeLoop(); }) {}

EdgeSyncAdapter::~EdgeSyncAdapter() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  purger_.join();
}

Status EdgeSyncAdapter::Acknowledged(std::uint64_t seq) {
  {
    std::lock_guard lock(mu_);
    if (seq <= purge_target_) return Status::Ok();
    purge_target_ = seq;
  }
  cv_.notify_all();
  return Status::Ok();
}

void EdgeSyncAdapter::FlushPurges() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return purged_ >= purge_target_; });
}

void EdgeSyncAdapter::PurgeLoop() {
  std::unique_lock lock(mu_);
  while (true) {
    cv_.wait(lock, [&] { return stopping_ || purge_target_ > purged_; });
    if (purge_target_ > purged_) {
      const std::uint64_t target = purge_target_;
      lock.unlock();
      const std::int64_t before = keep_acked_.count() > 0
                                      ? store_->clock()->NowMillis() - keep_acked_.count()
                                      : std::numeric_limits<std::int64_t>::max();
      Status s = store_->PurgeOutboxThrough(static_cast<std::int64_t>(target), before);
      if (!s.ok()) spdlog::error("sync: purging the outbox through {}: {}", target, s.ToString());
      lock.lock();
      purged_ = std::max(purged_, target);  // a failed purge is retried by the next ack
      cv_.notify_all();
      continue;
    }
    if (stopping_) return;
  }
}

Status EdgeSyncAdapter::RewindFeed(std::uint64_t cursor) {
  return store_->ApplyDownstream([cursor](WriteTxn& txn) -> Status {
    return txn.db().Exec("INSERT INTO sync_state (key, value) VALUES ('feed_cursor', " +
                         std::to_string(cursor) +
                         ") ON CONFLICT (key) DO UPDATE SET value = excluded.value");
  });
}

Result<std::uint64_t> EdgeSyncAdapter::FeedCursor() {
  std::int64_t cursor = 0;
  MILLRACE_RETURN_IF_ERROR(store_->Read([&](ReadTxn& txn) -> Status {
    MILLRACE_ASSIGN_OR_RETURN(
        cursor, txn.db().QueryInt(
                    "SELECT coalesce(max(value), 0) FROM sync_state WHERE key = 'feed_cursor'"));
    return Status::Ok();
  }));
  return static_cast<std::uint64_t>(cursor);
}

namespace {

// `row` with a tombstone's clock, to compare clocks as rows do.
Row Stamped(Row row, const Tombstone& tomb) {
  row.Set(catalog::kHlcColumn, tomb.hlc);
  row.Set(catalog::kOriginColumn, tomb.origin);
  return row;
}

// A shared row from the feed is skipped while this site holds a change of it that central
// has not merged yet: central merges that change and sends the result back if it differs.
// Changes central acknowledged (through `acked`), or that the feed row says it already
// includes (reflects_seq, for this site), are not pending.
// A reflected seq counts in the store epoch it names; a row merged before epochs existed
// names none and counts in the store's first epoch. Facts are inserted once: a fact the
// store holds already (central sending back a restored store's rows) is left as it is.
// A site-owned or shared row older than the store's copy (by hlc, then origin) is not
// taken: it was published before central merged the store's later write, which central
// then kept (a feed row central clamped the site's clock of, Change.clamped, is the one
// older row taken). So a row central sends back to a new store (Change.recovered) does not
// undo what the store wrote since it started. What recovered rows touch is noted for
// ReconcileRecovered (recovery.h). A delete (v1::OP_DELETE) follows the same rules as a
// write of the row, and leaves a tombstone; a row deleted here comes back only with a
// write newer than its tombstone.
Status ApplyChanges(WriteTxn& txn, const sync::v1::FeedBatch& batch, const std::string& site_id,
                    const StoreEpoch& epoch, std::uint64_t acked, std::uint64_t* refused,
                    RecoveredRows* recovered) {
  for (const auto& change : batch.changes()) {
    auto decoded = sync::DecodeServedShape(change, catalog::MesCatalog());
    if (!decoded.ok()) {
      // A row this edge cannot take (a value out of this build's bounds, a table it does
      // not know) must not wedge the feed behind it: it is refused loudly and counted, and
      // the cursor moves on.
      spdlog::error("sync: feed position {} ({} {}) refused: {}", change.seq(), change.table(),
                    change.id().size() == 16 ? "row" : "?", decoded.status().ToString());
      if (refused) ++*refused;
      continue;
    }
    Row row = std::move(decoded).value();
    const catalog::MergePolicy merge = row.table().merge;
    const bool deleted = change.op() == sync::v1::OP_DELETE;
    if (deleted && merge != catalog::MergePolicy::kCentralOwned &&
        merge != catalog::MergePolicy::kSharedLww) {
      spdlog::error("sync: feed position {} deletes a {} fact; facts are never deleted",
                    change.seq(), row.table().name);
      if (refused) ++*refused;
      continue;
    }
    // A tombstone newer than a shared or site-owned row keeps it deleted; a newer row
    // comes back (sync/merge.h). Master data follows the feed's order, which is central's,
    // and so does a row (or delete) whose clock central clamped: it replaces the store's
    // copy or tombstone stamped with the site's clock that ran ahead.
    bool revives = (merge == catalog::MergePolicy::kCentralOwned || change.clamped()) && !deleted;
    if (merge != catalog::MergePolicy::kCentralOwned && !change.clamped()) {
      MILLRACE_ASSIGN_OR_RETURN(auto present, txn.Get(row.table(), row.id()));
      // (IncomingRowWins(row, *present): the stored copy is newer than the feed's.)
      if (present && (merge == catalog::MergePolicy::kAppendOnly ||
                      sync::IncomingRowWins(row, *present)))
        continue;
      if (!present && !deleted && merge != catalog::MergePolicy::kAppendOnly) {
        MILLRACE_ASSIGN_OR_RETURN(auto tomb, txn.GetTombstone(row.table(), row.id()));
        if (tomb && !sync::IncomingRowWins(
                        Stamped(row, *tomb), row))  // the tombstone is as new or newer
          continue;
        revives = tomb.has_value();
      }
    }
    if (change.recovered() && row.Text(catalog::kSiteColumn) == site_id) {
      if (row.table().name == "production_event" && row.Text("kind") == "COUNT")
        recovered->operations.insert(row.Text("operation_id"));
      else if (row.table().name == "operator_session")
        recovered->users.insert(row.Text("user_id"));
    }
    if (row.table().merge == catalog::MergePolicy::kSharedLww) {
      std::uint64_t merged_through = acked;
      const bool same_epoch = change.reflects_epoch() == epoch.id ||
                              (change.reflects_epoch().empty() && epoch.parent.empty());
      if (change.reflects_site() == site_id && same_epoch)
        merged_through = std::max(merged_through, change.reflects_seq());
      MILLRACE_ASSIGN_OR_RETURN(
          auto pending,
          txn.db().QueryInt("SELECT count(*) FROM outbox WHERE row_id = '" + row.id() +
                            "' AND seq > " + std::to_string(merged_through)));  // id: a UUID
      if (pending > 0) continue;
    }
    const std::string where = "feed position " + std::to_string(change.seq());
    if (deleted) {
      MILLRACE_RETURN_IF_ERROR(txn.ApplyDelete(row, change.clamped()).WithContext(where));
      continue;
    }
    MILLRACE_RETURN_IF_ERROR(txn.Upsert(row).WithContext(where));
    if (revives) MILLRACE_RETURN_IF_ERROR(txn.ClearTombstone(row.table(), row.id()));
  }
  MILLRACE_RETURN_IF_ERROR(NoteRecovered(txn, *recovered));
  return txn.db().Exec(
      "INSERT INTO sync_state (key, value) VALUES ('feed_cursor', " +
      std::to_string(batch.to_cursor()) +
      ") ON CONFLICT (key) DO UPDATE SET value = max(value, excluded.value)");
}

}  // namespace

Status EdgeSyncAdapter::ApplyFeed(const sync::v1::FeedBatch& batch) {
  std::uint64_t acked;
  {
    std::lock_guard lock(mu_);
    acked = purge_target_;
  }
  RecoveredRows recovered;
  MILLRACE_RETURN_IF_ERROR(store_->ApplyDownstream([&](WriteTxn& txn) {
    std::uint64_t n = 0;
    recovered = {};
    Status s =
        ApplyChanges(txn, batch, store_->site_id(), store_->epoch(), acked, &n, &recovered);
    if (s.ok()) feed_rows_refused_ += n;
    return s;
  }));
  if (recovered.empty() && !reconcile_again_) return Status::Ok();
  // The batch and its note are committed: a failure here is tried again with the next
  // batch (and at the next start).
  auto r = ReconcileRecovered(*store_);
  reconcile_again_ = !r.ok();
  if (!r.ok())
    spdlog::error("sync: taking the rows central sent back into account failed (tried again "
                  "with the next feed batch): {}",
                  r.status().ToString());
  return Status::Ok();
}

Status EdgeSyncAdapter::CentralFactHorizon(std::uint64_t horizon_ms) {
  if (central_horizon_ == horizon_ms) return Status::Ok();
  MILLRACE_RETURN_IF_ERROR(RecordCentralHorizon(*store_, static_cast<std::int64_t>(horizon_ms)));
  central_horizon_ = horizon_ms;
  return Status::Ok();
}

Result<sync::v1::SiteStatus> EdgeSyncAdapter::Backlog() {
  MILLRACE_ASSIGN_OR_RETURN(OutboxStats stats, store_->Outbox());
  std::int64_t purged = 0;
  MILLRACE_RETURN_IF_ERROR(store_->Read([&](ReadTxn& txn) -> Status {
    MILLRACE_ASSIGN_OR_RETURN(purged, PurgeHorizon(txn));
    return Status::Ok();
  }));
  sync::v1::SiteStatus s;
  s.set_purge_horizon_ms(static_cast<std::uint64_t>(purged));
  s.set_outbox_head_seq(static_cast<std::uint64_t>(stats.head_seq));
  s.set_backlog_rows(static_cast<std::uint64_t>(stats.rows));
  s.set_backlog_bytes(static_cast<std::uint64_t>(stats.bytes));
  s.set_oldest_unacked_ms(stats.oldest_captured_ms);
  // The disk as central's alerts see it; a store whose directory cannot be examined says
  // "unknown" (0) rather than failing its Hello.
  if (auto disk = StoreDiskUsage(store_->path()); disk.ok()) {
    s.set_disk_free_bytes(static_cast<std::uint64_t>(disk->disk_free_bytes));
    s.set_store_bytes(static_cast<std::uint64_t>(disk->store_bytes));
  }
  return s;
}

sync::SyncClientOptions SyncClientOptionsFor(const EdgeStore& store) {
  sync::SyncClientOptions o;
  o.node_id = store.node_id();
  o.site_id = store.site_id();
  o.catalog_fingerprint = catalog::MesCatalog().FingerprintHex();
  o.schema_version = static_cast<std::uint32_t>(kEdgeSchemaVersion);
  o.build = kVersion;
  o.catalog = &catalog::MesCatalog();
  const StoreEpoch& e = store.epoch();
  o.epoch = {e.id, e.parent, static_cast<std::uint64_t>(e.base_seq),
             static_cast<std::uint64_t>(e.fork_hlc)};
  if (auto stats = store.Outbox(); stats.ok()) o.acked_seq = static_cast<std::uint64_t>(stats->acked_seq);
  return o;
}

Result<std::map<std::string, std::string>> StoreContent(EdgeStore& store) {
  std::map<std::string, std::string> out;
  MILLRACE_RETURN_IF_ERROR(store.Read([&](ReadTxn& txn) -> Status {
    MILLRACE_ASSIGN_OR_RETURN(std::int64_t horizon, FactHorizon(txn));
    const std::string floor = Uuid::FloorV7(horizon).ToString();
    for (const auto& t : catalog::MesCatalog().tables()) {
      MILLRACE_ASSIGN_OR_RETURN(auto rows, CutAtHorizon(t) ? txn.Select(t, "id >= ?", {floor}, "id")
                                                           : txn.Select(t, "", {}, "id"));
      out[t.name] = sync::ContentDigest(rows);
    }
    return Status::Ok();
  }));
  return out;
}

Status ApplySnapshotFile(EdgeStore& store, const std::string& path) {
  MILLRACE_ASSIGN_OR_RETURN(std::string bytes, ReadFile(path));
  sync::v1::FeedBatch batch;
  if (!batch.ParseFromString(bytes))
    return Status::InvalidArgument(path + " is not a Millrace site snapshot");
  EdgeSyncAdapter adapter(&store);
  MILLRACE_ASSIGN_OR_RETURN(std::uint64_t cursor, adapter.FeedCursor());
  if (cursor > 0)
    return Status::FailedPrecondition("the store has synced before (feed cursor " +
                                      std::to_string(cursor) + "); a snapshot would go back");
  return adapter.ApplyFeed(batch);
}

}  // namespace millrace::edge
