// PinThrottle over a manual clock: free attempts, doubling lockouts with a cap, a right
// PIN clearing its badge only, addresses locked across badges, and forgetting.
#include "millrace/edge/pin_throttle.h"

#include <gtest/gtest.h>

namespace millrace::edge {
namespace {

TEST(PinThrottleTest, LocksAfterTheFreeAttemptsForADoublingDelayUpToTheCap) {
  ManualClock clock(0);
  PinThrottleOptions o;
  o.base_delay_ms = 1000;
  o.max_delay_ms = 5000;
  PinThrottle t(o, &clock);
  for (int i = 0; i < 2; ++i) {
    EXPECT_FALSE(t.Check("b", "a"));
    t.Failed("b", "a");
  }
  EXPECT_FALSE(t.Check("b", "a"));
  t.Failed("b", "a");  // the third: locked for 1 s
  auto r = t.Check("b", "a");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->why, PinRefusal::Why::kBadge);
  EXPECT_EQ(r->retry_after_ms, 1000);
  clock.Advance(999);
  EXPECT_TRUE(t.Check("b", "a"));
  clock.Advance(1);
  EXPECT_FALSE(t.Check("b", "a"));
  std::int64_t expected[] = {2000, 4000, 5000, 5000};  // doubling, then the cap
  for (std::int64_t want : expected) {
    t.Failed("b", "a");
    ASSERT_TRUE(t.Check("b", "a"));
    EXPECT_EQ(t.Check("b", "a")->retry_after_ms, want);
    clock.Advance(want);
  }
  t.Succeeded("b");  // a right PIN starts the badge over
  t.Failed("b", "a");
  EXPECT_FALSE(t.Check("b", "a"));
}

TEST(PinThrottleTest, AnAddressGuessingAcrossBadgesIsLockedAndForgottenInTime) {
  ManualClock clock(0);
  PinThrottleOptions o;
  o.address_free = 4;
  o.forget_after_ms = 60'000;
  PinThrottle t(o, &clock);
  for (int i = 0; i < 4; ++i) t.Failed("badge" + std::to_string(i), "10.0.0.1");
  auto r = t.Check("other", "10.0.0.1");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->why, PinRefusal::Why::kAddress);
  EXPECT_FALSE(t.Check("other", "10.0.0.2"));
  // An hour... a minute here, without failures: the next failure counts from one again.
  clock.Advance(60'001 + o.base_delay_ms);
  EXPECT_FALSE(t.Check("other", "10.0.0.1"));
  t.Failed("badge0", "10.0.0.1");
  EXPECT_FALSE(t.Check("badge0", "10.0.0.1"));
}

TEST(PinThrottleTest, StaysBoundedKeepingLockedEntries) {
  ManualClock clock(0);
  PinThrottleOptions o;
  o.max_entries = 8;
  PinThrottle t(o, &clock);
  for (int i = 0; i < 3; ++i) t.Failed("locked", "x");
  for (int i = 0; i < 100; ++i) t.Failed("b" + std::to_string(i), "y" + std::to_string(i));
  // Memory stayed bounded; the newest entries are kept.
  EXPECT_FALSE(t.Check("b99", "y99"));
  t.Failed("b99", "y99");
  t.Failed("b99", "y99");
  EXPECT_TRUE(t.Check("b99", "y99"));
}

}  // namespace
}  // namespace millrace::edge
