#include "millrace/common/sqlite.h"

#include <mutex>

namespace millrace {
namespace {

// Before the first connection: no memory statistics. SQLite's default keeps them under one
// process-wide mutex taken on every allocation, which the writer and every reader then
// contend for; nothing in Millrace reads them.
void ConfigureSqliteOnce() {
  static std::once_flag once;
  std::call_once(once, [] { (void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); });
}

}  // namespace

Statement::~Statement() {
  sqlite3_finalize(stmt_);
}

Status Statement::Bind(int index, const Value& value) {
  int rc;
  if (IsNull(value)) {
    rc = sqlite3_bind_null(stmt_, index);
  } else if (auto* i = std::get_if<std::int64_t>(&value)) {
    rc = sqlite3_bind_int64(stmt_, index, *i);
  } else if (auto* d = std::get_if<double>(&value)) {
    rc = sqlite3_bind_double(stmt_, index, *d);
  } else {
    const auto& t = std::get<std::string>(value);
    rc = sqlite3_bind_text(stmt_, index, t.data(), static_cast<int>(t.size()), SQLITE_TRANSIENT);
  }
  return rc == SQLITE_OK ? Status::Ok() : db_->Error(rc, "bind parameter " + std::to_string(index));
}

Status Statement::BindAll(const std::vector<Value>& values, int first_index) {
  for (std::size_t i = 0; i < values.size(); ++i) {
    MILLRACE_RETURN_IF_ERROR(Bind(first_index + static_cast<int>(i), values[i]));
  }
  return Status::Ok();
}

Result<bool> Statement::Step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  Status s = db_->Error(rc, std::string("SQLite [") + sqlite3_sql(stmt_) + "]");
  sqlite3_reset(stmt_);
  return s;
}

Status Statement::Run() {
  for (;;) {
    MILLRACE_ASSIGN_OR_RETURN(bool row, Step());
    if (!row) return Status::Ok();
  }
}

Value Statement::Column(int index) const {
  switch (sqlite3_column_type(stmt_, index)) {
    case SQLITE_INTEGER:
      return static_cast<std::int64_t>(sqlite3_column_int64(stmt_, index));
    case SQLITE_FLOAT:
      return sqlite3_column_double(stmt_, index);
    case SQLITE_TEXT:
    case SQLITE_BLOB: {
      const char* p = static_cast<const char*>(sqlite3_column_blob(stmt_, index));
      return std::string(p ? p : "", static_cast<std::size_t>(sqlite3_column_bytes(stmt_, index)));
    }
    default:
      return std::monostate{};
  }
}

void Statement::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

SqliteDb::~SqliteDb() {
  statements_.clear();
  if (db_) sqlite3_close_v2(db_);
}

SqliteDb::SqliteDb(SqliteDb&& other) noexcept
    : db_(other.db_), path_(std::move(other.path_)), statements_(std::move(other.statements_)) {
  other.db_ = nullptr;
  for (auto& [sql, stmt] : statements_)
    stmt = std::make_unique<Statement>(stmt->raw(), this), (void)sql;
}

Result<Statement*> SqliteDb::Prepare(const std::string& sql) {
  auto it = statements_.find(sql);
  if (it != statements_.end()) {
    it->second->Reset();
    return it->second.get();
  }
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql.c_str(), -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) return Error(rc, "SQLite prepare [" + sql + "]");
  auto owned = std::make_unique<Statement>(stmt, this);
  Statement* raw = owned.get();
  statements_.emplace(sql, std::move(owned));
  return raw;
}

Result<SqliteDb> SqliteDb::OpenReadOnly(const std::string& path) {
  ConfigureSqliteOnce();
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr);
  SqliteDb db(raw, path);
  if (rc != SQLITE_OK) return db.Error(rc, "cannot open " + path + " for reading");
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, 5000);
  return db;
}

Status SqliteDb::Error(int rc, const std::string& what) const {
  std::string msg = what + ": " + (db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc));
  switch (rc & 0xFF) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Status::Unavailable(msg);
    case SQLITE_CONSTRAINT:
    case SQLITE_MISMATCH:
    case SQLITE_RANGE:
      return Status::InvalidArgument(msg);
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return Status::Corruption(msg);
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
      return Status::IOError(msg);
    case SQLITE_PERM:
    case SQLITE_AUTH:
      return Status::PermissionDenied(msg);
    default:
      return Status::Internal(msg);
  }
}

Result<SqliteDb> SqliteDb::Open(const std::string& path) {
  ConfigureSqliteOnce();
  sqlite3* raw = nullptr;
  int rc =
      sqlite3_open_v2(path.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  SqliteDb db(raw, path);
  if (rc != SQLITE_OK) return db.Error(rc, "cannot open " + path);
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, 5000);
  // synchronous=FULL: a commit the terminal was told about survives power loss.
  MILLRACE_RETURN_IF_ERROR(
      db.Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;"));
  if (path != ":memory:") {
    MILLRACE_ASSIGN_OR_RETURN(std::string mode, db.QueryText("PRAGMA journal_mode"));
    if (mode != "wal")
      return Status::IOError("cannot switch " + path + " to WAL mode (got " + mode + ")");
  }
  return db;
}

Status SqliteDb::Exec(const std::string& sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
  if (rc == SQLITE_OK) return Status::Ok();
  std::string head = sql.substr(0, 80);
  Status s = Error(rc, "SQLite [" + head + (sql.size() > 80 ? "..." : "") + "]");
  sqlite3_free(err);
  return s;
}

Status SqliteDb::Run(const std::string& sql) {
  MILLRACE_ASSIGN_OR_RETURN(Statement * stmt, Prepare(sql));
  return stmt->Run();
}

namespace {
template <typename T, typename F>
Result<T> QueryFirst(SqliteDb& db, const std::string& sql, T fallback, F extract) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v2(db.raw(), sql.c_str(), -1, &stmt, nullptr);
  if (rc != SQLITE_OK) return db.Error(rc, "SQLite prepare [" + sql + "]");
  rc = sqlite3_step(stmt);
  T value = fallback;
  if (rc == SQLITE_ROW) {
    value = extract(stmt);
  } else if (rc != SQLITE_DONE) {
    Status s = db.Error(rc, "SQLite step [" + sql + "]");
    sqlite3_finalize(stmt);
    return s;
  }
  sqlite3_finalize(stmt);
  return value;
}
}  // namespace

Result<std::int64_t> SqliteDb::QueryInt(const std::string& sql) {
  return QueryFirst<std::int64_t>(*this, sql, 0,
                                  [](sqlite3_stmt* s) { return sqlite3_column_int64(s, 0); });
}

Result<std::string> SqliteDb::QueryText(const std::string& sql) {
  return QueryFirst<std::string>(*this, sql, "", [](sqlite3_stmt* s) {
    const unsigned char* t = sqlite3_column_text(s, 0);
    return t ? std::string(reinterpret_cast<const char*>(t)) : std::string();
  });
}

}  // namespace millrace
