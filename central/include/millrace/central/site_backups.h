// The site backups central keeps, as it lists and counts them: a backup's record
// (millrace.site_backup, written by sync_backups.cc and the backup jobs), a tenant's list,
// its JSON (mes-central backups list, GET /api/v1/backups, a restore bundle), and the
// /metrics read from them.
//
// Thread-safety: functions on one connection; the metrics collector runs on any thread.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "millrace/central/pg.h"
#include "millrace/central/pg_pool.h"
#include "millrace/common/metrics.h"

namespace millrace::central {

// One site backup as central lists it.
struct SiteBackup {
  std::string tenant_id, site_id, backup_id, store_key, state, node, sha256, store_epoch;
  std::int64_t bytes = 0, raw_bytes = 0, schema_version = 0;
  std::int64_t taken_ms = 0, received_ms = 0, verified_ms = 0;  // Unix ms; 0: not yet
  std::string verify_error;
  nlohmann::json verify_result;  // null until verified
};

// The tenant's backups (of `site`, or of every site when empty), newest first.
Result<std::vector<SiteBackup>> ListSiteBackups(PgConnection& conn, const std::string& tenant_id,
                                                const std::string& site_id);
// NotFound when the site has no backup `backup_id` (pruned, or never offered).
Result<SiteBackup> LoadSiteBackup(PgConnection& conn, const std::string& tenant_id,
                                  const std::string& site_id, const std::string& backup_id);
nlohmann::json SiteBackupJson(const SiteBackup& b);

// /metrics, read from PostgreSQL at a scrape at most once per `refresh` (every node sees
// every site's; scrapes in between show the last reading):
//   mes_central_site_backup_verified_timestamp_seconds{tenant,site}  when the newest
//       verified backup of the site was taken (0: none is)
//   mes_central_site_backups_failed{tenant,site}  backups kept that failed verification
// REQUIRES: pool outlives the registry's renders.
void AddSiteBackupMetrics(MetricsRegistry& metrics, PgPool* pool,
                          std::chrono::milliseconds refresh = std::chrono::seconds(15));

}  // namespace millrace::central
