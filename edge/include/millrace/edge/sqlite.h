// SqliteDb: the edge's adapter over the SQLite C API. Errors become Status values
// (SQLITE_BUSY -> Unavailable, constraint -> InvalidArgument, corrupt -> Corruption).
//
// Thread-safety: one SqliteDb per thread (SQLite's multi-thread mode).
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <string>

#include "millrace/common/status.h"

namespace millrace::edge {

class SqliteDb {
 public:
  ~SqliteDb();
  SqliteDb(SqliteDb&& other) noexcept;
  SqliteDb& operator=(SqliteDb&&) = delete;
  SqliteDb(const SqliteDb&) = delete;
  SqliteDb& operator=(const SqliteDb&) = delete;

  // Opens (creating when absent) with WAL, synchronous=FULL, foreign keys and a busy
  // timeout. ":memory:" gives a private in-memory database.
  static Result<SqliteDb> Open(const std::string& path);

  // Runs one or more statements without results.
  Status Exec(const std::string& sql);
  // The first column of the first row as an integer (0 when no row).
  Result<std::int64_t> QueryInt(const std::string& sql);
  // The first column of the first row as text ("" when no row or NULL).
  Result<std::string> QueryText(const std::string& sql);

  sqlite3* raw() { return db_; }
  const std::string& path() const { return path_; }

  // Maps an SQLite result code to a Status with `what` as context.
  Status Error(int rc, const std::string& what) const;

 private:
  SqliteDb(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  sqlite3* db_;
  std::string path_;
};

}  // namespace millrace::edge
