#include "millrace/sync/central_metrics.h"

#include <spdlog/spdlog.h>

namespace millrace::sync {

struct CentralSyncMetrics::Views {
  struct Site {
    std::uint64_t applied_seq = 0;
    std::int64_t last_ack_ms = 0, last_seen_ms = 0;
    std::uint64_t head_seq = 0, backlog_rows = 0, backlog_bytes = 0;
    std::int64_t oldest_unacked_ms = 0;
  };
  Views(MetricsRegistry* m, const Clock* c)
      : clock(c),
        applied_seq(m->AddGauge("mes_sync_site_applied_seq", "Highest upstream seq applied",
                                {"tenant", "site"})),
        last_ack(m->AddGauge("mes_sync_site_last_ack_timestamp_seconds",
                             "When this node last acknowledged the site", {"tenant", "site"})),
        last_seen(m->AddGauge("mes_sync_site_last_seen_timestamp_seconds",
                              "When this node last heard from the site (any message; an idle site "
                              "says Hello every 10 s)",
                              {"tenant", "site"})),
        backlog_rows(m->AddGauge("mes_sync_site_backlog_rows",
                                 "Changes the site reports not yet acknowledged",
                                 {"tenant", "site"})),
        backlog_bytes(m->AddGauge("mes_sync_site_backlog_bytes",
                                  "Bytes of changes the site reports not yet acknowledged",
                                  {"tenant", "site"})),
        oldest_age(m->AddGauge("mes_sync_site_oldest_unacked_seconds",
                               "Age of the site's oldest unacknowledged change",
                               {"tenant", "site"})) {}

  void Collect() {
    std::lock_guard lock(mu);
    const std::int64_t now = clock->NowMillis();
    for (const auto& [key, v] : sites) {
      const std::vector<std::string> labels = {key.first, key.second};
      applied_seq.With(labels).Set(static_cast<double>(v.applied_seq));
      if (v.last_ack_ms) last_ack.With(labels).Set(static_cast<double>(v.last_ack_ms) / 1000.0);
      if (v.last_seen_ms) last_seen.With(labels).Set(static_cast<double>(v.last_seen_ms) / 1000.0);
      // The site's report is as of its last message; what this node applied since is gone.
      const std::uint64_t pending = v.head_seq > v.applied_seq ? v.head_seq - v.applied_seq : 0;
      backlog_rows.With(labels).Set(static_cast<double>(pending));
      backlog_bytes.With(labels).Set(pending ? static_cast<double>(v.backlog_bytes) : 0.0);
      oldest_age.With(labels).Set(pending && v.oldest_unacked_ms
                                      ? static_cast<double>(now - v.oldest_unacked_ms) / 1000.0
                                      : 0.0);
    }
  }

  const Clock* clock;
  Family<Gauge>& applied_seq;
  Family<Gauge>& last_ack;
  Family<Gauge>& last_seen;
  Family<Gauge>& backlog_rows;
  Family<Gauge>& backlog_bytes;
  Family<Gauge>& oldest_age;
  std::mutex mu;
  std::map<std::pair<std::string, std::string>, Site> sites;
};

CentralSyncMetrics::CentralSyncMetrics(MetricsRegistry* m, const Clock* clock)
    : batches(m->AddCounter("mes_sync_batches_applied_total", "Upstream batches applied",
                            {"tenant", "site"})),
      rows(m->AddCounter("mes_sync_rows_applied_total", "Upstream changes applied",
                         {"tenant", "site"})),
      duplicates(m->AddCounter("mes_sync_duplicate_batches_total",
                               "Re-sent batches acknowledged without applying",
                               {"tenant", "site"})),
      nacks(m->AddCounter("mes_sync_nacks_total", "Batches refused for a gap (edge rewinds)",
                          {"tenant", "site"})),
      conflicts(m->AddCounter("mes_sync_conflicts_total",
                              "Concurrent edits of shared rows (see millrace.sync_conflict)",
                              {"tenant", "site"})),
      rejects(m->AddCounter("mes_sync_rejects_total", "Changes parked in millrace.sync_reject",
                            {"tenant", "site"})),
      clamped(m->AddCounter("mes_sync_clock_clamped_total",
                            "Changes stamped too far ahead of central's clock, clamped",
                            {"tenant", "site"})),
      apply_seconds(m->AddHistogram("mes_sync_apply_seconds", "Time to apply one upstream batch",
                                    {"tenant", "site"})),
      epochs_started(m->AddCounter("mes_sync_store_epochs_started_total",
                                   "Times a restored or copied store became the site's store",
                                   {"tenant", "site"})),
      store_refusals(m->AddCounter(
          "mes_sync_store_refusals_total",
          "Stores refused: store_superseded, site_live_elsewhere, store_behind_central, and "
          "edges central does not serve: edge_schema_too_old, edge_schema_too_new, "
          "catalog_differs",
          {"tenant", "site", "reason"})),
      lost_seqs(m->AddCounter(
          "mes_sync_lost_seqs_total",
          "A site's acknowledged seqs central no longer held (restored from an older backup) "
          "and the edge no longer kept, skipped",
          {"tenant", "site"})),
      edge_schema(m->AddGauge("mes_sync_edge_schema",
                              "The edge schema version the site said in its last Hello (0: a "
                              "release before edges said it)",
                              {"tenant", "site"})),
      views_(std::make_shared<Views>(m, clock)) {
  m->AddCollector([views = views_] { views->Collect(); });
}

void CentralSyncMetrics::EdgeSchema(const Peer& peer, std::uint32_t schema) {
  edge_schema.With({peer.tenant_id, peer.site_id}).Set(static_cast<double>(schema));
}

void CentralSyncMetrics::Observe(const Peer& peer, const v1::SiteStatus* status,
                                 std::uint64_t applied, bool acked) {
  std::lock_guard lock(views_->mu);
  Views::Site& v = views_->sites[{peer.tenant_id, peer.site_id}];
  v.applied_seq = acked ? std::max(v.applied_seq, applied) : applied;
  v.last_seen_ms = views_->clock->NowMillis();
  if (acked) v.last_ack_ms = v.last_seen_ms;
  if (status) {
    v.head_seq = status->outbox_head_seq();
    v.backlog_rows = status->backlog_rows();
    v.backlog_bytes = status->backlog_bytes();
    v.oldest_unacked_ms = status->oldest_unacked_ms();
  }
}

Status CentralSyncMetrics::RefuseStore(const Peer& peer, const std::string& reason,
                                       const std::string& why) {
  store_refusals.With({peer.tenant_id, peer.site_id, reason}).Increment();
  spdlog::error("sync: refusing a store of site {}/{}: {}", peer.tenant_id, peer.site_id, why);
  return Status::FailedPrecondition(reason + ": " + why);
}

}  // namespace millrace::sync
