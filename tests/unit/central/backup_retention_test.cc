// Which backups of a site central keeps (backup_retention.h).
#include "millrace/central/backup_retention.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace millrace::central {
namespace {

constexpr std::int64_t kHour = 3'600'000, kDay = 24 * kHour;
constexpr std::int64_t kT0 = 1'796'000'000'000 / kDay * kDay;  // a UTC midnight in 2026

std::vector<RetainedBackup> Every(std::int64_t step, int n, std::int64_t from = kT0) {
  std::vector<RetainedBackup> out;
  for (int i = 0; i < n; ++i) out.push_back({"b" + std::to_string(i), from + i * step, false});
  return out;
}

bool Has(const std::vector<std::string>& ids, const std::string& id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

TEST(BackupRetentionTest, KeepsOnePerHourForHourlyCountAndOnePerDayForDailyCount) {
  // A backup every 15 minutes for 40 days: 3,840 backups.
  auto backups = Every(15 * 60'000, 40 * 96);
  const auto prune = BackupsToPrune(backups, {24, 30});
  const std::size_t kept = backups.size() - prune.size();
  // The newest of each of the last 24 hours, and the newest of each of the last 30 days;
  // the newest hour's backup is also its day's, so the 30 days add 29 (the newest day's
  // newest backup is the newest hour's), and today's earlier hours are among the 24.
  EXPECT_EQ(kept, 24u + 29u);
  const std::string newest = "b" + std::to_string(40 * 96 - 1);
  EXPECT_FALSE(Has(prune, newest));
  EXPECT_TRUE(Has(prune, "b" + std::to_string(40 * 96 - 2)));   // same hour as the newest
  EXPECT_FALSE(Has(prune, "b" + std::to_string(40 * 96 - 5)));  // the hour before's newest
  // Days 10 to 39 are the last 30: day 10's newest stays, day 9 (past them) goes whole.
  EXPECT_FALSE(Has(prune, "b" + std::to_string(10 * 96 + 95)));
  EXPECT_TRUE(Has(prune, "b" + std::to_string(10 * 96 + 94)));
  EXPECT_TRUE(Has(prune, "b" + std::to_string(9 * 96 + 95)));
  // Oldest first.
  EXPECT_EQ(prune.front(), "b0");
}

TEST(BackupRetentionTest, SilentSiteKeepsItsLastBackupsHoweverOldTheyAre) {
  // Hourly backups that stopped long ago (the clock plays no part): the last 24 stay.
  const auto prune = BackupsToPrune(Every(kHour, 100, 0), {24, 0});
  EXPECT_EQ(prune.size(), 76u);
  EXPECT_FALSE(Has(prune, "b99"));
  EXPECT_FALSE(Has(prune, "b76"));
  EXPECT_TRUE(Has(prune, "b75"));
}

TEST(BackupRetentionTest, FailedBackupsCountForNothingAndGoOnceANewerUsableOneExists) {
  std::vector<RetainedBackup> b = {{"old-good", kT0, false},
                                   {"bad", kT0 + kHour, true},
                                   {"new-good", kT0 + 2 * kHour, false},
                                   {"newest-bad", kT0 + 3 * kHour, true}};
  const auto prune = BackupsToPrune(b, {1, 0});
  // One hour kept: new-good's (the newest usable). The failed newest stays for a look
  // because nothing usable is newer; the older failed one goes.
  EXPECT_EQ(prune, (std::vector<std::string>{"old-good", "bad"}));
}

TEST(BackupRetentionTest, NewestUsableBackupIsKeptEvenWithNothingToKeep) {
  const auto prune = BackupsToPrune(Every(kDay, 5), {0, 0});
  EXPECT_EQ(prune, (std::vector<std::string>{"b0", "b1", "b2", "b3"}));
  EXPECT_TRUE(BackupsToPrune({}, {24, 30}).empty());
}

TEST(BackupRetentionTest, InputOrderDoesNotChangeTheChoice) {
  auto backups = Every(20 * 60'000, 200);
  auto a = BackupsToPrune(backups, {6, 3});
  std::reverse(backups.begin(), backups.end());
  std::rotate(backups.begin(), backups.begin() + 37, backups.end());
  EXPECT_EQ(BackupsToPrune(backups, {6, 3}), a);
  // Two backups taken in the same millisecond: the choice is by id, not by position.
  std::vector<RetainedBackup> tie = {{"x", kT0, false}, {"y", kT0, false}};
  std::vector<RetainedBackup> tie2 = {{"y", kT0, false}, {"x", kT0, false}};
  EXPECT_EQ(BackupsToPrune(tie, {1, 1}), BackupsToPrune(tie2, {1, 1}));
}

}  // namespace
}  // namespace millrace::central
