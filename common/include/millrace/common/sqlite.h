// SqliteDb: Millrace's adapter over the SQLite C API (the edge's store, and central reading
// the site backups it keeps). Errors become Status values
// (SQLITE_BUSY -> Unavailable, constraint -> InvalidArgument, corrupt -> Corruption).
//
// Thread-safety: one SqliteDb per thread (SQLite's multi-thread mode).
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "millrace/common/row.h"
#include "millrace/common/status.h"

namespace millrace {

class SqliteDb;

// A prepared statement owned by its SqliteDb's cache. Bind, step, read, and it is reset
// (bindings cleared) by the next Prepare of the same SQL.
class Statement {
 public:
  Statement(sqlite3_stmt* stmt, SqliteDb* db) : stmt_(stmt), db_(db) {}
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // 1-based, like SQLite.
  Status Bind(int index, const Value& value);
  Status BindAll(const std::vector<Value>& values, int first_index = 1);
  // true: a row is ready; false: done.
  Result<bool> Step();
  // Runs to completion, discarding rows.
  Status Run();
  // 0-based column of the current row.
  Value Column(int index) const;
  std::int64_t ColumnInt(int index) const { return sqlite3_column_int64(stmt_, index); }
  void Reset();
  sqlite3_stmt* raw() { return stmt_; }

 private:
  sqlite3_stmt* stmt_;
  SqliteDb* db_;
};

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
  // Runs one statement without results through the statement cache: for the statements a
  // hot path runs again and again (BEGIN, SAVEPOINT, COMMIT), which Exec would parse anew.
  Status Run(const std::string& sql);
  // A cached prepared statement for `sql`, reset and ready to bind.
  Result<Statement*> Prepare(const std::string& sql);
  // Opens read-only (WAL readers never block the writer). REQUIRES: the file exists.
  static Result<SqliteDb> OpenReadOnly(const std::string& path);

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
  // Declared after db_ so it is destroyed first: statements finalize before the close.
  std::unordered_map<std::string, std::unique_ptr<Statement>> statements_;
};

}  // namespace millrace
