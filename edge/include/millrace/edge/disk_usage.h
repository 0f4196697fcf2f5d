// How much disk an edge's store takes and how much is left beside it: what the site's
// installer budgets for, reported on /metrics and /api/v1/sync so a disk filling up (an
// outbox growing through a long WAN outage, years of facts) is seen long before it is full.
//
// Thread-safety: a pure function of the file system.
#pragma once

#include <cstdint>
#include <string>

#include "millrace/common/status.h"

namespace millrace::edge {

struct DiskUsage {
  std::int64_t store_bytes = 0;      // the database with its -wal and -shm files
  std::int64_t disk_free_bytes = 0;  // free to an unprivileged writer on the store's file system
  std::int64_t disk_total_bytes = 0;
};

// IOError naming the path when the store's directory cannot be examined.
Result<DiskUsage> StoreDiskUsage(const std::string& db_path);

}  // namespace millrace::edge
