// The store epoch: the identity of one incarnation of a site's store.
//
// Central keys what it applies by (tenant, site, epoch, seq). A store restored from a
// backup, or copied to another machine or path, starts a new epoch, so its new writes are
// never taken for old ones that happen to share a seq: central starts the new epoch's
// cursor where the store stands (its acknowledged seq) and sends back the site's rows it
// holds that the store lacks (those stamped after the store's clock high-water mark).
//
// A store knows it was copied by its identity: the machine id and the database file's
// inode, recorded with the epoch. `mesctl restore` starts a new epoch itself; opening a
// store whose identity changed (a copy made by hand, a directory cloned or moved to another
// file system or machine) does too.
//
// Stored in edge_meta (store_epoch, store_epoch_parent, store_epoch_base_seq,
// store_epoch_fork_hlc, store_epoch_reason, store_epoch_started_at, store_identity).
//
// Thread-safety: functions over one SqliteDb, used by one thread.
#pragma once

#include <cstdint>
#include <string>

#include "millrace/common/sqlite.h"

namespace millrace::edge {

struct StoreEpoch {
  std::string id;              // UUIDv7
  std::string parent;          // the epoch this store came from ("" for a new store)
  std::int64_t base_seq = 0;   // central had acknowledged every seq <= this when it began
  std::int64_t fork_hlc = 0;   // the store's HLC high-water mark when it began
  std::string reason;          // why it began
  std::int64_t started_ms = 0;
};

// machine-id:inode of the database file (the machine id is "unknown" where none exists).
Result<std::string> StoreIdentity(const std::string& db_path);

// The store's epoch. Starts one when the store has none (a new store, or one made before
// epochs existed) or when the file's identity differs from the one recorded (copied or
// moved). REQUIRES: `db` is migrated and open for writing at `db_path`, inside no
// transaction.
Result<StoreEpoch> EnsureStoreEpoch(SqliteDb& db, const std::string& db_path);

// Starts a new epoch whose parent is the current one, for `reason` (a restore).
Result<StoreEpoch> StartStoreEpoch(SqliteDb& db, const std::string& db_path,
                                   const std::string& reason);

// The recorded epoch (id empty when none).
Result<StoreEpoch> ReadStoreEpoch(SqliteDb& db);

}  // namespace millrace::edge
