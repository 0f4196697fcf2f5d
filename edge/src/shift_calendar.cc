#include "millrace/edge/shift_calendar.h"

namespace millrace::edge {

std::optional<ShiftOccurrence> ShiftAt(const std::vector<ShiftPattern>& patterns,
                                       const TimeZone& zone, std::int64_t now_ms) {
  const CivilTime today = zone.ToCivil(now_ms);
  for (std::size_t i = 0; i < patterns.size(); ++i) {
    const ShiftPattern& p = patterns[i];
    // An occurrence that contains now started today or (over midnight) yesterday.
    for (int back = 0; back <= 1; ++back) {
      const int weekday = (today.weekday - back + 7) % 7;
      if ((p.weekdays & (1 << weekday)) == 0) continue;
      const int day = today.day - back;  // FromCivil normalises day 0 to the month before
      const std::int64_t starts =
          zone.FromCivil(today.year, today.month, day, 0, p.start_minute);
      const int end_minute = p.end_minute > p.start_minute ? p.end_minute : p.end_minute + 1440;
      const std::int64_t ends = zone.FromCivil(today.year, today.month, day, 0, end_minute);
      if (now_ms < starts || now_ms >= ends) continue;
      const CivilTime started = zone.ToCivil(zone.FromCivil(today.year, today.month, day, 12, 0));
      return ShiftOccurrence{i, started.Date(), starts, ends};
    }
  }
  return std::nullopt;
}

}  // namespace millrace::edge
