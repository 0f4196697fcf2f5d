#include "millrace/central/pg.h"

#include <spdlog/spdlog.h>

#include <cstdlib>

namespace millrace::central {

long PgResult::affected() const {
  const char* n = PQcmdTuples(res_.get());
  return (n && *n) ? std::strtol(n, nullptr, 10) : 0;
}

StatusCode StatusCodeForSqlState(std::string_view s) {
  if (s.size() != 5) return StatusCode::kInternal;
  if (s == "23505") return StatusCode::kAlreadyExists;
  if (s == "42501") return StatusCode::kPermissionDenied;
  if (s == "40001" || s == "40P01") return StatusCode::kConflict;
  if (s == "57014") return StatusCode::kTimeout;  // query_canceled (statement_timeout)
  if (s == "42P01" || s == "42704" || s == "3D000") return StatusCode::kNotFound;
  if (s == "28000" || s == "28P01") return StatusCode::kUnauthenticated;
  std::string_view cls = s.substr(0, 2);
  if (cls == "08" || cls == "57" || cls == "53") return StatusCode::kUnavailable;
  if (cls == "22" || cls == "23") return StatusCode::kInvalidArgument;
  if (cls == "42") return StatusCode::kInvalidArgument;
  if (s == "XX001" || s == "XX002")
    return StatusCode::kCorruption;  // data_corrupted, index_corrupted
  return StatusCode::kInternal;
}

PgConnection::~PgConnection() {
  if (conn_) PQfinish(conn_);
}

Result<std::unique_ptr<PgConnection>> PgConnection::Connect(const std::string& conninfo) {
  PGconn* conn = PQconnectdb(conninfo.c_str());
  if (!conn) return Status::Unavailable("PostgreSQL: out of memory creating a connection");
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string why = PQerrorMessage(conn);
    while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
    PQfinish(conn);
    return Status::Unavailable("PostgreSQL connection failed: " + why);
  }
  // NOTICEs ("relation already exists, skipping") are routine: keep them out of stderr.
  PQsetNoticeProcessor(
      conn, [](void*, const char* message) { spdlog::debug("PostgreSQL: {}", message); }, nullptr);
  return std::unique_ptr<PgConnection>(new PgConnection(conn));
}

Status PgConnection::CheckResult(PGresult* res, const std::string& sql) const {
  ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY ||
      st == PGRES_COPY_IN || st == PGRES_COPY_OUT) {
    return Status::Ok();
  }
  std::string sqlstate = res && PQresultErrorField(res, PG_DIAG_SQLSTATE)
                             ? PQresultErrorField(res, PG_DIAG_SQLSTATE)
                             : "";
  std::string msg = res && PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY)
                        ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY)
                        : PQerrorMessage(conn_);
  while (!msg.empty() && msg.back() == '\n') msg.pop_back();
  StatusCode code = sqlstate.empty() ? (PQstatus(conn_) == CONNECTION_OK ? StatusCode::kInternal
                                                                         : StatusCode::kUnavailable)
                                     : StatusCodeForSqlState(sqlstate);
  std::string head = sql.substr(0, 80);
  for (auto& c : head)
    if (c == '\n') c = ' ';
  return Status(code, "PostgreSQL " + (sqlstate.empty() ? std::string("error") : sqlstate) + ": " +
                          msg + " [in: " + head + (sql.size() > 80 ? "..." : "") + "]");
}

Status PgConnection::Exec(const std::string& sql) {
  PGresult* res = PQexec(conn_, sql.c_str());
  Status s = CheckResult(res, sql);
  PQclear(res);
  return s;
}

Result<PgResult> PgConnection::Query(const std::string& sql, const std::vector<PgParam>& params) {
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
  PGresult* res = PQexecParams(conn_, sql.c_str(), static_cast<int>(params.size()), nullptr,
                               values.data(), nullptr, nullptr, 0);
  Status s = CheckResult(res, sql);
  if (!s.ok()) {
    PQclear(res);
    return s;
  }
  return PgResult(res);
}

}  // namespace millrace::central
