#include "millrace/edge/sqlite.h"

namespace millrace::edge {

SqliteDb::~SqliteDb() {
  if (db_) sqlite3_close_v2(db_);
}

SqliteDb::SqliteDb(SqliteDb&& other) noexcept : db_(other.db_), path_(std::move(other.path_)) {
  other.db_ = nullptr;
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

}  // namespace millrace::edge
