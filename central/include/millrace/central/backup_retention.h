// Which of a site's backups central keeps: the newest backup of each of the last
// `keep_hourly` hours that have one, and of each of the last `keep_daily` days that have
// one (UTC hours and days), counted over the backups themselves rather than the clock, so
// a site that went silent keeps its last backups however long it stays silent. The newest
// usable backup is always kept. A backup whose verification failed counts for no hour or
// day, and goes once a newer usable backup exists (until then it is kept, for a look).
//
// Pure: no clock, no store. Thread-safety: none needed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace millrace::central {

struct BackupRetention {
  int keep_hourly = 24;  // 0 .. 8760
  int keep_daily = 30;   // 0 .. 3660
};

struct RetainedBackup {
  std::string id;
  std::int64_t taken_ms = 0;  // when the site took it (Unix ms)
  bool failed = false;        // its verification failed (not yet verified: not failed)
};

// The ids of `backups` (one site's, in any order) the policy lets go, oldest first.
std::vector<std::string> BackupsToPrune(std::vector<RetainedBackup> backups,
                                        const BackupRetention& policy);

}  // namespace millrace::central
