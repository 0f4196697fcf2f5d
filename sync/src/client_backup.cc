// SyncClient's site backups: the newest backup the edge staged (BackupSource) is offered to
// central and shipped in a window of chunks that resumes where central's copy ends after a
// cut link, until central keeps it, declines backups, or refuses it twice.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "millrace/sync/client.h"

namespace millrace::sync {

Status SyncClient::MaybeShipBackup() {
  if (!options_.backups || backups_declined_) return Status::Ok();
  const std::int64_t now = clock_->NowMillis();
  if (!shipment_) {
    if (backup_checked_ms_ != 0 && now >= backup_checked_ms_ &&
        now - backup_checked_ms_ < options_.backup_poll.count())
      return Status::Ok();
    backup_checked_ms_ = now;
    MILLRACE_ASSIGN_OR_RETURN(std::optional<v1::BackupOffer> pending, options_.backups->Pending());
    if (!pending) return Status::Ok();
    if (Status bad = CheckBackupOffer(*pending); !bad.ok()) {
      // Not something central could take: dropped, so it is not offered every poll.
      MILLRACE_RETURN_IF_ERROR(options_.backups->Refused(pending->backup_id(), bad.message()));
      return bad.WithContext("the edge's pending backup");
    }
    shipment_ = Shipment{*pending};
    Record([&](SyncClientStats& st) {
      st.backup_shipping = pending->backup_id();
      st.backup_offset = 0;
    });
  }
  Shipment& b = *shipment_;
  if (b.offer_in_flight) return Status::Ok();
  if (!b.offered || (b.chunks_in_flight == 0 && b.next_offset >= b.offer.bytes())) {
    // The upload begins, or nothing is owed and central has every byte but has not said
    // it kept the backup: the offer asks where central's copy stands.
    v1::Envelope e;
    *e.mutable_backup_offer() = b.offer;
    Status s = Send(std::move(e));
    if (s.code() == StatusCode::kUnavailable) return Status::Ok();
    MILLRACE_RETURN_IF_ERROR(s);
    b.offer_in_flight = true;
    backup_sent_ms_ = now;
    return Status::Ok();
  }
  while (b.chunks_in_flight < options_.backup_window && b.next_offset < b.offer.bytes()) {
    const std::size_t want = static_cast<std::size_t>(
        std::min<std::uint64_t>(options_.backup_chunk_bytes, b.offer.bytes() - b.next_offset));
    auto read = options_.backups->Read(b.offer.backup_id(), b.next_offset, want);
    if (!read.ok()) {
      shipment_.reset();  // replaced meanwhile, or gone: the next poll asks what waits
      Record([&](SyncClientStats& st) { st.backup_shipping.clear(); });
      return read.status().WithContext("reading the site backup to ship");
    }
    std::string data = *std::move(read);
    if (data.empty() || data.size() > want) {
      const std::string id = b.offer.backup_id();
      const std::string why = "backup " + id + " has " + std::to_string(data.size()) +
                              " byte(s) at offset " + std::to_string(b.next_offset) +
                              " where its offer said " + std::to_string(want);
      shipment_.reset();
      MILLRACE_RETURN_IF_ERROR(options_.backups->Refused(id, why));
      return Status::Corruption(why);
    }
    const std::uint64_t size = data.size();
    v1::Envelope e;
    auto* c = e.mutable_backup_chunk();
    c->set_backup_id(b.offer.backup_id());
    c->set_offset(b.next_offset);
    c->set_data(std::move(data));
    Status s = Send(std::move(e));
    if (s.code() == StatusCode::kUnavailable) break;
    MILLRACE_RETURN_IF_ERROR(s);
    if (b.chunks_in_flight == 0) backup_sent_ms_ = now;
    ++b.chunks_in_flight;
    b.next_offset += size;
    Record([&](SyncClientStats& st) { st.backup_bytes_sent += size; });
  }
  return Status::Ok();
}

Status SyncClient::HandleBackupReply(const v1::Envelope& e) {
  if (!shipment_) return Status::Ok();  // an answer from before a reconnect
  Shipment& b = *shipment_;
  const std::string id = b.offer.backup_id();
  const std::uint64_t bytes = b.offer.bytes();
  auto finish = [&]() -> Status {
    shipment_.reset();  // b is gone from here on
    backup_checked_ms_ = clock_->NowMillis();
    const std::int64_t wall = SystemClock()->NowMillis();
    Record([&](SyncClientStats& st) {
      st.backups_shipped++;
      st.last_backup_shipped_ms = wall;
      st.backup_shipping.clear();
    });
    spdlog::info("sync: central keeps site backup {} ({} bytes)", id, bytes);
    return options_.backups->Shipped(id);
  };
  if (e.has_backup_offer_reply()) {
    const auto& r = e.backup_offer_reply();
    if (r.backup_id() != id || !b.offer_in_flight) return Status::Ok();
    b.offer_in_flight = false;
    b.offered = true;
    if (r.declined()) {
      spdlog::info("sync: central takes no site backups ({}); none are shipped on this link",
                   r.reason());
      backups_declined_ = true;
      shipment_.reset();
      Record([&](SyncClientStats& st) { st.backup_shipping.clear(); });
      return Status::Ok();
    }
    if (r.complete()) return finish();
    b.next_offset = b.central_offset = std::min(r.next_offset(), b.offer.bytes());
    if (b.central_offset > 0)
      spdlog::info("sync: resuming site backup {} at byte {} of {}", id, b.central_offset,
                   b.offer.bytes());
  } else {
    const auto& a = e.backup_chunk_ack();
    if (a.backup_id() != id || b.offer_in_flight) return Status::Ok();
    b.chunks_in_flight = std::max(0, b.chunks_in_flight - 1);
    if (a.complete()) return finish();
    if (a.refused()) {
      ++b.refusals;
      Record([&](SyncClientStats& st) { st.backups_refused++; });
      spdlog::warn("sync: central refused site backup {}: {}", id, a.reason());
      if (b.refusals >= 2) {
        shipment_.reset();
        Record([&](SyncClientStats& st) { st.backup_shipping.clear(); });
        return options_.backups->Refused(id, a.reason());
      }
      b.next_offset = b.central_offset = 0;  // once more from the start
      b.chunks_in_flight = 0;
    } else {
      b.central_offset = std::min(a.next_offset(), b.offer.bytes());
      // Out of step with central (a chunk it did not expect): resume where its copy ends.
      if (b.chunks_in_flight == 0 && b.next_offset != b.central_offset)
        b.next_offset = b.central_offset;
    }
  }
  backup_sent_ms_ = clock_->NowMillis();
  Record([&](SyncClientStats& st) { st.backup_offset = b.central_offset; });
  return Status::Ok();
}

}  // namespace millrace::sync
