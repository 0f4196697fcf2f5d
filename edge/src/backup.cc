#include "millrace/edge/backup.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>

#include "millrace/common/ddl.h"
#include "millrace/common/files.h"
#include "millrace/edge/schema.h"
#include "millrace/common/sqlite.h"
#include "millrace/edge/store.h"
#include "millrace/edge/store_epoch.h"

namespace millrace::edge {
namespace fs = std::filesystem;

namespace {

// VACUUM INTO tmp, fsync, rename over dest, fsync the directory.
Status VacuumInto(SqliteDb& db, const std::string& dest) {
  std::string tmp = dest + ".tmp";
  fs::remove(tmp);
  MILLRACE_RETURN_IF_ERROR(db.Exec("VACUUM INTO " + catalog::QuoteLiteral(tmp)));
  MILLRACE_RETURN_IF_ERROR(FsyncPath(tmp));
  std::error_code ec;
  fs::rename(tmp, dest, ec);
  if (ec) return Status::IOError("cannot rename " + tmp + " to " + dest + ": " + ec.message());
  return FsyncParentDirectory(dest);
}

std::string UtcStamp() {
  auto now = std::chrono::system_clock::now();
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04d%02d%02dT%02d%02d%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  return buf;
}

}  // namespace

Result<BackupInfo> BackupStore(const EdgeStore& store, const std::string& dir, int keep) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Status::IOError("cannot create backup directory " + dir + ": " + ec.message());
  const std::string prefix = "edge-" + store.site_id() + "-";
  BackupInfo info;
  info.path = (fs::path(dir) / (prefix + UtcStamp() + ".db")).string();
  auto start = std::chrono::steady_clock::now();
  // VACUUM INTO reads one consistent snapshot by itself and may not run inside a
  // transaction, so it gets its own read-only connection rather than a pooled reader.
  MILLRACE_RETURN_IF_ERROR(BackupFile(store.path(), info.path));
  info.millis = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::steady_clock::now() - start)
                    .count();
  info.bytes = static_cast<std::int64_t>(fs::file_size(info.path, ec));
  if (keep > 0) {
    std::vector<fs::path> backups;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      std::string name = entry.path().filename().string();
      if (name.rfind(prefix, 0) == 0 && entry.path().extension() == ".db")
        backups.push_back(entry.path());
    }
    std::sort(backups.begin(), backups.end());  // the UTC stamp sorts by time
    for (std::size_t i = 0; i + static_cast<std::size_t>(keep) < backups.size(); ++i)
      fs::remove(backups[i], ec);
  }
  return info;
}

Status BackupFile(const std::string& db_path, const std::string& dest) {
  MILLRACE_ASSIGN_OR_RETURN(SqliteDb db, SqliteDb::OpenReadOnly(db_path));
  return VacuumInto(db, dest);
}

Result<StoreEpoch> RestoreStore(const std::string& backup_path, const std::string& db_path) {
  if (!fs::exists(backup_path))
    return Status::NotFound("backup " + backup_path + " does not exist");
  auto lock = StoreLock::Acquire(db_path);
  if (!lock.ok()) {
    return Status::FailedPrecondition("an edge is running on " + db_path +
                                      ": stop it before restoring (" + lock.status().message() +
                                      ")");
  }
  {
    MILLRACE_ASSIGN_OR_RETURN(SqliteDb backup, SqliteDb::OpenReadOnly(backup_path));
    MILLRACE_ASSIGN_OR_RETURN(std::string check, backup.QueryText("PRAGMA integrity_check"));
    if (check != "ok") return Status::Corruption("backup " + backup_path + " is damaged: " + check);
    MILLRACE_ASSIGN_OR_RETURN(auto version, backup.QueryInt("PRAGMA user_version"));
    if (version > kEdgeSchemaVersion) {
      return Status::FailedPrecondition("backup is at schema version " + std::to_string(version) +
                                        ", newer than this build's " +
                                        std::to_string(kEdgeSchemaVersion));
    }
  }
  std::string tmp = db_path + ".restore.tmp";
  std::error_code ec;
  fs::copy_file(backup_path, tmp, fs::copy_options::overwrite_existing, ec);
  if (ec) return Status::IOError("cannot copy " + backup_path + ": " + ec.message());
  StoreEpoch epoch;
  {
    // The restored store is a new incarnation of the site's store: a new epoch, so central
    // never takes its new writes for the ones the backup missed, and sends those back.
    MILLRACE_ASSIGN_OR_RETURN(SqliteDb db, SqliteDb::Open(tmp));
    MILLRACE_RETURN_IF_ERROR(MigrateEdgeSchema(db));
    MILLRACE_ASSIGN_OR_RETURN(epoch, StartStoreEpoch(db, tmp, "restored from backup " + backup_path));
  }
  MILLRACE_RETURN_IF_ERROR(FsyncPath(tmp));
  // The old WAL belongs to the old database: it must not be replayed into the restored one.
  fs::remove(db_path + "-wal", ec);
  fs::remove(db_path + "-shm", ec);
  fs::rename(tmp, db_path, ec);
  if (ec) return Status::IOError("cannot rename " + tmp + " to " + db_path + ": " + ec.message());
  MILLRACE_RETURN_IF_ERROR(FsyncParentDirectory(db_path));
  return epoch;
}

Result<std::unique_ptr<StoreLock>> StoreLock::Acquire(const std::string& db_path) {
  std::string path = db_path + ".lock";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return Status::IOError("cannot open " + path + ": " + std::strerror(errno));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    return Status::Unavailable(path + " is locked by another process");
  }
  return std::unique_ptr<StoreLock>(new StoreLock(fd));
}

StoreLock::~StoreLock() {
  ::flock(fd_, LOCK_UN);
  ::close(fd_);
}

}  // namespace millrace::edge
