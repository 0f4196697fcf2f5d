// EdgeStore: the factory's database. SQLite in WAL mode with synchronous=FULL, one writer
// thread and a pool of read-only connections (readers never block the writer).
//
// Writes: Write(fn) queues fn; the writer thread runs queued functions back to back in
// ONE transaction, each inside its own SAVEPOINT (a failing fn rolls back only itself),
// then COMMITs once and answers every caller. Concurrent terminal requests so share one
// fsync (group commit) while each still commits or fails on its own. Write() returns
// only after the COMMIT is durable; WriteAsync() returns at once and the writer thread
// answers it once the COMMIT is durable.
//
// Change capture: WriteTxn::Upsert/Insert/Delete write the domain row (or its tombstone)
// and its outbox entry (seq, table, id, op, HLC, the row as a wire Change) in the same
// transaction. Central-owned tables refuse local edits; append-only facts refuse updates
// and deletes. ApplyDownstream()
// writes rows without capturing them (the sync client's downstream path, seed loading).
// The outbox is purged only through an acknowledged seq, never by age.
//
// Thread-safety: every public method may be called from any thread.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "millrace/common/clock.h"
#include "millrace/common/hlc.h"
#include "millrace/common/row.h"
#include "millrace/edge/backup.h"
#include "millrace/common/sqlite.h"
#include "millrace/edge/store_epoch.h"

namespace millrace::edge {

struct EdgeStoreOptions {
  std::string path;
  std::string site_id;
  std::string node_id;  // origin of captured changes; empty: "edge:<site_id>"
  const Clock* clock = SystemClock();
  std::int64_t max_forward_skew_ms = 5 * 60 * 1000;
  int readers = 4;
  std::size_t max_group = 256;  // write requests per group commit
};

struct OutboxStats {
  // The backlog: entries central has not acknowledged.
  std::int64_t rows = 0;
  std::int64_t bytes = 0;
  std::int64_t oldest_captured_ms = 0;  // 0 when empty
  std::int64_t head_seq = 0;            // highest seq ever captured
  std::int64_t acked_seq = 0;           // highest seq central acknowledged
  std::int64_t kept_rows = 0;           // acknowledged entries kept (keep_acked_hours)
};

struct OutboxEntry {
  std::int64_t seq = 0;
  std::string table;
  std::string row_id;
  std::int64_t hlc = 0;
  std::int64_t captured_ms = 0;
  std::string payload;  // serialized sync::v1::Change (seq not set)
};

// A database file ready for one process to use: locked, backed up if it was older than
// this build, migrated. What EdgeStore::Open and `mes-edge init` both start with.
struct PreparedStoreFile {
  std::unique_ptr<StoreLock> lock;
  SqliteDb db;
  StoreEpoch epoch;  // started here if the store had none or was copied (store_epoch.h)
};
Result<PreparedStoreFile> PrepareStoreFile(const std::string& path);

// The clock of a row's delete: what a tombstone keeps (sync/merge.h).
struct Tombstone {
  std::int64_t hlc = 0;
  std::string origin;
};

// Reads within one snapshot.
class ReadTxn {
 public:
  explicit ReadTxn(SqliteDb* db) : db_(db) {}
  virtual ~ReadTxn() = default;

  Result<std::optional<Row>> Get(const catalog::TableSpec& table, const std::string& id);
  // SELECT all columns WHERE <where> ORDER BY <order_by> LIMIT <limit>; `where` and
  // `order_by` are trusted SQL written by services, values are always bound.
  Result<std::vector<Row>> Select(const catalog::TableSpec& table, const std::string& where = "",
                                  const std::vector<Value>& params = {},
                                  const std::string& order_by = "", int limit = -1);
  Result<std::int64_t> Count(const catalog::TableSpec& table, const std::string& where = "",
                             const std::vector<Value>& params = {});
  // The tombstone of a deleted row, if it has one.
  Result<std::optional<Tombstone>> GetTombstone(const catalog::TableSpec& table,
                                                const std::string& id);
  SqliteDb& db() { return *db_; }

 protected:
  SqliteDb* db_;
};

class WriteTxn : public ReadTxn {
 public:
  // Writes the row (insert or replace by id) and captures it. Sets site_id when NULL,
  // stamps hlc and origin, validates every column.
  // PermissionDenied: central-owned table, or a row of another site.
  // Conflict: the row exists and its table is append-only.
  Status Upsert(Row& row);
  // Like Upsert of a row this transaction read as `loaded` and has not written since, so
  // the store need not read it again. REQUIRES: loaded is that row as stored.
  Status Update(Row& row, const Row& loaded);
  // A new row: AlreadyExists when the id is taken.
  Status Insert(Row& row);
  // Deletes a shared row of this site, leaves its tombstone and captures the delete
  // (v1::OP_DELETE: the row as it was, stamped with the delete's clock, which *deleted
  // receives when given). PermissionDenied: master data, or a row of another site.
  // Conflict: a table of facts (append-only). NotFound: no such row.
  Status Delete(const catalog::TableSpec& table, const std::string& id, Row* deleted = nullptr);
  // The downstream half (REQUIRES: an ApplyDownstream transaction): removes the row if
  // present and keeps the newer of its tombstone and `deleted`'s clock (the row as central
  // deleted it, stamped with the delete's clock), or that clock whatever the tombstone
  // held when `replace` (central clamped the clock of this site's delete).
  Status ApplyDelete(const Row& deleted, bool replace = false);
  // Forgets the tombstone of a row written again (downstream).
  Status ClearTombstone(const catalog::TableSpec& table, const std::string& id);

  std::int64_t NowMillis() const;
  const std::string& site_id() const;

 private:
  friend class EdgeStore;
  WriteTxn(SqliteDb* db, class EdgeStore* store, bool capture)
      : ReadTxn(db), store_(store), capture_(capture) {}
  enum class Mode { kUpsert, kUpdate, kInsert };
  Status Write(Row& row, Mode mode, const Row* loaded);
  Status UpdateChanged(Row& row, const Row& loaded);
  EdgeStore* store_;
  bool capture_;
};

class EdgeStore {
 public:
  using WriteFn = std::function<Status(WriteTxn&)>;
  using ReadFn = std::function<Status(ReadTxn&)>;

  // Opens (creating and migrating when needed) and starts the writer thread. Holds an
  // exclusive lock on <path>.lock while open: Unavailable if another process has it.
  // Before migrating an existing database it is backed up to
  // <path>.pre-migration-v<version>.db.
  static Result<std::unique_ptr<EdgeStore>> Open(EdgeStoreOptions options);
  ~EdgeStore();  // finishes queued writes, then stops
  EdgeStore(const EdgeStore&) = delete;
  EdgeStore& operator=(const EdgeStore&) = delete;

  // Runs fn in its own savepoint of the next group commit; returns once durable, or
  // fn's error (its writes rolled back), or the commit's error.
  Status Write(WriteFn fn);
  // Like Write, but returns at once: `done` gets what Write would have returned, on the
  // writer thread, as soon as the group commit is durable (or fn failed, or the commit
  // did), so no thread waits for the disk. `done` must be quick and must not wait for
  // this store (post the rest elsewhere). When the store is shutting down, `done` runs at
  // once on the caller's thread with Unavailable.
  void WriteAsync(WriteFn fn, std::function<void(Status)> done);
  // Like Write, without outbox capture, and allowed on every table.
  Status ApplyDownstream(WriteFn fn);
  Status Read(const ReadFn& fn) const;

  // Records the watermark and deletes the outbox entries with seq <= acked_seq captured
  // before `captured_before_ms` (the others are kept: a central restored from an older
  // backup gets them again). A watermark below the recorded one is ignored; one above the
  // head is InvalidArgument.
  Status PurgeOutboxThrough(std::int64_t acked_seq,
                            std::int64_t captured_before_ms = std::numeric_limits<std::int64_t>::max());
  Result<OutboxStats> Outbox() const;
  Result<std::vector<OutboxEntry>> ReadOutbox(std::int64_t after_seq, int limit) const;

  // Called on the writer thread after every group commit (the sync client's wake-up).
  void SetCommitListener(std::function<void()> listener);

  // OK when the database answers and is at this build's schema.
  Status CheckReady() const;

  const std::string& site_id() const { return options_.site_id; }
  // This incarnation of the store (store_epoch.h); fixed while the store is open.
  const StoreEpoch& epoch() const { return epoch_; }
  const std::string& node_id() const { return options_.node_id; }
  const std::string& path() const { return options_.path; }
  HybridClock& hlc() { return hlc_; }
  const Clock* clock() const { return options_.clock; }
  // Groups committed and requests served, for metrics and benchmarks.
  std::uint64_t groups_committed() const;
  std::uint64_t requests_committed() const;

 private:
  friend class WriteTxn;
  struct Request {
    WriteFn fn;
    bool capture;
    std::function<void(Status)> done;
    Status result;
  };

  EdgeStore(EdgeStoreOptions options, std::unique_ptr<StoreLock> lock, SqliteDb writer);
  Status Submit(WriteFn fn, bool capture);
  void Enqueue(Request request);
  void WriterLoop();
  void CommitGroup(std::vector<Request>& group);
  // `deleted`: a delete of `before` (v1::OP_DELETE), `row` the delete's stamped row.
  Status Capture(const Row& row, const Row* before, bool deleted = false);

  EdgeStoreOptions options_;
  StoreEpoch epoch_;
  std::unique_ptr<StoreLock> lock_;
  SqliteDb writer_;  // used only by the writer thread
  HybridClock hlc_;

  mutable std::mutex mu_;
  std::condition_variable work_cv_;
  std::deque<Request> queue_;
  bool stopping_ = false;
  std::uint64_t groups_ = 0, requests_ = 0;
  std::function<void()> commit_listener_;
  std::thread writer_thread_;

  mutable std::mutex readers_mu_;
  mutable std::condition_variable readers_cv_;
  mutable std::vector<std::unique_ptr<SqliteDb>> idle_readers_;
};

}  // namespace millrace::edge
