// The shift calendar: which shift pattern runs at an instant at a site, in the site's time
// zone, and the occurrence (business date, start and end instants) it is part of.
//
// A pattern is minutes after local midnight and a weekday mask (Monday = 1 .. Sunday = 64).
// A pattern whose end is not after its start runs over midnight and belongs to the business
// date it started on; start == end is a 24-hour shift. Start and end are local wall times,
// so a shift over a daylight-saving change lasts an hour less or more, as it is worked
// (time_zone.h says how skipped and repeated wall times are read).
//
// Pure: no clock, no store. Thread-safety: none needed.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "millrace/common/time_zone.h"

namespace millrace::edge {

struct ShiftPattern {
  int start_minute = 0;  // 0..1439
  int end_minute = 0;    // 0..1440
  int weekdays = 127;    // bit 0 Monday .. bit 6 Sunday
};

struct ShiftOccurrence {
  std::size_t pattern = 0;    // index into the patterns given
  std::string business_date;  // YYYY-MM-DD, the local date the shift started on
  std::int64_t starts_at_ms = 0;
  std::int64_t ends_at_ms = 0;
};

// The first pattern, in the order given, whose occurrence contains `now_ms`
// (starts_at <= now < ends_at); nullopt when none does.
std::optional<ShiftOccurrence> ShiftAt(const std::vector<ShiftPattern>& patterns,
                                       const TimeZone& zone, std::int64_t now_ms);

}  // namespace millrace::edge
