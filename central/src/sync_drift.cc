// The drift checks sites run against central (sync.proto DriftRequest; sync/drift_run.h
// has the edge's half). A check is a sync_drift row the site was asked to run; its first
// probe makes central index the site's rows (SiteRows: the scope SiteContent digests) in
// one REPEATABLE READ snapshot and mark the check running; the probes are answered from
// that index (cached per site, for any worker of this node); a fetch answers central's
// current copies; a repair writes the site's copies of its own rows, each only while
// central's row is as the index holds it (an audit record that exists is never
// overwritten, a shared row central deleted comes back only when newer than its delete);
// the outcome is recorded and the site's request cleared.
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "millrace/central/central_store.h"
#include "millrace/central/retention.h"
#include "millrace/common/uuid.h"
#include "millrace/sync/drift_wire.h"
#include "millrace/sync/row_codec.h"
#include "millrace/sync/schema_translation.h"
#include "sync_handler.h"

namespace millrace::central {

namespace {

constexpr auto kIndexIdle = std::chrono::minutes(15);
constexpr std::size_t kIndexesKept = 256;
constexpr std::size_t kMaxReplyBytes = 4 << 20;  // central's copies sent at once

std::string SiteKey(const sync::Peer& peer) {
  return peer.tenant_id + "/" + peer.site_id;
}

// The check `check_id` of the peer's site, locked: its state, or NotFound.
Result<std::string> CheckState(PgConnection& conn, const sync::Peer& peer, std::uint64_t check_id) {
  MILLRACE_ASSIGN_OR_RETURN(
      auto r, conn.Query("SELECT state FROM millrace.sync_drift WHERE tenant_id = $1 AND "
                         "check_id = $2 AND site_id = $3 FOR UPDATE",
                         {peer.tenant_id, std::to_string(check_id), peer.site_id}));
  if (r.rows() != 1)
    return Status::NotFound("no drift check " + std::to_string(check_id) + " of site " +
                            peer.site_id);
  return r.GetString(0, 0);
}

}  // namespace

std::shared_ptr<const sync::RangeIndexes> DriftIndexCache::Find(const std::string& site_key,
                                                                std::uint64_t check_id) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(site_key);
  if (it == entries_.end() || it->second.check_id != check_id) return nullptr;
  const auto now = std::chrono::steady_clock::now();
  if (now - it->second.used > kIndexIdle) {
    entries_.erase(it);
    return nullptr;
  }
  it->second.used = now;
  return it->second.indexes;
}

void DriftIndexCache::Put(const std::string& site_key, std::uint64_t check_id,
                          std::shared_ptr<const sync::RangeIndexes> indexes) {
  std::lock_guard lock(mu_);
  const auto now = std::chrono::steady_clock::now();
  std::erase_if(entries_, [&](const auto& e) { return now - e.second.used > kIndexIdle; });
  while (entries_.size() >= kIndexesKept) {
    auto oldest = entries_.begin();
    for (auto it = entries_.begin(); it != entries_.end(); ++it)
      if (it->second.used < oldest->second.used) oldest = it;
    entries_.erase(oldest);
  }
  entries_[site_key] = {check_id, std::move(indexes), now};
}

void DriftIndexCache::Drop(const std::string& site_key) {
  std::lock_guard lock(mu_);
  entries_.erase(site_key);
}

Result<std::shared_ptr<const sync::RangeIndexes>> SyncService::Session::DriftIndex(
    const sync::Peer& peer, std::uint64_t check_id, std::uint64_t horizon_ms, int edge_schema) {
  if (auto cached = svc_->drift_indexes_->Find(SiteKey(peer), check_id)) return cached;
  auto indexes = std::make_shared<sync::RangeIndexes>();
  std::uint64_t rows = 0;
  MILLRACE_RETURN_IF_ERROR(InTenantTransaction(
      *conn_, peer.tenant_id,
      [&]() -> Status {
        MILLRACE_RETURN_IF_ERROR(Site(peer, false).status());
        MILLRACE_ASSIGN_OR_RETURN(std::string state, CheckState(*conn_, peer, check_id));
        if (state != "requested" && state != "running")
          return Status::FailedPrecondition("drift check " + std::to_string(check_id) +
                                            " is over (" + state + ")");
        MILLRACE_ASSIGN_OR_RETURN(std::int64_t retained, TenantFactHorizon(*conn_, peer.tenant_id));
        const std::int64_t horizon = std::max(retained, static_cast<std::int64_t>(horizon_ms));
        for (const auto& t : catalog::MesCatalog().tables()) {
          MILLRACE_ASSIGN_OR_RETURN(auto table_rows,
                                    SiteRows(*conn_, peer.tenant_id, peer.site_id, t, nullptr,
                                             false, horizon));
          sync::RangeIndex& index = (*indexes)[t.name];
          for (const Row& row : table_rows)
            index.Add(row.id(), sync::RowFingerprint(row, edge_schema));
          index.Seal();
          rows += table_rows.size();
        }
        return conn_
            ->Query(
                "UPDATE millrace.sync_drift SET state = 'running', started_at = "
                "coalesce(started_at, now()), central_rows = $3 WHERE tenant_id = $1 AND "
                "check_id = $2",
                {peer.tenant_id, std::to_string(check_id), std::to_string(rows)})
            .status();
      },
      /*repeatable_read=*/true));
  spdlog::info("sync: drift check {}: central indexed {} row(s) of {}/{}", check_id, rows,
               peer.tenant_id, peer.site_id);
  std::shared_ptr<const sync::RangeIndexes> out = std::move(indexes);
  svc_->drift_indexes_->Put(SiteKey(peer), check_id, out);
  return out;
}

Result<v1::DriftRepaired> SyncService::Session::DriftRepair(const sync::Peer& peer,
                                                            std::uint64_t check_id,
                                                            const v1::DriftRepair& r,
                                                            int edge_schema) {
  const catalog::TableSpec* spec = catalog::MesCatalog().Find(r.table());
  if (spec->owner == catalog::Owner::kCentral)
    return Status::InvalidArgument("drift repair: central owns " + r.table() +
                                   "; a site does not send its rows");
  v1::DriftRepaired out;
  out.set_table(r.table());
  std::vector<Row> rows;
  std::vector<std::size_t> known;  // per row: the leading columns its edge's schema knows
  std::vector<std::string> ids;
  for (const auto& c : r.rows()) {
    // What the normal apply would park (a bad value, another site's row, not an upsert) is
    // not taken here either; the reject table already holds it.
    std::size_t width = 0;
    auto row = sync::DecodeServedShape(c, catalog::MesCatalog(), &width);
    if (c.op() != v1::OP_UPSERT || !row.ok() || row->IsNull(catalog::kSiteColumn) ||
        row->Text(catalog::kSiteColumn) != peer.site_id)
      continue;  // counted as skipped
    ids.push_back(row->id());
    rows.push_back(*std::move(row));
    known.push_back(width);
  }
  auto indexes = svc_->drift_indexes_->Find(SiteKey(peer), check_id);
  if (!indexes) {  // taken by another node, or dropped: nothing to compare against
    out.set_skipped(static_cast<std::uint32_t>(r.rows_size()));
    return out;
  }
  auto indexed = indexes->find(r.table());
  std::size_t written = 0;
  MILLRACE_RETURN_IF_ERROR(InTenantTransaction(*conn_, peer.tenant_id, [&]() -> Status {
    written = 0;
    // The site's lock orders this with the site's batches, on any node.
    MILLRACE_RETURN_IF_ERROR(Site(peer, true).status());
    // Audit records are never updated, so not locked either (the role may not).
    MILLRACE_ASSIGN_OR_RETURN(auto current, SiteRows(*conn_, peer.tenant_id, peer.site_id, *spec,
                                                     &ids, /*lock=*/!spec->immutable));
    std::map<std::string, const Row*> now;
    for (const Row& row : current) now[row.id()] = &row;
    // Facts older than the tenant keeps are not taken back from a site.
    MILLRACE_ASSIGN_OR_RETURN(std::int64_t retained, TenantFactHorizon(*conn_, peer.tenant_id));
    const std::string retained_floor = Uuid::FloorV7(retained).ToString();
    std::vector<const Row*> insert, update;
    for (std::size_t n = 0; n < rows.size(); ++n) {
      Row& row = rows[n];
      if (spec->owner == catalog::Owner::kSite && row.id() < retained_floor) continue;
      // As the index holds it: there with the same fingerprint, or absent from both.
      std::optional<std::uint64_t> was;
      if (indexed != indexes->end()) was = indexed->second.Find(row.id());
      auto it = now.find(row.id());
      const bool is_there = it != now.end();
      if (was.has_value() != is_there ||
          (is_there && *was != sync::RowFingerprint(*it->second, edge_schema)))
        continue;  // changed since central indexed it: left to sync
      if (!is_there) {
        insert.push_back(&row);
        continue;
      }
      // Only a fact (immutable once written: the site's copy is the original) or a
      // site-owned row whose clock is not older than central's is put back; audit records
      // and shared rows central holds are never overwritten from a site.
      const bool newer_or_same =
          row.Int(catalog::kHlcColumn) >= it->second->Int(catalog::kHlcColumn);
      if (spec->immutable || spec->merge == catalog::MergePolicy::kSharedLww) continue;
      if (spec->merge == catalog::MergePolicy::kSiteOwned && !newer_or_same) continue;
      // An older edge's copy keeps central's values of the columns its schema lacks.
      for (std::size_t i = known[n]; i < spec->columns.size(); ++i)
        row.mutable_values()[i] = it->second->values()[i];
      update.push_back(&row);
    }
    if (!insert.empty() && spec->merge == catalog::MergePolicy::kSharedLww) {
      // A shared row central deleted: the site's copy comes back only if newer than the
      // delete (sync/merge.h); an older one hears of the delete again on the feed.
      std::vector<std::string> insert_ids;
      for (const Row* row : insert) insert_ids.push_back(row->id());
      MILLRACE_ASSIGN_OR_RETURN(auto tombs,
                                Tombstones(*conn_, peer.tenant_id, *spec, insert_ids));
      std::vector<const Row*> revived;
      std::vector<FeedRow> deletes;
      for (const Row* row : insert) {
        auto tomb = tombs.find(row->id());
        if (tomb == tombs.end()) {
          revived.push_back(row);
          continue;
        }
        const sync::ColumnClock clock{static_cast<std::uint64_t>(row->Int(catalog::kHlcColumn)),
                                      row->Text(catalog::kOriginColumn)};
        if (clock.Beats(tomb->second)) {
          revived.push_back(row);
          continue;
        }
        Row stone = *row;
        stone.Set(catalog::kHlcColumn, static_cast<std::int64_t>(tomb->second.hlc));
        stone.Set(catalog::kOriginColumn, tomb->second.origin);
        deletes.push_back({std::move(stone), true});
      }
      std::vector<std::string> revived_ids;
      for (const Row* row : revived) revived_ids.push_back(row->id());
      MILLRACE_RETURN_IF_ERROR(ClearTombstones(*conn_, peer.tenant_id, *spec, revived_ids));
      MILLRACE_RETURN_IF_ERROR(AppendFeed(*conn_, peer.tenant_id, deletes).status());
      insert = std::move(revived);
    }
    if (!insert.empty())
      MILLRACE_RETURN_IF_ERROR(InsertRowsIfAbsent(*conn_, peer.tenant_id, *spec, insert));
    if (!update.empty())
      MILLRACE_RETURN_IF_ERROR(UpsertRows(*conn_, peer.tenant_id, *spec, update));
    written = insert.size() + update.size();
    return Status::Ok();
  }));
  out.set_written(static_cast<std::uint32_t>(written));
  out.set_skipped(static_cast<std::uint32_t>(r.rows_size()) - out.written());
  if (written > 0)
    spdlog::warn("sync: drift check {}: took {} {} row(s) from {}/{} as they stand there", check_id,
                 written, r.table(), peer.tenant_id, peer.site_id);
  return out;
}

Status SyncService::Session::DriftOutcome(const sync::Peer& peer, std::uint64_t check_id,
                                          const v1::DriftOutcome& o) {
  std::uint64_t drifted = 0, repaired = 0, left = 0;
  nlohmann::json tables = nlohmann::json::array();
  for (const auto& t : o.tables()) {
    drifted += std::uint64_t{t.differ()} + t.only_edge() + t.only_central();
    repaired += std::uint64_t{t.repaired_at_central()} + t.repaired_at_edge();
    left += t.left_to_sync();
    tables.push_back({{"table", t.table()},
                      {"differ", t.differ()},
                      {"only_edge", t.only_edge()},
                      {"only_central", t.only_central()},
                      {"repaired_at_central", t.repaired_at_central()},
                      {"repaired_at_edge", t.repaired_at_edge()},
                      {"left_to_sync", t.left_to_sync()}});
  }
  const std::string& error = o.error();  // at most 2000 bytes (CheckDriftRequest)
  MILLRACE_RETURN_IF_ERROR(InTenantTransaction(*conn_, peer.tenant_id, [&]() -> Status {
    MILLRACE_RETURN_IF_ERROR(Site(peer, false).status());
    MILLRACE_ASSIGN_OR_RETURN(std::string state, CheckState(*conn_, peer, check_id));
    if (state == "requested" || state == "running") {
      MILLRACE_RETURN_IF_ERROR(
          conn_
              ->Query("UPDATE millrace.sync_drift SET state = $3, finished_at = now(), edge_rows "
                      "= $4, round_trips = $5, ranges_compared = $6, rows_listed = $7, drifted = "
                      "$8, repaired = $9, left_to_sync = $10, tables = $11::jsonb, error = "
                      "nullif($12, '') WHERE tenant_id = $1 AND check_id = $2",
                      {peer.tenant_id, std::to_string(check_id), error.empty() ? "done" : "failed",
                       std::to_string(o.local_rows()), std::to_string(o.round_trips()),
                       std::to_string(o.ranges_compared()), std::to_string(o.rows_listed()),
                       std::to_string(drifted), std::to_string(repaired), std::to_string(left),
                       tables.dump(), error})
              .status());
    }
    return conn_
        ->Query(
            "UPDATE millrace.sync_site SET drift_check_id = NULL WHERE tenant_id = $1 AND "
            "site_id = $2 AND drift_check_id = $3",
            {peer.tenant_id, peer.site_id, std::to_string(check_id)})
        .status();
  }));
  svc_->drift_indexes_->Drop(SiteKey(peer));
  if (!error.empty())
    spdlog::warn("sync: drift check {} of {}/{} failed: {}", check_id, peer.tenant_id, peer.site_id,
                 error);
  else
    spdlog::info(
        "sync: drift check {} of {}/{}: {} row(s) drifted, {} repaired, {} left to "
        "sync, {} round trip(s)",
        check_id, peer.tenant_id, peer.site_id, drifted, repaired, left, o.round_trips());
  return Status::Ok();
}

Result<v1::DriftReply> SyncService::Session::Drift(const sync::Peer& peer,
                                                   const v1::DriftRequest& r) {
  MILLRACE_RETURN_IF_ERROR(Connect());
  const int schema = sync::EdgeSchemaOf(r.schema_version());
  v1::DriftReply reply;
  switch (r.body_case()) {
    case v1::DriftRequest::kProbe: {
      // A walk starts with the roots of the tables: the edge indexed its side just now
      // (again, after a restart), so central does too.
      bool roots = r.probe().rows_of_size() == 0;
      for (const auto& c : r.probe().children_of()) roots = roots && c.level() == 0;
      if (roots) svc_->drift_indexes_->Drop(SiteKey(peer));
      MILLRACE_ASSIGN_OR_RETURN(auto indexes,
                                DriftIndex(peer, r.check_id(), r.probe().horizon_ms(), schema));
      MILLRACE_ASSIGN_OR_RETURN(sync::RangeProbe probe,
                                sync::DriftProbeFromWire(r.probe(), catalog::MesCatalog()));
      MILLRACE_ASSIGN_OR_RETURN(sync::RangeProbeReply answer, sync::AnswerProbe(*indexes, probe));
      *reply.mutable_probe() = sync::DriftReplyToWire(r.check_id(), answer);
      return reply;
    }
    case v1::DriftRequest::kFetch: {
      const catalog::TableSpec* spec = catalog::MesCatalog().Find(r.fetch().table());
      std::vector<std::string> ids(r.fetch().ids().begin(), r.fetch().ids().end());
      for (const auto& id : ids)
        if (!Uuid::Parse(id).ok())
          return Status::InvalidArgument("drift fetch: '" + id + "' is not a row id");
      std::vector<Row> rows;
      MILLRACE_RETURN_IF_ERROR(InTenantTransaction(*conn_, peer.tenant_id, [&]() -> Status {
        MILLRACE_RETURN_IF_ERROR(Site(peer, false).status());
        MILLRACE_ASSIGN_OR_RETURN(rows,
                                  SiteRows(*conn_, peer.tenant_id, peer.site_id, *spec, &ids));
        return Status::Ok();
      }));
      auto* f = reply.mutable_fetched();
      f->set_table(spec->name);
      std::set<std::string> found, sent;
      std::size_t bytes = 0;
      for (const Row& row : rows) {
        found.insert(row.id());
        if (bytes > kMaxReplyBytes) continue;  // asked again (later)
        v1::Change c = sync::EncodeChange(row, v1::OP_UPSERT);
        sync::NarrowChange(&c, catalog::MesCatalog(), schema);
        bytes += c.ByteSizeLong();
        *f->add_rows() = std::move(c);
        sent.insert(row.id());
      }
      for (const auto& id : ids) {
        if (!found.count(id))
          f->add_missing(id);
        else if (!sent.count(id))
          f->add_later(id);
      }
      return reply;
    }
    case v1::DriftRequest::kRepair: {
      MILLRACE_ASSIGN_OR_RETURN(*reply.mutable_repaired(),
                                DriftRepair(peer, r.check_id(), r.repair(), schema));
      return reply;
    }
    case v1::DriftRequest::kOutcome:
      MILLRACE_RETURN_IF_ERROR(DriftOutcome(peer, r.check_id(), r.outcome()));
      reply.mutable_recorded();
      return reply;
    case v1::DriftRequest::BODY_NOT_SET:
      break;
  }
  return Status::InvalidArgument("drift request: no probe, fetch, repair or outcome");
}

}  // namespace millrace::central
