#include "millrace/central/rollups.h"

#include <algorithm>

#include "millrace/central/central_store.h"

namespace millrace::central {

namespace {

constexpr std::int64_t kHourMs = 3600 * 1000;
constexpr std::int64_t kDayMs = 24 * kHourMs;

std::string Instant(std::int64_t ms) {
  return "to_timestamp(" + std::to_string(ms) + " / 1000.0)";
}

}  // namespace

Status RebuildRollups(PgConnection& conn, const RebuildRange& r,
                      const std::function<void(const RebuildProgress&)>& progress,
                      const std::function<bool()>& stop) {
  RebuildProgress p;
  Status found = InTenantTransaction(conn, r.tenant_id, [&]() -> Status {
    MILLRACE_ASSIGN_OR_RETURN(
        auto site, conn.Query("SELECT 1 FROM millrace.sync_site WHERE tenant_id = $1 AND site_id = $2",
                              {r.tenant_id, r.site_id}));
    if (site.rows() == 0) return Status::NotFound("no site " + r.tenant_id + "/" + r.site_id);
    // The span of the site's facts that feed the rollups.
    MILLRACE_ASSIGN_OR_RETURN(
        auto span,
        conn.Query(
            "SELECT (extract(epoch FROM min(lo)) * 1000)::bigint, (extract(epoch FROM max(hi)) * "
            "1000)::bigint FROM (SELECT min(at) lo, max(at) hi FROM millrace.production_event WHERE "
            "tenant_id = $1 AND site_id = $2 UNION ALL SELECT min(started_at), max(ended_at) FROM "
            "millrace.downtime_event WHERE tenant_id = $1 AND site_id = $2 UNION ALL SELECT "
            "min(starts_at), max(ends_at) FROM millrace.shift_instance WHERE tenant_id = $1 AND "
            "site_id = $2 UNION ALL SELECT min(at), max(at) FROM millrace.measurement WHERE "
            "tenant_id = $1 AND site_id = $2) s",
            {r.tenant_id, r.site_id}));
    // A range given is rebuilt whatever the site holds (rollups of facts gone are cleared);
    // an open end takes the facts' span, and a site without facts has none.
    p.from_ms = r.from_ms;
    p.to_ms = r.to_ms;
    if (span.IsNull(0, 0)) {
      if (!r.from_ms || !r.to_ms) p.from_ms = p.to_ms = 0;
      return Status::Ok();
    }
    const std::int64_t first = std::stoll(span.GetString(0, 0));
    const std::int64_t last = std::stoll(span.GetString(0, 1));
    if (!r.from_ms) p.from_ms = first - first % kHourMs;
    if (!r.to_ms) p.to_ms = last - last % kHourMs + kHourMs;
    return Status::Ok();
  });
  MILLRACE_RETURN_IF_ERROR(found);
  if (p.to_ms <= p.from_ms) {
    if ((r.from_ms || r.to_ms) && (p.from_ms || p.to_ms))
      return Status::InvalidArgument("the range to rebuild ends before it begins");
    return Status::Ok();
  }
  p.total_ms = p.to_ms - p.from_ms;
  for (std::int64_t at = p.from_ms; at < p.to_ms; at += kDayMs) {
    if (stop && stop())
      return Status::Unavailable("the rebuild stopped after " + std::to_string(p.done_ms / kDayMs) +
                                 " of " + std::to_string((p.total_ms + kDayMs - 1) / kDayMs) +
                                 " days (the days done stay rebuilt)");
    const std::int64_t until = std::min(p.to_ms, at + kDayMs);
    MILLRACE_RETURN_IF_ERROR(InTenantTransaction(conn, r.tenant_id, [&]() -> Status {
      return conn
          .Query("SELECT millrace.report_rebuild($1, $2, " + Instant(at) + ", " + Instant(until) + ")",
                 {r.tenant_id, r.site_id})
          .status();
    }));
    p.done_ms = until - p.from_ms;
    if (progress) progress(p);
  }
  return Status::Ok();
}

}  // namespace millrace::central
