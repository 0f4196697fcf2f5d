// Hello and the site's store incarnations (store epochs): adopting a site's first epoch,
// taking a restored or copied store as the site's new one (resumed where it stands, sent
// back the rows it lacks), refusing a superseded store, a second live one, and a store
// behind central in its own epoch.
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "millrace/central/central_audit.h"
#include "millrace/central/central_store.h"
#include "millrace/central/pg_rows.h"
#include "millrace/central/retention.h"
#include "millrace/sync/row_codec.h"
#include "millrace/sync/transport.h"
#include "sync_handler.h"

namespace millrace::central {

using catalog::MergePolicy;

Result<v1::HelloReply> SyncService::Session::Hello(const sync::Peer& peer, const v1::Hello& h) {
  MILLRACE_RETURN_IF_ERROR(Connect());
  MILLRACE_RETURN_IF_ERROR(BeginTenant(*conn_, peer.tenant_id));
  MILLRACE_ASSIGN_OR_RETURN(SiteRow site, Site(peer, false));
  if (site.epoch != h.store_epoch()) {
    MILLRACE_RETURN_IF_ERROR(Rollback(*conn_));
    MILLRACE_ASSIGN_OR_RETURN(v1::HelloReply reply, NewStore(peer, h));
    MILLRACE_RETURN_IF_ERROR(InTenantTransaction(*conn_, peer.tenant_id, [&]() -> Status {
      MILLRACE_ASSIGN_OR_RETURN(std::int64_t horizon, TenantFactHorizon(*conn_, peer.tenant_id));
      reply.set_fact_horizon_ms(static_cast<std::uint64_t>(horizon));
      return conn_
          ->Query("UPDATE millrace.sync_site SET edge_schema = $3, edge_build = $4, edge_refusal = "
                  "NULL, edge_refused_at = NULL WHERE tenant_id = $1 AND site_id = $2",
                  {peer.tenant_id, peer.site_id, std::to_string(h.schema_version()),
                   h.build().substr(0, 64)})
          .status();
    }));
    return reply;
  }
  if (h.outbox_head_seq() < site.applied) {
    MILLRACE_RETURN_IF_ERROR(Rollback(*conn_));
    return svc_->metrics_.RefuseStore(
        peer, "store_behind_central",
        "the store of epoch " + h.store_epoch() + " has captured changes through seq " +
            std::to_string(h.outbox_head_seq()) + " but central applied " +
            std::to_string(site.applied) + " of that epoch: it was put back from a copy " +
            "without a new epoch; restore it with mesctl restore");
  }
  // The site is live: what a store that wants to take over must wait out. Written at
  // most every two seconds (idle edges say Hello every ten).
  MILLRACE_RETURN_IF_ERROR(
      conn_
          ->Query("UPDATE millrace.sync_site SET last_seen_at = now(), reported_head_seq = $3, "
                  "reported_backlog_bytes = $4, oldest_unacked_at = CASE WHEN $5::bigint > 0 THEN "
                  "to_timestamp($5::bigint / 1000.0) END, reported_disk_free_bytes = "
                  "coalesce($6::bigint, reported_disk_free_bytes), reported_store_bytes = "
                  "coalesce($7::bigint, reported_store_bytes), purge_horizon_ms = $8, edge_schema = "
                  "$9, edge_build = $10, edge_refusal = NULL, edge_refused_at = NULL WHERE "
                  "tenant_id = $1 AND site_id = $2 AND "
                  "(last_seen_at IS NULL OR last_seen_at < now() - interval '2 seconds' OR "
                  "purge_horizon_ms <> $8 OR edge_schema IS DISTINCT FROM $9 OR edge_build IS "
                  "DISTINCT FROM $10 OR edge_refusal IS NOT NULL)",
                  {peer.tenant_id, peer.site_id, std::to_string(h.status().outbox_head_seq()),
                   std::to_string(h.status().backlog_bytes()),
                   std::to_string(h.status().oldest_unacked_ms()),
                   ReportedDisk(h.status(), true), ReportedDisk(h.status(), false),
                   std::to_string(h.status().purge_horizon_ms()),
                   std::to_string(h.schema_version()), h.build().substr(0, 64)})
          .status());
  MILLRACE_ASSIGN_OR_RETURN(std::uint64_t head, FeedHead(peer.tenant_id));
  MILLRACE_ASSIGN_OR_RETURN(std::int64_t fact_horizon, TenantFactHorizon(*conn_, peer.tenant_id));
  MILLRACE_RETURN_IF_ERROR(conn_->Exec("COMMIT"));
  v1::HelloReply reply;
  reply.set_applied_seq(site.applied);
  reply.set_feed_head(head);
  reply.set_rotate_key(site.rotate_key);
  reply.set_drift_check(site.drift_check);
  reply.set_fact_horizon_ms(static_cast<std::uint64_t>(fact_horizon));
  return reply;
}

Status SyncService::Session::EdgeRefused(const sync::Peer& peer, const v1::Hello& h,
                                         const std::string& why) {
  MILLRACE_RETURN_IF_ERROR(Connect());
  return InTenantTransaction(*conn_, peer.tenant_id, [&]() -> Status {
    return conn_
        ->Query("UPDATE millrace.sync_site SET edge_schema = $3, edge_build = $4, edge_refusal = "
                "$5, edge_refused_at = now() WHERE tenant_id = $1 AND site_id = $2 AND "
                "(edge_refusal IS DISTINCT FROM $5 OR edge_refused_at < now() - interval '1 "
                "minute')",
                {peer.tenant_id, peer.site_id, std::to_string(h.schema_version()),
                 h.build().substr(0, 64), why})
        .status();
  });
}

// A Hello from a store that is not the site's current one: the site's first store
// epoch (adopted with the cursor as it stands), a new incarnation (restored or copied:
// it becomes the site's store, resumed after its base seq, and gets back the site's rows
// stamped after its fork HLC), or a refusal (a superseded store; a second store while
// the current one is live).
Result<v1::HelloReply> SyncService::Session::NewStore(const sync::Peer& peer,
                                                     const v1::Hello& h) {
  MILLRACE_RETURN_IF_ERROR(BeginTenant(*conn_, peer.tenant_id));
  MILLRACE_ASSIGN_OR_RETURN(SiteRow site, Site(peer, true));
  const std::string& epoch = h.store_epoch();
  v1::HelloReply out;
  v1::HelloReply* reply = &out;
  if (site.epoch == epoch) {  // another worker got there first
    MILLRACE_RETURN_IF_ERROR(Rollback(*conn_));
    return Hello(peer, h);
  }
  MILLRACE_ASSIGN_OR_RETURN(
      auto known, conn_->Query("SELECT superseded_at IS NOT NULL, coalesce(superseded_by, ''), "
                               "coalesce(to_char(superseded_at, 'YYYY-MM-DD HH24:MI:SSOF'), '') "
                               "FROM millrace.sync_site_epoch WHERE tenant_id = $1 AND "
                               "site_id = $2 AND epoch = $3",
                               {peer.tenant_id, peer.site_id, epoch}));
  if (known.rows() == 1 && known.Get(0, 0) == "t") {
    MILLRACE_RETURN_IF_ERROR(Rollback(*conn_));
    return svc_->metrics_.RefuseStore(peer, "store_superseded",
                       "this store (epoch " + epoch + ") was replaced by the store of epoch " +
                           known.GetString(0, 1) + " at " + known.GetString(0, 2) +
                           "; two stores claim the site and central accepts only the newer. "
                           "Its unsent changes stay in its outbox; restore or reprovision "
                           "this edge");
  }
  std::string reason;
  std::uint64_t applied = site.applied;
  std::size_t recovered = 0;
  std::uint64_t grew = 0;  // the feed head after the rows sent back, 0: none
  if (site.epoch.empty() && h.outbox_head_seq() >= site.applied) {
    // The first store epoch the site names: the store is the one central has been
    // applying, and its seqs go on.
    reason = "the site's first store epoch";
  } else {
    if (!site.epoch.empty() && site.silent_s >= 0 &&
        site.silent_s * 1000 < static_cast<double>(svc_->options_.store_takeover_grace_ms)) {
      MILLRACE_RETURN_IF_ERROR(Rollback(*conn_));
      char silent[32];
      std::snprintf(silent, sizeof(silent), "%.1f", site.silent_s);
      return svc_->metrics_.RefuseStore(
          peer, "site_live_elsewhere",
          "site " + peer.site_id + " is live on another store (epoch " + site.epoch +
              ", heard from " + silent + " s ago); this store (epoch " + epoch +
              ", restored or copied) may take over only after that one has been silent for " +
              std::to_string(svc_->options_.store_takeover_grace_ms / 1000) +
              " s. If this is a copy made by mistake, stop it");
    }
    reason = site.epoch.empty() ? "a store behind central's cursor"
                                : "a new incarnation of the site's store (restored or copied)";
    if (!site.epoch.empty())
      MILLRACE_RETURN_IF_ERROR(
          conn_
              ->Query("UPDATE millrace.sync_site_epoch SET superseded_at = now(), "
                      "superseded_by = $4, applied_seq_at_end = $5 WHERE tenant_id = $1 AND "
                      "site_id = $2 AND epoch = $3",
                      {peer.tenant_id, peer.site_id, site.epoch, epoch,
                       std::to_string(site.applied)})
              .status());
    MILLRACE_ASSIGN_OR_RETURN(std::vector<FeedRow> rows,
                              RowsStampedAfter(peer, h.epoch_fork_hlc()));
    recovered = rows.size();
    FeedProvenance sent_back;
    sent_back.recovered = true;
    MILLRACE_ASSIGN_OR_RETURN(grew, AppendFeed(*conn_, peer.tenant_id, rows, sent_back));
    applied = h.epoch_base_seq();
    if (site.epoch == h.epoch_parent() && applied > site.applied)
      spdlog::warn("sync: site {}/{}'s new store says central acknowledged seq {} of epoch {}, "
                   "but central applied only {}: central lost acknowledged changes (restored "
                   "from an older backup?)",
                   peer.tenant_id, peer.site_id, applied, site.epoch, site.applied);
    reply->set_epoch_started(true);
    reply->set_recovered_rows(recovered);
  }
  MILLRACE_RETURN_IF_ERROR(
      conn_
          ->Query("INSERT INTO millrace.sync_site_epoch (tenant_id, site_id, epoch, "
                  "parent_epoch, base_seq, fork_hlc, reason, recovered_rows) VALUES ($1, $2, $3, "
                  "nullif($4, ''), $5, $6, $7, $8) ON CONFLICT (tenant_id, site_id, epoch) DO "
                  "UPDATE SET base_seq = EXCLUDED.base_seq, reason = EXCLUDED.reason, "
                  "recovered_rows = EXCLUDED.recovered_rows",
                  {peer.tenant_id, peer.site_id, epoch, h.epoch_parent(),
                   std::to_string(h.epoch_base_seq()), std::to_string(h.epoch_fork_hlc()),
                   reason, std::to_string(recovered)})
          .status());
  MILLRACE_RETURN_IF_ERROR(
      conn_
          ->Query("UPDATE millrace.sync_site SET store_epoch = $3, applied_seq = $4, "
                  "last_seen_at = now() WHERE tenant_id = $1 AND site_id = $2",
                  {peer.tenant_id, peer.site_id, epoch, std::to_string(applied)})
          .status());
  MILLRACE_ASSIGN_OR_RETURN(std::uint64_t head, FeedHead(peer.tenant_id));
  MILLRACE_RETURN_IF_ERROR(conn_->Exec("COMMIT"));
  if (grew) svc_->FeedGrew(peer.tenant_id, grew);  // committed: nudge the sites
  if (reply->epoch_started()) {
    svc_->metrics_.epochs_started.With({peer.tenant_id, peer.site_id}).Increment();
    spdlog::warn("sync: site {}/{} continues on a new store (epoch {} after {}): resumed after "
                 "seq {} (the previous store reached {}); {} row(s) stamped after {} go back "
                 "to it",
                 peer.tenant_id, peer.site_id, epoch,
                 site.epoch.empty() ? std::string("none") : site.epoch, applied, site.applied,
                 recovered, h.epoch_fork_hlc());
  } else {
    spdlog::info("sync: site {}/{} names its store epoch {}", peer.tenant_id, peer.site_id,
                 epoch);
  }
  reply->set_applied_seq(applied);
  reply->set_feed_head(head);
  return out;
}

// The site's own rows (facts, site-owned and shared) stamped after `hlc`, and the deletes
// of its shared rows made after it: what a store whose clock stood at `hlc` lacks, or
// holds still. Central's own master data reaches it by its feed cursor as always.
Result<std::vector<FeedRow>> SyncService::Session::RowsStampedAfter(const sync::Peer& peer,
                                                                   std::uint64_t hlc) {
  std::vector<FeedRow> out;
  for (const auto& t : catalog::MesCatalog().tables()) {
    if (t.merge == MergePolicy::kCentralOwned) continue;
    MILLRACE_ASSIGN_OR_RETURN(
        auto res, conn_->Query("SELECT " + PgSelectList(t) + " FROM " + PgTable(t) +
                                   " WHERE tenant_id = $1 AND site_id = $2 AND hlc > $3 "
                                   "ORDER BY hlc",
                               {peer.tenant_id, peer.site_id, std::to_string(hlc)}));
    for (int r = 0; r < res.rows(); ++r) {
      MILLRACE_ASSIGN_OR_RETURN(Row row, RowFromPg(t, res, r));
      out.push_back({std::move(row), false});
    }
  }
  MILLRACE_ASSIGN_OR_RETURN(
      auto stones,
      conn_->Query("SELECT change FROM millrace.sync_tombstone WHERE tenant_id = $1 AND site_id "
                   "= $2 AND hlc > $3 ORDER BY hlc",
                   {peer.tenant_id, peer.site_id, std::to_string(hlc)}));
  for (int r = 0; r < stones.rows(); ++r) {
    MILLRACE_ASSIGN_OR_RETURN(std::string bytes, FromByteaHex(stones.Get(r, 0)));
    v1::Change change;
    if (!change.ParseFromString(bytes))
      return Status::Corruption("a tombstone's change does not parse");
    MILLRACE_ASSIGN_OR_RETURN(Row row, sync::DecodeChange(change, catalog::MesCatalog()));
    out.push_back({std::move(row), true});
  }
  return out;
}

}  // namespace millrace::central
