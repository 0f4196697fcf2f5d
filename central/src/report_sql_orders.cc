// The SQL of the work-order reports (report_sql.h): plan against actual and schedule
// adherence, lead time, work in progress (from the shared work orders and operations), and
// the genealogy of lots and serials across sites.
#include "report_sql.h"

namespace millrace::central::report_sql {

using Type = ReportColumn::Type;

namespace {

// Work orders `d` of the sites, lines and products asked for.
const char* const kOrderScope =
    "d.tenant_id = $1 AND (cardinality($4::text[]) = 0 OR d.site_id = ANY($4::text[]))\n"
    "  AND (cardinality($5::text[]) = 0 OR d.line_id IN (SELECT l.id FROM millrace.equipment l WHERE "
    "l.tenant_id = $1 AND (l.id::text = ANY($5::text[]) OR l.code = ANY($5::text[]))))\n"
    "  AND (cardinality($7::text[]) = 0 OR d.material_id::text = ANY($7::text[]) OR d.material_id IN "
    "(SELECT m.id FROM millrace.material_definition m WHERE m.tenant_id = $1 AND m.code = ANY($7::text[])))";

// Done on time and in full: completed (or closed) by its due time with the planned quantity good.
const char* const kOnTime = "d.actual_end IS NOT NULL AND d.actual_end <= d.due_at";
const char* const kInFull = "d.good_quantity >= d.planned_quantity";
const char* const kDone = "d.status IN ('Completed', 'Closed')";

}  // namespace

Status Orders(PgConnection&, const ReportQuery& q, ReportResult* out, Sql* sql) {
  const std::string from =
      " FROM millrace.work_order d JOIN millrace.sync_site ss ON ss.tenant_id = d.tenant_id AND ss.site_id = "
      "d.site_id LEFT JOIN millrace.material_definition m ON m.tenant_id = d.tenant_id AND m.id = d.material_id\n"
      "WHERE " + std::string(kOrderScope) + " AND d.due_at IS NOT NULL AND " + FactInRange("due_at");
  if (q.by == "order") {
    sql->key_parts = 2;
    sql->text = "SELECT " + Iso("d.due_at") + ", d.id::text, d.number, d.site_id, coalesce(m.code, ''), d.status, "
        "d.planned_quantity, d.good_quantity, d.scrap_quantity, d.good_quantity / nullif(d.planned_quantity, 0), " +
        Iso("d.due_at") + ", " + Iso("d.actual_start") + ", " + Iso("d.actual_end") + ", (" + kDone + " AND " +
        kOnTime + ")::text, (" + kInFull + ")::text" + from + " AND (" + sql->Cursor(0) +
        "::timestamptz IS NULL OR (d.due_at, d.id) > (" + sql->Cursor(0) + "::timestamptz, " + sql->Cursor(1) +
        "::uuid)) ORDER BY d.due_at, d.id" + Limit(q);
    out->columns = {{"number", Type::kText},        {"site", Type::kText},         {"product_code", Type::kText},
                    {"status", Type::kText},        {"planned", Type::kNumber},     {"good", Type::kNumber},
                    {"scrap", Type::kNumber},       {"attainment", Type::kRatio},   {"due_at", Type::kTime},
                    {"actual_start", Type::kTime},  {"actual_end", Type::kTime},    {"on_time", Type::kText},
                    {"in_full", Type::kText}};
    return Status::Ok();
  }
  const std::string key = q.by == "site" ? "d.site_id" : "d.status";
  sql->key_parts = 1;
  sql->text = "SELECT " + key + ", " + key + ", count(*), count(*) FILTER (WHERE " + kDone + "), count(*) FILTER (WHERE " +
      kDone + " AND " + kOnTime + " AND " + kInFull + "), (count(*) FILTER (WHERE " + kDone + " AND " + kOnTime +
      " AND " + kInFull + "))::numeric / count(*), sum(d.planned_quantity), sum(d.good_quantity)" + from +
      " AND (" + sql->Cursor(0) + "::text IS NULL OR " + key + " > " + sql->Cursor(0) + ") GROUP BY 1 ORDER BY 1" + Limit(q);
  out->columns = {{q.by == "site" ? "site" : "status", Type::kText},
                  {"due", Type::kInteger},
                  {"done", Type::kInteger},
                  {"on_time_in_full", Type::kInteger},
                  {"schedule_adherence", Type::kRatio},
                  {"planned", Type::kNumber},
                  {"good", Type::kNumber}};
  return Status::Ok();
}

Status LeadTime(PgConnection&, const ReportQuery& q, ReportResult* out, Sql* sql) {
  const std::string key = q.by == "site" ? "d.site_id" : "coalesce(m.code, d.material_id::text)";
  sql->key_parts = 1;
  sql->text = "SELECT " + key + ", " + key + ", count(*), round(avg(h)::numeric, 3), "
      "round((percentile_cont(0.5) WITHIN GROUP (ORDER BY h))::numeric, 3), "
      "round((percentile_cont(0.9) WITHIN GROUP (ORDER BY h))::numeric, 3) FROM (SELECT d.*, "
      "extract(epoch FROM d.actual_end - d.actual_start) / 3600 AS h"
      " FROM millrace.work_order d JOIN millrace.sync_site ss ON ss.tenant_id = d.tenant_id AND ss.site_id = d.site_id\n"
      "WHERE " + std::string(kOrderScope) + " AND d.actual_start IS NOT NULL AND d.actual_end IS NOT NULL AND " +
      FactInRange("actual_end") + ") d LEFT JOIN millrace.material_definition m ON m.tenant_id = d.tenant_id AND "
      "m.id = d.material_id WHERE (" + sql->Cursor(0) + "::text IS NULL OR " + key + " > " + sql->Cursor(0) +
      ") GROUP BY 1 ORDER BY 1" + Limit(q);
  out->columns = {{q.by == "site" ? "site" : "product_code", Type::kText},
                  {"orders", Type::kInteger},
                  {"mean_h", Type::kNumber},
                  {"median_h", Type::kNumber},
                  {"p90_h", Type::kNumber}};
  return Status::Ok();
}

// Started and not yet good or scrap: on running and paused operations, the planned quantity
// less the good and scrap counted on them.
Status Wip(PgConnection&, const ReportQuery& q, ReportResult* out, Sql* sql) {
  std::vector<std::string> dims = {"site_id"};
  if (q.group == "line") dims = {"site_id", "line_code", "line_name"};
  if (q.group == "unit") dims = {"site_id", "line_code", "unit_code", "unit_name"};
  std::string list, key = "concat_ws('|'";
  for (const auto& d : dims) {
    list += (list.empty() ? "" : ", ") + std::string("s.") + d;
    key += ", s." + d;
  }
  key += ")";
  sql->key_parts = 1;
  sql->text = "WITH " + std::string(kUnits) + "\nSELECT " + key + ", " + list +
      ", count(*), sum(greatest(o.planned_quantity - o.good_quantity - o.scrap_quantity, 0))\n"
      "FROM millrace.work_order_operation o JOIN units s ON s.site_id = o.site_id AND s.unit_id = o.work_unit_id\n"
      "WHERE o.tenant_id = $1 AND o.status IN ('Running', 'Paused') AND (" + sql->Cursor(0) + "::text IS NULL OR " +
      key + " COLLATE \"C\" > " + sql->Cursor(0) + " COLLATE \"C\") GROUP BY " + list + " ORDER BY " + key + " COLLATE \"C\"" + Limit(q);
  for (const auto& d : dims) out->columns.push_back({d == "site_id" ? "site" : d, Type::kText});
  out->columns.push_back({"operations", Type::kInteger});
  out->columns.push_back({"wip", Type::kNumber});
  return Status::Ok();
}

Status Throughput(PgConnection& conn, const ReportQuery& q, ReportResult* out, Sql* sql) {
  return Oee(conn, q, out, sql);  // the same sums, other columns
}

// Level by level from a lot or serial (by id, lot number or serial number), up to 20
// levels, each item once (the first path that reaches it).
Status Genealogy(PgConnection&, const ReportQuery& q, ReportResult* out, Sql* sql) {
  const bool lot = q.params.count("lot") > 0;
  if (lot == (q.params.count("serial") > 0))
    return Status::InvalidArgument("genealogy needs lot= or serial= (an id, a lot number or a serial number)");
  const std::string start = sql->Add(lot ? q.params.at("lot") : q.params.at("serial"));
  const bool backward = q.by == "backward";
  // Backward: from a child to the parents it consumed; forward: from a parent to children.
  const std::string from_side = backward ? "child" : "parent";
  const std::string to_side = backward ? "parent" : "child";
  sql->key_parts = 2;
  sql->text =
      "WITH RECURSIVE start AS (\n" +
      std::string(lot ? "  SELECT 'lot'::text AS kind, id FROM millrace.material_lot WHERE tenant_id = $1 AND (id::text = " +
                            start + " OR lot_no = " + start + ")\n"
                      : "  SELECT 'serial'::text AS kind, id FROM millrace.serial_unit WHERE tenant_id = $1 AND (id::text = " +
                            start + " OR serial_no = " + start + ")\n") +
      "), walk(kind, id, depth, path, link_id) AS (\n"
      "  SELECT kind, id, 0, ARRAY[id], NULL::uuid FROM start\n"
      "  UNION ALL\n"
      "  SELECT g." + to_side + "_kind, g." + to_side + "_id, w.depth + 1, w.path || g." + to_side + "_id, g.id\n"
      "  FROM walk w JOIN millrace.genealogy_link g ON g.tenant_id = $1 AND g." + from_side + "_id = w.id AND g." +
      from_side + "_kind = w.kind\n"
      "  WHERE w.depth < 20 AND NOT g." + to_side + "_id = ANY(w.path)\n"
      "), first AS (SELECT DISTINCT ON (kind, id) * FROM walk ORDER BY kind, id, depth)\n"
      "SELECT lpad(w.depth::text, 2, '0'), w.id::text, w.depth, w.kind, w.id::text,\n"
      "       coalesce(l.lot_no, su.serial_no, ''), coalesce(m.code, ''), coalesce(l.site_id, su.site_id, ''),\n"
      "       coalesce(l.status, su.status, ''), l.quantity, g.quantity, " + Iso("g.at") + ", coalesce(g.site_id, '')\n"
      "FROM first w\n"
      "LEFT JOIN millrace.material_lot l ON w.kind = 'lot' AND l.tenant_id = $1 AND l.id = w.id\n"
      "LEFT JOIN millrace.serial_unit su ON w.kind = 'serial' AND su.tenant_id = $1 AND su.id = w.id\n"
      "LEFT JOIN millrace.material_definition m ON m.tenant_id = $1 AND m.id = coalesce(l.material_id, su.material_id)\n"
      "LEFT JOIN millrace.genealogy_link g ON g.tenant_id = $1 AND g.id = w.link_id\n"
      "WHERE (cardinality($4::text[]) = 0 OR coalesce(l.site_id, su.site_id) = ANY($4::text[])) AND (" + sql->Cursor(0) + "::text IS NULL OR (lpad(w.depth::text, 2, '0'), w.id::text) > (" + sql->Cursor(0) +
      ", " + sql->Cursor(1) + ")) ORDER BY 1, 2" + Limit(q);
  out->columns = {{"depth", Type::kInteger},   {"kind", Type::kText},        {"id", Type::kText},
                  {"number", Type::kText},     {"material_code", Type::kText}, {"site", Type::kText},
                  {"status", Type::kText},     {"lot_quantity", Type::kNumber}, {"link_quantity", Type::kNumber},
                  {"linked_at", Type::kTime},  {"linked_at_site", Type::kText}};
  return Status::Ok();
}

}  // namespace millrace::central::report_sql
