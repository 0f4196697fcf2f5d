#include "millrace/common/uuid.h"

#include <gtest/gtest.h>

#include <set>

namespace millrace {
namespace {

TEST(UuidTest, V7HasVersionVariantAndClockTimestamp) {
  ManualClock clock(1795413600123);
  Uuid id = Uuid::NewV7(&clock);
  EXPECT_EQ(id.version(), 7);
  EXPECT_EQ(id.bytes()[8] >> 6, 0b10);  // RFC 9562 variant
  EXPECT_EQ(id.TimestampMillis(), 1795413600123);
  std::string s = id.ToString();
  EXPECT_EQ(s.size(), 36u);
  EXPECT_EQ(s[14], '7');
}

TEST(UuidTest, SortsByCreationMillisecond) {
  ManualClock clock(1000);
  Uuid a = Uuid::NewV7(&clock);
  clock.Advance(1);
  Uuid b = Uuid::NewV7(&clock);
  clock.Advance(1000);
  Uuid c = Uuid::NewV7(&clock);
  EXPECT_LT(a, b);
  EXPECT_LT(b, c);
  EXPECT_LT(a.ToString(), b.ToString());  // text order matches byte order
}

TEST(UuidTest, TheFloorOfAMillisecondCutsV7IdsByTheirTime) {
  ManualClock clock(1795413600123);
  const Uuid at = Uuid::NewV7(&clock);
  clock.Set(1795413600122);
  const Uuid before = Uuid::NewV7(&clock);
  const Uuid floor = Uuid::FloorV7(1795413600123);
  EXPECT_EQ(floor.TimestampMillis(), 1795413600123);
  EXPECT_LE(floor, at);
  EXPECT_LT(before, floor);
  EXPECT_LE(floor.ToString(), at.ToString());
  EXPECT_LT(before.ToString(), floor.ToString());
  EXPECT_EQ(Uuid::FloorV7(0).ToString(), "00000000-0000-0000-0000-000000000000");
}

TEST(UuidTest, HasSeventyFourRandomBitsThatAllVary) {
  // Same millisecond for every id: only the random bits can differ.
  ManualClock clock(42);
  Uuid::Bytes seen_one{}, seen_zero{};
  std::set<Uuid> ids;
  for (int i = 0; i < 2000; ++i) {
    Uuid id = Uuid::NewV7(&clock);
    ids.insert(id);
    for (int b = 0; b < 16; ++b) {
      seen_one[b] |= id.bytes()[b];
      seen_zero[b] |= static_cast<std::uint8_t>(~id.bytes()[b]);
    }
  }
  EXPECT_EQ(ids.size(), 2000u);
  int varying = 0;
  for (int b = 0; b < 16; ++b)
    for (int bit = 0; bit < 8; ++bit)
      if ((seen_one[b] >> bit & 1) && (seen_zero[b] >> bit & 1)) ++varying;
  EXPECT_EQ(varying, 74);
}

TEST(UuidTest, ParsesWhatItPrintsInEitherCase) {
  Uuid id = Uuid::NewV7();
  auto back = Uuid::Parse(id.ToString());
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, id);
  std::string upper = id.ToString();
  for (auto& c : upper) c = static_cast<char>(std::toupper(c));
  EXPECT_EQ(*Uuid::Parse(upper), id);
}

TEST(UuidTest, RejectsMalformedText) {
  for (const char* bad :
       {"", "0190b6c8-0000-7000-8000-00000000000", "0190b6c8-0000-7000-8000-0000000000000",
        "0190b6c800000-7000-8000-000000000000", "0190b6c8-0000-7000-8000-00000000000g"}) {
    auto r = Uuid::Parse(bad);
    EXPECT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << bad;
  }
}

TEST(UuidTest, NilIsAllZero) {
  EXPECT_TRUE(Uuid().is_nil());
  EXPECT_EQ(Uuid().ToString(), "00000000-0000-0000-0000-000000000000");
  EXPECT_FALSE(Uuid::NewV7().is_nil());
}

}  // namespace
}  // namespace millrace
