#include "millrace/sync/backoff.h"

#include <gtest/gtest.h>

namespace millrace::sync {
namespace {

using std::chrono::milliseconds;

TEST(BackoffTest, DoublesWithJitterInTheUpperHalfUntilTheCap) {
  Backoff b({milliseconds(100), milliseconds(1000)}, 42);
  const std::int64_t ceilings[] = {100, 200, 400, 800, 1000, 1000, 1000};
  for (std::int64_t d : ceilings) {
    const auto next = b.Next().count();
    EXPECT_GE(next, d / 2);
    EXPECT_LE(next, d);
  }
  EXPECT_EQ(b.failures(), 7);
  b.Reset();
  EXPECT_LE(b.Next().count(), 100);
}

TEST(BackoffTest, TheSameSeedGivesTheSameDelaysAndDifferentSeedsSpreadOut) {
  Backoff a({milliseconds(100), milliseconds(10000)}, 7), b({milliseconds(100), milliseconds(10000)}, 7);
  Backoff c({milliseconds(100), milliseconds(10000)}, 8);
  bool differs = false;
  for (int i = 0; i < 8; ++i) {
    const auto x = a.Next(), y = b.Next(), z = c.Next();
    EXPECT_EQ(x, y);
    differs = differs || x != z;
  }
  EXPECT_TRUE(differs);  // a fleet does not reconnect in lockstep
}

}  // namespace
}  // namespace millrace::sync
