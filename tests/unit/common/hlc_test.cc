#include "millrace/common/hlc.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <thread>
#include <vector>

namespace millrace {
namespace {

constexpr std::int64_t kT0 = 1795413600000;

TEST(HlcTimestampTest, Packs48BitMillisAnd16BitCounter) {
  HlcTimestamp t(kT0, 7);
  EXPECT_EQ(t.physical_ms(), static_cast<std::uint64_t>(kT0));
  EXPECT_EQ(t.counter(), 7u);
  EXPECT_EQ(t.packed(), (static_cast<std::uint64_t>(kT0) << 16) | 7);
  EXPECT_EQ(HlcTimestamp::FromPacked(t.packed()), t);
  EXPECT_LT(HlcTimestamp(kT0, 65535), HlcTimestamp(kT0 + 1, 0));
  EXPECT_EQ(t.ToString(), std::to_string(kT0) + ".7");
}

TEST(HybridClockTest, FollowsPhysicalTimeAndCountsWithinAMillisecond) {
  ManualClock wall(kT0);
  HybridClock hlc(&wall, 60000);
  EXPECT_EQ(hlc.Now(), HlcTimestamp(kT0, 0));
  EXPECT_EQ(hlc.Now(), HlcTimestamp(kT0, 1));
  EXPECT_EQ(hlc.Now(), HlcTimestamp(kT0, 2));
  wall.Advance(5);
  EXPECT_EQ(hlc.Now(), HlcTimestamp(kT0 + 5, 0));
}

TEST(HybridClockTest, StaysMonotonicWhenTheWallClockStepsBack) {
  ManualClock wall(kT0);
  HybridClock hlc(&wall, 60000);
  HlcTimestamp before = hlc.Now();
  wall.Set(kT0 - 3600000);  // NTP steps the clock back an hour
  HlcTimestamp a = hlc.Now();
  HlcTimestamp b = hlc.Now();
  EXPECT_GT(a, before);
  EXPECT_GT(b, a);
  EXPECT_EQ(a.physical_ms(), static_cast<std::uint64_t>(kT0));
  wall.Set(kT0 + 10);  // physical time catches up: counter resets
  EXPECT_EQ(hlc.Now(), HlcTimestamp(kT0 + 10, 0));
}

TEST(HybridClockTest, CounterOverflowCarriesIntoPhysicalPart) {
  ManualClock wall(kT0);
  HybridClock hlc(&wall, 60000);
  hlc.Observe(HlcTimestamp(kT0, 65535));
  EXPECT_EQ(hlc.Now(), HlcTimestamp(kT0 + 1, 0));
}

TEST(HybridClockTest, UpdateAdoptsARemoteTimestampWithinTheSkewLimit) {
  ManualClock wall(kT0);
  HybridClock hlc(&wall, 60000);
  auto r = hlc.Update(HlcTimestamp(kT0 + 30000, 4));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, HlcTimestamp(kT0 + 30000, 5));
  EXPECT_EQ(hlc.Now(), HlcTimestamp(kT0 + 30000, 6));  // never behind what it has seen
}

TEST(HybridClockTest, UpdateWithAnOlderRemoteStillAdvances) {
  ManualClock wall(kT0);
  HybridClock hlc(&wall, 60000);
  HlcTimestamp local = hlc.Now();
  auto r = hlc.Update(HlcTimestamp(kT0 - 5000, 9));
  ASSERT_TRUE(r.ok());
  EXPECT_GT(*r, local);
  EXPECT_EQ(*r, HlcTimestamp(kT0, 1));
}

TEST(HybridClockTest, UpdateWithEqualPhysicalTakesTheLargerCounter) {
  ManualClock wall(kT0);
  HybridClock hlc(&wall, 60000);
  (void)hlc.Now();  // (kT0, 0)
  EXPECT_EQ(*hlc.Update(HlcTimestamp(kT0, 40)), HlcTimestamp(kT0, 41));
}

TEST(HybridClockTest, RefusesARemoteTooFarAheadAndKeepsItsClock) {
  ManualClock wall(kT0);
  HybridClock hlc(&wall, 60000);
  HlcTimestamp before = hlc.Now();
  auto r = hlc.Update(HlcTimestamp(kT0 + 3 * 3600000, 0));  // a site clock three hours fast
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kClockSkew);
  EXPECT_NE(r.status().message().find("ahead"), std::string::npos);
  EXPECT_EQ(hlc.skew_refusals(), 1u);
  EXPECT_EQ(hlc.Last(), before);
  EXPECT_EQ(hlc.Now(), HlcTimestamp(kT0, 1));
  EXPECT_TRUE(hlc.Update(HlcTimestamp(kT0 + 60000, 0)).ok());  // exactly at the limit is fine
}

TEST(HybridClockTest, ObserveSeedsFromDurableState) {
  ManualClock wall(kT0);
  HybridClock hlc(&wall, 60000);
  hlc.Observe(HlcTimestamp(kT0 + 500, 3));  // restarted after issuing a timestamp ahead of the wall
  EXPECT_EQ(hlc.Now(), HlcTimestamp(kT0 + 500, 4));
  hlc.Observe(HlcTimestamp(kT0, 0));  // older: ignored
  EXPECT_EQ(hlc.Now(), HlcTimestamp(kT0 + 500, 5));
}

TEST(HybridClockTest, ConcurrentCallersGetDistinctIncreasingTimestamps) {
  ManualClock wall(kT0);
  HybridClock hlc(&wall, 60000);
  constexpr int kThreads = 4, kEach = 20000;
  std::vector<std::vector<HlcTimestamp>> got(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        got[t].push_back(hlc.Now());
        if (i % 1000 == 0) wall.Advance(1);
      }
    });
  }
  for (auto& th : threads) th.join();
  std::vector<HlcTimestamp> all;
  for (auto& v : got) {
    EXPECT_TRUE(std::is_sorted(v.begin(), v.end()));
    all.insert(all.end(), v.begin(), v.end());
  }
  std::sort(all.begin(), all.end());
  EXPECT_EQ(std::adjacent_find(all.begin(), all.end()), all.end());
}

}  // namespace
}  // namespace millrace

namespace millrace {

TEST(OffsetFileClockTest, StepsForwardAndBackAsTheFileChanges) {
  const std::string path = testing::TempDir() + "/millrace-clock-offset-" + std::to_string(getpid());
  std::remove(path.c_str());
  ManualClock base(1'000'000);
  OffsetFileClock clock(&base, path);
  EXPECT_EQ(clock.NowMillis(), 1'000'000);  // no file: no offset
  auto write = [&](const std::string& text) {
    std::ofstream(path) << text;
    std::this_thread::sleep_for(std::chrono::milliseconds(120));  // past the re-read interval
  };
  write("7200000\n");
  EXPECT_EQ(clock.NowMillis(), 1'000'000 + 7'200'000);
  write("-3600000");
  EXPECT_EQ(clock.NowMillis(), 1'000'000 - 3'600'000);
  write("soon");  // not a number: the offset stays
  EXPECT_EQ(clock.offset_millis(), -3'600'000);
  write("");
  EXPECT_EQ(clock.offset_millis(), 0);
  write("250");
  EXPECT_EQ(clock.offset_millis(), 250);
  std::remove(path.c_str());
  std::this_thread::sleep_for(std::chrono::milliseconds(120));
  EXPECT_EQ(clock.offset_millis(), 0);
}

}  // namespace millrace
