// The SQL of the yield and quality reports (report_sql.h): first-pass and rolled throughput
// yield from the output rollups, capability and control charts from the measurement
// rollups, open non-conformances from the shared rows.
#include "report_sql.h"

namespace millrace::central::report_sql {

using Type = ReportColumn::Type;

Status Yield(PgConnection&, const ReportQuery& q, ReportResult* out, Sql* sql) {
  sql->hash_joins = true;
  std::vector<std::string> dims;
  if (q.group != "site") dims.push_back("product_id");
  if (q.group != "product") dims.push_back("site_id");
  std::string dim_list, dim_key = "concat_ws('|'";
  for (const auto& d : dims) {
    dim_list += d + ", ";
    dim_key += ", y." + d;
  }
  dim_key += ")";
  sql->key_parts = 1;
  sql->text = "WITH " + std::string(kUnits) + ", ops AS (\n"
      "  SELECT d.product_id::text AS product_id, d.site_id, d.op_code, sum(d.good) AS good, "
      "sum(d.good + d.scrap + d.rework) AS processed\n"
      "  FROM " + RollupRows("output", true) + " d JOIN units s ON s.site_id = d.site_id AND s.unit_id = d.work_unit_id\n"
      "  WHERE " + kInRange + " AND " + ProductMatch("d.product_id") + " GROUP BY 1, 2, 3 HAVING sum(d.good + d.scrap + d.rework) > 0\n"
      "), y AS (\n"
      "  SELECT " + dim_list + "count(DISTINCT op_code) AS operations, sum(good) AS good, sum(processed) AS processed,\n"
      // Each operation's FPY over the group's sites, then their product.
      "         NULL::numeric AS rty FROM ops GROUP BY " + (dims.empty() ? "()" : dim_list.substr(0, dim_list.size() - 2)) + "\n"
      "), per_op AS (\n"
      "  SELECT " + dim_list + "op_code, sum(good) / sum(processed) AS fpy FROM ops GROUP BY " + dim_list + "op_code\n"
      "), r AS (\n"
      "  SELECT " + dim_list + "CASE WHEN bool_or(fpy = 0) THEN 0 ELSE exp(sum(ln(fpy))) END AS rty FROM per_op GROUP BY " +
      dim_list.substr(0, dim_list.size() - 2) + "\n"
      ")\n"
      "SELECT " + dim_key + " AS cursor_key" +
      (q.group != "site" ? ", y.product_id, coalesce(m.code, ''), coalesce(m.name, '(unknown product)')" : "") +
      (q.group != "product" ? ", y.site_id" : "") +
      ", operations, processed, good, good / processed, r.rty\n"
      "FROM y JOIN r USING (" + dim_list.substr(0, dim_list.size() - 2) + ")" +
      (q.group != "site" ? " LEFT JOIN millrace.material_definition m ON m.tenant_id = $1 AND m.id::text = y.product_id" : "") +
      "\nWHERE (" + sql->Cursor(0) + "::text IS NULL OR " + dim_key + " COLLATE \"C\" > " + sql->Cursor(0) +
      " COLLATE \"C\") ORDER BY " + dim_key + " COLLATE \"C\"" + Limit(q);
  std::vector<ReportColumn> cols;
  if (q.group != "site")
    cols = {{"product_id", Type::kText}, {"product_code", Type::kText}, {"product_name", Type::kText}};
  if (q.group != "product") cols.push_back({"site", Type::kText});
  cols.push_back({"operations", Type::kInteger});
  cols.push_back({"processed", Type::kNumber});
  cols.push_back({"good", Type::kNumber});
  cols.push_back({"fpy", Type::kRatio});
  cols.push_back({"rty", Type::kRatio});
  out->columns = cols;
  return Status::Ok();
}

// Capability from sums: the spread within hourly subgroups pooled, sum((n-1) s^2) =
// sum(sum_v2 - sum_v^2 / n) over subgroups, and the overall spread of every value.
Status Quality(PgConnection&, const ReportQuery& q, ReportResult* out, Sql* sql) {
  sql->key_parts = 1;
  // Whole months from the month rows (which keep the within sums of their hours), the days
  // around them from the hour rows.
  sql->hash_joins = true;
  sql->text = "WITH " + std::string(kUnits) + ", h AS (\n"
      "  SELECT d.characteristic_id, sum(d.n) AS n, sum(d.n_in_spec) AS n_in_spec, sum(d.n_value) AS n_value,\n"
      "         sum(d.sum_v) AS sum_v, sum(d.sum_v2) AS sum_v2, sum(d.within_ss) AS within_ss, sum(d.within_df) AS within_df\n"
      "  FROM (SELECT d.tenant_id, d.site_id, d.characteristic_id, d.work_unit_id, d.n, d.n_in_spec, d.n_value, d.sum_v, d.sum_v2,\n"
      "               millrace.report_within_ss(d.n_value, d.sum_v, d.sum_v2) AS within_ss, greatest(d.n_value - 1, 0) AS within_df\n"
      "        FROM millrace.report_quality_hour d WHERE " + HoursOutsideWholeMonths() + "\n"
      "        UNION ALL SELECT d.tenant_id, d.site_id, d.characteristic_id, d.work_unit_id, d.n, d.n_in_spec, d.n_value, d.sum_v, d.sum_v2,\n"
      "               d.within_ss, d.within_df\n"
      "        FROM millrace.report_quality_month d WHERE d.tenant_id = $1 AND " + InWholeMonths("d.business_date") + ") d\n"
      "  WHERE (cardinality($4::text[]) = 0 OR d.site_id = ANY($4::text[]))\n"
      "    AND ((cardinality($5::text[]) = 0 AND cardinality($6::text[]) = 0) OR d.work_unit_id IN (SELECT unit_id FROM units))\n"
      "  GROUP BY 1\n"
      "), s AS (\n"
      "  SELECT h.*, c.name, c.unit, c.nominal, c.lsl, c.usl, CASE WHEN n_value > 0 THEN sum_v / n_value END AS mean,\n"
      "         CASE WHEN within_df > 0 THEN sqrt(greatest(within_ss, 0) / within_df) END AS sigma_within,\n"
      "         CASE WHEN n_value > 1 THEN sqrt(greatest(sum_v2 - sum_v * sum_v / n_value, 0) / (n_value - 1)) END AS sigma_overall\n"
      "  FROM h LEFT JOIN millrace.inspection_characteristic c ON c.tenant_id = $1 AND c.id = h.characteristic_id\n"
      ")\n"
      "SELECT characteristic_id::text, characteristic_id::text, coalesce(name, ''), unit, nominal, lsl, usl, n, n - n_in_spec,\n"
      "       (n - n_in_spec)::numeric / nullif(n, 0), mean, sigma_within, sigma_overall,\n"
      "       (usl - lsl) / nullif(6 * sigma_within, 0), least(usl - mean, mean - lsl) / nullif(3 * sigma_within, 0),\n"
      "       (usl - lsl) / nullif(6 * sigma_overall, 0), least(usl - mean, mean - lsl) / nullif(3 * sigma_overall, 0)\n"
      "FROM s WHERE (" + sql->Cursor(0) + "::text IS NULL OR characteristic_id::text > " + sql->Cursor(0) +
      ") ORDER BY characteristic_id::text" + Limit(q);
  out->columns = {{"characteristic_id", Type::kText}, {"characteristic", Type::kText},
                  {"unit", Type::kText},              {"nominal", Type::kNumber},
                  {"lsl", Type::kNumber},             {"usl", Type::kNumber},
                  {"measurements", Type::kInteger},   {"out_of_spec", Type::kInteger},
                  {"out_of_spec_rate", Type::kRatio}, {"mean", Type::kNumber},
                  {"sigma_within", Type::kNumber},    {"sigma_overall", Type::kNumber},
                  {"cp", Type::kNumber},              {"cpk", Type::kNumber},
                  {"pp", Type::kNumber},              {"ppk", Type::kNumber}};
  return Status::Ok();
}

Status Spc(PgConnection&, const ReportQuery& q, ReportResult* out, Sql* sql) {
  if (!q.params.count("characteristic"))
    return Status::InvalidArgument("spc needs characteristic= (an id or a name)");
  const std::string which = sql->Add(q.params.at("characteristic"));
  sql->key_parts = 1;
  sql->text = "WITH " + std::string(kUnits) + ", c AS (\n"
      "  SELECT id, lsl, usl FROM millrace.inspection_characteristic WHERE tenant_id = $1 AND (id::text = " + which +
      " OR name = " + which + ") ORDER BY id LIMIT 1\n"
      "), g AS (\n"
      "  SELECT d.bucket, sum(d.n_value) AS n, sum(d.sum_v) AS sum_v, sum(d.sum_v2) AS sum_v2, min(d.min_v) AS min_v, max(d.max_v) AS max_v\n"
      "  FROM millrace.report_quality_hour d JOIN c ON c.id = d.characteristic_id\n"
      "  WHERE " + kHourInRange + " AND (cardinality($4::text[]) = 0 OR d.site_id = ANY($4::text[]))\n"
      "    AND ((cardinality($5::text[]) = 0 AND cardinality($6::text[]) = 0) OR d.work_unit_id IN (SELECT unit_id FROM units))\n"
      "  GROUP BY 1 HAVING sum(d.n_value) > 0\n"
      "), lim AS (\n"
      "  SELECT sum(sum_v) / sum(n) AS grand_mean,\n"
      "         sqrt(greatest(sum(CASE WHEN n > 1 THEN sum_v2 - sum_v * sum_v / n ELSE 0 END), 0) / nullif(sum(greatest(n - 1, 0)), 0)) AS sigma\n"
      "  FROM g\n"
      ")\n"
      "SELECT " + Iso("g.bucket") + ", " + Iso("g.bucket") + ", g.n, g.sum_v / g.n, g.min_v, g.max_v, g.max_v - g.min_v,\n"
      "       lim.grand_mean, lim.grand_mean + 3 * lim.sigma / sqrt(g.n), lim.grand_mean - 3 * lim.sigma / sqrt(g.n), c.lsl, c.usl\n"
      "FROM g CROSS JOIN lim CROSS JOIN c\n"
      "WHERE (" + sql->Cursor(0) + "::timestamptz IS NULL OR g.bucket > " + sql->Cursor(0) +
      "::timestamptz) ORDER BY g.bucket" + Limit(q);
  out->columns = {{"hour", Type::kTime},  {"n", Type::kInteger},          {"mean", Type::kNumber},
                  {"min", Type::kNumber}, {"max", Type::kNumber},         {"range", Type::kNumber},
                  {"center", Type::kNumber}, {"ucl", Type::kNumber},      {"lcl", Type::kNumber},
                  {"lsl", Type::kNumber}, {"usl", Type::kNumber}};
  return Status::Ok();
}

Status NonConformances(PgConnection&, const ReportQuery& q, ReportResult* out, Sql* sql) {
  const std::string open =
      "FROM millrace.non_conformance n WHERE n.tenant_id = $1 AND n.status <> 'closed' AND "
      "(cardinality($4::text[]) = 0 OR n.site_id = ANY($4::text[]))";
  const std::string age = "extract(epoch FROM now() - n.opened_at) / 86400";
  if (q.by == "list") {
    sql->key_parts = 2;
    sql->text = "SELECT " + Iso("n.opened_at") + ", n.id::text, n.id::text, n.site_id, n.defect_code, n.source, n.status, "
        "n.quantity, " + Iso("n.opened_at") + ", round((" + age + ")::numeric, 2), coalesce(n.disposition, ''), "
        "coalesce(l.lot_no, '') " + open.substr(0, open.find(" WHERE")) +
        " LEFT JOIN millrace.material_lot l ON l.tenant_id = n.tenant_id AND l.id = n.lot_id" +
        open.substr(open.find(" WHERE")) + " AND (" + sql->Cursor(0) + "::timestamptz IS NULL OR (n.opened_at, n.id) > (" +
        sql->Cursor(0) + "::timestamptz, " + sql->Cursor(1) + "::uuid)) ORDER BY n.opened_at, n.id" + Limit(q);
    out->columns = {{"id", Type::kText},        {"site", Type::kText},      {"defect_code", Type::kText},
                    {"source", Type::kText},    {"status", Type::kText},    {"quantity", Type::kNumber},
                    {"opened_at", Type::kTime}, {"age_days", Type::kNumber}, {"disposition", Type::kText},
                    {"lot_no", Type::kText}};
    return Status::Ok();
  }
  const std::string key = q.by == "defect" ? "n.defect_code"
                                           : "CASE WHEN " + age + " <= 7 THEN '0-7' WHEN " + age +
                                                 " <= 30 THEN '08-30' WHEN " + age +
                                                 " <= 90 THEN '31-90' ELSE '91+' END";
  sql->key_parts = 1;
  sql->text = "SELECT key, key, count(*), sum(quantity), round(max(age)::numeric, 2) FROM (SELECT " + key +
              " AS key, n.quantity, " + age + " AS age " + open + ") x WHERE (" + sql->Cursor(0) +
              "::text IS NULL OR key > " + sql->Cursor(0) + ") GROUP BY key ORDER BY key" + Limit(q);
  out->columns = {{q.by == "defect" ? "defect_code" : "age_days", Type::kText},
                  {"open", Type::kInteger},
                  {"quantity", Type::kNumber},
                  {"oldest_days", Type::kNumber}};
  return Status::Ok();
}

}  // namespace millrace::central::report_sql
