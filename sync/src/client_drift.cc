// SyncClient's drift checks: a check central asked for (HelloReply/Ack.drift_check) starts
// once the feed has caught up and runs as a DriftRun (drift_run.h), one request in flight,
// until its outcome is recorded at central.
#include <spdlog/spdlog.h>

#include "drift_run.h"
#include "millrace/sync/client.h"

namespace millrace::sync {

void SyncClient::DriftAsked(std::uint64_t check_id) {
  if (check_id == 0 || check_id == drift_finished_) return;
  if (drift_ && drift_->check_id() == check_id) return;
  if (drift_) {
    // Central superseded the check running: the new one starts over.
    spdlog::info("sync: drift check {} was superseded by {}", drift_->check_id(), check_id);
    drift_.reset();
  }
  drift_asked_ = check_id;
}

Status SyncClient::MaybeCheckDrift() {
  // A check starts once the edge holds all central has published for it (its feed caught
  // up: rows central sends back to a restored store included), so what is on its way down
  // is not taken for drift.
  if (!drift_ && drift_asked_ != 0 && !pull_in_flight_ && feed_cursor_ >= feed_head_) {
    const std::uint64_t id = drift_asked_;
    drift_asked_ = 0;
    std::uint64_t horizon = 0;  // the edge's fact horizon, read with its indexes
    if (!options_.catalog) {
      drift_ = std::make_unique<DriftRun>(
          id, Status::FailedPrecondition("this edge was started without its catalog"));
    } else if (auto indexes = edge_->DriftIndexes(&horizon); !indexes.ok()) {
      drift_ = std::make_unique<DriftRun>(id, indexes.status());
    } else {
      drift_ = std::make_unique<DriftRun>(id, *std::move(indexes), *options_.catalog,
                                          options_.drift, horizon);
      spdlog::info("sync: drift check {}: comparing {} row(s) with central", id,
                   drift_->outcome().local_rows());
    }
    Record([&](SyncClientStats& st) { st.drift_check = id; });
  }
  if (!drift_) return Status::Ok();
  std::optional<v1::DriftRequest> next = drift_->Next(*edge_);
  if (!next) return Status::Ok();
  v1::Envelope e;
  *e.mutable_drift_request() = *std::move(next);
  Status s = Send(std::move(e));
  if (s.code() == StatusCode::kUnavailable) {
    drift_->Resend();
    return Status::Ok();
  }
  MILLRACE_RETURN_IF_ERROR(s);
  drift_sent_ms_ = clock_->NowMillis();
  return Status::Ok();
}

void SyncClient::HandleDriftReply(const v1::DriftReply& reply) {
  if (!drift_) return;  // an answer from before a restart of the check
  drift_->Take(reply, *edge_);
  if (!drift_->done()) return;
  const v1::DriftOutcome& o = drift_->outcome();
  std::uint64_t found = 0, repaired = 0;
  for (const auto& t : o.tables()) {
    found += t.differ() + t.only_edge() + t.only_central();
    repaired += t.repaired_at_central() + t.repaired_at_edge();
  }
  if (!o.error().empty())
    spdlog::warn("sync: drift check {} failed: {}", drift_->check_id(), o.error());
  else
    spdlog::info("sync: drift check {}: {} row(s) differed, {} repaired, in {} round trip(s)",
                 drift_->check_id(), found, repaired, o.round_trips());
  drift_finished_ = drift_->check_id();
  const bool failed = !o.error().empty();
  drift_.reset();
  Record([&](SyncClientStats& st) {
    st.drift_checks++;
    if (failed) st.drift_checks_failed++;
    st.drift_rows_found += found;
    st.drift_rows_repaired += repaired;
    st.drift_check = 0;
  });
}

}  // namespace millrace::sync
