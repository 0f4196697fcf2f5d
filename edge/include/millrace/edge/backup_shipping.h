// Site backups shipped to central. After a scheduled backup (backup.h), the edge stages a
// gzip copy of it in <backup dir>/outgoing/ with its description (the offer central gets:
// size, SHA-256, when it was taken, schema version, store epoch), replacing an older one
// still waiting there, except the one being shipped: a slow link finishes the upload it
// began (then ships the newest) rather than starting over with every new backup. The sync
// client ships it over the sync link (sync/backup_source.h) and the staged copy is removed
// once central holds it whole. A staged copy survives a restart: the upload resumes where
// central's copy ends.
//
// Thread-safety: Stage from the backup thread, the BackupSource methods from the sync
// client's thread; a mutex orders them.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>

#include "millrace/common/status.h"
#include "millrace/sync/backup_source.h"

namespace millrace::edge {

class OutgoingBackups final : public sync::BackupSource {
 public:
  // `dir`: where staged copies live (created when missing).
  explicit OutgoingBackups(std::string dir);

  // Compresses the backup at `backup_path` (a whole SQLite file) into the outgoing
  // directory as the one waiting to ship, and drops any older one. The id is the
  // backup's UTC stamp (edge-<site>-<stamp>.db), so ids sort by time.
  Result<sync::v1::BackupOffer> Stage(const std::string& backup_path);

  Result<std::optional<sync::v1::BackupOffer>> Pending() override;
  Result<std::string> Read(const std::string& id, std::uint64_t offset, std::size_t max) override;
  Status Shipped(const std::string& id) override;
  Status Refused(const std::string& id, const std::string& reason) override;

  const std::string& dir() const { return dir_; }

 private:
  std::string GzPath(const std::string& id) const { return dir_ + "/" + id + ".db.gz"; }
  std::string OfferPath(const std::string& id) const { return dir_ + "/" + id + ".offer"; }
  void Remove(const std::string& id);

  std::string dir_;
  std::mutex mu_;
  std::string shipping_;  // the backup Pending() last named, until it is shipped or refused
};

}  // namespace millrace::edge
