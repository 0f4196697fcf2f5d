// The SQL of each report (report_sql.h). Over time: the rollups' day tables, or their hour
// tables for granularity=hour; the drill-downs read the facts.
#include "report_sql.h"

namespace millrace::central::report_sql {

using Type = ReportColumn::Type;


// The work units in scope with their site and line ($1, $4 sites, $5 lines, $6 units; a
// line or unit by id or code).
const char* const kUnits = R"(units AS (
  SELECT u.site_id, u.id AS unit_id, u.code AS unit_code, u.name AS unit_name,
         coalesce(l.id::text, '') AS line_id, coalesce(l.code, '') AS line_code, coalesce(l.name, '') AS line_name
  FROM millrace.equipment u LEFT JOIN millrace.equipment l ON l.tenant_id = u.tenant_id AND l.id = u.parent_id
  WHERE u.tenant_id = $1 AND u.level = 'work_unit'
    AND (cardinality($4::text[]) = 0 OR u.site_id = ANY($4::text[]))
    AND (cardinality($5::text[]) = 0 OR l.id::text = ANY($5::text[]) OR l.code = ANY($5::text[]))
    AND (cardinality($6::text[]) = 0 OR u.id::text = ANY($6::text[]) OR u.code = ANY($6::text[])))
)";

// A rollup row `d` of a product asked for ($7: ids or codes).
std::string ProductMatch(const std::string& product_column) {
  return "(cardinality($7::text[]) = 0 OR " + product_column + "::text = ANY($7::text[]) OR " +
         product_column +
         " IN (SELECT m.id FROM millrace.material_definition m WHERE m.tenant_id = $1 AND m.code = "
         "ANY($7::text[])))";
}

const char* const kInRange = "d.tenant_id = $1 AND d.business_date BETWEEN $2::date AND $3::date";
// An hour's business date is its local date or the day before (a night shift), and every
// zone lies within a day of UTC: so its bucket lies within two days of the range in UTC.
const char* const kHourInRange =
    "d.tenant_id = $1 AND d.business_date BETWEEN $2::date AND $3::date AND d.bucket >= ($2::date - 2)::timestamp "
    "AT TIME ZONE 'UTC' AND d.bucket < ($3::date + 3)::timestamp AT TIME ZONE 'UTC'";

// On timestamps without a zone, so the planner folds them to constants (on a date it would
// cast to timestamptz, a function of the session's zone, and work it out for every row).
const char* const kFirstWholeMonth = "(date_trunc('month', ($2::date - 1)::timestamp) + interval '1 month')::date";
const char* const kAfterWholeMonths = "date_trunc('month', ($3::date + 1)::timestamp)::date";

std::string OutsideWholeMonths(const std::string& column) {
  const std::string m1 = kFirstWholeMonth, m2 = kAfterWholeMonths, whole = "(" + m1 + " < " + m2 + ")";
  // The days before the first whole month and after the last, as two ranges an index serves.
  return "((" + column + " >= $2::date AND " + column + " < CASE WHEN " + whole + " THEN " + m1 +
         " ELSE $3::date + 1 END) OR (" + column + " >= CASE WHEN " + whole + " THEN " + m2 +
         " ELSE $3::date + 1 END AND " + column + " <= $3::date))";
}

std::string HoursOutsideWholeMonths() {
  const std::string m1 = kFirstWholeMonth, m2 = kAfterWholeMonths, whole = "(" + m1 + " < " + m2 + ")";
  auto utc = [](const std::string& date) { return "(" + date + ")::timestamp AT TIME ZONE 'UTC'"; };
  // As kHourInRange: an hour lies within two days (UTC) of its business date.
  return "d.tenant_id = $1 AND " + OutsideWholeMonths("d.business_date") + " AND ((d.bucket >= " + utc("$2::date - 2") +
         " AND d.bucket < " + utc("CASE WHEN " + whole + " THEN " + m1 + " + 3 ELSE $3::date + 3 END") +
         ") OR (d.bucket >= " + utc("CASE WHEN " + whole + " THEN " + m2 + " - 2 ELSE $3::date + 3 END") +
         " AND d.bucket < " + utc("$3::date + 3") + "))";
}

std::string InWholeMonths(const std::string& column) {
  return "(" + std::string(kFirstWholeMonth) + " < " + kAfterWholeMonths + " AND " + column + " >= " +
         kFirstWholeMonth + " AND " + column + " < " + kAfterWholeMonths + ")";
}

std::string RollupRows(const std::string& kind, bool months) {
  const std::string day = "millrace.report_" + kind + "_day";
  if (!months) return day;
  return "(SELECT * FROM " + day + " WHERE tenant_id = $1 AND " + OutsideWholeMonths("business_date") +
         "\n   UNION ALL SELECT * FROM millrace.report_" + kind + "_month WHERE tenant_id = $1 AND " +
         InWholeMonths("business_date") + ")";
}

// A fact's instant inside the range of business dates, read in its site's zone (ss).
// The same widened by a day each way in UTC (every zone lies within a day of it) first, so
// an index on the instant bounds the scan.
std::string FactInRange(const std::string& column) {
  return "d." + column + " >= ($2::date - 1)::timestamp AT TIME ZONE 'UTC' AND d." + column +
         " < ($3::date + 2)::timestamp AT TIME ZONE 'UTC' AND d." + column +
         " >= ($2::date::timestamp AT TIME ZONE ss.time_zone) AND d." + column +
         " < (($3::date + 1)::timestamp AT TIME ZONE ss.time_zone)";
}

const char* const kIso = "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'";

std::string Iso(const std::string& expr) {
  return "to_char(" + expr + " AT TIME ZONE 'UTC', " + kIso + ")";
}

// Optional filter on a text parameter: NULL passes everything.
std::string Optional(Sql* sql, const ReportQuery& q, const std::string& name,
                     const std::string& condition_with_placeholder) {
  auto it = q.params.find(name);
  const std::string ph = sql->Add(it == q.params.end() ? PgParam() : PgParam(it->second));
  std::string cond = condition_with_placeholder;
  for (std::size_t at = cond.find("@"); at != std::string::npos; at = cond.find("@", at + ph.size()))
    cond.replace(at, 1, ph);
  return "(" + ph + "::text IS NULL OR " + cond + ")";
}

Status CheckBool(const ReportQuery& q, const std::string& name) {
  auto it = q.params.find(name);
  if (it != q.params.end() && it->second != "true" && it->second != "false")
    return Status::InvalidArgument(name + " must be true or false, got \"" + it->second + "\"");
  return Status::Ok();
}

std::string Limit(const ReportQuery& q) { return " LIMIT " + std::to_string(q.limit + 1); }

std::string TextArray(const std::vector<std::string>& values) {
  std::string out = "{";
  for (std::size_t i = 0; i < values.size(); ++i) {
    out += i ? ",\"" : "\"";
    for (char c : values[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += "\"";
  }
  return out + "}";
}

Params CommonParams(const ReportQuery& q) {
  auto date = [](const std::string& d) { return d.empty() ? PgParam() : PgParam(d); };
  return {q.tenant_id,         date(q.from),          date(q.to),          TextArray(q.sites),
          TextArray(q.lines),  TextArray(q.units),    TextArray(q.products)};
}

// ---------------------------------------------------------------- OEE

// OEE, and (q.spec is throughput) good output per hour of run and of planned time.
Status Oee(PgConnection&, const ReportQuery& q, ReportResult* out, Sql* sql) {
  const bool hourly = q.granularity == Granularity::kHour;
  const std::string t = hourly ? "hour" : "day";
  // Months serve a range by month or as a whole, unless products decide which shifts count.
  const bool months = (q.granularity == Granularity::kNone || q.granularity == Granularity::kMonth) && q.products.empty();
  auto rows = [&](const std::string& kind) { return hourly ? "millrace.report_" + kind + "_hour" : RollupRows(kind, months); };
  sql->hash_joins = true;
  // A period: what rows are summed by, and its name (worked out once per period).
  std::string period, period_name = "pu.period::text";
  switch (q.granularity) {
    case Granularity::kNone: period = "''::text"; break;
    case Granularity::kHour:
      period = "d.bucket";
      period_name = "to_char(pu.period AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI\"Z\"')";
      break;
    case Granularity::kShift: period = "d.shift_instance_id"; break;
    case Granularity::kDay: period = "d.business_date"; break;
    // Summed by date first (a month row's date is its month's first), then named by week or
    // month: cheaper than working the week or month out for every row.
    case Granularity::kWeek:
      period = "d.business_date";
      period_name = "date_trunc('week', pu.period::timestamp)::date::text";
      break;
    case Granularity::kMonth:
      period = "d.business_date";
      period_name = "to_char(pu.period, 'YYYY-MM')";
      break;
  }
  // The dimensions grouped by, and the columns that name them.
  std::vector<std::string> dims;
  if (q.group == "site") dims = {"site_id"};
  if (q.group == "line") dims = {"site_id", "line_id", "line_code", "line_name"};
  if (q.group == "unit") dims = {"site_id", "line_code", "unit_id", "unit_code", "unit_name"};
  std::string dim_list, dim_key = "''";
  for (const auto& d : dims) dim_list += ", " + d;
  if (!dims.empty()) {
    dim_key = "concat_ws('|'";
    for (const auto& d : dims) dim_key += ", " + d;
    dim_key += ")";
  }
  // With products asked for, time and stops count only where those products were made.
  std::string made_there = "true";
  if (!q.products.empty()) {
    made_there = "EXISTS (SELECT 1 FROM millrace.report_output_" + t +
                 " o WHERE o.tenant_id = d.tenant_id AND o.site_id = d.site_id AND o.work_unit_id = "
                 "d.work_unit_id AND o.shift_instance_id = d.shift_instance_id AND o.business_date = "
                 "d.business_date" + (hourly ? " AND o.bucket = d.bucket" : "") + " AND " +
                 ProductMatch("o.product_id") + ")";
  }
  // Summed per work unit and period first, over the rows of the tenant's sites asked for,
  // then named and filtered by the units in scope: a year is a few rows per unit.
  const std::string in_range = std::string(hourly ? kHourInRange : kInRange) +
                               " AND (cardinality($4::text[]) = 0 OR d.site_id = ANY($4::text[]))";
  const std::string per_unit = " GROUP BY 1, 2, 3\n";
  const std::string unit_cols = "s.site_id, s.line_id, s.line_code, s.line_name, s.unit_id::text AS unit_id, s.unit_code, s.unit_name";
  sql->key_parts = 3;
  const std::string sort_key =
      q.sort == "oee" ? "(-coalesce(oee, -1))" : "0::numeric";  // ranking: best first
  sql->text = "WITH " + std::string(kUnits) + ", pu AS (\n"
      "  SELECT " + period + " AS period, d.site_id, d.work_unit_id, sum(d.shift_ms) AS shift_ms, sum(d.break_ms) AS break_ms, "
      "0::numeric AS planned_stop_ms, 0::numeric AS unplanned_stop_ms, "
      "0::numeric AS good, 0::numeric AS scrap, 0::numeric AS rework, 0::numeric AS ideal_s, 0::numeric AS ideal_good_s\n"
      "  FROM " + rows("time") + " d WHERE " + in_range + " AND " + made_there + per_unit +
      "  UNION ALL SELECT " + period + ", d.site_id, d.work_unit_id, 0, 0, sum(CASE WHEN d.planned THEN d.stop_ms ELSE 0 END), "
      "sum(CASE WHEN d.planned THEN 0 ELSE d.stop_ms END), 0, 0, 0, 0, 0\n"
      // Stops outside every shift take nothing from planned time.
      "  FROM " + rows("downtime") + " d WHERE " + in_range + " AND " + made_there +
      " AND d.shift_instance_id <> '00000000-0000-0000-0000-000000000000'" + per_unit +
      "  UNION ALL SELECT " + period + ", d.site_id, d.work_unit_id, 0, 0, 0, 0, sum(d.good), sum(d.scrap), sum(d.rework), "
      "sum(d.ideal_s), sum(d.ideal_good_s)\n"
      "  FROM " + rows("output") + " d WHERE " + in_range + " AND " + ProductMatch("d.product_id") + per_unit +
      "), f AS (\n"
      "  SELECT " + period_name + " AS period, " + unit_cols + ", pu.shift_ms, pu.break_ms, pu.planned_stop_ms, pu.unplanned_stop_ms, pu.good, "
      "pu.scrap, pu.rework, pu.ideal_s, pu.ideal_good_s\n"
      "  FROM pu JOIN units s ON s.site_id = pu.site_id AND s.unit_id = pu.work_unit_id\n"
      "), g AS (\n"
      "  SELECT period" + dim_list + ", sum(shift_ms) AS shift_ms, sum(break_ms) AS break_ms, "
      "sum(planned_stop_ms) AS planned_stop_ms, sum(unplanned_stop_ms) AS unplanned_stop_ms, sum(good) AS good, "
      "sum(scrap) AS scrap, sum(rework) AS rework, sum(ideal_s) AS ideal_s, sum(ideal_good_s) AS ideal_good_s\n"
      "  FROM f GROUP BY period" + dim_list + "\n"
      "), m AS (\n"
      "  SELECT g.*, " + dim_key + " AS dim_key, shift_ms - break_ms - planned_stop_ms AS ppt_ms, "
      "shift_ms - break_ms - planned_stop_ms - unplanned_stop_ms AS run_ms FROM g\n"
      "), r AS (\n"
      "  SELECT m.*, CASE WHEN ppt_ms > 0 THEN run_ms::numeric / ppt_ms END AS availability,\n"
      "         CASE WHEN run_ms > 0 THEN ideal_s * 1000 / run_ms END AS performance,\n"
      "         CASE WHEN good + scrap + rework > 0 THEN good / (good + scrap + rework) END AS quality,\n"
      "         CASE WHEN ppt_ms > 0 THEN ideal_good_s * 1000 / ppt_ms END AS oee FROM m\n"
      "), k AS (SELECT r.*, " + sort_key + " AS sk FROM r)\n"
      "SELECT sk::text AS cursor_sk, period AS cursor_period, dim_key AS cursor_dim";
  std::vector<ReportColumn> cols;
  if (q.granularity != Granularity::kNone) {
    sql->text += ", period";
    cols.push_back({"period", q.granularity == Granularity::kHour ? Type::kTime : Type::kText});
    if (q.granularity == Granularity::kShift) {
      sql->text += ", (SELECT si.business_date || ' ' || coalesce(sp.code, '') FROM millrace.shift_instance si "
                   "LEFT JOIN millrace.shift_pattern sp ON sp.tenant_id = si.tenant_id AND sp.id = "
                   "si.shift_pattern_id WHERE si.tenant_id = $1 AND si.id = k.period::uuid)";
      cols.push_back({"shift", Type::kText});
    }
  }
  for (const auto& d : dims) {
    if (d == "line_id" || d == "unit_id") continue;
    sql->text += ", " + d;
    cols.push_back({d == "site_id" ? "site" : d, Type::kText});
  }
  const std::string page =
      " FROM k WHERE (" + sql->Cursor(0) + "::numeric IS NULL OR (sk, period COLLATE \"C\", "
      "dim_key COLLATE \"C\") > (" + sql->Cursor(0) + "::numeric, " + sql->Cursor(1) + " COLLATE \"C\", " +
      sql->Cursor(2) + " COLLATE \"C\")) ORDER BY sk, period COLLATE \"C\", dim_key COLLATE \"C\"" + Limit(q);
  if (q.spec->name == "throughput") {
    sql->text += ", good, run_ms / 1000.0, ppt_ms / 1000.0, CASE WHEN run_ms > 0 THEN good * 3600000 / run_ms END, "
                 "CASE WHEN ppt_ms > 0 THEN good * 3600000 / ppt_ms END" + page;
    cols.push_back({"good", Type::kNumber});
    cols.push_back({"run_time_s", Type::kNumber});
    cols.push_back({"planned_production_time_s", Type::kNumber});
    cols.push_back({"good_per_run_hour", Type::kNumber});
    cols.push_back({"good_per_planned_hour", Type::kNumber});
    out->columns = cols;
    return Status::Ok();
  }
  sql->text +=
      ", shift_ms / 1000.0, break_ms / 1000.0, planned_stop_ms / 1000.0, unplanned_stop_ms / 1000.0, "
      "ppt_ms / 1000.0, run_ms / 1000.0, good, scrap, rework, ideal_s, availability, performance, "
      "quality, oee" + page;
  for (const char* c : {"shift_time_s", "planned_breaks_s", "planned_stops_s", "unplanned_stops_s",
                        "planned_production_time_s", "run_time_s"})
    cols.push_back({c, Type::kNumber});
  for (const char* c : {"good", "scrap", "rework", "ideal_time_s"}) cols.push_back({c, Type::kNumber});
  for (const char* c : {"availability", "performance", "quality", "oee"}) cols.push_back({c, Type::kRatio});
  out->columns = cols;
  return Status::Ok();
}

// ---------------------------------------------------------------- losses

Status DowntimePareto(PgConnection&, const ReportQuery& q, ReportResult* out, Sql* sql) {
  sql->hash_joins = true;
  std::string key, label_cols;
  std::vector<ReportColumn> cols;
  if (q.by == "reason") {
    key = "d.reason_id::text";
    label_cols = "min(coalesce(r.code, '')) AS reason_code, min(coalesce(r.name, '(no reason given)')) AS "
                 "reason_name, min(coalesce(r.loss_class, '')) AS loss_class, min(coalesce(r.oee_bucket, '')) "
                 "AS oee_bucket, bool_or(d.planned) AS planned";
    cols = {{"reason_id", Type::kText}, {"reason_code", Type::kText}, {"reason_name", Type::kText},
            {"loss_class", Type::kText}, {"oee_bucket", Type::kText}, {"planned", Type::kText}};
  } else if (q.by == "loss_class") {
    key = "coalesce(r.loss_class, CASE WHEN d.planned THEN 'planned' ELSE 'unclassified' END)";
    cols = {{"loss_class", Type::kText}};
  } else {
    key = "CASE WHEN d.planned THEN 'planned' ELSE coalesce(r.oee_bucket, 'unclassified') END";
    cols = {{"oee_bucket", Type::kText}};
  }
  MILLRACE_RETURN_IF_ERROR(CheckBool(q, "planned"));
  const std::string planned = Optional(sql, q, "planned", "d.planned = @::boolean");
  sql->key_parts = 2;
  sql->text = "WITH " + std::string(kUnits) + ", g AS (\n"
      "  SELECT " + key + " AS key" + (label_cols.empty() ? "" : ", " + label_cols) +
      ", sum(d.stop_ms) AS stop_ms, sum(d.stops) AS stops\n"
      "  FROM " + RollupRows("downtime", true) + " d JOIN units s ON s.site_id = d.site_id AND s.unit_id = d.work_unit_id\n"
      "  LEFT JOIN millrace.reason_code r ON r.tenant_id = d.tenant_id AND r.id = d.reason_id\n"
      "  WHERE " + kInRange + " AND " + planned + " GROUP BY 1 HAVING sum(d.stop_ms) <> 0 OR sum(d.stops) <> 0\n"
      "), c AS (SELECT g.*, sum(stop_ms) OVER () AS total, sum(stop_ms) OVER (ORDER BY stop_ms DESC, key COLLATE \"C\") AS running FROM g)\n"
      "SELECT (-stop_ms)::text, key, key" + std::string(q.by == "reason" ? ", reason_code, reason_name, loss_class, oee_bucket, planned::text" : "") +
      ", stop_ms / 1000.0, stops, stop_ms::numeric / nullif(total, 0), running::numeric / nullif(total, 0) FROM c\n"
      "WHERE (" + sql->Cursor(0) + "::bigint IS NULL OR (-stop_ms, key COLLATE \"C\") > (" + sql->Cursor(0) +
      "::bigint, " + sql->Cursor(1) + " COLLATE \"C\")) ORDER BY stop_ms DESC, key COLLATE \"C\"" + Limit(q);
  cols.push_back({"stop_time_s", Type::kNumber});
  cols.push_back({"stops", Type::kInteger});
  cols.push_back({"share", Type::kRatio});
  cols.push_back({"cumulative_share", Type::kRatio});
  out->columns = cols;
  return Status::Ok();
}

Status DowntimeEvents(PgConnection&, const ReportQuery& q, ReportResult* out, Sql* sql) {
  sql->index_order = true;
  MILLRACE_RETURN_IF_ERROR(CheckBool(q, "planned"));
  const std::string filters =
      Optional(sql, q, "reason", "d.reason_id::text = @ OR r.code = @") + " AND " +
      Optional(sql, q, "loss_class",
               "coalesce(r.loss_class, CASE WHEN d.planned THEN 'planned' ELSE 'unclassified' END) = @") +
      " AND " +
      Optional(sql, q, "bucket",
               "(CASE WHEN d.planned THEN 'planned' ELSE coalesce(r.oee_bucket, 'unclassified') END) = @") +
      " AND " + Optional(sql, q, "planned", "d.planned = @::boolean");
  sql->key_parts = 2;
  sql->text = "WITH " + std::string(kUnits) + "\n"
      "SELECT " + Iso("d.started_at") + ", d.id::text, d.id::text, d.site_id, s.line_code, s.unit_code, " +
      Iso("d.started_at") + ", " + Iso("d.ended_at") +
      ", round(extract(epoch FROM d.ended_at - d.started_at)::numeric, 3), coalesce(r.code, ''), "
      "coalesce(r.name, '(no reason given)'), coalesce(r.loss_class, ''), d.planned::text, d.comment\n"
      "FROM millrace.downtime_event d JOIN units s ON s.site_id = d.site_id AND s.unit_id = d.work_unit_id\n"
      "JOIN millrace.sync_site ss ON ss.tenant_id = d.tenant_id AND ss.site_id = d.site_id\n"
      "LEFT JOIN millrace.reason_code r ON r.tenant_id = d.tenant_id AND r.id = d.reason_id\n"
      "WHERE d.tenant_id = $1 AND d.ended_at IS NOT NULL AND " + FactInRange("started_at") + " AND " + filters +
      " AND (" + sql->Cursor(0) + "::timestamptz IS NULL OR (d.started_at, d.id) < (" + sql->Cursor(0) +
      "::timestamptz, " + sql->Cursor(1) + "::uuid))\n"
      "ORDER BY d.started_at DESC, d.id DESC" + Limit(q);
  out->columns = {{"id", Type::kText},         {"site", Type::kText},       {"line_code", Type::kText},
                  {"unit_code", Type::kText},  {"started_at", Type::kTime}, {"ended_at", Type::kTime},
                  {"duration_s", Type::kNumber}, {"reason_code", Type::kText}, {"reason_name", Type::kText},
                  {"loss_class", Type::kText}, {"planned", Type::kText},    {"comment", Type::kText}};
  return Status::Ok();
}

Status ScrapPareto(PgConnection&, const ReportQuery& q, ReportResult* out, Sql* sql) {
  sql->hash_joins = true;
  // The key of each bar and the columns that name it.
  std::string key, labels, joins, label_list;
  std::vector<ReportColumn> cols;
  if (q.by == "reason") {
    key = "d.scrap_reason_id::text";
    joins = "LEFT JOIN millrace.reason_code r ON r.tenant_id = d.tenant_id AND r.id = d.scrap_reason_id";
    labels = ", min(coalesce(r.code, '')) AS l1, min(coalesce(r.name, '(no reason: rework)')) AS l2";
    label_list = ", key, l1, l2";
    cols = {{"reason_id", Type::kText}, {"reason_code", Type::kText}, {"reason_name", Type::kText}};
  } else if (q.by == "product") {
    key = "d.product_id::text";
    joins = "LEFT JOIN millrace.material_definition p ON p.tenant_id = d.tenant_id AND p.id = d.product_id";
    labels = ", min(coalesce(p.code, '')) AS l1, min(coalesce(p.name, '(unknown product)')) AS l2";
    label_list = ", key, l1, l2";
    cols = {{"product_id", Type::kText}, {"product_code", Type::kText}, {"product_name", Type::kText}};
  } else if (q.by == "line") {
    key = "s.line_id";
    labels = ", min(s.site_id) AS l1, min(s.line_code) AS l2, min(s.line_name) AS l3";
    label_list = ", l1, l2, l3";
    cols = {{"site", Type::kText}, {"line_code", Type::kText}, {"line_name", Type::kText}};
  } else {
    key = "s.site_id";
    label_list = ", key";
    cols = {{"site", Type::kText}};
  }
  sql->key_parts = 2;
  sql->text = "WITH " + std::string(kUnits) + ", g AS (\n"
      "  SELECT " + key + " AS key" + labels +
      ", sum(d.scrap) AS scrap, sum(d.rework) AS rework, sum(d.good + d.scrap + d.rework) AS produced\n"
      "  FROM " + RollupRows("output", true) + " d JOIN units s ON s.site_id = d.site_id AND s.unit_id = d.work_unit_id " + joins + "\n"
      "  WHERE " + kInRange + " AND " + ProductMatch("d.product_id") + " GROUP BY 1\n"
      "), c AS (SELECT g.*, scrap + rework AS loss, sum(scrap + rework) OVER () AS total, "
      "sum(scrap + rework) OVER (ORDER BY scrap + rework DESC, key COLLATE \"C\") AS running FROM g WHERE scrap + rework <> 0)\n"
      "SELECT (-loss)::text, key" + label_list + ", scrap, rework, produced, "
      "CASE WHEN produced > 0 THEN scrap / produced END, loss / nullif(total, 0), running / nullif(total, 0) FROM c\n"
      "WHERE (" + sql->Cursor(0) + "::numeric IS NULL OR (-loss, key COLLATE \"C\") > (" + sql->Cursor(0) +
      "::numeric, " + sql->Cursor(1) + " COLLATE \"C\")) ORDER BY loss DESC, key COLLATE \"C\"" + Limit(q);
  for (const char* c : {"scrap", "rework", "produced"}) cols.push_back({c, Type::kNumber});
  for (const char* c : {"scrap_ratio", "share", "cumulative_share"}) cols.push_back({c, Type::kRatio});
  out->columns = cols;
  return Status::Ok();
}

Status ScrapEvents(PgConnection&, const ReportQuery& q, ReportResult* out, Sql* sql) {
  sql->index_order = true;
  const std::string reason = Optional(sql, q, "reason", "d.scrap_reason_id::text = @ OR r.code = @");
  sql->key_parts = 2;
  sql->text = "WITH " + std::string(kUnits) + "\n"
      "SELECT " + Iso("d.at") + ", d.id::text, d.id::text, d.site_id, s.line_code, s.unit_code, " + Iso("d.at") +
      ", coalesce(w.number, ''), coalesce(o.op_code, ''), coalesce(p.code, ''), d.good_quantity, "
      "d.scrap_quantity, d.rework_quantity, coalesce(r.code, ''), coalesce(r.name, ''), "
      "coalesce(d.note, '')\n"
      "FROM millrace.production_event d JOIN units s ON s.site_id = d.site_id AND s.unit_id = d.work_unit_id\n"
      "JOIN millrace.sync_site ss ON ss.tenant_id = d.tenant_id AND ss.site_id = d.site_id\n"
      "LEFT JOIN millrace.work_order w ON w.tenant_id = d.tenant_id AND w.id = d.work_order_id\n"
      "LEFT JOIN millrace.work_order_operation o ON o.tenant_id = d.tenant_id AND o.id = d.operation_id\n"
      "LEFT JOIN millrace.material_definition p ON p.tenant_id = d.tenant_id AND p.id = w.material_id\n"
      "LEFT JOIN millrace.reason_code r ON r.tenant_id = d.tenant_id AND r.id = d.scrap_reason_id\n"
      "WHERE d.tenant_id = $1 AND (d.scrap_quantity <> 0 OR d.rework_quantity <> 0) AND " + FactInRange("at") +
      " AND " + reason + " AND (cardinality($7::text[]) = 0 OR w.material_id::text = ANY($7::text[]) OR p.code = ANY($7::text[]))"
      " AND (" + sql->Cursor(0) + "::timestamptz IS NULL OR (d.at, d.id) < (" + sql->Cursor(0) + "::timestamptz, " +
      sql->Cursor(1) + "::uuid))\nORDER BY d.at DESC, d.id DESC" + Limit(q);
  out->columns = {{"id", Type::kText},          {"site", Type::kText},         {"line_code", Type::kText},
                  {"unit_code", Type::kText},   {"at", Type::kTime},           {"work_order", Type::kText},
                  {"op_code", Type::kText},     {"product_code", Type::kText}, {"good", Type::kNumber},
                  {"scrap", Type::kNumber},     {"rework", Type::kNumber},     {"reason_code", Type::kText},
                  {"reason_name", Type::kText}, {"note", Type::kText}};
  return Status::Ok();
}

// ---------------------------------------------------------------- reliability

Status Reliability(PgConnection&, const ReportQuery& q, ReportResult* out, Sql* sql) {
  sql->hash_joins = true;
  // Worst first: the shortest time between failures, the longest repairs, the most failures.
  const std::string sort_key = q.sort == "mttr"       ? "-coalesce(mttr_s, -1)"
                               : q.sort == "failures" ? "-failures::numeric"
                                                      : "coalesce(mtbf_s, 1e18)";
  sql->key_parts = 2;
  sql->text = "WITH " + std::string(kUnits) + ", f AS (\n"
      "  SELECT s.unit_id, d.shift_ms - d.break_ms AS planned_ms, 0::bigint AS stop_ms, 0::bigint AS failures, 0::bigint AS repair_ms\n"
      "  FROM " + RollupRows("time", true) + " d JOIN units s ON s.site_id = d.site_id AND s.unit_id = d.work_unit_id WHERE " + kInRange + "\n"
      "  UNION ALL SELECT s.unit_id, 0, d.stop_ms, CASE WHEN r.is_failure THEN d.stops ELSE 0 END, CASE WHEN r.is_failure THEN d.stop_ms ELSE 0 END\n"
      "  FROM " + RollupRows("downtime", true) + " d JOIN units s ON s.site_id = d.site_id AND s.unit_id = d.work_unit_id\n"
      "  LEFT JOIN millrace.reason_code r ON r.tenant_id = d.tenant_id AND r.id = d.reason_id WHERE " + kInRange +
      " AND d.shift_instance_id <> '00000000-0000-0000-0000-000000000000'\n"
      "), g AS (SELECT unit_id, sum(planned_ms) - sum(stop_ms) AS operating_ms, sum(failures) AS failures, sum(repair_ms) AS repair_ms FROM f GROUP BY 1),\n"
      "m AS (SELECT g.*, u.site_id, u.line_code, u.unit_code, u.unit_name, CASE WHEN failures > 0 THEN operating_ms / 1000.0 / failures END AS mtbf_s,\n"
      "      CASE WHEN failures > 0 THEN repair_ms / 1000.0 / failures END AS mttr_s FROM g JOIN units u USING (unit_id)),\n"
      "k AS (SELECT m.*, (" + sort_key + ")::numeric AS sk FROM m)\n"
      "SELECT sk::text AS cursor_sk, unit_id::text AS cursor_unit, site_id, line_code, unit_code, unit_name, operating_ms / 1000.0, failures, repair_ms / 1000.0, mtbf_s, mttr_s FROM k\n"
      "WHERE (" + sql->Cursor(0) + "::numeric IS NULL OR (sk, unit_id::text COLLATE \"C\") > (" + sql->Cursor(0) + "::numeric, " +
      sql->Cursor(1) + " COLLATE \"C\")) ORDER BY sk, unit_id::text COLLATE \"C\"" + Limit(q);
  out->columns = {{"site", Type::kText},          {"line_code", Type::kText},   {"unit_code", Type::kText},
                  {"unit_name", Type::kText},     {"operating_time_s", Type::kNumber}, {"failures", Type::kInteger},
                  {"repair_time_s", Type::kNumber}, {"mtbf_s", Type::kNumber}, {"mttr_s", Type::kNumber}};
  return Status::Ok();
}

// ---------------------------------------------------------------- sync health

Status SyncHealth(PgConnection&, const ReportQuery& q, ReportResult* out, Sql* sql) {
  sql->key_parts = 1;
  sql->text =
      "SELECT s.site_id, s.site_id, s.time_zone, s.active::text, coalesce(s.active AND s.last_seen_at > now() - "
      "interval '30 seconds', false)::text, " + Iso("s.last_seen_at") + ", " + Iso("s.last_ack_at") +
      ", s.applied_seq, greatest(coalesce(s.reported_head_seq, 0) - s.applied_seq, 0), "
      "CASE WHEN s.reported_head_seq > s.applied_seq THEN s.reported_backlog_bytes ELSE 0 END, "
      "CASE WHEN s.reported_head_seq > s.applied_seq AND s.oldest_unacked_at IS NOT NULL THEN "
      "round(greatest(extract(epoch FROM now() - s.oldest_unacked_at), 0)::numeric, 3) ELSE 0 END, "
      "coalesce(s.store_epoch, ''), s.batches_applied, s.rows_applied, "
      "(SELECT count(*) FROM millrace.sync_reject j WHERE j.tenant_id = s.tenant_id AND j.site_id = s.site_id), "
      "(SELECT count(*) FROM millrace.sync_conflict c WHERE c.tenant_id = s.tenant_id AND (c.kept_origin = "
      "'edge:' || s.site_id OR c.lost_origin = 'edge:' || s.site_id)), s.edge_schema, "
      "coalesce(s.edge_build, ''), coalesce(s.edge_refusal, '')\n"
      "FROM millrace.sync_site s WHERE s.tenant_id = $1 AND (cardinality($4::text[]) = 0 OR s.site_id = "
      "ANY($4::text[])) AND (" + sql->Cursor(0) + "::text IS NULL OR s.site_id COLLATE \"C\" > " + sql->Cursor(0) +
      " COLLATE \"C\") ORDER BY s.site_id COLLATE \"C\"" + Limit(q);
  out->columns = {{"site", Type::kText},          {"time_zone", Type::kText},      {"active", Type::kText},
                  {"online", Type::kText},        {"last_seen_at", Type::kTime},   {"last_applied_at", Type::kTime},
                  {"applied_seq", Type::kInteger}, {"backlog_rows", Type::kInteger}, {"backlog_bytes", Type::kInteger},
                  {"lag_s", Type::kNumber},       {"store_epoch", Type::kText},    {"batches_applied", Type::kInteger},
                  {"rows_applied", Type::kInteger}, {"rejects", Type::kInteger},   {"conflicts", Type::kInteger},
                  {"edge_schema", Type::kInteger}, {"edge_build", Type::kText},    {"edge_refusal", Type::kText}};
  return Status::Ok();
}

}  // namespace millrace::central::report_sql
