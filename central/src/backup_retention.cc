#include "millrace/central/backup_retention.h"

#include <algorithm>
#include <set>

namespace millrace::central {
namespace {

constexpr std::int64_t kHourMs = 3'600'000, kDayMs = 86'400'000;

// The bucket a time falls in (floor division: times before 1970 bucket correctly too).
std::int64_t Bucket(std::int64_t ms, std::int64_t width) {
  return ms >= 0 ? ms / width : -((-ms + width - 1) / width);
}

}  // namespace

std::vector<std::string> BackupsToPrune(std::vector<RetainedBackup> backups,
                                        const BackupRetention& policy) {
  // Newest first; equal times by id, so the choice never depends on the input's order.
  std::sort(backups.begin(), backups.end(), [](const RetainedBackup& a, const RetainedBackup& b) {
    return a.taken_ms != b.taken_ms ? a.taken_ms > b.taken_ms : a.id > b.id;
  });
  std::set<std::int64_t> hours, days;
  bool newest_usable_seen = false;
  std::vector<std::string> prune;
  for (const RetainedBackup& b : backups) {
    if (b.failed) {
      if (newest_usable_seen) prune.push_back(b.id);
      continue;
    }
    bool keep = !newest_usable_seen;
    newest_usable_seen = true;
    const std::int64_t hour = Bucket(b.taken_ms, kHourMs), day = Bucket(b.taken_ms, kDayMs);
    // The newest backup of each of the first keep_hourly distinct hours (newest first) is
    // kept, and likewise for days; an older backup of a bucket seen already is not.
    if (!hours.count(hour) && static_cast<int>(hours.size()) < policy.keep_hourly) keep = true;
    if (!days.count(day) && static_cast<int>(days.size()) < policy.keep_daily) keep = true;
    hours.insert(hour);
    days.insert(day);
    if (!keep) prune.push_back(b.id);
  }
  std::reverse(prune.begin(), prune.end());
  return prune;
}

}  // namespace millrace::central
