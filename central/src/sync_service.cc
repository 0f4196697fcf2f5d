// Central's sync storage in PostgreSQL: the session's connection, the site's cursor row,
// writing a sorted batch (at once or row by row, parking what fails) with its rejects,
// feed rows and cursor in one transaction, reading the feed; and the service that hands
// out sessions and looks up site keys.
#include "millrace/central/sync_service.h"

#include "sync_handler.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <map>
#include <nlohmann/json.hpp>

#include "millrace/central/central_audit.h"
#include "millrace/central/central_store.h"
#include "millrace/central/pg_rows.h"
#include "millrace/common/logging.h"
#include "millrace/sync/row_codec.h"
#include "millrace/sync/transport.h"
#include "millrace/sync/wire.h"

namespace millrace::central {

using catalog::MergePolicy;

Status SyncService::Session::Connect() {
  if (conn_ && PQstatus(conn_->raw()) == CONNECTION_OK) return Status::Ok();
  MILLRACE_ASSIGN_OR_RETURN(conn_, PgConnection::Connect(svc_->options_.database_url));
  return Status::Ok();
}

void SyncService::Session::Reset(const Status& why) {
  if (conn_) (void)conn_->Exec("ROLLBACK");
  if (why.code() == StatusCode::kUnavailable) conn_.reset();  // reconnect next time
}

// Locks (or reads) the site's row. PermissionDenied when the site is revoked or unknown,
// or the connection's key has been retired (rotated) since its handshake.
Result<SyncService::Session::SiteRow> SyncService::Session::Site(const sync::Peer& peer, bool lock) {
  MILLRACE_RETURN_IF_ERROR(Connect());
  MILLRACE_ASSIGN_OR_RETURN(
      auto r, conn_->Query(std::string("SELECT applied_seq, active, coalesce(store_epoch, ''), "
                                       "coalesce(extract(epoch FROM now() - last_seen_at), -1), "
                                       "key_rotation_requested_at IS NOT NULL, "
                                       "coalesce(key_rotation_grace_seconds, 3600), "
                                       "$3 = '' OR EXISTS (SELECT 1 FROM millrace.sync_site_key "
                                       "k WHERE k.tenant_id = s.tenant_id AND k.site_id = "
                                       "s.site_id AND k.public_key = $3 AND (k.retire_at IS "
                                       "NULL OR k.retire_at > now())), "
                                       "coalesce(drift_check_id, 0) "
                                       "FROM millrace.sync_site s WHERE tenant_id = $1 AND "
                                       "site_id = $2") +
                               (lock ? " FOR UPDATE OF s" : ""),
                           {peer.tenant_id, peer.site_id, peer.public_key}));
  if (r.rows() != 1 || r.Get(0, 1) != "t")
    return Status::PermissionDenied("site " + peer.tenant_id + "/" + peer.site_id +
                                    " is revoked or unknown");
  if (r.Get(0, 6) != "t")
    return Status::PermissionDenied("this connection's key was retired when the site's key "
                                    "was rotated: reconnect with the new key");
  return SiteRow{std::stoull(r.GetString(0, 0)), r.GetString(0, 2), std::stod(r.GetString(0, 3)),
                 r.Get(0, 4) == "t", std::stoi(r.GetString(0, 5)), std::stoull(r.GetString(0, 7))};
}

Result<sync::SiteCursor> SyncService::Session::LockSite(const sync::Peer& peer) {
  MILLRACE_RETURN_IF_ERROR(Connect());
  MILLRACE_RETURN_IF_ERROR(BeginTenant(*conn_, peer.tenant_id));
  MILLRACE_ASSIGN_OR_RETURN(SiteRow site, Site(peer, true));
  return sync::SiteCursor{site.applied, site.epoch, site.rotate_key, site.drift_check};
}

Status SyncService::Session::Release() { return Rollback(*conn_); }

Result<std::uint64_t> SyncService::Session::FeedHead(const std::string& tenant) {
  MILLRACE_ASSIGN_OR_RETURN(
      auto r, conn_->Query("SELECT feed_head FROM millrace.sync_tenant WHERE tenant_id = $1",
                           {tenant}));
  if (r.rows() != 1) return Status::PermissionDenied("unknown tenant " + tenant);
  return std::stoull(r.GetString(0, 0));
}

Result<sync::FeedPage> SyncService::Session::ReadFeed(const sync::Peer& peer,
                                                      std::uint64_t cursor,
                                                      std::uint32_t limit) {
  MILLRACE_RETURN_IF_ERROR(Connect());
  MILLRACE_RETURN_IF_ERROR(BeginTenant(*conn_, peer.tenant_id, /*repeatable_read=*/true));
  MILLRACE_RETURN_IF_ERROR(Site(peer, false).status());
  sync::FeedPage page;
  MILLRACE_ASSIGN_OR_RETURN(page.head, FeedHead(peer.tenant_id));
  MILLRACE_ASSIGN_OR_RETURN(
      auto r, conn_->Query("SELECT pos, change FROM millrace.sync_feed WHERE tenant_id = $1 AND "
                           "pos > $2 AND (route_site IS NULL OR route_site = $3) ORDER BY pos "
                           "LIMIT $4",
                           {peer.tenant_id, std::to_string(cursor), peer.site_id,
                            std::to_string(limit)}));
  MILLRACE_RETURN_IF_ERROR(conn_->Exec("COMMIT"));
  page.changes.resize(static_cast<std::size_t>(r.rows()));
  for (int i = 0; i < r.rows(); ++i) {
    MILLRACE_ASSIGN_OR_RETURN(std::string bytes, FromByteaHex(r.Get(i, 1)));
    v1::Change& c = page.changes[static_cast<std::size_t>(i)];
    if (!c.ParseFromString(bytes))
      return Status::Corruption("feed entry " + r.GetString(i, 0) + " is not a change");
  }
  return page;
}

// Runs `write` inside a savepoint; on failure rolls it back and parks the row.
template <typename F>
Status SyncService::Session::Guarded(const F& write, sync::ParkedChange reject,
                                     std::vector<sync::ParkedChange>& rejects) {
  MILLRACE_RETURN_IF_ERROR(conn_->Exec("SAVEPOINT row"));
  Status s = write();
  if (s.ok()) return conn_->Exec("RELEASE SAVEPOINT row");
  if (s.code() == StatusCode::kUnavailable) return s;
  MILLRACE_RETURN_IF_ERROR(conn_->Exec("ROLLBACK TO SAVEPOINT row"));
  reject.reason = "unappliable: " + s.message();
  rejects.push_back(std::move(reject));
  return Status::Ok();
}

sync::ParkedChange SyncService::Session::RejectOf(const Row& row, std::uint64_t seq, v1::Op op) {
  v1::Change c = sync::EncodeChange(row, op);
  c.set_seq(seq);
  return {seq, row.table().name, row.id(), "", c.SerializeAsString()};
}

// Writes a sorted batch. Fast: COPY and multi-row statements. Safe: one row at a time,
// parking each row that fails.
Status SyncService::Session::Write(const sync::Peer& peer, sync::SortedBatch& b, bool safe,
                                   std::vector<FeedRow>* feed, std::size_t* conflicts) {
  const std::string& tenant = peer.tenant_id;
  const std::string lww = "(t.hlc, t.origin) < (EXCLUDED.hlc, EXCLUDED.origin)";
  // Shared rows first, then site-owned rows, then facts: the report rollups a fact feeds
  // read the operation and shift instance it names, which may arrive in the same batch.
  for (auto& [table, changes] : b.shared) {
    auto merge = [&](const std::vector<SharedChange>& cs) -> Status {
      MILLRACE_ASSIGN_OR_RETURN(auto m,
                                MergeSharedChanges(*conn_, tenant, *table, cs, false));
      *conflicts += m.conflicts;
      for (auto& r : m.feed) feed->push_back(std::move(r));
      return Status::Ok();
    };
    if (!safe) {
      MILLRACE_RETURN_IF_ERROR(merge(changes));
      continue;
    }
    for (const auto& c : changes)
      MILLRACE_RETURN_IF_ERROR(
          Guarded([&] { return merge({c}); },
                  RejectOf(c.row, c.seq, c.deleted ? v1::OP_DELETE : v1::OP_UPSERT), b.rejects));
  }
  for (auto& [table, by_id] : b.site_owned) {
    if (!safe) {
      std::vector<const Row*> rows;
      for (auto& [id, r] : by_id) rows.push_back(&r.row);
      MILLRACE_RETURN_IF_ERROR(UpsertRows(*conn_, tenant, *table, rows, lww));
      continue;
    }
    for (auto& [id, r] : by_id)
      MILLRACE_RETURN_IF_ERROR(Guarded(
          [&] { return UpsertRows(*conn_, tenant, *table, {&r.row}, lww); },
          RejectOf(r.row, r.seq), b.rejects));
  }
  for (auto& [table, rows] : b.facts) {
    if (!safe) {
      MILLRACE_RETURN_IF_ERROR(CopyRows(*conn_, tenant, *table, rows));
      continue;
    }
    const auto& seqs = b.fact_seqs.at(table);
    for (std::size_t i = 0; i < rows.size(); ++i) {
      const Row& row = rows[i];
      MILLRACE_RETURN_IF_ERROR(Guarded(
          [&] { return InsertRowsIfAbsent(*conn_, tenant, *table, {&row}); },
          RejectOf(row, seqs[i]), b.rejects));
    }
  }
  return Status::Ok();
}

Status SyncService::Session::StoreRejects(const sync::Peer& peer,
                                          const std::vector<sync::ParkedChange>& rejects) {
  for (const auto& r : rejects) {
    MILLRACE_RETURN_IF_ERROR(
        conn_
            ->Query("INSERT INTO millrace.sync_reject (tenant_id, site_id, seq, table_name, "
                    "row_id, reason, change) VALUES ($1, $2, $3, $4, $5, $6, $7::bytea)",
                    {peer.tenant_id, peer.site_id, std::to_string(r.seq), r.table,
                     r.row_id.empty() ? PgParam() : PgParam(r.row_id), r.reason,
                     ByteaHex(r.change)})
            .status());
  }
  return Status::Ok();
}

Result<sync::ApplyOutcome> SyncService::Session::CommitBatch(const sync::Peer& peer,
                                                            sync::SortedBatch& batch,
                                                            std::uint64_t last_seq,
                                                            const std::string& epoch,
                                                            bool row_by_row) {
  std::vector<FeedRow> feed;
  sync::ApplyOutcome out;
  Status s = Write(peer, batch, row_by_row, &feed, &out.conflicts);
  if (s.ok()) s = StoreRejects(peer, batch.rejects);
  if (s.ok()) {
    FeedProvenance reflects;
    reflects.site_id = peer.site_id;
    reflects.through_seq = last_seq;
    reflects.store_epoch = epoch;
    for (const auto& c : batch.clamps) reflects.clamped.insert(c.row_id);
    auto h = AppendFeed(*conn_, peer.tenant_id, feed, reflects);
    if (h.ok()) out.feed_head = *h;
    s = h.status();
  }
  if (s.ok()) {
    s = conn_
            ->Query("UPDATE millrace.sync_site SET applied_seq = $3, last_ack_at = now(), "
                    "last_seen_at = now(), "
                    "batches_applied = batches_applied + 1, rows_applied = rows_applied + $4, "
                    // What the site reported with the batch, as with its Hello (a site that
                    // always has something to push says Hello only when it reconnects).
                    "reported_head_seq = $5, reported_backlog_bytes = $6, oldest_unacked_at = "
                    "CASE WHEN $7::bigint > 0 THEN to_timestamp($7::bigint / 1000.0) END, "
                    "reported_disk_free_bytes = coalesce($8::bigint, "
                    "reported_disk_free_bytes), reported_store_bytes = "
                    "coalesce($9::bigint, reported_store_bytes), purge_horizon_ms = $10 "
                    "WHERE tenant_id = $1 AND site_id = $2",
                    {peer.tenant_id, peer.site_id, std::to_string(last_seq),
                     std::to_string(batch.rows), std::to_string(batch.status.outbox_head_seq()),
                     std::to_string(batch.status.backlog_bytes()),
                     std::to_string(batch.status.oldest_unacked_ms()),
                     ReportedDisk(batch.status, true), ReportedDisk(batch.status, false),
                     std::to_string(batch.status.purge_horizon_ms())})
            .status();
  }
  if (s.ok()) s = conn_->Exec("COMMIT");
  if (!s.ok()) {
    (void)Rollback(*conn_);
    return s;
  }
  return out;
}

SyncService::SyncService(SyncServiceOptions options, MetricsRegistry* m)
    : options_(std::move(options)),
      own_hlc_(options_.hlc ? nullptr
                            : std::make_unique<HybridClock>(options_.clock,
                                                            options_.max_forward_skew_ms)),
      hlc_(options_.hlc ? options_.hlc : own_hlc_.get()),
      metrics_(m, options_.clock),
      drift_indexes_(std::make_unique<DriftIndexCache>()) {}

SyncService::~SyncService() = default;

Result<std::unique_ptr<sync::CentralSession>> SyncService::NewSession() {
  return std::unique_ptr<sync::CentralSession>(new Session(this));
}

const catalog::Catalog& SyncService::Catalog() const { return catalog::MesCatalog(); }

sync::ClockPolicy SyncService::Clocks() {
  return {options_.clock, hlc_, options_.max_forward_skew_ms};
}

Result<std::optional<sync::Peer>> SyncService::Lookup(const std::string& sql,
                                                      const std::string& arg) {
  std::lock_guard lock(lookup_mu_);
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (!lookup_conn_ || PQstatus(lookup_conn_->raw()) != CONNECTION_OK) {
      MILLRACE_ASSIGN_OR_RETURN(lookup_conn_, PgConnection::Connect(options_.database_url));
    }
    auto r = lookup_conn_->Query(sql, {arg});
    if (!r.ok()) {
      lookup_conn_.reset();
      if (attempt == 0) continue;
      return r.status();
    }
    if (r->rows() == 0) return std::optional<sync::Peer>();
    if (r->rows() > 1)
      return Status::FailedPrecondition("site id " + arg +
                                        " exists in several tenants; use Curve keys");
    return std::optional<sync::Peer>(sync::Peer{r->GetString(0, 0), r->GetString(0, 1), ""});
  }
  return std::optional<sync::Peer>();
}

Result<std::optional<sync::Peer>> SyncService::FindActiveKey(const std::string& key) {
  // Before any tenant is known: through the owner's function, which sees every tenant's
  // keys (the application role sees none without a tenant context).
  return Lookup("SELECT tenant_id, site_id FROM millrace.sync_key_owner($1)", key);
}

Result<std::optional<sync::Peer>> SyncService::FindActiveSite(const std::string& site) {
  return Lookup("SELECT tenant_id, site_id FROM millrace.sync_active_site($1)", site);
}

void SyncService::SetFeedListener(std::function<void(const std::string&, std::uint64_t)> l) {
  std::lock_guard lock(listener_mu_);
  listener_ = std::move(l);
}

void SyncService::FeedGrew(const std::string& tenant, std::uint64_t head) {
  std::lock_guard lock(listener_mu_);
  if (listener_) listener_(tenant, head);
}

}  // namespace millrace::central
