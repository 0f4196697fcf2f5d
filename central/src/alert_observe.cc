// ObserveAlerts (alert_jobs.h): what a tenant's data says now, one query per kind of rule.
#include <string>
#include <vector>

#include "millrace/central/alert_jobs.h"

namespace millrace::central {
namespace {

// Runs `sql` and adds one observation of `kind` per row: the subject in column 0, the value
// in `value_col` (a NULL value is not observed), the detail in `detail_col` (-1: none).
Status Observe(PgConnection& conn, const std::string& sql, const std::vector<PgParam>& params,
               const std::string& kind, int value_col, int detail_col,
               std::vector<AlertObservation>* out) {
  MILLRACE_ASSIGN_OR_RETURN(PgResult r, conn.Query(sql, params));
  for (int i = 0; i < r.rows(); ++i) {
    if (r.IsNull(i, value_col)) continue;
    out->push_back({kind, r.GetString(i, 0), std::stod(r.GetString(i, value_col)),
                    detail_col < 0 ? "" : r.GetString(i, detail_col)});
  }
  return Status::Ok();
}

}  // namespace

Result<std::vector<AlertObservation>> ObserveAlerts(PgConnection& conn, const std::string& tenant) {
  std::vector<AlertObservation> out;
  // The sites' own reports (as of their last Hello) and how long ago central heard them.
  const std::string sites =
      "SELECT site_id, extract(epoch FROM now() - coalesce(last_seen_at, created_at)) / 60, "
      "CASE WHEN reported_head_seq > applied_seq AND oldest_unacked_at IS NOT NULL THEN "
      "greatest(extract(epoch FROM now() - oldest_unacked_at), 0) / 60 ELSE 0 END, "
      "coalesce(reported_backlog_bytes, 0) / 1048576.0, reported_disk_free_bytes / 1048576.0, "
      "CASE WHEN last_seen_at IS NULL THEN 'never seen' ELSE 'last seen ' || "
      "to_char(last_seen_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') || ' UTC' END "
      "FROM millrace.sync_site WHERE active ORDER BY site_id";
  MILLRACE_RETURN_IF_ERROR(Observe(conn, sites, {}, "site_offline", 1, 5, &out));
  MILLRACE_RETURN_IF_ERROR(Observe(conn, sites, {}, "oldest_unacked", 2, -1, &out));
  MILLRACE_RETURN_IF_ERROR(Observe(conn, sites, {}, "backlog", 3, -1, &out));
  MILLRACE_RETURN_IF_ERROR(Observe(conn, sites, {}, "disk_free", 4, -1, &out));
  MILLRACE_RETURN_IF_ERROR(Observe(
      conn,
      "SELECT r.site_id, count(*) FROM millrace.sync_reject r JOIN millrace.sync_site s ON "
      "s.tenant_id = r.tenant_id AND s.site_id = r.site_id AND s.active WHERE r.tenant_id = $1 "
      "AND r.rejected_at > now() - interval '24 hours' GROUP BY r.site_id ORDER BY r.site_id",
      {tenant}, "rejects_parked", 1, -1, &out));
  MILLRACE_RETURN_IF_ERROR(
      Observe(conn,
              "SELECT 'tenant', count(*) FROM millrace.sync_conflict WHERE tenant_id = $1 AND "
              "detected_at > now() - interval '1 hour' HAVING count(*) > 0",
              {tenant}, "conflict_rate", 1, -1, &out));
  const std::string backups =
      "SELECT site_id, count(*) FILTER (WHERE state = 'failed' AND updated_at > now() - interval "
      "'24 hours'), extract(epoch FROM now() - coalesce(max(taken_at) FILTER (WHERE state = "
      "'verified'), min(created_at))) / 3600 FROM millrace.site_backup b WHERE tenant_id = $1 "
      "AND EXISTS (SELECT 1 FROM millrace.sync_site s WHERE s.tenant_id = b.tenant_id AND "
      "s.site_id = b.site_id AND s.active) GROUP BY site_id ORDER BY site_id";
  MILLRACE_RETURN_IF_ERROR(Observe(conn, backups, {tenant}, "backup_failed", 1, -1, &out));
  MILLRACE_RETURN_IF_ERROR(Observe(conn, backups, {tenant}, "backup_unverified", 2, -1, &out));
  // A drift found means something wrote behind the sync engine's back, even once repaired.
  MILLRACE_RETURN_IF_ERROR(Observe(
      conn,
      "SELECT DISTINCT ON (d.site_id) d.site_id, d.drifted, 'check ' || d.check_id || ': ' || "
      "d.repaired || ' repaired, ' || d.left_to_sync || ' left to sync' FROM millrace.sync_drift "
      "d JOIN millrace.sync_site s ON s.tenant_id = d.tenant_id AND s.site_id = d.site_id AND "
      "s.active WHERE d.tenant_id = $1 AND d.state = 'done' AND d.finished_at > now() - interval "
      "'7 days' ORDER BY d.site_id, d.check_id DESC",
      {tenant}, "drift", 1, 2, &out));
  MILLRACE_RETURN_IF_ERROR(
      Observe(conn,
              "SELECT 'jobs', count(*), string_agg(DISTINCT kind, ', ') FROM millrace.job_list($1, "
              "'dead', NULL, NULL, 10000) WHERE finished_at > now() - interval '24 hours' HAVING "
              "count(*) > 0",
              {tenant}, "job_dead", 1, 2, &out));
  // OEE as the oee report reckons it (ideal time of the good output over the planned
  // production time), per line over the latest of its shifts that ended.
  MILLRACE_RETURN_IF_ERROR(Observe(
      conn,
      "WITH u AS (SELECT id AS unit_id, parent_id AS line_id FROM millrace.equipment WHERE "
      "tenant_id = $1 AND level = 'work_unit' AND parent_id IS NOT NULL), "
      "worked AS (SELECT DISTINCT u.line_id, t.shift_instance_id, si.ends_at, si.business_date "
      "FROM millrace.report_time_day t JOIN u ON u.unit_id = t.work_unit_id JOIN "
      "millrace.shift_instance si ON si.tenant_id = t.tenant_id AND si.id = t.shift_instance_id "
      "WHERE t.tenant_id = $1 AND t.business_date >= current_date - 3 AND si.ends_at <= now() "
      "AND si.ends_at > now() - interval '2 days'), "
      "last AS (SELECT DISTINCT ON (line_id) * FROM worked ORDER BY line_id, ends_at DESC), "
      "tm AS (SELECT l.line_id, sum(t.shift_ms - t.break_ms) AS ms FROM last l JOIN u ON "
      "u.line_id = l.line_id JOIN millrace.report_time_day t ON t.tenant_id = $1 AND "
      "t.work_unit_id = u.unit_id AND t.shift_instance_id = l.shift_instance_id GROUP BY 1), "
      "pl AS (SELECT l.line_id, sum(d.stop_ms) AS ms FROM last l JOIN u ON u.line_id = l.line_id "
      "JOIN millrace.report_downtime_day d ON d.tenant_id = $1 AND d.work_unit_id = u.unit_id "
      "AND d.shift_instance_id = l.shift_instance_id AND d.planned GROUP BY 1), "
      "og AS (SELECT l.line_id, sum(o.ideal_good_s) AS s FROM last l JOIN u ON u.line_id = "
      "l.line_id JOIN millrace.report_output_day o ON o.tenant_id = $1 AND o.work_unit_id = "
      "u.unit_id AND o.shift_instance_id = l.shift_instance_id GROUP BY 1) "
      "SELECT tm.line_id::text, 100.0 * coalesce(og.s, 0) * 1000 / (tm.ms - coalesce(pl.ms, 0)), "
      "coalesce(e.code, tm.line_id::text) || ', shift of ' || l.business_date || ' ended ' || "
      "to_char(l.ends_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') || ' UTC' FROM tm JOIN last l "
      "ON l.line_id = tm.line_id LEFT JOIN pl ON pl.line_id = tm.line_id LEFT JOIN og ON "
      "og.line_id = tm.line_id LEFT JOIN millrace.equipment e ON e.tenant_id = $1 AND e.id = "
      "tm.line_id WHERE tm.ms - coalesce(pl.ms, 0) > 0 ORDER BY 1",
      {tenant}, "oee_below_target", 1, 2, &out));
  MILLRACE_RETURN_IF_ERROR(Observe(
      conn,
      "SELECT q.characteristic_id::text, 100.0 * sum(q.n - q.n_in_spec) / sum(q.n), "
      "coalesce(min(c.name), q.characteristic_id::text) || ' (' || sum(q.n) || ' inspections)' "
      "FROM millrace.report_quality_hour q LEFT JOIN millrace.inspection_characteristic c ON "
      "c.tenant_id = q.tenant_id AND c.id = q.characteristic_id WHERE q.tenant_id = $1 AND "
      "q.bucket >= date_trunc('hour', now()) - interval '1 hour' GROUP BY q.characteristic_id "
      "HAVING sum(q.n) >= 5 ORDER BY 1",
      {tenant}, "out_of_spec_rate", 1, 2, &out));
  return out;
}

}  // namespace millrace::central
