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
using namespace detail;

v1::Envelope SyncService::Handler::Handle(const sync::Peer& peer, const v1::Envelope& req) {
  ScopedLogContext ctx({{"tenant", peer.tenant_id}, {"site", peer.site_id}});
  Result<v1::Envelope> r = Dispatch(peer, req);
  if (r.ok()) return *r;
  if (conn_) (void)conn_->Exec("ROLLBACK");
  if (r.status().code() == StatusCode::kUnavailable) conn_.reset();  // reconnect next time
  if (r.status().code() != StatusCode::kPermissionDenied)
    spdlog::warn("sync: {} from {}/{} failed: {}", req.has_push_batch() ? "batch" : "request",
                 peer.tenant_id, peer.site_id, r.status().ToString());
  return sync::ErrorEnvelope(r.status());
}

Status SyncService::Handler::Connect() {
  if (conn_ && PQstatus(conn_->raw()) == CONNECTION_OK) return Status::Ok();
  MILLRACE_ASSIGN_OR_RETURN(conn_, PgConnection::Connect(svc_->options_.database_url));
  return Status::Ok();
}

Result<v1::Envelope> SyncService::Handler::Dispatch(const sync::Peer& peer, const v1::Envelope& req) {
  MILLRACE_RETURN_IF_ERROR(Connect());
  switch (req.body_case()) {
    case v1::Envelope::kHello:
      return Hello(peer, req.hello());
    case v1::Envelope::kPushBatch:
      return Push(peer, req.push_batch());
    case v1::Envelope::kPullRequest:
      return Pull(peer, req.pull_request());
    case v1::Envelope::kKeyRotation:
      return RotateKey(peer, req.key_rotation());
    default:
      return Status::InvalidArgument("unexpected message");
  }
}

// Locks (or reads) the site's row. PermissionDenied when the site is revoked or unknown,
// or the connection's key has been retired (rotated) since its handshake.
Result<SyncService::Handler::SiteRow> SyncService::Handler::Site(const sync::Peer& peer, bool lock) {
  MILLRACE_ASSIGN_OR_RETURN(
      auto r, conn_->Query(std::string("SELECT applied_seq, active, coalesce(store_epoch, ''), "
                                       "coalesce(extract(epoch FROM now() - last_seen_at), -1), "
                                       "key_rotation_requested_at IS NOT NULL, "
                                       "coalesce(key_rotation_grace_seconds, 3600), "
                                       "$3 = '' OR EXISTS (SELECT 1 FROM millrace.sync_site_key "
                                       "k WHERE k.tenant_id = s.tenant_id AND k.site_id = "
                                       "s.site_id AND k.public_key = $3 AND (k.retire_at IS "
                                       "NULL OR k.retire_at > now())) "
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
                 r.Get(0, 4) == "t", std::stoi(r.GetString(0, 5))};
}

Result<std::uint64_t> SyncService::Handler::SiteCursor(const sync::Peer& peer, bool lock) {
  MILLRACE_ASSIGN_OR_RETURN(SiteRow site, Site(peer, lock));
  return site.applied;
}

Result<std::uint64_t> SyncService::Handler::FeedHead(const std::string& tenant) {
  MILLRACE_ASSIGN_OR_RETURN(
      auto r, conn_->Query("SELECT feed_head FROM millrace.sync_tenant WHERE tenant_id = $1",
                           {tenant}));
  if (r.rows() != 1) return Status::PermissionDenied("unknown tenant " + tenant);
  return std::stoull(r.GetString(0, 0));
}

// A refusal of a store (not of a frame): counted by reason, logged loudly, answered with
// an Error the edge shows in its sync status.
Status SyncService::Handler::RefuseStore(const sync::Peer& peer, const std::string& reason, const std::string& why) {
  svc_->store_refusals_.With({peer.tenant_id, peer.site_id, reason}).Increment();
  spdlog::error("sync: refusing a store of site {}/{}: {}", peer.tenant_id, peer.site_id, why);
  return Status::FailedPrecondition(reason + ": " + why);
}

Result<v1::Envelope> SyncService::Handler::Pull(const sync::Peer& peer, const v1::PullRequest& p) {
  const std::uint32_t limit = std::clamp<std::uint32_t>(p.max_changes(), 1, 10000);
  MILLRACE_RETURN_IF_ERROR(BeginTenant(*conn_, peer.tenant_id, /*repeatable_read=*/true));
  MILLRACE_RETURN_IF_ERROR(SiteCursor(peer, false).status());
  MILLRACE_ASSIGN_OR_RETURN(std::uint64_t head, FeedHead(peer.tenant_id));
  MILLRACE_ASSIGN_OR_RETURN(
      auto r, conn_->Query("SELECT pos, change FROM millrace.sync_feed WHERE tenant_id = $1 AND "
                           "pos > $2 AND (route_site IS NULL OR route_site = $3) ORDER BY pos "
                           "LIMIT $4",
                           {peer.tenant_id, std::to_string(p.cursor()), peer.site_id,
                            std::to_string(limit)}));
  MILLRACE_RETURN_IF_ERROR(conn_->Exec("COMMIT"));
  v1::Envelope e;
  auto* b = e.mutable_feed_batch();
  b->set_from_cursor(p.cursor());
  for (int i = 0; i < r.rows(); ++i) {
    MILLRACE_ASSIGN_OR_RETURN(std::string bytes, FromByteaHex(r.Get(i, 1)));
    auto* c = b->add_changes();
    if (!c->ParseFromString(bytes))
      return Status::Corruption("feed entry " + r.GetString(i, 0) + " is not a change");
  }
  const bool more = static_cast<std::uint32_t>(r.rows()) == limit;
  b->set_more(more);
  b->set_to_cursor(more ? std::stoull(r.GetString(r.rows() - 1, 0)) : std::max(head, p.cursor()));
  return e;
}

SortedBatch SyncService::Handler::Sort(const sync::Peer& peer, const v1::PushBatch& batch, std::uint64_t applied) {
  SortedBatch out;
  const std::int64_t now = svc_->options_.clock->NowMillis();
  for (const auto& c : batch.changes()) {
    if (c.seq() <= applied) continue;
    ++out.rows;
    auto reject = [&](std::string reason) {
      out.rejects.push_back({c.seq(), c.table(), "", std::move(reason), c.SerializeAsString()});
      if (c.id().size() == 16) {
        auto row = sync::DecodeChange(c, catalog::MesCatalog());
        if (row.ok()) out.rejects.back().row_id = row->id();
      }
    };
    auto row = sync::DecodeChange(c, catalog::MesCatalog());
    if (!row.ok()) {
      reject("invalid_row: " + row.status().message());
      continue;
    }
    const catalog::TableSpec* t = &row->table();
    if (t->merge != MergePolicy::kSharedLww)  // central's clock observes what it applies
      (void)svc_->hlc_->Update(HlcTimestamp::FromPacked(c.hlc()));
    if (row->Text(catalog::kSiteColumn) != peer.site_id) {
      reject("wrong_site: the row claims site '" + row->Text(catalog::kSiteColumn) +
             "' but was sent by site '" + peer.site_id + "'");
      continue;
    }
    if (c.op() != v1::OP_UPSERT) {
      reject("unsupported_op: sites never delete synced rows");
      continue;
    }
    switch (t->merge) {
      case MergePolicy::kCentralOwned:
        reject("central_owned: " + t->name + " is master data, written only at central");
        break;
      case MergePolicy::kAppendOnly:
        out.facts[t].push_back(std::move(*row));
        out.fact_seqs[t].push_back(c.seq());
        break;
      case MergePolicy::kSiteOwned: {
        auto& slot = out.site_owned[t];
        std::string id = row->id();  // before the row is moved from
        auto it = slot.find(id);
        if (it == slot.end())
          slot.emplace(std::move(id), SeqRow{c.seq(), std::move(*row)});
        else if (sync::IncomingRowWins(it->second.row, *row))
          it->second = SeqRow{c.seq(), std::move(*row)};
        break;
      }
      case MergePolicy::kSharedLww: {
        HlcTimestamp hlc = HlcTimestamp::FromPacked(c.hlc());
        if (static_cast<std::int64_t>(hlc.physical_ms()) >
            now + svc_->options_.max_forward_skew_ms) {
          const HlcTimestamp clamped = svc_->hlc_->Now();
          out.clamps.push_back({t->name, row->id(), clamped.ToString(),
                                static_cast<std::int64_t>(hlc.physical_ms()) - now});
          hlc = clamped;
          row->Set(catalog::kHlcColumn, static_cast<std::int64_t>(hlc.packed()));
        } else {
          (void)svc_->hlc_->Update(hlc);
        }
        SharedChange sc{std::move(*row), {hlc.packed(), c.origin()}, c.base_hlc(), {},
                        hlc.packed() != c.hlc(), c.seq()};
        sc.changed_columns.assign(c.changed_columns().begin(), c.changed_columns().end());
        out.shared[t].push_back(std::move(sc));
        break;
      }
    }
  }
  return out;
}

// Runs `write` inside a savepoint; on failure rolls it back and parks the row.
template <typename F>
Status SyncService::Handler::Guarded(const F& write, Reject reject, std::vector<Reject>& rejects) {
  MILLRACE_RETURN_IF_ERROR(conn_->Exec("SAVEPOINT row"));
  Status s = write();
  if (s.ok()) return conn_->Exec("RELEASE SAVEPOINT row");
  if (s.code() == StatusCode::kUnavailable) return s;
  MILLRACE_RETURN_IF_ERROR(conn_->Exec("ROLLBACK TO SAVEPOINT row"));
  reject.reason = "unappliable: " + s.message();
  rejects.push_back(std::move(reject));
  return Status::Ok();
}

Reject SyncService::Handler::RejectOf(const Row& row, std::uint64_t seq) {
  v1::Change c = sync::EncodeChange(row, v1::OP_UPSERT);
  c.set_seq(seq);
  return {seq, row.table().name, row.id(), "", c.SerializeAsString()};
}

// Writes a sorted batch. Fast: COPY and multi-row statements. Safe: one row at a time,
// parking each row that fails.
Status SyncService::Handler::Write(const sync::Peer& peer, SortedBatch& b, bool safe, std::vector<Row>* feed,
             std::size_t* conflicts) {
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
          Guarded([&] { return merge({c}); }, RejectOf(c.row, c.seq), b.rejects));
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

Status SyncService::Handler::StoreRejects(const sync::Peer& peer, const std::vector<Reject>& rejects) {
  for (const auto& r : rejects) {
    spdlog::warn("sync: rejected seq {} ({}) from {}/{}: {}", r.seq, r.table, peer.tenant_id,
                 peer.site_id, r.reason);
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

Result<v1::Envelope> SyncService::Handler::Push(const sync::Peer& peer, const v1::PushBatch& batch) {
  const auto started = std::chrono::steady_clock::now();
  MILLRACE_RETURN_IF_ERROR(sync::CheckBatchShape(batch));
  v1::Envelope reply;
  for (bool safe : {false, true}) {
    MILLRACE_RETURN_IF_ERROR(BeginTenant(*conn_, peer.tenant_id));
    MILLRACE_ASSIGN_OR_RETURN(SiteRow site, Site(peer, true));
    const std::uint64_t applied = site.applied;
    if (batch.store_epoch() != site.epoch) {
      MILLRACE_RETURN_IF_ERROR(Rollback(*conn_));
      return RefuseStore(peer, "store_superseded",
                         "batch " + std::to_string(batch.batch_id()) + " counts seqs of store " +
                             "epoch '" + batch.store_epoch() + "' but the site's store is " +
                             (site.epoch.empty() ? std::string("not known yet (say Hello)")
                                                 : "epoch " + site.epoch) +
                             "; its changes are not applied");
    }
    if (batch.first_seq() > applied + 1) {
      MILLRACE_RETURN_IF_ERROR(Rollback(*conn_));
      svc_->nacks_.With({peer.tenant_id, peer.site_id}).Increment();
      reply.mutable_nack()->set_batch_id(batch.batch_id());
      reply.mutable_nack()->set_expected_seq(applied + 1);
      reply.mutable_nack()->set_reason("gap: batch starts at " +
                                       std::to_string(batch.first_seq()));
      return reply;
    }
    if (batch.last_seq() <= applied) {
      MILLRACE_RETURN_IF_ERROR(Rollback(*conn_));
      svc_->duplicates_.With({peer.tenant_id, peer.site_id}).Increment();
      reply.mutable_ack()->set_batch_id(batch.batch_id());
      reply.mutable_ack()->set_acked_seq(applied);
      svc_->Observe(peer, &batch.status(), applied, true);
      return reply;
    }
    SortedBatch sorted = Sort(peer, batch, applied);
    std::vector<Row> feed;
    std::size_t conflicts = 0;
    Status s = Write(peer, sorted, safe, &feed, &conflicts);
    std::uint64_t head = 0;
    if (s.ok()) s = StoreRejects(peer, sorted.rejects);
    if (s.ok()) {
      auto h = AppendFeed(*conn_, peer.tenant_id, feed,
                          {peer.site_id, batch.last_seq(), batch.store_epoch()});
      if (h.ok()) head = *h;
      s = h.status();
    }
    if (s.ok()) {
      s = conn_
              ->Query("UPDATE millrace.sync_site SET applied_seq = $3, last_ack_at = now(), "
                      "last_seen_at = now(), "
                      "batches_applied = batches_applied + 1, rows_applied = rows_applied + $4 "
                      "WHERE tenant_id = $1 AND site_id = $2",
                      {peer.tenant_id, peer.site_id, std::to_string(batch.last_seq()),
                       std::to_string(sorted.rows)})
              .status();
    }
    if (s.ok()) s = conn_->Exec("COMMIT");
    if (!s.ok()) {
      (void)Rollback(*conn_);
      if (safe || s.code() == StatusCode::kUnavailable) return s;
      spdlog::info("sync: batch {} of {}/{} needs the row-by-row path: {}", batch.batch_id(),
                   peer.tenant_id, peer.site_id, s.ToString());
      continue;
    }
    const std::vector<std::string> labels = {peer.tenant_id, peer.site_id};
    for (const Clamp& k : sorted.clamps)
      spdlog::warn("sync: {} {} from site {} (batch {}) is stamped {} ms ahead of central; "
                   "clamped to {}",
                   k.table, k.row_id, peer.site_id, batch.batch_id(), k.ahead_ms, k.clamped_to);
    if (!sorted.clamps.empty())
      svc_->clamped_.With(labels).Increment(static_cast<double>(sorted.clamps.size()));
    svc_->batches_.With(labels).Increment();
    svc_->rows_.With(labels).Increment(static_cast<double>(sorted.rows));
    if (conflicts) svc_->conflicts_.With(labels).Increment(static_cast<double>(conflicts));
    if (!sorted.rejects.empty())
      svc_->rejects_.With(labels).Increment(static_cast<double>(sorted.rejects.size()));
    svc_->apply_seconds_.With(labels).Observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    svc_->Observe(peer, &batch.status(), batch.last_seq(), true);
    if (head) svc_->FeedGrew(peer.tenant_id, head);
    reply.mutable_ack()->set_batch_id(batch.batch_id());
    reply.mutable_ack()->set_acked_seq(batch.last_seq());
    reply.mutable_ack()->set_rejected(static_cast<std::uint32_t>(sorted.rejects.size()));
    reply.mutable_ack()->set_conflicts(static_cast<std::uint32_t>(conflicts));
    reply.mutable_ack()->set_rotate_key(site.rotate_key);
    return reply;
  }
  return Status::Internal("unreachable");
}

SyncService::SyncService(SyncServiceOptions options, MetricsRegistry* m)
    : options_(std::move(options)),
      own_hlc_(options_.hlc ? nullptr
                            : std::make_unique<HybridClock>(options_.clock,
                                                            options_.max_forward_skew_ms)),
      hlc_(options_.hlc ? options_.hlc : own_hlc_.get()),
      batches_(m->AddCounter("mes_sync_batches_applied_total", "Upstream batches applied",
                             {"tenant", "site"})),
      rows_(m->AddCounter("mes_sync_rows_applied_total", "Upstream changes applied",
                          {"tenant", "site"})),
      duplicates_(m->AddCounter("mes_sync_duplicate_batches_total",
                                "Re-sent batches acknowledged without applying",
                                {"tenant", "site"})),
      nacks_(m->AddCounter("mes_sync_nacks_total", "Batches refused for a gap (edge rewinds)",
                           {"tenant", "site"})),
      conflicts_(m->AddCounter("mes_sync_conflicts_total",
                               "Concurrent edits of shared rows (see millrace.sync_conflict)",
                               {"tenant", "site"})),
      rejects_(m->AddCounter("mes_sync_rejects_total",
                             "Changes parked in millrace.sync_reject", {"tenant", "site"})),
      clamped_(m->AddCounter("mes_sync_clock_clamped_total",
                             "Changes stamped too far ahead of central's clock, clamped",
                             {"tenant", "site"})),
      epochs_started_(m->AddCounter("mes_sync_store_epochs_started_total",
                                    "Times a restored or copied store became the site's store",
                                    {"tenant", "site"})),
      store_refusals_(m->AddCounter(
          "mes_sync_store_refusals_total",
          "Stores refused: store_superseded, site_live_elsewhere, store_behind_central",
          {"tenant", "site", "reason"})),
      apply_seconds_(m->AddHistogram("mes_sync_apply_seconds",
                                     "Time to apply one upstream batch", {"tenant", "site"})),
      applied_seq_(m->AddGauge("mes_sync_site_applied_seq", "Highest upstream seq applied",
                               {"tenant", "site"})),
      last_ack_(m->AddGauge("mes_sync_site_last_ack_timestamp_seconds",
                            "When this node last acknowledged the site", {"tenant", "site"})),
      backlog_rows_(m->AddGauge("mes_sync_site_backlog_rows",
                                "Changes the site reports not yet acknowledged",
                                {"tenant", "site"})),
      backlog_bytes_(m->AddGauge("mes_sync_site_backlog_bytes",
                                 "Bytes of changes the site reports not yet acknowledged",
                                 {"tenant", "site"})),
      oldest_age_(m->AddGauge("mes_sync_site_oldest_unacked_seconds",
                              "Age of the site's oldest unacknowledged change",
                              {"tenant", "site"})) {
  m->AddCollector([this] { Collect(); });
}

SyncService::~SyncService() = default;

Result<std::unique_ptr<sync::RequestHandler>> SyncService::NewHandler() {
  return std::unique_ptr<sync::RequestHandler>(new Handler(this));
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

void SyncService::Observe(const sync::Peer& peer, const v1::SiteStatus* status,
                          std::uint64_t applied, bool acked) {
  std::lock_guard lock(sites_mu_);
  SiteView& v = sites_[{peer.tenant_id, peer.site_id}];
  v.applied_seq = acked ? std::max(v.applied_seq, applied) : applied;
  if (acked) v.last_ack_ms = options_.clock->NowMillis();
  if (status) {
    v.head_seq = status->outbox_head_seq();
    v.backlog_rows = status->backlog_rows();
    v.backlog_bytes = status->backlog_bytes();
    v.oldest_unacked_ms = status->oldest_unacked_ms();
  }
}

void SyncService::Collect() {
  std::lock_guard lock(sites_mu_);
  const std::int64_t now = options_.clock->NowMillis();
  for (const auto& [key, v] : sites_) {
    const std::vector<std::string> labels = {key.first, key.second};
    applied_seq_.With(labels).Set(static_cast<double>(v.applied_seq));
    if (v.last_ack_ms) last_ack_.With(labels).Set(static_cast<double>(v.last_ack_ms) / 1000.0);
    // The edge's report is as of its last message; what this node applied since is gone.
    const std::uint64_t pending = v.head_seq > v.applied_seq ? v.head_seq - v.applied_seq : 0;
    backlog_rows_.With(labels).Set(static_cast<double>(pending));
    backlog_bytes_.With(labels).Set(pending ? static_cast<double>(v.backlog_bytes) : 0.0);
    oldest_age_.With(labels).Set(pending && v.oldest_unacked_ms
                                     ? static_cast<double>(now - v.oldest_unacked_ms) / 1000.0
                                     : 0.0);
  }
}

}  // namespace millrace::central
