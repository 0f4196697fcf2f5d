// PgConnection: the one place mes-central talks to libpq. Every libpq failure becomes a
// Status whose code follows the SQLSTATE class (connection -> Unavailable, unique
// violation -> AlreadyExists, check/data errors -> InvalidArgument, RLS or grant refusal
// -> PermissionDenied, serialization/deadlock -> Conflict) and whose message carries the
// SQLSTATE and PostgreSQL's own words.
//
// Thread-safety: one connection is used by one thread at a time.
#pragma once

#include <libpq-fe.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "millrace/common/status.h"

namespace millrace::central {

class PgResult {
 public:
  explicit PgResult(PGresult* res) : res_(res, &PQclear) {}
  int rows() const { return PQntuples(res_.get()); }
  int columns() const { return PQnfields(res_.get()); }
  bool IsNull(int row, int col) const { return PQgetisnull(res_.get(), row, col) != 0; }
  std::string_view Get(int row, int col) const {
    return {PQgetvalue(res_.get(), row, col),
            static_cast<std::size_t>(PQgetlength(res_.get(), row, col))};
  }
  std::string GetString(int row, int col) const { return std::string(Get(row, col)); }
  // Rows touched by INSERT/UPDATE/DELETE.
  long affected() const;

 private:
  std::unique_ptr<PGresult, decltype(&PQclear)> res_;
};

using PgParam = std::optional<std::string>;  // nullopt is SQL NULL

// A parameter in PostgreSQL's binary format for its type (pg_binary.h).
struct PgBinaryParam {
  unsigned type_oid = 0;
  std::string bytes;
};

class PgConnection {
 public:
  ~PgConnection();
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  // Unavailable with PostgreSQL's reason when the server cannot be reached or refuses.
  static Result<std::unique_ptr<PgConnection>> Connect(const std::string& conninfo);

  // Runs one or more statements with no parameters, discarding any rows.
  Status Exec(const std::string& sql);
  // Runs one statement with text parameters ($1, $2, ...).
  Result<PgResult> Query(const std::string& sql, const std::vector<PgParam>& params = {});

  // Like Exec/Query (one or more statements, no parameters; the last statement's rows), but
  // gives up after `timeout`: the query is cancelled (from a thread of its own, which may
  // take as long as a connect) and Timeout returned. The connection is then busy and must
  // be closed (a pool's Release does). For round trips that must not wait on a server that
  // is gone, e.g. behind PgBouncer, which holds a query until it finds a server.
  Result<PgResult> QueryWithin(const std::string& sql, std::chrono::milliseconds timeout);

  // Runs one statement with binary parameters, the typed OIDs given; rows come back as text.
  Result<PgResult> QueryBinary(const std::string& sql, const std::vector<PgBinaryParam>& params);

  // COPY ... FROM STDIN with `data` in COPY text format; returns the rows copied.
  Result<long> CopyIn(const std::string& copy_sql, std::string_view data);
  // COPY ... TO STDOUT: every piece of the output goes to `sink` as it arrives (a sink's
  // error ends the copy and is returned); returns the rows copied.
  Result<long> CopyOut(const std::string& copy_sql,
                       const std::function<Status(std::string_view)>& sink);
  // LISTEN/NOTIFY: waits up to timeout_ms for notifications on channels this connection
  // LISTENs to and returns their payloads (empty on timeout).
  Result<std::vector<std::pair<std::string, std::string>>> WaitForNotifications(int timeout_ms);
  PGconn* raw() { return conn_; }

  // Statements BeginTenant runs right after BEGIN on this connection, in the same round trip:
  // the SET LOCALs a pool gives its connections ("SET LOCAL ROLE x; SET LOCAL
  // statement_timeout = 30000"), which hold through a pooler in transaction mode where a
  // session's SET would land on whichever server connection the pooler picked.
  void set_transaction_settings(std::string sql) { transaction_settings_ = std::move(sql); }
  const std::string& transaction_settings() const { return transaction_settings_; }

 private:
  explicit PgConnection(PGconn* conn) : conn_(conn) {}
  Status CheckResult(PGresult* res, const std::string& sql) const;
  // A COPY begun (`expected`: PGRES_COPY_IN or _OUT), and its results read to the end.
  Status StartCopy(const std::string& copy_sql, int expected);
  Result<long> FinishCopy(const std::string& copy_sql);
  PGconn* conn_;
  std::string transaction_settings_;
};

// `conninfo` (keyword=value pairs, or a postgres:// URI) with connect_timeout set to
// `seconds`, in the form it is written in.
std::string WithConnectTimeout(const std::string& conninfo, int seconds);

// A text[] parameter in PostgreSQL's text form, every item quoted: {"a","b\"c"}.
std::string PgTextArray(const std::vector<std::string>& items);

// bytea in PostgreSQL's text form ("\\x0a1b...") and back.
std::string ByteaHex(std::string_view bytes);
Result<std::string> FromByteaHex(std::string_view text);

// Maps a five-character SQLSTATE to a StatusCode.
StatusCode StatusCodeForSqlState(std::string_view sqlstate);

}  // namespace millrace::central
