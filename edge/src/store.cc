#include "millrace/edge/store.h"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <future>
#include <map>
#include <string>
#include <vector>

#include "millrace/common/ddl.h"
#include "millrace/edge/schema.h"
#include "millrace/sync/row_codec.h"

namespace millrace::edge {

using catalog::MergePolicy;
using catalog::QuoteIdent;

namespace {

// The SQL every table needs, built once from the catalog.
struct TableSql {
  std::string select_columns;  // "SELECT "id", ... FROM "t""
  std::string get;
  std::string insert;
  std::string upsert;
};

const TableSql& SqlFor(const catalog::TableSpec& t) {
  static std::mutex mu;
  static std::map<const catalog::TableSpec*, TableSql> cache;
  std::lock_guard lock(mu);
  auto it = cache.find(&t);
  if (it != cache.end()) return it->second;
  TableSql sql;
  std::string cols, params, updates;
  for (std::size_t i = 0; i < t.columns.size(); ++i) {
    const std::string q = QuoteIdent(t.columns[i].name);
    cols += (i ? ", " : "") + q;
    params += (i ? ", ?" : "?");
    if (t.columns[i].name != catalog::kIdColumn)
      updates += (updates.empty() ? "" : ", ") + q + " = excluded." + q;
  }
  sql.select_columns = "SELECT " + cols + " FROM " + QuoteIdent(t.name);
  sql.get = sql.select_columns + " WHERE \"id\" = ?";
  sql.insert = "INSERT INTO " + QuoteIdent(t.name) + " (" + cols + ") VALUES (" + params + ")";
  sql.upsert = sql.insert + " ON CONFLICT (\"id\") DO UPDATE SET " + updates;
  return cache.emplace(&t, std::move(sql)).first->second;
}

Row ReadRow(const catalog::TableSpec& table, Statement& stmt) {
  Row row(table);
  for (std::size_t i = 0; i < table.columns.size(); ++i)
    row.mutable_values()[i] = stmt.Column(static_cast<int>(i));
  return row;
}

}  // namespace

// ---- ReadTxn ----

Result<std::optional<Row>> ReadTxn::Get(const catalog::TableSpec& table, const std::string& id) {
  MILLRACE_ASSIGN_OR_RETURN(Statement * stmt, db_->Prepare(SqlFor(table).get));
  MILLRACE_RETURN_IF_ERROR(stmt->Bind(1, id));
  MILLRACE_ASSIGN_OR_RETURN(bool found, stmt->Step());
  if (!found) return std::optional<Row>();
  Row row = ReadRow(table, *stmt);
  stmt->Reset();
  return std::optional<Row>(std::move(row));
}

Result<std::vector<Row>> ReadTxn::Select(const catalog::TableSpec& table, const std::string& where,
                                         const std::vector<Value>& params,
                                         const std::string& order_by, int limit) {
  std::string sql = SqlFor(table).select_columns;
  if (!where.empty()) sql += " WHERE " + where;
  if (!order_by.empty()) sql += " ORDER BY " + order_by;
  if (limit >= 0) sql += " LIMIT " + std::to_string(limit);
  MILLRACE_ASSIGN_OR_RETURN(Statement * stmt, db_->Prepare(sql));
  MILLRACE_RETURN_IF_ERROR(stmt->BindAll(params));
  std::vector<Row> rows;
  for (;;) {
    MILLRACE_ASSIGN_OR_RETURN(bool more, stmt->Step());
    if (!more) break;
    rows.push_back(ReadRow(table, *stmt));
  }
  stmt->Reset();
  return rows;
}

Result<std::int64_t> ReadTxn::Count(const catalog::TableSpec& table, const std::string& where,
                                    const std::vector<Value>& params) {
  std::string sql = "SELECT count(*) FROM " + QuoteIdent(table.name);
  if (!where.empty()) sql += " WHERE " + where;
  MILLRACE_ASSIGN_OR_RETURN(Statement * stmt, db_->Prepare(sql));
  MILLRACE_RETURN_IF_ERROR(stmt->BindAll(params));
  MILLRACE_ASSIGN_OR_RETURN(bool row, stmt->Step());
  std::int64_t n = row ? stmt->ColumnInt(0) : 0;
  stmt->Reset();
  return n;
}

// ---- WriteTxn ----

std::int64_t WriteTxn::NowMillis() const {
  return store_->clock()->NowMillis();
}
const std::string& WriteTxn::site_id() const {
  return store_->site_id();
}

Status WriteTxn::Upsert(Row& row) {
  return Write(row, Mode::kUpsert, nullptr);
}
Status WriteTxn::Update(Row& row, const Row& loaded) {
  return Write(row, Mode::kUpdate, &loaded);
}
Status WriteTxn::Insert(Row& row) {
  return Write(row, Mode::kInsert, nullptr);
}

namespace {

bool IsClockColumn(const std::string& name) {
  return name == catalog::kHlcColumn || name == catalog::kOriginColumn;
}

// The columns (by index) whose values differ between `row` and `before`, the clock
// columns aside: what an edit changed.
std::vector<std::size_t> ChangedColumns(const Row& row, const Row& before) {
  std::vector<std::size_t> changed;
  const auto& cols = row.table().columns;
  for (std::size_t i = 0; i < cols.size(); ++i) {
    if (IsClockColumn(cols[i].name)) continue;
    if (!(row.values()[i] == before.values()[i])) changed.push_back(i);
  }
  return changed;
}

}  // namespace

Status WriteTxn::Write(Row& row, Mode mode, const Row* loaded) {
  const catalog::TableSpec& table = row.table();
  if (capture_) {
    if (table.merge == MergePolicy::kCentralOwned) {
      return Status::PermissionDenied(table.name +
                                      " is master data owned by central: edit it there, an edge "
                                      "refuses local edits");
    }
    if (row.IsNull(catalog::kSiteColumn)) row.Set(catalog::kSiteColumn, site_id());
    if (row.Text(catalog::kSiteColumn) != site_id()) {
      return Status::PermissionDenied("site " + site_id() + " may not write " + table.name +
                                      " rows of site " + row.Text(catalog::kSiteColumn));
    }
  }
  // What the row was: as the caller read it, as stored now, or nothing (an insert, whose
  // statement refuses a taken id itself).
  std::optional<Row> stored;
  if (mode == Mode::kUpsert) {
    MILLRACE_ASSIGN_OR_RETURN(stored, Get(table, row.id()));
    if (stored) loaded = &*stored;
  }
  if (loaded) {
    if (capture_ && table.merge == MergePolicy::kAppendOnly) {
      return Status::Conflict(table.name + " rows are append-only facts: " + row.id() +
                              " cannot change");
    }
    if (capture_ && loaded->Text(catalog::kSiteColumn) != site_id()) {
      return Status::PermissionDenied(table.name + " " + row.id() + " belongs to site " +
                                      loaded->Text(catalog::kSiteColumn));
    }
  }
  if (capture_ && loaded && ChangedColumns(row, *loaded).empty()) {
    // A save that changes nothing writes nothing and sends nothing: a fresh clock on an
    // unchanged row would make central's newer edits of it look older than the edge's copy,
    // and a capture without changed columns reads at central as "every column".
    row.Set(catalog::kHlcColumn, loaded->Int(catalog::kHlcColumn));
    row.Set(catalog::kOriginColumn, loaded->Text(catalog::kOriginColumn));
    return Status::Ok();
  }
  if (capture_) {
    row.Set(catalog::kHlcColumn, static_cast<std::int64_t>(store_->hlc().Now().packed()));
    row.Set(catalog::kOriginColumn, store_->node_id());
  } else {
    // A row from central carries central's clock: let it advance ours (within the skew
    // limit), so local edits made after it order after it.
    auto remote =
        HlcTimestamp::FromPacked(static_cast<std::uint64_t>(row.Int(catalog::kHlcColumn)));
    (void)store_->hlc().Update(remote);
  }
  MILLRACE_RETURN_IF_ERROR(row.Validate());
  if (mode == Mode::kUpdate) return UpdateChanged(row, *loaded);
  const TableSql& sql = SqlFor(table);
  MILLRACE_ASSIGN_OR_RETURN(Statement * stmt,
                            db_->Prepare(mode == Mode::kInsert ? sql.insert : sql.upsert));
  MILLRACE_RETURN_IF_ERROR(stmt->BindAll(row.values()));
  if (Status s = stmt->Run(); !s.ok()) {
    if (mode == Mode::kInsert &&
        sqlite3_extended_errcode(db_->raw()) == SQLITE_CONSTRAINT_PRIMARYKEY)
      return Status::AlreadyExists(table.name + " " + row.id() + " already exists");
    return s;
  }
  if (capture_) MILLRACE_RETURN_IF_ERROR(store_->Capture(row, loaded));
  return Status::Ok();
}

// Writes only the columns that differ from `loaded` (the clock columns always): SQLite
// then leaves alone every index over the columns a write did not touch.
Status WriteTxn::UpdateChanged(Row& row, const Row& loaded) {
  const catalog::TableSpec& table = row.table();
  std::string sql = "UPDATE " + QuoteIdent(table.name) + " SET ";
  // The id is part of the lookup, so it never differs from `loaded`'s.
  std::vector<std::size_t> set = ChangedColumns(row, loaded);
  for (std::size_t i = 0; i < table.columns.size(); ++i)
    if (IsClockColumn(table.columns[i].name)) set.push_back(i);
  for (std::size_t k = 0; k < set.size(); ++k)
    sql += (k == 0 ? "" : ", ") + QuoteIdent(table.columns[set[k]].name) + " = ?";
  sql += " WHERE \"id\" = ?";
  MILLRACE_ASSIGN_OR_RETURN(Statement * stmt, db_->Prepare(sql));
  int at = 1;
  for (std::size_t i : set) MILLRACE_RETURN_IF_ERROR(stmt->Bind(at++, row.values()[i]));
  MILLRACE_RETURN_IF_ERROR(stmt->Bind(at, row.id()));
  MILLRACE_RETURN_IF_ERROR(stmt->Run());
  if (sqlite3_changes(db_->raw()) != 1)
    return Status::Internal(table.name + " " + row.id() + " was not there to update");
  if (capture_) MILLRACE_RETURN_IF_ERROR(store_->Capture(row, &loaded));
  return Status::Ok();
}

// ---- EdgeStore ----

EdgeStore::EdgeStore(EdgeStoreOptions options, std::unique_ptr<StoreLock> lock, SqliteDb writer)
    : options_(std::move(options)),
      lock_(std::move(lock)),
      writer_(std::move(writer)),
      hlc_(options_.clock, options_.max_forward_skew_ms) {}

Result<PreparedStoreFile> PrepareStoreFile(const std::string& path) {
  auto lock = StoreLock::Acquire(path);
  if (!lock.ok()) {
    return Status::Unavailable("another process (a running mes-edge?) is using " + path + ": " +
                               lock.status().message());
  }
  MILLRACE_ASSIGN_OR_RETURN(SqliteDb db, SqliteDb::Open(path));
  MILLRACE_ASSIGN_OR_RETURN(auto version, db.QueryInt("PRAGMA user_version"));
  if (version > 0 && version < kEdgeSchemaVersion) {
    std::string backup = path + ".pre-migration-v" + std::to_string(version) + ".db";
    spdlog::info("backing up {} to {} before migrating it", path, backup);
    MILLRACE_RETURN_IF_ERROR(BackupFile(path, backup).WithContext("backup before migration"));
  }
  MILLRACE_RETURN_IF_ERROR(MigrateEdgeSchema(db));
  MILLRACE_ASSIGN_OR_RETURN(StoreEpoch epoch, EnsureStoreEpoch(db, path));
  return PreparedStoreFile{std::move(lock).value(), std::move(db), std::move(epoch)};
}

Result<std::unique_ptr<EdgeStore>> EdgeStore::Open(EdgeStoreOptions options) {
  if (options.node_id.empty()) options.node_id = "edge:" + options.site_id;
  if (options.path.empty() || options.path == ":memory:") {
    return Status::InvalidArgument(
        "the edge store needs a database file (readers share it with the writer)");
  }
  MILLRACE_ASSIGN_OR_RETURN(PreparedStoreFile file, PrepareStoreFile(options.path));
  SqliteDb writer = std::move(file.db);
  StoreEpoch epoch = std::move(file.epoch);
  MILLRACE_ASSIGN_OR_RETURN(auto hlc_high,
                            writer.QueryInt("SELECT coalesce(max(value), 0) FROM sync_state "
                                            "WHERE key = 'hlc_high'"));
  std::unique_ptr<EdgeStore> store(
      new EdgeStore(std::move(options), std::move(file.lock), std::move(writer)));
  store->hlc_.Observe(HlcTimestamp::FromPacked(static_cast<std::uint64_t>(hlc_high)));
  store->epoch_ = std::move(epoch);
  for (int i = 0; i < std::max(1, store->options_.readers); ++i) {
    MILLRACE_ASSIGN_OR_RETURN(SqliteDb reader, SqliteDb::OpenReadOnly(store->options_.path));
    store->idle_readers_.push_back(std::make_unique<SqliteDb>(std::move(reader)));
  }
  store->writer_thread_ = std::thread([s = store.get()] { s->WriterLoop(); });
  return store;
}

EdgeStore::~EdgeStore() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  work_cv_.notify_all();
  if (writer_thread_.joinable()) writer_thread_.join();
}

Status EdgeStore::Write(WriteFn fn) {
  return Submit(std::move(fn), true);
}
Status EdgeStore::ApplyDownstream(WriteFn fn) {
  return Submit(std::move(fn), false);
}

void EdgeStore::WriteAsync(WriteFn fn, std::function<void(Status)> done) {
  Enqueue({std::move(fn), true, std::move(done), Status::Ok()});
}

Status EdgeStore::Submit(WriteFn fn, bool capture) {
  // Each caller waits on its own promise: the writer wakes exactly the callers it answers.
  std::promise<Status> answered;
  std::future<Status> answer = answered.get_future();
  Enqueue({std::move(fn), capture, [&answered](Status s) { answered.set_value(std::move(s)); },
           Status::Ok()});
  return answer.get();
}

void EdgeStore::Enqueue(Request request) {
  {
    std::lock_guard lock(mu_);
    if (!stopping_) {
      queue_.push_back(std::move(request));
      work_cv_.notify_one();
      return;
    }
  }
  request.done(Status::Unavailable("the edge store is shutting down"));
}

void EdgeStore::WriterLoop() {
  pthread_setname_np(pthread_self(), "store-writer");  // for top -H and perf
  std::vector<Request> group;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      work_cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and nothing left to write
      while (!queue_.empty() && group.size() < options_.max_group) {
        group.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    CommitGroup(group);
    std::function<void()> listener;
    {
      std::lock_guard lock(mu_);
      listener = commit_listener_;
      ++groups_;
      requests_ += group.size();
    }
    if (listener) listener();
    for (Request& r : group) r.done(std::move(r.result));
    group.clear();
  }
}

void EdgeStore::CommitGroup(std::vector<Request>& group) {
  Status begin = writer_.Run("BEGIN IMMEDIATE");
  if (!begin.ok()) {
    for (Request& r : group) r.result = begin;
    return;
  }
  bool any_ok = false;
  for (Request& r : group) {
    Status s = writer_.Run("SAVEPOINT request");
    if (s.ok()) {
      WriteTxn txn(&writer_, this, r.capture);
      try {
        s = r.fn(txn);
      } catch (const std::exception& e) {
        s = Status::Internal(std::string("write failed: ") + e.what());
      }
      if (s.ok()) {
        s = writer_.Run("RELEASE request");
      } else {
        (void)writer_.Run("ROLLBACK TO request");
        (void)writer_.Run("RELEASE request");
      }
    }
    r.result = s;
    any_ok = any_ok || s.ok();
  }
  Status commit = Status::Ok();
  if (any_ok) {
    auto stmt = writer_.Prepare(
        "INSERT INTO sync_state (key, value) VALUES ('hlc_high', ?) ON CONFLICT (key) DO "
        "UPDATE SET value = max(value, excluded.value)");
    commit = stmt.status();
    if (commit.ok()) commit = (*stmt)->Bind(1, static_cast<std::int64_t>(hlc_.Last().packed()));
    if (commit.ok()) commit = (*stmt)->Run();
  }
  if (commit.ok()) commit = writer_.Run("COMMIT");
  if (!commit.ok()) {
    spdlog::error("group commit of {} write(s) failed: {}", group.size(), commit.ToString());
    (void)writer_.Exec("ROLLBACK");
    for (Request& r : group)
      if (r.result.ok()) r.result = commit;
  }
}

void EdgeStore::SetCommitListener(std::function<void()> listener) {
  std::lock_guard lock(mu_);
  commit_listener_ = std::move(listener);
}

Status EdgeStore::Capture(const Row& row, const Row* before, bool deleted) {
  const sync::v1::Op op = deleted ? sync::v1::OP_DELETE : sync::v1::OP_UPSERT;
  sync::v1::Change change = sync::EncodeChange(row, op);
  if (deleted) {
    change.set_base_hlc(static_cast<std::uint64_t>(before->Int(catalog::kHlcColumn)));
  } else if (before && row.table().merge == MergePolicy::kSharedLww) {
    // Central merges shared rows column by column: say which columns this edit set and
    // which version of the row it was made on.
    change.set_base_hlc(static_cast<std::uint64_t>(before->Int(catalog::kHlcColumn)));
    for (std::size_t i : ChangedColumns(row, *before))
      change.add_changed_columns(static_cast<std::uint32_t>(i));
  }
  std::string payload = change.SerializeAsString();
  MILLRACE_ASSIGN_OR_RETURN(Statement * stmt,
                            writer_.Prepare("INSERT INTO outbox (table_name, row_id, op, hlc, "
                                            "captured_at, payload) VALUES (?, ?, ?, ?, ?, ?)"));
  MILLRACE_RETURN_IF_ERROR(
      stmt->BindAll({row.table().name, row.id(), std::int64_t{op},
                     row.Int(catalog::kHlcColumn), options_.clock->NowMillis()}));
  int rc = sqlite3_bind_blob(stmt->raw(), 6, payload.data(), static_cast<int>(payload.size()),
                             SQLITE_TRANSIENT);
  if (rc != SQLITE_OK) return writer_.Error(rc, "bind outbox payload");
  return stmt->Run();
}

Status EdgeStore::Read(const ReadFn& fn) const {
  std::unique_ptr<SqliteDb> db;
  {
    std::unique_lock lock(readers_mu_);
    readers_cv_.wait(lock, [&] { return !idle_readers_.empty(); });
    db = std::move(idle_readers_.back());
    idle_readers_.pop_back();
  }
  Status s = db->Exec("BEGIN");
  if (s.ok()) {
    ReadTxn txn(db.get());
    try {
      s = fn(txn);
    } catch (const std::exception& e) {
      s = Status::Internal(std::string("read failed: ") + e.what());
    }
    (void)db->Exec("COMMIT");
  }
  {
    std::lock_guard lock(readers_mu_);
    idle_readers_.push_back(std::move(db));
  }
  readers_cv_.notify_one();
  return s;
}

Status EdgeStore::PurgeOutboxThrough(std::int64_t acked_seq, std::int64_t captured_before_ms) {
  return Submit(
      [acked_seq, captured_before_ms](WriteTxn& txn) -> Status {
        SqliteDb& db = txn.db();
        MILLRACE_ASSIGN_OR_RETURN(auto head,
                                  db.QueryInt("SELECT coalesce(max(seq), 0) FROM sqlite_sequence "
                                              "WHERE name = 'outbox'"));
        if (acked_seq > head) {
          return Status::InvalidArgument("acknowledged seq " + std::to_string(acked_seq) +
                                         " is beyond the outbox head " + std::to_string(head));
        }
        // Always a prefix of the seqs: stop before the first entry captured since the cut-off
        // (a clock stepped back must not leave holes in what a restored central asks for).
        MILLRACE_ASSIGN_OR_RETURN(
            Statement * del,
            db.Prepare("DELETE FROM outbox WHERE seq <= min(?1, coalesce((SELECT min(seq) - 1 FROM "
                       "outbox WHERE captured_at >= ?2), ?1))"));
        MILLRACE_RETURN_IF_ERROR(del->BindAll({acked_seq, captured_before_ms}));
        MILLRACE_RETURN_IF_ERROR(del->Run());
        return db.Exec("INSERT INTO sync_state (key, value) VALUES ('acked_seq', " +
                       std::to_string(acked_seq) +
                       ") ON CONFLICT (key) DO UPDATE SET value = max(value, excluded.value)");
      },
      false);
}

Result<OutboxStats> EdgeStore::Outbox() const {
  OutboxStats stats;
  MILLRACE_RETURN_IF_ERROR(Read([&](ReadTxn& txn) -> Status {
    MILLRACE_ASSIGN_OR_RETURN(stats.acked_seq,
                              txn.db().QueryInt("SELECT coalesce(max(value), 0) FROM "
                                                "sync_state WHERE key = 'acked_seq'"));
    // The backlog: what central has not acknowledged (acknowledged entries kept a while
    // for a restored central are not in it).
    MILLRACE_ASSIGN_OR_RETURN(
        Statement * s,
        txn.db().Prepare(
            "SELECT count(*), coalesce(sum(length(payload)), 0), coalesce(min(captured_at), 0) "
            "FROM outbox WHERE seq > ?"));
    MILLRACE_RETURN_IF_ERROR(s->Bind(1, stats.acked_seq));
    MILLRACE_ASSIGN_OR_RETURN(bool row, s->Step());
    if (row) {
      stats.rows = s->ColumnInt(0);
      stats.bytes = s->ColumnInt(1);
      stats.oldest_captured_ms = s->ColumnInt(2);
    }
    s->Reset();
    MILLRACE_ASSIGN_OR_RETURN(stats.head_seq,
                              txn.db().QueryInt("SELECT coalesce(max(seq), 0) FROM "
                                                "sqlite_sequence WHERE name = 'outbox'"));
    // Seqs are contiguous and purged from the oldest: the kept ones are those from the
    // first to the watermark.
    MILLRACE_ASSIGN_OR_RETURN(std::int64_t first,
                              txn.db().QueryInt("SELECT coalesce(min(seq), 0) FROM outbox"));
    stats.kept_rows = first > 0 && first <= stats.acked_seq ? stats.acked_seq - first + 1 : 0;
    return Status::Ok();
  }));
  return stats;
}

Result<std::vector<OutboxEntry>> EdgeStore::ReadOutbox(std::int64_t after_seq, int limit) const {
  std::vector<OutboxEntry> out;
  MILLRACE_RETURN_IF_ERROR(Read([&](ReadTxn& txn) -> Status {
    MILLRACE_ASSIGN_OR_RETURN(Statement * s,
                              txn.db().Prepare("SELECT seq, table_name, row_id, hlc, captured_at, "
                                               "payload FROM outbox WHERE seq > ? ORDER BY seq "
                                               "LIMIT ?"));
    MILLRACE_RETURN_IF_ERROR(s->BindAll({after_seq, std::int64_t{limit}}));
    for (;;) {
      MILLRACE_ASSIGN_OR_RETURN(bool row, s->Step());
      if (!row) break;
      OutboxEntry e;
      e.seq = s->ColumnInt(0);
      e.table = std::get<std::string>(s->Column(1));
      e.row_id = std::get<std::string>(s->Column(2));
      e.hlc = s->ColumnInt(3);
      e.captured_ms = s->ColumnInt(4);
      e.payload = std::get<std::string>(s->Column(5));
      out.push_back(std::move(e));
    }
    s->Reset();
    return Status::Ok();
  }));
  return out;
}

Status EdgeStore::CheckReady() const {
  return Read([](ReadTxn& txn) { return CheckEdgeSchemaCurrent(txn.db()); });
}

std::uint64_t EdgeStore::groups_committed() const {
  std::lock_guard lock(mu_);
  return groups_;
}

std::uint64_t EdgeStore::requests_committed() const {
  std::lock_guard lock(mu_);
  return requests_;
}

}  // namespace millrace::edge
