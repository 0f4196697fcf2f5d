// Edge backups: consistent online copies of the store, and an offline restore.
//
// A backup is `VACUUM INTO` a temporary name in the target directory, fsync, rename to
// edge-<site>-<UTC time>.db, fsync the directory: a crash leaves either no backup or a
// whole one. It runs on a read connection, so terminals keep writing meanwhile.
//
// A running mes-edge holds an exclusive lock on <db>.lock; Restore refuses to replace a
// database whose lock is held, checks the backup's integrity and schema first, and
// replaces the database by rename.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "millrace/common/status.h"
#include "millrace/edge/store_epoch.h"

namespace millrace::edge {

class EdgeStore;

struct BackupInfo {
  std::string path;
  std::int64_t bytes = 0;
  std::int64_t millis = 0;  // time taken
};

// Writes a backup of `store` into `dir` (created if missing) and keeps only the newest
// `keep` backups of this site there (0 keeps all).
Result<BackupInfo> BackupStore(const EdgeStore& store, const std::string& dir, int keep);

// Copies the database at `db_path` (not open elsewhere for writing) to `dest`, the same
// way. Used before a schema migration.
Status BackupFile(const std::string& db_path, const std::string& dest);

// Replaces `db_path` with `backup_path`, migrated to this build's schema, as a new store
// epoch (store_epoch.h) which it returns. FailedPrecondition when an edge is running on
// db_path or the backup is damaged or newer than this build.
Result<StoreEpoch> RestoreStore(const std::string& backup_path, const std::string& db_path);

// Held by a running edge for the life of the process.
class StoreLock {
 public:
  // Unavailable when another process holds it.
  static Result<std::unique_ptr<StoreLock>> Acquire(const std::string& db_path);
  ~StoreLock();
  StoreLock(const StoreLock&) = delete;
  StoreLock& operator=(const StoreLock&) = delete;

 private:
  explicit StoreLock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace millrace::edge
