// The shift calendar in a site's time zone, over midnight and over daylight-saving changes.
#include "millrace/edge/shift_calendar.h"

#include <gtest/gtest.h>

namespace millrace::edge {
namespace {

constexpr std::int64_t kHour = 3600 * 1000;

TimeZone Zone(const std::string& name) {
  auto z = TimeZone::Load(name);
  EXPECT_TRUE(z.ok()) << z.status().ToString();
  return z.ok() ? *z : TimeZone::Utc();
}

// 2026-07-01T00:00:00Z
constexpr std::int64_t kJuly1Utc = 1782864000000;

const std::vector<ShiftPattern> kThreeShifts = {
    {360, 840, 127},   // early 06:00-14:00
    {840, 1320, 127},  // late 14:00-22:00
    {1320, 360, 127},  // night 22:00-06:00, over midnight
};

TEST(TimeZoneTest, UnknownNamesAndPathsAreRefusedByName) {
  for (const char* bad : {"Mars/Olympus", "", "../../etc/passwd", "/etc/localtime", "Europe/Paris;"}) {
    auto z = TimeZone::Load(bad);
    ASSERT_FALSE(z.ok()) << bad;
    EXPECT_NE(z.status().message().find(std::string("\"") + bad + "\""), std::string::npos);
  }
  EXPECT_TRUE(TimeZone::Load("America/Chicago").ok());
}

TEST(TimeZoneTest, CivilTimeFollowsTheZoneAndItsSummerTime) {
  const TimeZone paris = Zone("Europe/Paris");
  const CivilTime c = paris.ToCivil(kJuly1Utc);  // CEST = UTC+2
  EXPECT_EQ(c.Date(), "2026-07-01");
  EXPECT_EQ(c.hour, 2);
  EXPECT_EQ(c.weekday, 2);  // a Wednesday
  EXPECT_EQ(paris.FromCivil(2026, 7, 1, 2, 0), kJuly1Utc);
  // Normalised overflow: day 32 of July is the 1st of August, minute 1500 is 01:00 next day.
  EXPECT_EQ(paris.FromCivil(2026, 7, 32, 0, 0), paris.FromCivil(2026, 8, 1, 0, 0));
  EXPECT_EQ(paris.FromCivil(2026, 7, 1, 0, 1500), paris.FromCivil(2026, 7, 2, 1, 0));
}

TEST(ShiftCalendarTest, ShiftsAreLocalTimeNotUtc) {
  const TimeZone chicago = Zone("America/Chicago");  // CDT = UTC-5 in July
  // 2026-07-01 13:00 UTC is 08:00 in Chicago: the early shift of July 1st.
  auto s = ShiftAt(kThreeShifts, chicago, kJuly1Utc + 13 * kHour);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->pattern, 0u);
  EXPECT_EQ(s->business_date, "2026-07-01");
  EXPECT_EQ(s->starts_at_ms, kJuly1Utc + 11 * kHour);  // 06:00 CDT
  EXPECT_EQ(s->ends_at_ms, kJuly1Utc + 19 * kHour);    // 14:00 CDT
  // In UTC the same instant would be the late shift: the zone decides.
  EXPECT_EQ(ShiftAt(kThreeShifts, TimeZone::Utc(), kJuly1Utc + 14 * kHour)->pattern, 1u);
}

TEST(ShiftCalendarTest, NightShiftBelongsToTheDateItStarted) {
  const TimeZone paris = Zone("Europe/Paris");
  // 2026-07-01 01:00 UTC = 03:00 CEST on July 1st: the night shift of June 30th.
  auto s = ShiftAt(kThreeShifts, paris, kJuly1Utc + kHour);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->pattern, 2u);
  EXPECT_EQ(s->business_date, "2026-06-30");
  EXPECT_EQ(s->ends_at_ms - s->starts_at_ms, 8 * kHour);
}

TEST(ShiftCalendarTest, NightShiftOverDaylightSavingChangesIsShorterOrLonger) {
  const TimeZone paris = Zone("Europe/Paris");
  // Spring forward: 2026-03-29 02:00 CET becomes 03:00 CEST. The night of the 28th runs
  // 22:00 CET to 06:00 CEST: 7 hours.
  const std::int64_t spring = paris.FromCivil(2026, 3, 29, 4, 0);
  auto s = ShiftAt(kThreeShifts, paris, spring);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->business_date, "2026-03-28");
  EXPECT_EQ(s->ends_at_ms - s->starts_at_ms, 7 * kHour);
  // Fall back: 2026-10-25 03:00 CEST becomes 02:00 CET. The night of the 24th: 9 hours.
  const std::int64_t fall = paris.FromCivil(2026, 10, 25, 5, 0);
  s = ShiftAt(kThreeShifts, paris, fall);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->business_date, "2026-10-24");
  EXPECT_EQ(s->ends_at_ms - s->starts_at_ms, 9 * kHour);
  // A wall time the change skips (02:30 on the spring night) reads as after the gap.
  EXPECT_EQ(paris.FromCivil(2026, 3, 29, 2, 30), paris.FromCivil(2026, 3, 29, 3, 30));
}

TEST(ShiftCalendarTest, WeekdayMaskAndGapsAnswerNoShift) {
  const TimeZone utc = TimeZone::Utc();
  const std::vector<ShiftPattern> weekdays_only = {{480, 960, 0b0011111}};  // Mon-Fri 08-16
  // 2026-07-04 is a Saturday.
  EXPECT_FALSE(ShiftAt(weekdays_only, utc, kJuly1Utc + 3 * 24 * kHour + 10 * kHour));
  EXPECT_TRUE(ShiftAt(weekdays_only, utc, kJuly1Utc + 10 * kHour));  // Wednesday
  EXPECT_FALSE(ShiftAt(weekdays_only, utc, kJuly1Utc + 17 * kHour));  // after the shift
  // A night shift of Friday runs into Saturday although Saturday has no shift.
  const std::vector<ShiftPattern> friday_night = {{1320, 360, 0b0010000}};
  auto s = ShiftAt(friday_night, utc, kJuly1Utc + 3 * 24 * kHour + 2 * kHour);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->business_date, "2026-07-03");
}

TEST(ShiftCalendarTest, StartEqualToEndIsADayLong) {
  const std::vector<ShiftPattern> all_day = {{360, 360, 127}};
  auto s = ShiftAt(all_day, TimeZone::Utc(), kJuly1Utc + 5 * kHour);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->business_date, "2026-06-30");
  EXPECT_EQ(s->ends_at_ms - s->starts_at_ms, 24 * kHour);
}

}  // namespace
}  // namespace millrace::edge
