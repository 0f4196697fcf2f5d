// Retention at the edge: a site that runs for years keeps its disk bounded by purging its
// own facts once central holds them. A fact goes when it was made (its UUIDv7 id's time)
// more than keep_days ago, its capture was acknowledged by central (no change of it waits
// in the outbox) and nothing open on the floor still needs it:
//
//   production_event    not of an operation still open (its counts are recounted from
//                       its events after a restore from central)
//   downtime_event      closed (ended_at set)
//   operator_session    badged out
//   inspection          finished (result set)
//   serial_unit         scrapped or consumed
//   genealogy_link, measurement, inventory_movement, shift_instance: by age alone
//
// Audit records stay (no one deletes them at the edge). Purging is not captured: central
// keeps its copy. The store remembers its purge horizon (the latest cut-off used) and says
// it to central with every Hello and batch; central says its own fact horizon (its
// retention) in its HelloReply. Wherever the two sides' rows are compared (drift checks,
// content digests), the site's facts made before the later of the two are left out.
//
// Thread-safety: functions over an EdgeStore, from any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "millrace/common/catalog.h"
#include "millrace/edge/store.h"

namespace millrace::edge {

struct FactPurge {
  std::int64_t horizon_ms = 0;  // the store's purge horizon after this purge
  std::int64_t rows = 0;
  std::map<std::string, std::int64_t> per_table;  // tables with rows purged
};

// Purges, in write transactions that each look at `batch` rows (terminals keep writing
// between them), what the rules above let go of facts made before now - keep_days.
// `stopping()` true ends it between two transactions. REQUIRES: keep_days >= 1.
Result<FactPurge> PurgeSyncedFacts(EdgeStore& store, int keep_days, int batch = 5000,
                                   const std::function<bool()>& stopping = nullptr);

// The tables whose rows are cut at the horizon: the site's own (facts).
bool CutAtHorizon(const catalog::TableSpec& table);

// This store's purge horizon (Unix ms; 0: it purged nothing).
Result<std::int64_t> PurgeHorizon(ReadTxn& txn);
// The horizon comparisons use: the later of the store's purge horizon and the fact
// horizon central last said.
Result<std::int64_t> FactHorizon(ReadTxn& txn);
Result<std::int64_t> FactHorizon(EdgeStore& store);
// Records central's fact horizon (HelloReply.fact_horizon_ms; 0: central keeps all).
Status RecordCentralHorizon(EdgeStore& store, std::int64_t horizon_ms);

}  // namespace millrace::edge
