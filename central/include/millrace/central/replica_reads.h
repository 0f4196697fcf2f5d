// ReportReads: where a report reads. Without a replica, from the primary's pool. With one
// ([database] replica_url), from the replica while it answers, streams from the primary and
// is no further behind than `max_staleness`; otherwise from the primary, for `retry` before
// the replica is tried again. That is a circuit breaker: closed, reports read the replica;
// open, the primary; the first report after `retry` tries the replica again (half-open) and
// closes or re-opens the breaker.
//
// Staleness is measured on the replica's connection just before the report runs: 0 when the
// replica has replayed all the WAL it received (it streams, so it is as current as the
// network allows), otherwise the age of the last transaction it replayed. A replica with no
// WAL receiver (its primary is gone, or it never connected) is "not streaming" and is not
// read: it may be any age.
//
// A report that fails on the replica for a reason of the replica's (its connection broke, or
// recovery cancelled the query) opens the breaker; the caller runs it again on the primary.
//
// /metrics: mes_central_report_reads_total{source}, mes_central_replica_fallbacks_total
// {reason}, mes_central_replica_staleness_seconds, mes_central_replica_breaker_open. When
// every replica connection is lent, a report reads the primary without opening the breaker
// (reason "busy").
//
// Known limits: with several replicas behind one address, the probe and the report may
// reach different ones (each is its own transaction through a pooler); a replica cut off
// from its primary counts as streaming until its WAL receiver gives up
// (wal_receiver_timeout, 60 s by default); after a long idle spell the first transaction
// replayed measures as old as that spell for the moment it takes to replay.
//
// Thread-safety: all methods may be called from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>

#include "millrace/central/pg_pool.h"
#include "millrace/common/metrics.h"

namespace millrace::central {

struct ReportReadsOptions {
  PgPool* primary = nullptr;
  PgPool* replica = nullptr;  // null: every report reads the primary
  std::chrono::milliseconds max_staleness{30'000};
  std::chrono::milliseconds retry{10'000};
};

// A connection to run one report on, and what the answer should say about it.
struct ReportRead {
  PgPool::Lease lease;
  bool replica = false;
  double staleness_s = 0;  // replica only
  std::string fallback;    // why the primary, when a replica is configured ("" otherwise)
};

class ReportReads {
 public:
  ReportReads(ReportReadsOptions options, MetricsRegistry* metrics = nullptr);
  ReportReads(const ReportReads&) = delete;
  ReportReads& operator=(const ReportReads&) = delete;

  // The replica's connection when the breaker lets it and it is fresh, else the primary's.
  // Fails only when the primary's pool does (Unavailable: no connection freed up in time).
  Result<ReportRead> Acquire();

  // A report that failed on the replica with `why`: true when that is the replica's fault
  // (then the breaker opens and the report should run again on the primary).
  bool ReplicaFailed(const Status& why);

  struct State {
    bool configured = false, open = false;
    std::string reason;  // why it is open
    std::optional<double> staleness_s;  // last measured
  };
  State state() const;

 private:
  Result<ReportRead> Primary(const std::string& why);
  void Open(const std::string& reason, const std::string& metric_reason);

  const ReportReadsOptions o_;
  mutable std::mutex mu_;
  bool open_ = false;
  std::uint64_t openings_ = 0;  // times opened: a probe begun before an opening cannot close it
  std::chrono::steady_clock::time_point retry_at_{};
  std::string reason_;
  std::optional<double> staleness_s_;
  Family<Counter>* reads_ = nullptr;
  Family<Counter>* fallbacks_ = nullptr;
};

}  // namespace millrace::central
