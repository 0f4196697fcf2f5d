// The metrics of central's half of the sync protocol: what was applied, skipped, refused
// and clamped per site, and each site's view (its cursor, last ack, the backlog it
// reports) as gauges. One per server, shared by its workers.
//
// Thread-safety: every method from any thread.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "millrace/common/clock.h"
#include "millrace/common/metrics.h"
#include "millrace/sync/central_side.h"

namespace millrace::sync {

class CentralSyncMetrics {
 public:
  // Registers the families in `registry`. REQUIRES: registry and clock outlive every
  // scrape of the registry (the site views live as long as the collector needs them).
  CentralSyncMetrics(MetricsRegistry* registry, const Clock* clock);
  CentralSyncMetrics(const CentralSyncMetrics&) = delete;
  CentralSyncMetrics& operator=(const CentralSyncMetrics&) = delete;

  // What the site reported with its last message. `acked`: a batch was acknowledged
  // (the applied seq only grows); otherwise a Hello, whose applied seq is the site's cursor
  // in its current store epoch (it may be lower).
  void Observe(const Peer& peer, const v1::SiteStatus* status, std::uint64_t applied_seq,
               bool acked);

  // A refusal of a store (not of a frame): counted by reason, logged loudly, and returned
  // as the FailedPrecondition the edge shows in its sync status.
  Status RefuseStore(const Peer& peer, const std::string& reason, const std::string& why);
  // The edge schema the site said in its last Hello (0: a release before edges said it).
  void EdgeSchema(const Peer& peer, std::uint32_t schema);

  Family<Counter>& batches;
  Family<Counter>& rows;
  Family<Counter>& duplicates;
  Family<Counter>& nacks;
  Family<Counter>& conflicts;
  Family<Counter>& rejects;
  Family<Counter>& clamped;
  Family<Histogram>& apply_seconds;
  Family<Counter>& epochs_started;
  Family<Counter>& store_refusals;
  Family<Counter>& lost_seqs;
  Family<Gauge>& edge_schema;

 private:
  struct Views;
  std::shared_ptr<Views> views_;
};

}  // namespace millrace::sync
