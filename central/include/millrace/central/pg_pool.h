// PgPool: a bounded pool of PostgreSQL connections for mes-central's HTTP handlers (reports,
// readiness, content digests, the audit trail). The sync applier never draws from it (each
// of its workers holds a connection of its own), so a slow report cannot take a connection
// the applier needs; and every pooled connection has a statement timeout, so a runaway
// query cannot hold one for long (through a transaction pooler, only inside the transactions
// BeginTenant opens: give the login role a default, ALTER ROLE ... SET statement_timeout,
// for the statements outside them).
//
// Every lent connection's transactions (BeginTenant) SET LOCAL the pool's role and
// statement timeout; without a transaction pooler the session has them too.
//
// Connections are opened on demand up to `size`. One idle for longer than `check_after` is
// checked with a round trip before it is lent; one that fails the check, comes back broken
// or inside a transaction it cannot roll back is closed and replaced. When all are lent,
// Acquire waits up to `acquire_timeout` and then answers Unavailable, which HTTP turns into
// 503 with Retry-After.
//
// Thread-safety: all methods may be called from any thread. A Lease is used by one thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>

#include "millrace/central/pg.h"
#include "millrace/common/metrics.h"

namespace millrace::central {

struct PgPoolOptions {
  std::string conninfo;
  std::string name = "http";  // in metrics and errors
  int size = 4;
  std::chrono::milliseconds acquire_timeout{2000};
  std::chrono::milliseconds check_after{10000};
  int statement_timeout_ms = 30000;  // 0: none
  std::string role;  // SET ROLE to this on every connection ("": the login role)
  // true: conninfo is a pooler in transaction mode (PgBouncer), where a session's SET lands
  // on whichever server connection the pooler picked and stays there for other clients. Then
  // role and statement timeout are only SET LOCAL by each transaction BeginTenant opens;
  // statements outside one run with the login role and the server's own timeout.
  bool transaction_pooler = false;
  // Bounds the pool's own round trips (the check of an idle connection, the session's SETs):
  // a server that is gone behind a pooler then fails them in this time instead of when the
  // pooler gives up. 0: no bound.
  std::chrono::milliseconds round_trip_timeout{0};
};

class PgPool {
 public:
  // `metrics` (may be null) gains mes_central_db_pool_* series labelled pool=<name>.
  PgPool(PgPoolOptions options, MetricsRegistry* metrics = nullptr);
  ~PgPool();
  PgPool(const PgPool&) = delete;
  PgPool& operator=(const PgPool&) = delete;

  class Lease {
   public:
    Lease(Lease&& other) noexcept : pool_(other.pool_), conn_(std::move(other.conn_)) {}
    Lease& operator=(Lease&&) = delete;
    ~Lease();
    PgConnection& operator*() { return *conn_; }
    PgConnection* operator->() { return conn_.get(); }

   private:
    friend class PgPool;
    Lease(PgPool* pool, std::unique_ptr<PgConnection> conn) : pool_(pool), conn_(std::move(conn)) {}
    PgPool* pool_;
    std::unique_ptr<PgConnection> conn_;
  };

  Result<Lease> Acquire();

  struct Stats {
    int size = 0, open = 0, in_use = 0;
    std::uint64_t acquired = 0, waited = 0, timed_out = 0, replaced = 0;
  };
  Stats stats() const;

 private:
  struct Idle {
    std::unique_ptr<PgConnection> conn;
    std::chrono::steady_clock::time_point since;
  };
  Result<std::unique_ptr<PgConnection>> Open();
  Status RoundTrip(PgConnection& conn, const std::string& sql);
  void Release(std::unique_ptr<PgConnection> conn);

  const PgPoolOptions options_;
  mutable std::mutex mu_;
  std::condition_variable freed_;
  std::deque<Idle> idle_;
  int open_ = 0;    // idle + lent + being opened
  int in_use_ = 0;
  std::uint64_t acquired_ = 0, waited_ = 0, timed_out_ = 0, replaced_ = 0;
};

}  // namespace millrace::central
