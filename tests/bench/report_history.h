// A year of history for thirty factories, written into central's PostgreSQL the way the
// applier writes facts: COPY in one transaction per site and week, with the rollup
// triggers on, so the rollups are built by the same incremental path as in production.
//
// The shape: every site runs the demo factory (mes-central seed-demo) widened to `lines`
// lines of three work units (cut, press, pack); odd lines make brackets, even lines
// housings. Each line gets one work order a day whose three operations run on its units
// around the clock in three shifts of the site's own time zone (the demo's EARLY, LATE and
// NIGHT patterns with their breaks). Per work unit and day: `counts` COUNT events plus a
// START and a COMPLETE, a handful of stops (a changeover, jams, waits for material, a
// hydraulic failure every few days, planned maintenance once a week), and on the bracket
// lines' press a hole diameter every half hour and a visual check every two hours.
// Scrap, rework, performance and stop lengths vary by site, unit and day from a seeded
// generator: the same shape gives the same history.
//
// Thread-safety: one call at a time per connection.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "millrace/central/pg.h"
#include "millrace/common/status.h"

namespace millrace::bench {

struct HistorySite {
  std::string id;
  std::string time_zone;  // IANA
};

struct HistoryShape {
  std::string tenant;
  std::vector<HistorySite> sites;
  int lines = 6;      // per site (the demo has 2; the rest are added)
  int days = 365;
  int counts = 256;   // COUNT events per work unit and day
  int year = 2027, month = 1;  // the first day is the 1st of this month
};

struct HistoryTotals {
  std::int64_t production_events = 0, downtime_events = 0, measurements = 0,
               shift_instances = 0, work_orders = 0;
  double seconds = 0;  // writing the facts (with their rollups), not the master data
};

// Adds the lines the demo lacks (REQUIRES: seed-demo ran for the sites), then writes the
// history through `admin` (a superuser connection). `progress` hears after each week.
Result<HistoryTotals> FillHistory(central::PgConnection& admin, const HistoryShape& shape,
                                  const std::function<void(int week, int weeks,
                                                           const HistoryTotals&)>& progress);

// The first day of the history and the day after its last, as YYYY-MM-DD.
std::string HistoryFirstDate(const HistoryShape& shape);
std::string HistoryLastDate(const HistoryShape& shape);

}  // namespace millrace::bench
