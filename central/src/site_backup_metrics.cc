#include <spdlog/spdlog.h>

#include <mutex>

#include "millrace/central/site_backups.h"

namespace millrace::central {

void AddSiteBackupMetrics(MetricsRegistry& metrics, PgPool* pool,
                          std::chrono::milliseconds refresh) {
  auto& verified = metrics.AddGauge("mes_central_site_backup_verified_timestamp_seconds",
                                    "When the site's newest verified backup was taken (0: none is)",
                                    {"tenant", "site"});
  auto& failed =
      metrics.AddGauge("mes_central_site_backups_failed",
                       "The site's kept backups that failed verification", {"tenant", "site"});
  // Scrapes come every few seconds from each Prometheus, the backups change hourly: read
  // at most once per `refresh`, and scrapes in between show the last reading.
  struct Last {
    std::mutex mu;
    std::optional<std::chrono::steady_clock::time_point> read;
  };
  auto last = std::make_shared<Last>();
  metrics.AddCollector([&verified, &failed, pool, refresh, last] {
    {
      std::lock_guard lock(last->mu);
      const auto now = std::chrono::steady_clock::now();
      if (last->read && now - *last->read < refresh) return;
      last->read = now;
    }
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
  });
}

}  // namespace millrace::central
