// The report rollups (central migration 6): additive sums per site, work unit, shift
// instance and local hour, and per business date, kept by triggers on the site facts in
// the transaction that writes them. A rebuild recomputes a range from the raw facts with
// the triggers' own SQL; after a change of master data the rollups take (ideal cycle
// times, an operation's product, a site's work units) it restates history by them.
//
// Thread-safety: functions over one connection, used by one thread.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "millrace/central/pg.h"

namespace millrace::central {

struct RebuildRange {
  std::string tenant_id;
  std::string site_id;
  // Unix milliseconds; 0: from the site's first fact / to the hour after its last.
  std::int64_t from_ms = 0;
  std::int64_t to_ms = 0;
};

struct RebuildProgress {
  std::int64_t done_ms = 0, total_ms = 0;  // of the range, in time
  std::int64_t from_ms = 0, to_ms = 0;     // the range, once known
};

// Rebuilds the range one day at a time, each in a transaction of its own (a rebuild never
// holds a site's rollups for long), calling `progress` after each, and stopping before the
// next day once `stop` says so (Unavailable; the days done stay rebuilt). NotFound for an
// unknown site; OK with nothing done when the site has no facts.
Status RebuildRollups(PgConnection& conn, const RebuildRange& range,
                      const std::function<void(const RebuildProgress&)>& progress = {},
                      const std::function<bool()>& stop = {});

}  // namespace millrace::central
