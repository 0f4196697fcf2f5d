// LoginThrottle over a manual clock: free attempts, doubling lockouts with a cap, a right
// PIN clearing its badge only, parallel guesses counted while in flight, addresses locked
// across badges within a window, and bounded memory that keeps the locks.
#include "millrace/common/login_throttle.h"

#include <gtest/gtest.h>

namespace millrace {
namespace {

// One attempt: checked, then reported wrong. True when it was let through to be checked.
bool Wrong(LoginThrottle& t, const std::string& badge, const std::string& address = "a") {
  if (t.Check(badge, address)) return false;
  t.Failed(badge, address);
  return true;
}

TEST(LoginThrottleTest, LocksAfterTheFreeAttemptsForADoublingDelayUpToTheCap) {
  ManualClock clock(0);
  LoginThrottleOptions o;
  o.base_delay_ms = 1000;
  o.max_delay_ms = 5000;
  LoginThrottle t(o, &clock);
  EXPECT_TRUE(Wrong(t, "b"));
  EXPECT_TRUE(Wrong(t, "b"));
  EXPECT_TRUE(Wrong(t, "b"));  // the third: locked for 1 s
  auto r = t.Check("b", "a");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->why, LoginRefusal::Why::kKey);
  EXPECT_EQ(r->retry_after_ms, 1000);
  clock.Advance(999);
  EXPECT_TRUE(t.Check("b", "a"));
  clock.Advance(1);
  for (std::int64_t want : {2000, 4000, 5000, 5000}) {  // doubling, then the cap
    ASSERT_TRUE(Wrong(t, "b"));
    auto locked = t.Check("b", "a");
    ASSERT_TRUE(locked);
    EXPECT_EQ(locked->retry_after_ms, want);
    clock.Advance(want);
  }
  ASSERT_FALSE(t.Check("b", "a"));
  t.Succeeded("b", "a");  // a right PIN starts the badge over
  EXPECT_TRUE(Wrong(t, "b"));
  EXPECT_FALSE(t.Check("b", "a"));
}

TEST(LoginThrottleTest, ParallelGuessesGetNoMoreTriesThanOneAtATime) {
  ManualClock clock(0);
  LoginThrottle t({}, &clock);
  // Three attempts of one badge in flight at once use up its free tries: a fourth is
  // refused before any of them is known.
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(t.Check("b", "a" + std::to_string(i)));
  EXPECT_TRUE(t.Check("b", "a9"));
  for (int i = 0; i < 3; ++i) t.Failed("b", "a" + std::to_string(i));
  auto r = t.Check("b", "a9");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->retry_after_ms, 5000);  // now locked by three known failures
}

TEST(LoginThrottleTest, AnAddressGuessingAcrossBadgesIsLockedWithinItsWindow) {
  ManualClock clock(0);
  LoginThrottleOptions o;
  o.address_free = 4;
  o.address_window_ms = 60'000;
  LoginThrottle t(o, &clock);
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(Wrong(t, "badge" + std::to_string(i), "10.0.0.1"));
  auto r = t.Check("other", "10.0.0.1");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->why, LoginRefusal::Why::kAddress);
  EXPECT_FALSE(t.Check("other", "10.0.0.2"));
  t.Succeeded("other", "10.0.0.2");
  // Typos spread over time at a shared terminal do not add up: outside the window the
  // address starts over.
  clock.Advance(60'001 + o.base_delay_ms);
  ASSERT_TRUE(Wrong(t, "badge9", "10.0.0.1"));
  EXPECT_FALSE(t.Check("other", "10.0.0.1"));
}

TEST(LoginThrottleTest, StaysBoundedAndKeepsTheLocksWhenFull) {
  ManualClock clock(1'000'000);
  LoginThrottleOptions o;
  o.max_entries = 8;
  o.max_delay_ms = 3'600'000;
  LoginThrottle t(o, &clock);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(Wrong(t, "locked", "x" + std::to_string(i)));
  ASSERT_TRUE(t.Check("locked", "y"));
  // Later, many other badges fail once each: the oldest entry is the lock, and it stays.
  for (int i = 0; i < 100; ++i) {
    clock.Advance(10);
    ASSERT_TRUE(Wrong(t, "b" + std::to_string(i), "z" + std::to_string(i)));
  }
  auto r = t.Check("locked", "y");
  ASSERT_TRUE(r) << "a lock that still holds was evicted to make room";
  EXPECT_EQ(r->why, LoginRefusal::Why::kKey);
}

// A check that could not tell (the database away) frees its attempt but clears nothing:
// a failing database cannot be used to wipe a lock or a count.
TEST(LoginThrottleTest, AnAbandonedAttemptLeavesCountsAndLocksAsTheyWere) {
  ManualClock clock(0);
  LoginThrottleOptions o;
  o.base_delay_ms = 1000;
  LoginThrottle t(o, &clock);
  EXPECT_TRUE(Wrong(t, "b"));
  EXPECT_TRUE(Wrong(t, "b"));
  ASSERT_FALSE(t.Check("b", "a"));
  t.Abandoned("b", "a");
  EXPECT_TRUE(Wrong(t, "b"));  // the third wrong one still locks
  EXPECT_TRUE(t.Check("b", "a"));
  clock.Advance(1001);
  ASSERT_FALSE(t.Check("b", "a"));
  t.Abandoned("b", "a");
  EXPECT_FALSE(t.Check("b", "a"));  // the abandoned attempt is no longer in flight
}

}  // namespace
}  // namespace millrace
