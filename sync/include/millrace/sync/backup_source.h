// BackupSource: the site backups an edge ships to central, as the sync client sees them
// (sync.proto BackupOffer). The edge prepares a compressed copy of its store and names it
// here; the client offers it to central over the sync link, sends the chunks central
// lacks (resuming where central's copy ends after a cut link), and reports the outcome.
//
// Thread-safety: called only from the sync client's thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "millrace/common/status.h"
#include "millrace/sync/v1/sync.pb.h"

namespace millrace::sync {

class BackupSource {
 public:
  virtual ~BackupSource() = default;
  // The backup waiting to be shipped, described as the offer central gets; nullopt when
  // none waits.
  virtual Result<std::optional<v1::BackupOffer>> Pending() = 0;
  // Up to `max` bytes of backup `id` from `offset` (fewer only at its end).
  virtual Result<std::string> Read(const std::string& id, std::uint64_t offset,
                                   std::size_t max) = 0;
  // Central holds backup `id` whole and checked: it no longer waits.
  virtual Status Shipped(const std::string& id) = 0;
  // Central refused backup `id` twice (its checksum did not match): it no longer waits,
  // and the next backup replaces it.
  virtual Status Refused(const std::string& id, const std::string& reason) = 0;
};

// Whether `id` may name a backup: 1..64 of [A-Za-z0-9._-], not starting with '.'.
bool IsValidBackupId(const std::string& id);

// InvalidArgument naming the field when an offer cannot describe a backup (a bad id,
// size or checksum, a compression other than gzip).
Status CheckBackupOffer(const v1::BackupOffer& offer);

}  // namespace millrace::sync
