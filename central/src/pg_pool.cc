#include "millrace/central/pg_pool.h"

#include <libpq-fe.h>
#include <spdlog/spdlog.h>

namespace millrace::central {

PgPool::PgPool(PgPoolOptions options, MetricsRegistry* metrics) : options_(std::move(options)) {
  if (!metrics) return;
  auto& conns = metrics->AddGauge("mes_central_db_pool_connections",
                                  "Pooled PostgreSQL connections of HTTP handlers, by state",
                                  {"pool", "state"});
  auto& waits = metrics->AddGauge("mes_central_db_pool_waits",
                                  "Times a handler waited for a pooled connection since start", {"pool"});
  auto& timeouts = metrics->AddGauge(
      "mes_central_db_pool_timeouts", "Times no pooled connection freed up in time since start", {"pool"});
  metrics->AddCollector([this, &conns, &waits, &timeouts] {
    const Stats s = stats();
    conns.With({options_.name, "in_use"}).Set(s.in_use);
    conns.With({options_.name, "idle"}).Set(s.open - s.in_use);
    waits.With({options_.name}).Set(static_cast<double>(s.waited));
    timeouts.With({options_.name}).Set(static_cast<double>(s.timed_out));
  });
}

PgPool::~PgPool() = default;

PgPool::Lease::~Lease() {
  if (pool_ && conn_) pool_->Release(std::move(conn_));
}

Status PgPool::RoundTrip(PgConnection& conn, const std::string& sql) {
  if (options_.round_trip_timeout.count() > 0)
    return conn.QueryWithin(sql, options_.round_trip_timeout).status();
  return conn.Exec(sql);
}

Result<std::unique_ptr<PgConnection>> PgPool::Open() {
  MILLRACE_ASSIGN_OR_RETURN(auto conn, PgConnection::Connect(options_.conninfo));
  // application_name is one of the parameters PgBouncer tracks per client and sets again on
  // whichever server connection it lends, so it is safe through a pooler as well.
  MILLRACE_RETURN_IF_ERROR(RoundTrip(*conn, "SET application_name = 'mes-central " + options_.name + "'"));
  std::string local;
  if (!options_.role.empty()) local = "SET LOCAL ROLE \"" + options_.role + "\"";
  if (options_.statement_timeout_ms > 0)
    local += (local.empty() ? "" : "; ") + std::string("SET LOCAL statement_timeout = ") +
             std::to_string(options_.statement_timeout_ms);
  conn->set_transaction_settings(local);
  if (options_.transaction_pooler) return conn;
  if (!options_.role.empty())
    MILLRACE_RETURN_IF_ERROR(RoundTrip(*conn, "SET ROLE \"" + options_.role + "\""));
  if (options_.statement_timeout_ms > 0)
    MILLRACE_RETURN_IF_ERROR(
        RoundTrip(*conn, "SET statement_timeout = " + std::to_string(options_.statement_timeout_ms)));
  return conn;
}

Result<PgPool::Lease> PgPool::Acquire() {
  const auto deadline = std::chrono::steady_clock::now() + options_.acquire_timeout;
  std::unique_lock<std::mutex> lock(mu_);
  bool counted_wait = false;
  while (true) {
    while (!idle_.empty()) {
      Idle idle = std::move(idle_.front());
      idle_.pop_front();
      ++in_use_;
      ++acquired_;
      const bool check = std::chrono::steady_clock::now() - idle.since > options_.check_after;
      lock.unlock();
      if (!check || (PQstatus(idle.conn->raw()) == CONNECTION_OK && RoundTrip(*idle.conn, "SELECT 1").ok()))
        return Lease(this, std::move(idle.conn));
      // Gone stale (a restarted server, a dropped link): replace it.
      idle.conn.reset();
      auto fresh = Open();
      lock.lock();
      ++replaced_;
      if (fresh.ok()) return Lease(this, std::move(*fresh));
      --in_use_;
      --open_;
      freed_.notify_one();
      return fresh.status();
    }
    if (open_ < options_.size) {
      ++open_;
      ++in_use_;
      ++acquired_;
      lock.unlock();
      auto conn = Open();
      if (conn.ok()) return Lease(this, std::move(*conn));
      lock.lock();
      --open_;
      --in_use_;
      freed_.notify_one();
      return conn.status();
    }
    if (!counted_wait) {
      ++waited_;
      counted_wait = true;
    }
    if (freed_.wait_until(lock, deadline) == std::cv_status::timeout && idle_.empty() &&
        open_ >= options_.size) {
      ++timed_out_;
      return Status::Unavailable("all " + std::to_string(options_.size) + " " + options_.name +
                                 " database connections are busy; try again shortly");
    }
  }
}

void PgPool::Release(std::unique_ptr<PgConnection> conn) {
  // A handler that left a transaction open (an error mid-way) gets it rolled back; a
  // connection that is broken or cannot roll back is closed.
  bool keep = PQstatus(conn->raw()) == CONNECTION_OK;
  // A query still running (one QueryWithin gave up on) is closed, not waited for: a ROLLBACK
  // would first read its result, as long as that takes.
  if (keep && (PQisBusy(conn->raw()) || PQtransactionStatus(conn->raw()) == PQTRANS_ACTIVE)) keep = false;
  if (keep && PQtransactionStatus(conn->raw()) != PQTRANS_IDLE) keep = conn->Exec("ROLLBACK").ok();
  if (keep && PQtransactionStatus(conn->raw()) != PQTRANS_IDLE) keep = false;
  std::lock_guard<std::mutex> lock(mu_);
  --in_use_;
  if (keep) {
    idle_.push_front({std::move(conn), std::chrono::steady_clock::now()});  // warmest first
  } else {
    --open_;
    ++replaced_;
  }
  freed_.notify_one();
}

PgPool::Stats PgPool::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return Stats{options_.size, open_, in_use_, acquired_, waited_, timed_out_, replaced_};
}

}  // namespace millrace::central
