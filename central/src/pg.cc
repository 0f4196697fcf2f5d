#include "millrace/central/pg.h"

#include <spdlog/spdlog.h>

#include <poll.h>

#include <cerrno>
#include <cstdlib>
#include <thread>

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
  if (s == "55000") return StatusCode::kFailedPrecondition;  // object not in prerequisite state
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

Result<PgResult> PgConnection::QueryWithin(const std::string& sql, std::chrono::milliseconds timeout) {
  if (!PQsendQuery(conn_, sql.c_str()))
    return Status::Unavailable(std::string("PostgreSQL: ") + PQerrorMessage(conn_) + " [in: " + sql + "]");
  if (PQsocket(conn_) < 0)
    return Status::Unavailable(std::string("PostgreSQL: no connection: ") + PQerrorMessage(conn_));
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  PGresult* last = nullptr;
  Status failed;
  while (true) {
    while (PQisBusy(conn_)) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      pollfd p{PQsocket(conn_), POLLIN, 0};
      const int ready = left.count() > 0 ? poll(&p, 1, static_cast<int>(left.count())) : 0;
      if (ready == 0) {
        if (last) PQclear(last);
        // PQcancel connects to the server and may block as long as a connect can: it runs on
        // a thread of its own (PGcancel is made for that), and the caller goes on.
        if (PGcancel* cancel = PQgetCancel(conn_)) {
          std::thread([cancel] {
            char err[256];
            (void)PQcancel(cancel, err, sizeof err);
            PQfreeCancel(cancel);
          }).detach();
        }
        return Status::Timeout("PostgreSQL did not answer within " + std::to_string(timeout.count()) +
                               " ms [in: " + sql + "]");
      }
      if (ready < 0 && errno == EINTR) continue;
      if (ready < 0 || !PQconsumeInput(conn_)) {
        if (last) PQclear(last);
        return Status::Unavailable(std::string("PostgreSQL: ") + PQerrorMessage(conn_) + " [in: " + sql + "]");
      }
    }
    PGresult* res = PQgetResult(conn_);
    if (!res) break;
    if (failed.ok()) {
      Status s = CheckResult(res, sql);
      if (!s.ok()) failed = s;
    }
    if (last) PQclear(last);
    last = res;
  }
  if (!failed.ok() || !last) {
    if (last) PQclear(last);
    return failed.ok() ? Status::Internal("no result [in: " + sql + "]") : failed;
  }
  return PgResult(last);
}

Result<PgResult> PgConnection::QueryBinary(const std::string& sql,
                                          const std::vector<PgBinaryParam>& params) {
  std::vector<Oid> types;
  std::vector<const char*> values;
  std::vector<int> lengths, formats;
  for (const auto& p : params) {
    types.push_back(p.type_oid);
    values.push_back(p.bytes.data());
    lengths.push_back(static_cast<int>(p.bytes.size()));
    formats.push_back(1);
  }
  PGresult* res = PQexecParams(conn_, sql.c_str(), static_cast<int>(params.size()), types.data(),
                               values.data(), lengths.data(), formats.data(), 0);
  Status s = CheckResult(res, sql);
  if (!s.ok()) {
    PQclear(res);
    return s;
  }
  return PgResult(res);
}

Status PgConnection::StartCopy(const std::string& copy_sql, int expected) {
  PGresult* res = PQexec(conn_, copy_sql.c_str());
  if (!res || PQresultStatus(res) != expected) {
    Status s = CheckResult(res, copy_sql);
    PQclear(res);
    return s.ok() ? Status::Internal("COPY did not start: " + copy_sql) : s;
  }
  PQclear(res);
  return Status::Ok();
}

Result<long> PgConnection::FinishCopy(const std::string& copy_sql) {
  Status status;
  long copied = 0;
  while (PGresult* r = PQgetResult(conn_)) {
    Status s = CheckResult(r, copy_sql);
    if (s.ok() && PQresultStatus(r) == PGRES_COMMAND_OK) copied = PgResult(r).affected(), r = nullptr;
    if (!s.ok() && status.ok()) status = s;
    if (r) PQclear(r);
  }
  if (!status.ok()) return status;
  return copied;
}

Result<long> PgConnection::CopyIn(const std::string& copy_sql, std::string_view data) {
  MILLRACE_RETURN_IF_ERROR(StartCopy(copy_sql, PGRES_COPY_IN));
  constexpr std::size_t kChunk = 1 << 20;
  bool ok = true;
  for (std::size_t off = 0; off < data.size() && ok; off += kChunk) {
    const std::size_t n = std::min(kChunk, data.size() - off);
    ok = PQputCopyData(conn_, data.data() + off, static_cast<int>(n)) == 1;
  }
  if (PQputCopyEnd(conn_, ok ? nullptr : "client failed to send the data") != 1) ok = false;
  Result<long> copied = FinishCopy(copy_sql);
  if (copied.ok() && !ok) return Status::Unavailable("COPY: " + std::string(PQerrorMessage(conn_)));
  return copied;
}

Result<long> PgConnection::CopyOut(const std::string& copy_sql,
                                   const std::function<Status(std::string_view)>& sink) {
  MILLRACE_RETURN_IF_ERROR(StartCopy(copy_sql, PGRES_COPY_OUT));
  Status sunk;
  for (;;) {
    char* buf = nullptr;
    const int n = PQgetCopyData(conn_, &buf, 0);
    if (n > 0) {
      if (sunk.ok()) sunk = sink(std::string_view(buf, static_cast<std::size_t>(n)));
      PQfreemem(buf);
      continue;  // the rest is read (and dropped) after a sink's error: the copy ends whole
    }
    if (n == -2) return Status::Unavailable("COPY: " + std::string(PQerrorMessage(conn_)));
    break;  // -1: done
  }
  Result<long> copied = FinishCopy(copy_sql);
  if (copied.ok() && !sunk.ok()) return sunk;
  return copied;
}

Result<std::vector<std::pair<std::string, std::string>>> PgConnection::WaitForNotifications(
    int timeout_ms) {
  std::vector<std::pair<std::string, std::string>> out;
  auto drain = [&]() -> Status {
    if (PQconsumeInput(conn_) != 1)
      return Status::Unavailable("PostgreSQL: " + std::string(PQerrorMessage(conn_)));
    while (PGnotify* n = PQnotifies(conn_)) {
      out.emplace_back(n->relname, n->extra ? n->extra : "");
      PQfreemem(n);
    }
    return Status::Ok();
  };
  MILLRACE_RETURN_IF_ERROR(drain());
  if (!out.empty()) return out;
  pollfd pfd{PQsocket(conn_), POLLIN, 0};
  if (pfd.fd < 0) return Status::Unavailable("PostgreSQL connection is closed");
  if (::poll(&pfd, 1, timeout_ms) > 0) MILLRACE_RETURN_IF_ERROR(drain());
  return out;
}

std::string ByteaHex(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\\x";
  out.reserve(2 + bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

Result<std::string> FromByteaHex(std::string_view text) {
  if (text.size() < 2 || text[0] != '\\' || text[1] != 'x' || text.size() % 2 != 0)
    return Status::InvalidArgument("not a hex bytea value");
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve((text.size() - 2) / 2);
  for (std::size_t i = 2; i < text.size(); i += 2) {
    int hi = nibble(text[i]), lo = nibble(text[i + 1]);
    if (hi < 0 || lo < 0) return Status::InvalidArgument("not a hex bytea value");
    out.push_back(static_cast<char>(hi << 4 | lo));
  }
  return out;
}

std::string WithConnectTimeout(const std::string& conninfo, int seconds) {
  const std::string value = std::to_string(seconds);
  const bool uri = conninfo.rfind("postgresql://", 0) == 0 || conninfo.rfind("postgres://", 0) == 0;
  if (!uri) return conninfo + (conninfo.empty() ? "" : " ") + "connect_timeout=" + value;
  // A URI: the parameter goes into its query, before any fragment (libpq has none).
  return conninfo + (conninfo.find('?') == std::string::npos ? "?" : "&") + "connect_timeout=" + value;
}

std::string PgTextArray(const std::vector<std::string>& items) {
  std::string out = "{";
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i) out += ',';
    out += '"';
    for (char c : items[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  return out + "}";
}

}  // namespace millrace::central
