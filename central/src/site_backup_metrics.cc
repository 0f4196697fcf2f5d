#include <spdlog/spdlog.h>

#include "millrace/central/site_backups.h"
#include "millrace/common/throttle.h"

namespace millrace::central {

void AddSiteBackupMetrics(MetricsRegistry& metrics, PgPool* pool,
                          std::chrono::milliseconds refresh) {
  auto& verified = metrics.AddGauge("mes_central_site_backup_verified_timestamp_seconds",
                                    "When the site's newest verified backup was taken (0: none is)",
                                    {"tenant", "site"});
  auto& failed =
      metrics.AddGauge("mes_central_site_backups_failed",
                       "The site's kept backups that failed verification", {"tenant", "site"});
  // The backups change hourly: read at most once per `refresh`.
  metrics.AddCollector(AtMostEvery(refresh, [&verified, &failed, pool] {
    auto conn = pool->Acquire();
    if (!conn.ok()) return;  // the pool's own metrics say why
    auto r = (*conn)->Query(
        "SELECT tenant_id, site_id, verified_taken_s, failed FROM millrace.site_backup_summary()");
    if (!r.ok()) {
      spdlog::warn("metrics: site backups: {}", r.status().ToString());
      return;
    }
    for (int i = 0; i < r->rows(); ++i) {
      const std::vector<std::string> labels = {r->GetString(i, 0), r->GetString(i, 1)};
      verified.With(labels).Set(std::stod(r->GetString(i, 2)));
      failed.With(labels).Set(std::stod(r->GetString(i, 3)));
    }
  }));
}

}  // namespace millrace::central
