#include "millrace/central/central_audit.h"

#include <unistd.h>

#include <cstdlib>

#include "millrace/central/central_store.h"
#include "millrace/common/clock.h"
#include "millrace/common/hlc.h"
#include "millrace/common/row_json.h"

namespace millrace::central {

nlohmann::json AuditValue(const catalog::ColumnSpec& column, const Value& v) {
  return column.name == "pin_hash" && !IsNull(v) ? nlohmann::json("(hidden)")
                                                 : ValueToJson(column, v);
}

nlohmann::json AuditRow(const Row& row) {
  nlohmann::json out = nlohmann::json::object();
  const auto& cols = row.table().columns;
  for (std::size_t i = 0; i < cols.size(); ++i)
    out[cols[i].name] = AuditValue(cols[i], row.values()[i]);
  return out;
}

std::uint64_t WallClockHlc() {
  return HlcTimestamp(static_cast<std::uint64_t>(SystemClock()->NowMillis()), 0).packed();
}

std::string CommandLineActor(const std::string& given) {
  if (!given.empty()) return given;
  std::string user = "unknown";
  for (const char* var : {"SUDO_USER", "USER", "LOGNAME"})
    if (const char* v = std::getenv(var); v && *v) {
      user = v;
      break;
    }
  char host[256] = {0};
  if (::gethostname(host, sizeof(host) - 1) != 0) host[0] = 0;
  return user + "@" + (host[0] ? host : "localhost");
}

Status RecordCentralAudit(PgConnection& conn, const std::string& tenant_id, std::uint64_t hlc,
                          const WriteContext& who, const CentralAuditRecord& r) {
  auto text = [](const std::string& s) { return s.empty() ? PgParam() : PgParam(s); };
  auto js = [](const nlohmann::json& j) { return j.is_null() ? PgParam() : PgParam(j.dump()); };
  return conn
      .Query("INSERT INTO millrace.central_audit (tenant_id, hlc, actor, action, site_id, "
             "table_name, row_id, old_value, new_value, reason) VALUES ($1, $2, $3, $4, $5, $6, "
             "$7, $8::jsonb, $9::jsonb, $10)",
             {tenant_id, std::to_string(hlc), who.actor, r.action, text(r.site_id),
              text(r.table_name), text(r.row_id), js(r.old_value), js(r.new_value),
              text(who.reason)})
      .status();
}

Result<nlohmann::json> ListAudit(PgConnection& conn, const AuditQuery& q) {
  if (q.limit < 1 || q.limit > 1000) return Status::InvalidArgument("limit must be 1..1000");
  MILLRACE_RETURN_IF_ERROR(BeginTenant(conn, q.tenant_id, /*repeatable_read=*/true));
  auto r = conn.Query(
      "SELECT json_build_object('source', source, 'at', at, 'actor', actor, 'action', action, "
      "'site_id', site_id, 'table_name', table_name, 'row_id', row_id, 'old_value', old_value, "
      "'new_value', new_value, 'reason', reason, 'hlc', hlc)::text FROM ("
      " SELECT 'site' AS source, at, actor_name AS actor, action, site_id, table_name, "
      "  row_id::text AS row_id, old_value::jsonb AS old_value, new_value::jsonb AS new_value, "
      "  reason, hlc FROM millrace.audit_record WHERE tenant_id = $1 AND ($2 = '' OR site_id = "
      "  $2) AND ($3 = '' OR row_id::text = $3)"
      " UNION ALL"
      " SELECT 'central', at, actor, action, site_id, table_name, row_id, old_value, new_value, "
      "  reason, hlc FROM millrace.central_audit WHERE tenant_id = $1 AND ($2 = '' OR site_id = "
      "  $2) AND ($3 = '' OR row_id = $3)"
      ") a ORDER BY at DESC, hlc DESC LIMIT $4",
      {q.tenant_id, q.site_id, q.row_id, std::to_string(q.limit)});
  if (!r.ok()) {
    (void)Rollback(conn);
    return r.status();
  }
  MILLRACE_RETURN_IF_ERROR(conn.Exec("COMMIT"));
  nlohmann::json out = nlohmann::json::array();
  for (int i = 0; i < r->rows(); ++i) out.push_back(nlohmann::json::parse(r->Get(i, 0)));
  return out;
}

}  // namespace millrace::central
