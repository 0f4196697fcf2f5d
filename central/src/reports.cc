// Running a report: its SQL over the rollups (or, for drill-downs, the facts), one tenant
// transaction, keyset paging, "data as of", and JSON or CSV (reports.h).
#include "millrace/central/reports.h"

#include <functional>

#include "millrace/central/central_store.h"
#include "report_sql.h"

namespace millrace::central {

namespace {

using Type = ReportColumn::Type;
using report_sql::Params;

// Keyset cursors: the sort key of a page's last row, as hex of its JSON (opaque to callers).
std::string EncodeCursor(const nlohmann::json& key) {
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (unsigned char c : key.dump()) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

Result<nlohmann::json> DecodeCursor(const std::string& cursor, std::size_t parts) {
  std::string text;
  auto nibble = [](char c) { return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1; };
  for (std::size_t i = 0; i + 1 < cursor.size(); i += 2) {
    const int hi = nibble(cursor[i]), lo = nibble(cursor[i + 1]);
    if (hi < 0 || lo < 0) return Status::InvalidArgument("after: not a cursor this server made");
    text += static_cast<char>(hi * 16 + lo);
  }
  auto key = nlohmann::json::parse(text, nullptr, false);
  if (cursor.size() % 2 || key.is_discarded() || !key.is_array() || key.size() != parts)
    return Status::InvalidArgument("after: not a cursor this server made (or of another sort)");
  for (const auto& k : key)
    if (!k.is_string()) return Status::InvalidArgument("after: not a cursor this server made");
  return key;
}

nlohmann::json Value(const PgResult& r, int row, int col, Type type) {
  if (r.IsNull(row, col)) return nullptr;
  const std::string v = r.GetString(row, col);
  switch (type) {
    case Type::kInteger: return std::stoll(v);
    case Type::kNumber:
      // A whole number stays one (700 pieces, not 700.0).
      if (v.find_first_of(".eE") == std::string::npos) return std::stoll(v);
      if (v.find_first_not_of("0123456789-") == v.find('.') && v.find_first_not_of('0', v.find('.') + 1) == std::string::npos)
        return std::stoll(v.substr(0, v.find('.')));
      return std::stod(v);
    case Type::kRatio: return std::stod(v);
    case Type::kText:
    case Type::kDate:
    case Type::kTime: return v;
  }
  return v;
}

// Runs `sql` whose first `key_parts` columns are the sort key (text) and the rest the
// report's columns; fills result rows and the next cursor. The cursor's parts follow
// `params` (NULL for the first page); the SQL returns at most limit + 1 rows.
Status Page(PgConnection& conn, const ReportQuery& q, const std::string& sql, Params params,
            std::size_t key_parts, ReportResult* out) {
  if (!q.after.empty()) {
    MILLRACE_ASSIGN_OR_RETURN(auto key, DecodeCursor(q.after, key_parts));
    for (const auto& k : key) params.push_back(k.get<std::string>());
  } else {
    for (std::size_t i = 0; i < key_parts; ++i) params.push_back(std::nullopt);
  }
  MILLRACE_ASSIGN_OR_RETURN(auto r, conn.Query(sql, params));
  const int n = std::min(r.rows(), q.limit);
  for (int i = 0; i < n; ++i) {
    std::vector<nlohmann::json> row;
    for (std::size_t c = 0; c < out->columns.size(); ++c)
      row.push_back(Value(r, i, static_cast<int>(key_parts + c), out->columns[c].type));
    out->rows.push_back(std::move(row));
  }
  if (r.rows() > q.limit) {
    nlohmann::json key = nlohmann::json::array();
    for (std::size_t k = 0; k < key_parts; ++k) key.push_back(r.GetString(n - 1, static_cast<int>(k)));
    out->next = EncodeCursor(key);
  }
  return Status::Ok();
}

// Which sites the answer covers and when each was last brought up to date.
Status AsOf(PgConnection& conn, const ReportQuery& q, ReportResult* out) {
  MILLRACE_ASSIGN_OR_RETURN(
      auto r, conn.Query("SELECT site_id, to_char(last_ack_at AT TIME ZONE 'UTC', "
                         "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM millrace.sync_site WHERE tenant_id = $1 "
                         "AND (cardinality($2::text[]) = 0 OR site_id = ANY($2::text[])) ORDER BY 1",
                         {q.tenant_id, report_sql::TextArray(q.sites)}));
  for (int i = 0; i < r.rows(); ++i) {
    const std::string site = r.GetString(i, 0);
    out->sites.insert(site);
    const std::string at = r.IsNull(i, 1) ? "" : r.GetString(i, 1);
    out->sites_as_of[site] = at;
    if (!at.empty() && (out->data_as_of.empty() || at < out->data_as_of)) out->data_as_of = at;
  }
  return Status::Ok();
}

}  // namespace

Result<ReportResult> RunReport(PgConnection& conn, const ReportQuery& q) {
  using Builder = std::function<Status(PgConnection&, const ReportQuery&, ReportResult*, report_sql::Sql*)>;
  static const std::map<std::string, Builder> kBuilders = {
      {"oee", report_sql::Oee},
      {"downtime", report_sql::DowntimePareto},
      {"downtime-events", report_sql::DowntimeEvents},
      {"scrap", report_sql::ScrapPareto},
      {"scrap-events", report_sql::ScrapEvents},
      {"yield", report_sql::Yield},
      {"genealogy", report_sql::Genealogy},
      {"orders", report_sql::Orders},
      {"reliability", report_sql::Reliability},
      {"quality", report_sql::Quality},
      {"spc", report_sql::Spc},
      {"nonconformances", report_sql::NonConformances},
      {"throughput", report_sql::Throughput},
      {"lead-time", report_sql::LeadTime},
      {"wip", report_sql::Wip},
      {"sync-health", report_sql::SyncHealth},
  };
  auto builder = kBuilders.find(q.spec->name);
  if (builder == kBuilders.end()) return Status::Internal("no SQL for report " + q.spec->name);
  ReportResult out;
  MILLRACE_RETURN_IF_ERROR(BeginTenant(conn, q.tenant_id, /*repeatable_read=*/true));
  Status s = [&]() -> Status {
    std::string sites = "*";
    if (!q.allowed_sites.empty()) {
      sites.clear();
      for (const auto& site : q.allowed_sites) sites += (sites.empty() ? "" : ",") + site;
    }
    MILLRACE_RETURN_IF_ERROR(
        conn.Query("SELECT set_config('app.sites', $1, true)", {sites}).status());
    MILLRACE_RETURN_IF_ERROR(AsOf(conn, q, &out));
    report_sql::Sql sql;
    MILLRACE_RETURN_IF_ERROR(builder->second(conn, q, &out, &sql));
    // Reports are short statements: compiling them (JIT) takes longer than running them.
    MILLRACE_RETURN_IF_ERROR(conn.Exec("SET LOCAL jit = off"));
    if (sql.hash_joins) MILLRACE_RETURN_IF_ERROR(conn.Exec("SET LOCAL enable_nestloop = off"));
    if (sql.index_order) MILLRACE_RETURN_IF_ERROR(conn.Exec("SET LOCAL enable_sort = off"));
    // Every statement names the common parameters' types, whether it uses them or not.
    const std::string typed =
        "WITH common_params AS (SELECT $1::text, $2::date, $3::date, $4::text[], $5::text[], "
        "$6::text[], $7::text[])";
    if (sql.text.rfind("WITH RECURSIVE ", 0) == 0)
      sql.text = "WITH RECURSIVE " + typed.substr(5) + ", " + sql.text.substr(15);
    else if (sql.text.rfind("WITH ", 0) == 0)
      sql.text = typed + ", " + sql.text.substr(5);
    else
      sql.text = typed + " " + sql.text;
    Params params = report_sql::CommonParams(q);
    params.insert(params.end(), sql.extra.begin(), sql.extra.end());
    return Page(conn, q, sql.text, std::move(params), sql.key_parts, &out);
  }();
  if (!s.ok()) {
    (void)Rollback(conn);
    return s;
  }
  MILLRACE_RETURN_IF_ERROR(conn.Exec("COMMIT"));
  return out;
}

std::string RenderReportJson(const ReportQuery& q, const ReportResult& r) {
  nlohmann::json j;
  j["report"] = q.spec->name;
  j["tenant"] = q.tenant_id;
  j["data_as_of"] = r.data_as_of.empty() ? nlohmann::json(nullptr) : nlohmann::json(r.data_as_of);
  j["sites_as_of"] = nlohmann::json::object();
  for (const auto& [site, at] : r.sites_as_of)
    j["sites_as_of"][site] = at.empty() ? nlohmann::json(nullptr) : nlohmann::json(at);
  j["read_from"] = r.read_from;
  j["staleness_seconds"] = r.staleness_s ? nlohmann::json(*r.staleness_s) : nlohmann::json(nullptr);
  if (!r.replica_skipped.empty()) j["replica_skipped"] = r.replica_skipped;
  if (q.spec->time_range) {
    j["from"] = q.from;
    j["to"] = q.to;
  }
  j["columns"] = nlohmann::json::array();
  static const char* kTypes[] = {"text", "integer", "number", "ratio", "date", "time"};
  for (const auto& c : r.columns)
    j["columns"].push_back({{"name", c.name}, {"type", kTypes[static_cast<int>(c.type)]}});
  j["rows"] = nlohmann::json::array();
  for (const auto& row : r.rows) {
    nlohmann::json o = nlohmann::json::object();
    for (std::size_t i = 0; i < r.columns.size(); ++i) o[r.columns[i].name] = row[i];
    j["rows"].push_back(std::move(o));
  }
  j["next"] = r.next.empty() ? nlohmann::json(nullptr) : nlohmann::json(r.next);
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string RenderReportCsv(const ReportResult& r) {
  auto cell = [](std::string v) {
    // Text a spreadsheet would run as a formula (a comment from the floor) stays text.
    if (!v.empty() && std::string("=+-@\t\r").find(v[0]) != std::string::npos) v = "'" + v;
    if (v.find_first_of(",\"\r\n") == std::string::npos) return v;
    std::string out = "\"";
    for (char c : v) out += c == '"' ? std::string("\"\"") : std::string(1, c);
    return out + "\"";
  };
  std::string out;
  for (std::size_t i = 0; i < r.columns.size(); ++i) out += (i ? "," : "") + cell(r.columns[i].name);
  out += "\r\n";
  for (const auto& row : r.rows) {
    for (std::size_t i = 0; i < row.size(); ++i) {
      if (i) out += ",";
      if (row[i].is_null()) continue;
      out += row[i].is_string() ? cell(row[i].get<std::string>()) : row[i].dump();
    }
    out += "\r\n";
  }
  return out;
}

}  // namespace millrace::central
