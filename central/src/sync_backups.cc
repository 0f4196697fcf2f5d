// The site backups edges ship to central over the sync link (sync.proto BackupOffer): the
// offer makes the backup's row (receiving) or finds it, and says where central's part
// stands; chunks append to the part at exactly where it ends; the chunk that completes it
// has the whole part's SHA-256 checked against the offer, then the part is committed to
// the backup store, the row says stored, and a backup_verify job is queued with it.
#include <spdlog/spdlog.h>

#include "millrace/central/central_store.h"
#include "millrace/central/job_queue.h"
#include "sync_handler.h"

namespace millrace::central {

namespace {

// Where a site's backup lives in the backup store.
std::string StoreKey(const sync::Peer& peer, const std::string& backup_id) {
  return peer.tenant_id + "/" + peer.site_id + "/" + backup_id + ".db.gz";
}

struct OfferedBackup {
  std::uint64_t bytes = 0;
  std::string sha256, state, store_key;
};

Result<std::optional<OfferedBackup>> FindBackup(PgConnection& conn, const sync::Peer& peer,
                                                const std::string& backup_id, bool lock) {
  MILLRACE_ASSIGN_OR_RETURN(
      auto r, conn.Query(std::string("SELECT bytes, sha256, state, store_key FROM "
                                     "millrace.site_backup WHERE tenant_id = $1 AND site_id = $2 "
                                     "AND backup_id = $3") +
                             (lock ? " FOR UPDATE" : ""),
                         {peer.tenant_id, peer.site_id, backup_id}));
  if (r.rows() == 0) return std::optional<OfferedBackup>();
  return std::optional<OfferedBackup>(OfferedBackup{
      std::stoull(r.GetString(0, 0)), r.GetString(0, 1), r.GetString(0, 2), r.GetString(0, 3)});
}

}  // namespace

Result<v1::BackupOfferReply> SyncService::Session::BackupOffer(const sync::Peer& peer,
                                                               const v1::BackupOffer& o) {
  v1::BackupOfferReply reply;
  reply.set_backup_id(o.backup_id());
  BackupStore* store = svc_->options_.backups;
  if (!store) {
    reply.set_declined(true);
    reply.set_reason("this central keeps no site backups ([backups] dir is not set)");
    return reply;
  }
  MILLRACE_RETURN_IF_ERROR(Connect());
  MILLRACE_RETURN_IF_ERROR(BeginTenant(*conn_, peer.tenant_id));
  MILLRACE_RETURN_IF_ERROR(Site(peer, false).status());
  MILLRACE_ASSIGN_OR_RETURN(auto found, FindBackup(*conn_, peer, o.backup_id(), true));
  if (!found) {
    MILLRACE_RETURN_IF_ERROR(
        conn_
            ->Query("INSERT INTO millrace.site_backup (tenant_id, site_id, backup_id, store_key, "
                    "bytes, raw_bytes, sha256, taken_at, schema_version, store_epoch, node) "
                    "VALUES ($1, $2, $3, $4, $5, $6, $7, to_timestamp($8 / 1000.0), $9, $10, $11)",
                    {peer.tenant_id, peer.site_id, o.backup_id(), StoreKey(peer, o.backup_id()),
                     std::to_string(o.bytes()), std::to_string(o.raw_bytes()), o.sha256(),
                     std::to_string(o.taken_at_ms()), std::to_string(o.schema_version()),
                     o.store_epoch(), svc_->options_.node})
            .status());
    found = OfferedBackup{o.bytes(), o.sha256(), "receiving", StoreKey(peer, o.backup_id())};
    spdlog::info("sync: site {}/{} offers backup {} ({} bytes)", peer.tenant_id, peer.site_id,
                 o.backup_id(), o.bytes());
  } else if (found->bytes != o.bytes() || found->sha256 != o.sha256()) {
    MILLRACE_RETURN_IF_ERROR(Rollback(*conn_));
    return Status::InvalidArgument("backup offer: backup " + o.backup_id() +
                                   " was offered before with another size or sha256");
  }
  if (found->state != "receiving") {
    reply.set_complete(true);
    reply.set_next_offset(found->bytes);
  } else {
    MILLRACE_ASSIGN_OR_RETURN(std::uint64_t have, store->PartSize(found->store_key));
    if (have > found->bytes) {  // not this backup's part: start over
      MILLRACE_RETURN_IF_ERROR(store->DropPart(found->store_key));
      have = 0;
    }
    reply.set_next_offset(have);
  }
  MILLRACE_RETURN_IF_ERROR(conn_->Exec("COMMIT"));
  return reply;
}

Result<v1::BackupChunkAck> SyncService::Session::BackupChunk(const sync::Peer& peer,
                                                             const v1::BackupChunk& c) {
  BackupStore* store = svc_->options_.backups;
  if (!store) return Status::FailedPrecondition("this central keeps no site backups");
  v1::BackupChunkAck ack;
  ack.set_backup_id(c.backup_id());
  MILLRACE_RETURN_IF_ERROR(Connect());
  MILLRACE_RETURN_IF_ERROR(BeginTenant(*conn_, peer.tenant_id));
  MILLRACE_RETURN_IF_ERROR(Site(peer, false).status());
  MILLRACE_ASSIGN_OR_RETURN(auto found, FindBackup(*conn_, peer, c.backup_id(), true));
  if (!found) {
    MILLRACE_RETURN_IF_ERROR(Rollback(*conn_));
    return Status::FailedPrecondition("backup chunk: backup " + c.backup_id() +
                                      " was not offered: offer it first");
  }
  const OfferedBackup& b = *found;
  if (b.state != "receiving") {
    MILLRACE_RETURN_IF_ERROR(Rollback(*conn_));
    ack.set_complete(true);
    ack.set_next_offset(b.bytes);
    return ack;
  }
  MILLRACE_ASSIGN_OR_RETURN(std::uint64_t have, store->PartSize(b.store_key));
  if (c.offset() != have) {  // out of step (a resend, a chunk from before a reconnect)
    MILLRACE_RETURN_IF_ERROR(Rollback(*conn_));
    ack.set_next_offset(have);
    return ack;
  }
  auto refuse = [&](std::string why) -> Result<v1::BackupChunkAck> {
    MILLRACE_RETURN_IF_ERROR(store->DropPart(b.store_key));
    MILLRACE_RETURN_IF_ERROR(Rollback(*conn_));
    spdlog::warn("sync: refused backup {} of site {}/{}: {}", c.backup_id(), peer.tenant_id,
                 peer.site_id, why);
    ack.set_refused(true);
    ack.set_reason(std::move(why));
    ack.set_next_offset(0);
    return ack;
  };
  if (have + c.data().size() > b.bytes)
    return refuse("the chunk at " + std::to_string(c.offset()) + " runs past the offered " +
                  std::to_string(b.bytes) + " bytes");
  MILLRACE_RETURN_IF_ERROR(store->AppendPart(b.store_key, c.offset(), c.data()));
  have += c.data().size();
  ack.set_next_offset(have);
  if (have < b.bytes) {
    MILLRACE_RETURN_IF_ERROR(Rollback(*conn_));
    return ack;
  }
  MILLRACE_ASSIGN_OR_RETURN(std::string sha, store->PartSha256(b.store_key));
  if (sha != b.sha256)
    return refuse("the whole file's sha256 is " + sha + ", the offer said " + b.sha256);
  MILLRACE_RETURN_IF_ERROR(store->CommitPart(b.store_key));
  MILLRACE_RETURN_IF_ERROR(
      conn_
          ->Query("UPDATE millrace.site_backup SET state = 'stored', received_at = now(), node = "
                  "$4, updated_at = now() WHERE tenant_id = $1 AND site_id = $2 AND backup_id = $3",
                  {peer.tenant_id, peer.site_id, c.backup_id(), svc_->options_.node})
          .status());
  NewJob verify;
  verify.tenant_id = peer.tenant_id;
  verify.kind = "backup_verify";
  verify.payload = {{"site", peer.site_id}, {"backup_id", c.backup_id()}};
  verify.dedupe_key = "backup_verify:" + b.store_key + ":received";
  verify.created_by = "sync";
  MILLRACE_RETURN_IF_ERROR(EnqueueJob(*conn_, verify).status());
  MILLRACE_RETURN_IF_ERROR(conn_->Exec("COMMIT"));
  spdlog::info("sync: site {}/{} backup {} is stored ({} bytes, sha256 {})", peer.tenant_id,
               peer.site_id, c.backup_id(), b.bytes, b.sha256);
  ack.set_complete(true);
  return ack;
}

}  // namespace millrace::central
