#include "millrace/central/replica_reads.h"

#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstdlib>

namespace millrace::central {

namespace {

// One round trip on the replica: is it one, does it stream, how far behind is its replay.
constexpr const char* kProbe =
    "SELECT pg_is_in_recovery(), "
    "EXISTS (SELECT 1 FROM pg_stat_wal_receiver WHERE pid IS NOT NULL), "
    "CASE WHEN pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn() THEN 0 "
    "ELSE EXTRACT(epoch FROM now() - pg_last_xact_replay_timestamp()) END::float8";

std::string Seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", s);
  return buf;
}

}  // namespace

ReportReads::ReportReads(ReportReadsOptions options, MetricsRegistry* metrics) : o_(options) {
  if (!metrics) return;
  reads_ = &metrics->AddCounter("mes_central_report_reads_total",
                                "Reports computed, by where they read (primary, replica)", {"source"});
  if (!o_.replica) return;
  fallbacks_ = &metrics->AddCounter(
      "mes_central_replica_fallbacks_total",
      "Times reports turned to the primary, by why (unreachable, not_streaming, behind, failed, busy)",
      {"reason"});
  auto& staleness = metrics->AddGauge("mes_central_replica_staleness_seconds",
                                      "How far behind the replica was when last measured", {});
  auto& open = metrics->AddGauge("mes_central_replica_breaker_open",
                                 "1 while reports read the primary because the replica failed or "
                                 "fell behind",
                                 {});
  metrics->AddCollector([this, &staleness, &open] {
    const State s = state();
    if (s.staleness_s) staleness.Get().Set(*s.staleness_s);
    open.Get().Set(s.open ? 1 : 0);
  });
}

ReportReads::State ReportReads::state() const {
  std::lock_guard<std::mutex> lock(mu_);
  return {o_.replica != nullptr, open_, reason_, staleness_s_};
}

void ReportReads::Open(const std::string& reason, const std::string& metric_reason) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!open_ || reason_ != reason)
    spdlog::warn("reports read the primary for {} s: {}", o_.retry.count() / 1000.0, reason);
  open_ = true;
  ++openings_;
  reason_ = reason;
  retry_at_ = std::chrono::steady_clock::now() + o_.retry;
  if (fallbacks_) fallbacks_->With({metric_reason}).Increment();
}

Result<ReportRead> ReportReads::Primary(const std::string& why) {
  MILLRACE_ASSIGN_OR_RETURN(auto lease, o_.primary->Acquire());
  if (reads_) reads_->With({"primary"}).Increment();
  return ReportRead{std::move(lease), false, 0, why};
}

Result<ReportRead> ReportReads::Acquire() {
  if (!o_.replica) return Primary("");
  std::uint64_t openings = 0;
  {
    std::unique_lock<std::mutex> lock(mu_);
    if (open_ && std::chrono::steady_clock::now() < retry_at_) {
      const std::string why = reason_;
      lock.unlock();  // the primary's pool may wait: never with the breaker's lock held
      return Primary(why);
    }
    openings = openings_;
  }
  // Whatever the replica's lease, it is given back before the primary's is taken.
  std::string why, metric;
  {
    auto lease = o_.replica->Acquire();
    if (!lease.ok()) {
      const PgPool::Stats st = o_.replica->stats();
      if (st.open >= st.size) {
        // Every replica connection is lent: the replica is busy, not gone. This report
        // reads the primary; the breaker stays as it is.
        if (fallbacks_) fallbacks_->With({"busy"}).Increment();
        why = "every replica connection is in use";
      } else {
        Open("the replica is unreachable: " + lease.status().message(), "unreachable");
        why = state().reason;
      }
      return Primary(why);
    }
    // Bounded: behind PgBouncer a replica that is gone holds a query until the pooler gives up.
    auto probe = (*lease)->QueryWithin(kProbe, std::chrono::milliseconds(1500));
    if (!probe.ok()) {
      why = "the replica is unreachable: " + probe.status().message();
      metric = "unreachable";
    } else {
      const bool in_recovery = probe->GetString(0, 0) == "t";
      const bool streaming = probe->GetString(0, 1) == "t";
      const bool known = !probe->IsNull(0, 2);
      const double staleness = !in_recovery ? 0 : known ? std::strtod(probe->GetString(0, 2).c_str(), nullptr) : 0;
      if (in_recovery && !streaming) {
        why = "the replica is not streaming from the primary";
        metric = "not_streaming";
      } else if (in_recovery && !known) {
        why = "the replica has replayed no transaction yet: its staleness is unknown";
        metric = "not_streaming";
      } else if (staleness * 1000 > static_cast<double>(o_.max_staleness.count())) {
        {
          std::lock_guard<std::mutex> lock(mu_);
          staleness_s_ = staleness;
        }
        why = "the replica is " + Seconds(staleness) + " s behind (at most " +
              Seconds(o_.max_staleness.count() / 1000.0) + " s is read)";
        metric = "behind";
      } else {
        {
          std::lock_guard<std::mutex> lock(mu_);
          staleness_s_ = staleness;
          // Closed again only by a probe begun after the last opening: one that started
          // before a report failed on the replica must not undo that.
          if (openings_ == openings && open_) {
            spdlog::info("reports read the replica again ({} s behind)", Seconds(staleness));
            open_ = false;
            reason_.clear();
          }
        }
        if (reads_) reads_->With({"replica"}).Increment();
        return ReportRead{std::move(*lease), true, staleness, ""};
      }
    }
  }
  Open(why, metric);
  return Primary(why);
}

bool ReportReads::ReplicaFailed(const Status& why) {
  // Unavailable: the connection broke. Conflict: PostgreSQL's serialization class, which is
  // how a standby cancels a query that conflicts with the WAL it replays.
  if (why.code() != StatusCode::kUnavailable && why.code() != StatusCode::kConflict) return false;
  Open("a report failed on the replica: " + why.message(), "failed");
  return true;
}

}  // namespace millrace::central
