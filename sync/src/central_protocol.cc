#include "millrace/sync/central_protocol.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "millrace/common/logging.h"
#include "millrace/common/schema_versions.h"
#include "millrace/sync/backup_source.h"
#include "millrace/sync/drift_wire.h"
#include "millrace/sync/row_codec.h"
#include "millrace/sync/schema_translation.h"
#include "millrace/sync/transport.h"
#include "millrace/sync/wire.h"

namespace millrace::sync {

using catalog::MergePolicy;

DecodedBatch DecodeBatch(const v1::PushBatch& batch, const catalog::Catalog& catalog) {
  DecodedBatch out;
  out.reserve(static_cast<std::size_t>(batch.changes_size()));
  for (const auto& c : batch.changes()) out.push_back({&c, DecodeServedShape(c, catalog)});
  return out;
}

SortedBatch SortBatch(const Peer& peer, const v1::PushBatch& batch, std::uint64_t applied,
                      const catalog::Catalog& catalog, const ClockPolicy& policy) {
  DecodedBatch decoded = DecodeBatch(batch, catalog);
  return SortDecoded(peer, decoded, applied, policy);
}

SortedBatch SortDecoded(const Peer& peer, DecodedBatch& decoded, std::uint64_t applied,
                        const ClockPolicy& policy) {
  SortedBatch out;
  const std::int64_t now = policy.clock->NowMillis();
  for (DecodedChange& d : decoded) {
    const v1::Change& c = *d.change;
    Result<Row>& row = d.row;
    if (c.seq() <= applied) continue;
    ++out.rows;
    auto park = [&](std::string reason) {
      out.rejects.push_back({c.seq(), c.table(), row.ok() ? row->id() : "", std::move(reason),
                             c.SerializeAsString()});
    };
    if (!row.ok()) {
      park("invalid_row: " + row.status().message());
      continue;
    }
    const catalog::TableSpec* t = &row->table();
    if (t->merge != MergePolicy::kSharedLww)  // central's clock observes what it applies
      (void)policy.hlc->Update(HlcTimestamp::FromPacked(c.hlc()));
    if (row->Text(catalog::kSiteColumn) != peer.site_id) {
      park("wrong_site: the row claims site '" + row->Text(catalog::kSiteColumn) +
           "' but was sent by site '" + peer.site_id + "'");
      continue;
    }
    if (c.op() != v1::OP_UPSERT && c.op() != v1::OP_DELETE) {
      park("unsupported_op: " + std::to_string(c.op()) + " is neither an upsert nor a delete");
      continue;
    }
    if (c.op() == v1::OP_DELETE && t->merge != MergePolicy::kSharedLww) {
      park(t->merge == MergePolicy::kCentralOwned
               ? "central_owned: " + t->name + " is master data, deleted only at central"
               : "unsupported_op: " + t->name + " rows are site facts, never deleted");
      continue;
    }
    switch (t->merge) {
      case MergePolicy::kCentralOwned:
        park("central_owned: " + t->name + " is master data, written only at central");
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
        else if (IncomingRowWins(it->second.row, *row))
          it->second = SeqRow{c.seq(), std::move(*row)};
        break;
      }
      case MergePolicy::kSharedLww: {
        HlcTimestamp hlc = HlcTimestamp::FromPacked(c.hlc());
        if (static_cast<std::int64_t>(hlc.physical_ms()) > now + policy.max_forward_skew_ms) {
          const HlcTimestamp clamped = policy.hlc->Now();
          out.clamps.push_back({t->name, row->id(), clamped.ToString(),
                                static_cast<std::int64_t>(hlc.physical_ms()) - now});
          hlc = clamped;
          row->Set(catalog::kHlcColumn, static_cast<std::int64_t>(hlc.packed()));
        } else {
          (void)policy.hlc->Update(hlc);
        }
        SharedChange sc{
            std::move(*row), {hlc.packed(), c.origin()}, c.base_hlc(), {}, hlc.packed() != c.hlc(),
            c.seq()};
        sc.changed_columns.assign(c.changed_columns().begin(), c.changed_columns().end());
        sc.deleted = c.op() == v1::OP_DELETE;
        out.shared[t].push_back(std::move(sc));
        break;
      }
    }
  }
  return out;
}

CentralProtocol::CentralProtocol(CentralSide* central, std::unique_ptr<CentralSession> session)
    : central_(central), session_(std::move(session)), metrics_(&central->Metrics()) {}

v1::Envelope CentralProtocol::Handle(const Peer& peer, const v1::Envelope& request,
                                     DecodedBatch* decoded) {
  ScopedLogContext ctx({{"tenant", peer.tenant_id}, {"site", peer.site_id}});
  Result<v1::Envelope> r = Dispatch(peer, request, decoded);
  if (r.ok()) return *std::move(r);
  session_->Reset(r.status());
  if (r.status().code() != StatusCode::kPermissionDenied)
    spdlog::warn("sync: {} from {}/{} failed: {}", BodyName(request), peer.tenant_id, peer.site_id,
                 r.status().ToString());
  return ErrorEnvelope(r.status());
}

Result<v1::Envelope> CentralProtocol::Dispatch(const Peer& peer, const v1::Envelope& request,
                                               DecodedBatch* decoded) {
  switch (request.body_case()) {
    case v1::Envelope::kHello:
      return Hello(peer, request.hello());
    case v1::Envelope::kPushBatch:
      return Push(peer, request.push_batch(), decoded);
    case v1::Envelope::kPullRequest:
      return Pull(peer, request.pull_request());
    case v1::Envelope::kKeyRotation: {
      if (!IsCurvePublicKey(request.key_rotation().new_public_key()))
        return Status::InvalidArgument("key rotation: the new public key is not a Z85 Curve key");
      MILLRACE_ASSIGN_OR_RETURN(v1::KeyRotated k,
                                session_->RotateKey(peer, request.key_rotation()));
      v1::Envelope e;
      *e.mutable_key_rotated() = std::move(k);
      return e;
    }
    case v1::Envelope::kBackupOffer: {
      MILLRACE_RETURN_IF_ERROR(CheckBackupOffer(request.backup_offer()));
      MILLRACE_ASSIGN_OR_RETURN(v1::BackupOfferReply r,
                                session_->BackupOffer(peer, request.backup_offer()));
      v1::Envelope e;
      *e.mutable_backup_offer_reply() = std::move(r);
      return e;
    }
    case v1::Envelope::kBackupChunk: {
      const v1::BackupChunk& c = request.backup_chunk();
      if (!IsValidBackupId(c.backup_id()))
        return Status::InvalidArgument("backup chunk: backup_id \"" + c.backup_id() +
                                       "\" is not a backup id");
      if (c.data().empty())
        return Status::InvalidArgument("backup chunk: data must not be empty");
      MILLRACE_ASSIGN_OR_RETURN(v1::BackupChunkAck a, session_->BackupChunk(peer, c));
      v1::Envelope e;
      *e.mutable_backup_chunk_ack() = std::move(a);
      return e;
    }
    case v1::Envelope::kDriftRequest: {
      // Answered, or refused in the reply so the edge ends the check with the reason (an
      // Error would make it reconnect and ask again); only an unreachable database is an
      // Error, and the edge asks again once central is back.
      const v1::DriftRequest& d = request.drift_request();
      Result<v1::DriftReply> r = [&]() -> Result<v1::DriftReply> {
        MILLRACE_RETURN_IF_ERROR(CheckDriftRequest(d, central_->Catalog()));
        return session_->Drift(peer, d);
      }();
      if (!r.ok() && r.status().code() == StatusCode::kUnavailable) return r.status();
      v1::Envelope e;
      v1::DriftReply* out = e.mutable_drift_reply();
      if (r.ok()) {
        *out = *std::move(r);
      } else {
        session_->Reset(r.status());
        spdlog::warn("sync: drift check {} of {}/{}: {}", d.check_id(), peer.tenant_id,
                     peer.site_id, r.status().ToString());
        out->set_error(r.status().ToString());
      }
      out->set_check_id(d.check_id());
      return e;
    }
    default:
      return Status::InvalidArgument("an edge may not send " + std::string(BodyName(request)));
  }
}

std::optional<VersionRefusal> CheckEdgeVersion(const v1::Hello& h,
                                               const std::string& central_fingerprint,
                                               int oldest, int newest) {
  const std::string served = "this central serves edge schemas " + std::to_string(oldest) +
                             " to " + std::to_string(newest);
  const bool said = h.schema_version() != 0;
  const int schema = said ? static_cast<int>(h.schema_version()) : kUnreportedEdgeSchema;
  const std::string edge =
      said ? "edge schema " + std::to_string(schema)
           : "an edge of a release before edges said their schema (taken for edge schema " +
                 std::to_string(schema) + ")";
  const std::string build = h.build().empty() ? "" : " (mes-edge " + h.build() + ")";
  if (schema > newest)
    return VersionRefusal{"edge_schema_too_new", edge + build + " is newer than " + served +
                                                     ": upgrade central first"};
  if (schema < oldest)
    return VersionRefusal{"edge_schema_too_old",
                          edge + build + " is older than " + served +
                              ": upgrade the edge (a site bundle) to edge schema " +
                              std::to_string(oldest) + " or later"};
  // Each served schema has its catalog: the newest one without the columns added since
  // (sync/schema_translation.h translates between them).
  if (h.catalog_fingerprint() != central_fingerprint)
    return VersionRefusal{"catalog_differs",
                          edge + build + " has catalog " + h.catalog_fingerprint() +
                              ", central's is " + central_fingerprint + " (" + served +
                              "): upgrade the edge"};
  return std::nullopt;
}

Result<v1::Envelope> CentralProtocol::Hello(const Peer& peer, const v1::Hello& h) {
  if (!h.site_id().empty() && h.site_id() != peer.site_id)
    return Status::PermissionDenied("this key belongs to site " + peer.site_id + ", not to " +
                                    h.site_id());
  const int schema =
      h.schema_version() != 0 ? static_cast<int>(h.schema_version()) : kUnreportedEdgeSchema;
  if (auto refused = CheckEdgeVersion(h, central_->Catalog().FingerprintHexAt(schema),
                                      kOldestServedEdgeSchema, kEdgeSchemaVersion)) {
    (void)session_->EdgeRefused(peer, h, refused->message);
    return metrics_->RefuseStore(peer, refused->reason, refused->message);
  }
  if (h.store_epoch().empty())
    return Status::FailedPrecondition(
        "the edge names no store epoch: upgrade mes-edge to a build that does");
  MILLRACE_ASSIGN_OR_RETURN(v1::HelloReply reply, session_->Hello(peer, h));
  reply.set_oldest_edge_schema(kOldestServedEdgeSchema);
  reply.set_newest_edge_schema(kEdgeSchemaVersion);
  metrics_->Observe(peer, &h.status(), reply.applied_seq(), false);
  metrics_->EdgeSchema(peer, h.schema_version());
  v1::Envelope e;
  *e.mutable_hello_reply() = std::move(reply);
  return e;
}

Result<v1::Envelope> CentralProtocol::Push(const Peer& peer, const v1::PushBatch& batch,
                                           DecodedBatch* decoded) {
  const auto started = std::chrono::steady_clock::now();
  MILLRACE_RETURN_IF_ERROR(CheckBatchShape(batch));
  const std::vector<std::string> labels = {peer.tenant_id, peer.site_id};
  v1::Envelope reply;
  for (bool row_by_row : {false, true}) {
    MILLRACE_ASSIGN_OR_RETURN(SiteCursor site, session_->LockSite(peer));
    const std::uint64_t applied = site.applied;
    if (batch.store_epoch() != site.epoch) {
      MILLRACE_RETURN_IF_ERROR(session_->Release());
      return metrics_->RefuseStore(
          peer, "store_superseded",
          "batch " + std::to_string(batch.batch_id()) + " counts seqs of store epoch '" +
              batch.store_epoch() + "' but the site's store is " +
              (site.epoch.empty() ? std::string("not known yet (say Hello)")
                                  : "epoch " + site.epoch) +
              "; its changes are not applied");
    }
    // Central was restored to before seqs it had acknowledged, and the edge keeps them no
    // longer: what they wrote is not here; the rest goes on (counted once applied).
    const std::uint64_t lost =
        batch.first_seq() > applied + 1 && batch.skips_lost() ? batch.first_seq() - applied - 1 : 0;
    if (batch.first_seq() > applied + 1 && !lost) {
      MILLRACE_RETURN_IF_ERROR(session_->Release());
      metrics_->nacks.With(labels).Increment();
      reply.mutable_nack()->set_batch_id(batch.batch_id());
      reply.mutable_nack()->set_expected_seq(applied + 1);
      reply.mutable_nack()->set_reason("gap: batch starts at " + std::to_string(batch.first_seq()));
      return reply;
    }
    if (batch.last_seq() <= applied) {
      MILLRACE_RETURN_IF_ERROR(session_->Release());
      metrics_->duplicates.With(labels).Increment();
      reply.mutable_ack()->set_batch_id(batch.batch_id());
      reply.mutable_ack()->set_acked_seq(applied);
      metrics_->Observe(peer, &batch.status(), applied, true);
      return reply;
    }
    // Decoded once: ahead of its turn by the server, or here. The row-by-row retry has
    // had the rows moved out by the first try and decodes again (a rare path).
    DecodedBatch local;
    if (!decoded || row_by_row) {
      local = DecodeBatch(batch, central_->Catalog());
      decoded = &local;
    }
    SortedBatch sorted = SortDecoded(peer, *decoded, applied, central_->Clocks());
    sorted.status = batch.status();
    auto outcome =
        session_->CommitBatch(peer, sorted, batch.last_seq(), batch.store_epoch(), row_by_row);
    if (!outcome.ok()) {
      if (row_by_row || outcome.status().code() == StatusCode::kUnavailable)
        return outcome.status();
      spdlog::info("sync: batch {} of {}/{} needs the row-by-row path: {}", batch.batch_id(),
                   peer.tenant_id, peer.site_id, outcome.status().ToString());
      continue;
    }
    for (const Clamp& k : sorted.clamps)
      spdlog::warn(
          "sync: {} {} from site {} (batch {}) is stamped {} ms ahead of central; "
          "clamped to {}",
          k.table, k.row_id, peer.site_id, batch.batch_id(), k.ahead_ms, k.clamped_to);
    for (const ParkedChange& r : sorted.rejects)
      spdlog::warn("sync: rejected seq {} ({}) from {}/{}: {}", r.seq, r.table, peer.tenant_id,
                   peer.site_id, r.reason);
    if (!sorted.clamps.empty())
      metrics_->clamped.With(labels).Increment(static_cast<double>(sorted.clamps.size()));
    if (lost) {
      spdlog::error("sync: site {}/{} resumed at seq {}, but central held its seqs only up to {} "
                    "(restored from an older backup?) and the edge no longer kept the {} between: "
                    "what they wrote is lost here",
                    peer.tenant_id, peer.site_id, batch.first_seq(), applied, lost);
      metrics_->lost_seqs.With(labels).Increment(static_cast<double>(lost));
    }
    metrics_->batches.With(labels).Increment();
    metrics_->rows.With(labels).Increment(static_cast<double>(sorted.rows));
    if (outcome->conflicts)
      metrics_->conflicts.With(labels).Increment(static_cast<double>(outcome->conflicts));
    if (!sorted.rejects.empty())
      metrics_->rejects.With(labels).Increment(static_cast<double>(sorted.rejects.size()));
    metrics_->apply_seconds.With(labels).Observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    metrics_->Observe(peer, &batch.status(), batch.last_seq(), true);
    if (outcome->feed_head) central_->FeedGrew(peer.tenant_id, outcome->feed_head);
    reply.mutable_ack()->set_batch_id(batch.batch_id());
    reply.mutable_ack()->set_acked_seq(batch.last_seq());
    reply.mutable_ack()->set_rejected(static_cast<std::uint32_t>(sorted.rejects.size()));
    reply.mutable_ack()->set_conflicts(static_cast<std::uint32_t>(outcome->conflicts));
    reply.mutable_ack()->set_rotate_key(site.rotate_key);
    reply.mutable_ack()->set_drift_check(site.drift_check);
    return reply;
  }
  return Status::Internal("unreachable");
}

Result<v1::Envelope> CentralProtocol::Pull(const Peer& peer, const v1::PullRequest& p) {
  const std::uint32_t limit = std::clamp<std::uint32_t>(p.max_changes(), 1, 10000);
  MILLRACE_ASSIGN_OR_RETURN(FeedPage page, session_->ReadFeed(peer, p.cursor(), limit));
  v1::Envelope e;
  auto* b = e.mutable_feed_batch();
  b->set_from_cursor(p.cursor());
  const bool more = page.changes.size() == limit;
  const std::uint64_t last = page.changes.empty() ? 0 : page.changes.back().seq();
  const int schema = EdgeSchemaOf(p.schema_version());
  for (auto& c : page.changes) {
    if (c.op() == v1::OP_DELETE && !p.takes_deletes()) continue;
    NarrowChange(&c, central_->Catalog(), schema);
    *b->add_changes() = std::move(c);
  }
  b->set_more(more);
  b->set_to_cursor(more ? last : std::max(page.head, p.cursor()));
  return e;
}

}  // namespace millrace::sync
