#include "millrace/edge/store_epoch.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "millrace/common/ddl.h"
#include "millrace/common/uuid.h"

namespace millrace::edge {
namespace {

std::string MachineId() {
  for (const char* path : {"/etc/machine-id", "/var/lib/dbus/machine-id"}) {
    std::ifstream in(path);
    std::string id;
    if (in >> id && !id.empty()) return id;
  }
  return "unknown";
}

Result<std::string> Meta(SqliteDb& db, const std::string& key) {
  return db.QueryText("SELECT value FROM edge_meta WHERE key = " + catalog::QuoteLiteral(key));
}

std::string SetMeta(const std::string& key, const std::string& value) {
  return "INSERT INTO edge_meta (key, value) VALUES (" + catalog::QuoteLiteral(key) + ", " +
         catalog::QuoteLiteral(value) + ") ON CONFLICT (key) DO UPDATE SET value = excluded.value;";
}

std::int64_t ToInt(const std::string& s) { return s.empty() ? 0 : std::stoll(s); }

// Writes a new epoch whose parent is `parent` and records the file's identity, in one
// transaction.
Result<StoreEpoch> Begin(SqliteDb& db, const std::string& identity, const std::string& parent,
                         const std::string& reason) {
  StoreEpoch e;
  e.id = Uuid::NewV7().ToString();
  e.parent = parent;
  e.reason = reason;
  e.started_ms = SystemClock()->NowMillis();
  MILLRACE_RETURN_IF_ERROR(db.Exec("BEGIN IMMEDIATE"));
  Status s = [&]() -> Status {
    MILLRACE_ASSIGN_OR_RETURN(
        e.base_seq,
        db.QueryInt("SELECT coalesce(max(value), 0) FROM sync_state WHERE key = 'acked_seq'"));
    MILLRACE_ASSIGN_OR_RETURN(
        e.fork_hlc,
        db.QueryInt("SELECT coalesce(max(value), 0) FROM sync_state WHERE key = 'hlc_high'"));
    return db.Exec(SetMeta("store_epoch", e.id) + SetMeta("store_epoch_parent", e.parent) +
                   SetMeta("store_epoch_base_seq", std::to_string(e.base_seq)) +
                   SetMeta("store_epoch_fork_hlc", std::to_string(e.fork_hlc)) +
                   SetMeta("store_epoch_reason", e.reason) +
                   SetMeta("store_epoch_started_at", std::to_string(e.started_ms)) +
                   SetMeta("store_identity", identity));
  }();
  if (!s.ok()) {
    (void)db.Exec("ROLLBACK");
    return s;
  }
  MILLRACE_RETURN_IF_ERROR(db.Exec("COMMIT"));
  return e;
}

}  // namespace

Result<std::string> StoreIdentity(const std::string& db_path) {
  struct stat st {};
  if (::stat(db_path.c_str(), &st) != 0)
    return Status::IOError("cannot stat " + db_path + ": " + std::strerror(errno));
  // Not the device number: it may change across reboots (device-mapper, overlays) while
  // the file stays the same; a copy on this machine has an inode of its own.
  return MachineId() + ":" + std::to_string(st.st_ino);
}

Result<StoreEpoch> ReadStoreEpoch(SqliteDb& db) {
  StoreEpoch e;
  MILLRACE_ASSIGN_OR_RETURN(e.id, Meta(db, "store_epoch"));
  MILLRACE_ASSIGN_OR_RETURN(e.parent, Meta(db, "store_epoch_parent"));
  MILLRACE_ASSIGN_OR_RETURN(auto base, Meta(db, "store_epoch_base_seq"));
  MILLRACE_ASSIGN_OR_RETURN(auto fork, Meta(db, "store_epoch_fork_hlc"));
  MILLRACE_ASSIGN_OR_RETURN(e.reason, Meta(db, "store_epoch_reason"));
  MILLRACE_ASSIGN_OR_RETURN(auto started, Meta(db, "store_epoch_started_at"));
  e.base_seq = ToInt(base);
  e.fork_hlc = ToInt(fork);
  e.started_ms = ToInt(started);
  return e;
}

Result<StoreEpoch> StartStoreEpoch(SqliteDb& db, const std::string& db_path,
                                   const std::string& reason) {
  MILLRACE_ASSIGN_OR_RETURN(std::string identity, StoreIdentity(db_path));
  MILLRACE_ASSIGN_OR_RETURN(StoreEpoch current, ReadStoreEpoch(db));
  MILLRACE_ASSIGN_OR_RETURN(StoreEpoch e, Begin(db, identity, current.id, reason));
  spdlog::warn("store {} starts epoch {} (after {}): {}; central will resume it at seq {} and "
               "send back the site's rows stamped after {}",
               db_path, e.id, current.id.empty() ? "none" : current.id, reason, e.base_seq,
               e.fork_hlc);
  return e;
}

Result<StoreEpoch> EnsureStoreEpoch(SqliteDb& db, const std::string& db_path) {
  MILLRACE_ASSIGN_OR_RETURN(std::string identity, StoreIdentity(db_path));
  MILLRACE_ASSIGN_OR_RETURN(StoreEpoch current, ReadStoreEpoch(db));
  if (current.id.empty()) return Begin(db, identity, "", "a new store");
  MILLRACE_ASSIGN_OR_RETURN(std::string recorded, Meta(db, "store_identity"));
  if (recorded == identity) return current;
  return StartStoreEpoch(db, db_path,
                         "the store was copied or moved (it was " + recorded + ", it is now " +
                             identity + ")");
}

}  // namespace millrace::edge
