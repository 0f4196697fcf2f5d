#include "millrace/central/central_store.h"

#include <algorithm>
#include <map>
#include <set>
#include <nlohmann/json.hpp>

#include "millrace/central/pg_binary.h"
#include "millrace/central/pg_rows.h"
#include "millrace/central/retention.h"
#include "millrace/central/schema.h"
#include "millrace/common/uuid.h"
#include "millrace/common/ddl.h"
#include "millrace/sync/content.h"
#include "millrace/sync/row_codec.h"

namespace millrace::central {

using catalog::QuoteIdent;

Status BeginTenant(PgConnection& conn, const std::string& tenant_id, bool repeatable_read) {
  // One round trip: BEGIN and the tenant context together.
  Status s = conn.Exec(std::string(repeatable_read ? "BEGIN ISOLATION LEVEL REPEATABLE READ"
                                                   : "BEGIN") +
                       "; SELECT set_config('app.tenant_id', " + catalog::QuoteLiteral(tenant_id) +
                       ", true)" +
                       (conn.transaction_settings().empty() ? "" : "; " + conn.transaction_settings()));
  if (!s.ok()) (void)conn.Exec("ROLLBACK");
  return s;
}

Status Rollback(PgConnection& conn) { return conn.Exec("ROLLBACK"); }

Status InTenantTransaction(PgConnection& conn, const std::string& tenant_id,
                           const std::function<Status()>& body, bool repeatable_read) {
  MILLRACE_RETURN_IF_ERROR(BeginTenant(conn, tenant_id, repeatable_read));
  Status s = body();
  if (s.ok()) s = conn.Exec("COMMIT");
  if (!s.ok()) (void)Rollback(conn);
  return s;
}

std::string ValueToText(const Value& v) {
  if (IsNull(v)) return "NULL";
  if (const auto* i = std::get_if<std::int64_t>(&v)) return std::to_string(*i);
  if (const auto* d = std::get_if<double>(&v)) return std::to_string(*d);
  return std::get<std::string>(v);
}

namespace {

enum class OnConflict { kFail, kNothing, kUpdate };

Status WriteRows(PgConnection& conn, const std::string& tenant_id, const catalog::TableSpec& table,
                 const std::vector<const Row*>& rows, OnConflict on_conflict,
                 const std::string& update_when);

}  // namespace

Status UpsertRows(PgConnection& conn, const std::string& tenant_id, const catalog::TableSpec& table,
                  const std::vector<const Row*>& rows, const std::string& update_when) {
  return WriteRows(conn, tenant_id, table, rows, OnConflict::kUpdate, update_when);
}

Status InsertRowsIfAbsent(PgConnection& conn, const std::string& tenant_id,
                          const catalog::TableSpec& table, const std::vector<const Row*>& rows) {
  return WriteRows(conn, tenant_id, table, rows, OnConflict::kNothing, "");
}

Status InsertRows(PgConnection& conn, const std::string& tenant_id, const catalog::TableSpec& table,
                  const std::vector<const Row*>& rows) {
  return WriteRows(conn, tenant_id, table, rows, OnConflict::kFail, "");
}

namespace {

Status WriteRows(PgConnection& conn, const std::string& tenant_id, const catalog::TableSpec& table,
                 const std::vector<const Row*>& rows, OnConflict on_conflict,
                 const std::string& update_when) {
  const std::size_t per_row = table.columns.size() + 1;
  const std::size_t chunk = std::max<std::size_t>(1, 30000 / per_row);
  std::string set;
  for (const auto& c : table.columns) {
    if (c.name == catalog::kIdColumn) continue;
    if (!set.empty()) set += ", ";
    set += QuoteIdent(c.name) + " = EXCLUDED." + QuoteIdent(c.name);
  }
  for (std::size_t start = 0; start < rows.size(); start += chunk) {
    const std::size_t end = std::min(rows.size(), start + chunk);
    std::string sql = "INSERT INTO " + PgTable(table) + " AS t (" + PgInsertColumns(table) +
                      ") VALUES ";
    std::vector<PgParam> params;
    params.reserve((end - start) * per_row);
    int n = 0;
    for (std::size_t r = start; r < end; ++r) {
      sql += r == start ? "(" : ", (";
      sql += "$" + std::to_string(++n) + "::text";
      for (const auto& c : table.columns)
        sql += ", $" + std::to_string(++n) + "::" + catalog::PostgresType(c.type);
      sql += ")";
      AppendParams(tenant_id, *rows[r], &params);
    }
    if (on_conflict == OnConflict::kNothing) sql += " ON CONFLICT (tenant_id, id) DO NOTHING";
    if (on_conflict == OnConflict::kUpdate) {
      sql += " ON CONFLICT (tenant_id, id) DO UPDATE SET " + set;
      if (!update_when.empty()) sql += " WHERE " + update_when;
    }
    MILLRACE_RETURN_IF_ERROR(conn.Query(sql, params).status());
  }
  return Status::Ok();
}

}  // namespace

Status CopyViaStage(PgConnection& conn, const std::string& target, const std::string& stage,
                    const std::string& columns, std::string_view data) {
  // PostgreSQL refuses COPY FROM into a table under row-level security, so rows are
  // COPYed into a session-private temp table (no RLS, no WAL) and moved with one
  // INSERT ... SELECT, which the tenant policy checks.
  // A temp table outlives the transaction on its server connection, which behind PgBouncer
  // outlives this process and can serve a newer build: the schema version in its name
  // keeps a stage of an older shape from being used after a migration.
  const std::string name = stage + "_v" + std::to_string(kCentralSchemaVersion);
  MILLRACE_RETURN_IF_ERROR(conn.Exec("CREATE TEMP TABLE IF NOT EXISTS " + name + " (LIKE " +
                                     target + " INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"));
  MILLRACE_RETURN_IF_ERROR(
      conn.CopyIn("COPY " + name + " (" + columns + ") FROM STDIN", data).status());
  // The stage empties itself at the end of the transaction (ON COMMIT DELETE ROWS), and
  // each caller stages a table at most once per transaction.
  return conn.Exec("INSERT INTO " + target + " (" + columns + ") SELECT " + columns + " FROM " +
                   name);
}

Status CopyRows(PgConnection& conn, const std::string& tenant_id, const catalog::TableSpec& table,
                const std::vector<Row>& rows) {
  if (rows.empty()) return Status::Ok();
  if (rows.size() <= 64) {
    // A few rows (the light-load case): one multi-row INSERT is one round trip instead of
    // three, which is what commit-to-central latency is made of.
    std::vector<const Row*> ptrs;
    for (const Row& r : rows) ptrs.push_back(&r);
    return InsertRows(conn, tenant_id, table, ptrs);
  }
  return InsertRowsBinary(conn, tenant_id, table, rows);
}

Result<std::uint64_t> AppendFeed(PgConnection& conn, const std::string& tenant_id,
                                 const std::vector<Row>& rows, const FeedProvenance& reflects) {
  std::vector<FeedRow> written;
  written.reserve(rows.size());
  for (const Row& r : rows) written.push_back({r, false});
  return AppendFeed(conn, tenant_id, written, reflects);
}

Result<std::uint64_t> AppendFeed(PgConnection& conn, const std::string& tenant_id,
                                 const std::vector<FeedRow>& rows, const FeedProvenance& reflects) {
  if (rows.empty()) return std::uint64_t{0};
  MILLRACE_ASSIGN_OR_RETURN(
      auto head_res,
      conn.Query("UPDATE millrace.sync_tenant SET feed_head = feed_head + $2 WHERE tenant_id = $1 "
                 "RETURNING feed_head",
                 {tenant_id, std::to_string(rows.size())}));
  if (head_res.rows() != 1) return Status::NotFound("no tenant " + tenant_id);
  const std::uint64_t head = std::stoull(head_res.GetString(0, 0));
  std::uint64_t pos = head - rows.size();
  std::string data;
  for (const auto& [row, deleted] : rows) {
    ++pos;
    sync::v1::Change change =
        sync::EncodeChange(row, deleted ? sync::v1::OP_DELETE : sync::v1::OP_UPSERT);
    change.set_seq(pos);
    if (!reflects.site_id.empty()) {
      change.set_reflects_site(reflects.site_id);
      change.set_reflects_seq(reflects.through_seq);
      change.set_reflects_epoch(reflects.store_epoch);
    }
    change.set_recovered(reflects.recovered);
    change.set_clamped(reflects.clamped.count(row.id()) > 0);
    const bool tenant_wide =
        row.table().scope == catalog::RoutingScope::kTenant || row.IsNull(catalog::kSiteColumn);
    data += tenant_id + "\t" + std::to_string(pos) + "\t" + row.table().name + "\t" + row.id() +
            "\t" + (tenant_wide ? std::string("\\N") : row.Text(catalog::kSiteColumn)) + "\t" +
            std::to_string(row.Int(catalog::kHlcColumn)) + "\t\\" + ByteaHex(change.SerializeAsString()) +
            "\n";
  }
  MILLRACE_RETURN_IF_ERROR(CopyViaStage(conn, "millrace.sync_feed", "stage_sync_feed",
                                        "tenant_id, pos, table_name, row_id, route_site, hlc, change",
                                        data));
  MILLRACE_RETURN_IF_ERROR(conn.Query("SELECT pg_notify($1, $2)",
                                      {std::string(kFeedChannel),
                                       tenant_id + " " + std::to_string(head)})
                               .status());
  return head;
}

namespace {

// One conflict as a row of millrace.sync_conflict.
void AddConflict(const std::string& tenant_id, const catalog::TableSpec& table,
                 const std::string& id, const sync::MergeConflict& k,
                 std::vector<std::string>* rows, std::vector<PgParam>* params) {
  const int base = static_cast<int>(params->size());
  std::string values = "(";
  for (int p = 1; p <= 12; ++p) values += (p > 1 ? ", $" : "$") + std::to_string(base + p);
  rows->push_back(values + ")");
  for (auto&& v : std::vector<PgParam>{
           tenant_id, table.name, id, k.column, k.rule, k.incoming_won ? "incoming" : "stored",
           IsNull(k.kept) ? PgParam() : PgParam(ValueToText(k.kept)),
           IsNull(k.lost) ? PgParam() : PgParam(ValueToText(k.lost)),
           std::to_string(k.kept_clock.hlc), k.kept_clock.origin, std::to_string(k.lost_clock.hlc),
           k.lost_clock.origin})
    params->push_back(std::move(v));
}

// `row` stamped with `clock`: how a tombstone travels (FeedProvenance::deleted).
Row Stamped(Row row, const sync::ColumnClock& clock) {
  row.Set(catalog::kHlcColumn, static_cast<std::int64_t>(clock.hlc));
  row.Set(catalog::kOriginColumn, clock.origin);
  return row;
}

}  // namespace

Result<std::map<std::string, sync::ColumnClock>> Tombstones(PgConnection& conn,
                                                           const std::string& tenant_id,
                                                           const catalog::TableSpec& table,
                                                           const std::vector<std::string>& ids) {
  std::map<std::string, sync::ColumnClock> out;
  if (ids.empty()) return out;
  MILLRACE_ASSIGN_OR_RETURN(
      auto res, conn.Query("SELECT row_id::text, hlc, origin FROM millrace.sync_tombstone WHERE "
                           "tenant_id = $1 AND table_name = $2 AND row_id = ANY($3::uuid[])",
                           {tenant_id, table.name, PgTextArray(ids)}));
  for (int r = 0; r < res.rows(); ++r)
    out[res.GetString(r, 0)] = {static_cast<std::uint64_t>(std::stoull(res.GetString(r, 1))),
                                res.GetString(r, 2)};
  return out;
}

Status WriteTombstones(PgConnection& conn, const std::string& tenant_id,
                       const catalog::TableSpec& table, const std::vector<const Row*>& rows) {
  if (rows.empty()) return Status::Ok();
  std::string sql =
      "INSERT INTO millrace.sync_tombstone (tenant_id, table_name, row_id, site_id, hlc, origin, "
      "change) VALUES ";
  std::vector<PgParam> params = {tenant_id, table.name};
  std::vector<std::string> ids;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const Row& r = *rows[i];
    auto n = [&](std::size_t k) { return "$" + std::to_string(params.size() + k); };
    sql += std::string(i ? ", " : "") + "($1, $2, " + n(1) + "::uuid, " + n(2) + ", " + n(3) +
           "::bigint, " + n(4) + ", " + n(5) + "::bytea)";
    params.push_back(r.id());
    params.push_back(r.IsNull(catalog::kSiteColumn) ? PgParam()
                                                    : PgParam(r.Text(catalog::kSiteColumn)));
    params.push_back(std::to_string(r.Int(catalog::kHlcColumn)));
    params.push_back(r.Text(catalog::kOriginColumn));
    params.push_back(ByteaHex(sync::EncodeChange(r, sync::v1::OP_DELETE).SerializeAsString()));
    ids.push_back(r.id());
  }
  // A tombstone only moves forward: an older delete of a row deleted again keeps the newer.
  sql += " ON CONFLICT (tenant_id, table_name, row_id) DO UPDATE SET site_id = EXCLUDED.site_id, "
         "hlc = EXCLUDED.hlc, origin = EXCLUDED.origin, change = EXCLUDED.change, deleted_at = "
         "now() WHERE (sync_tombstone.hlc, sync_tombstone.origin) < (EXCLUDED.hlc, "
         "EXCLUDED.origin)";
  MILLRACE_RETURN_IF_ERROR(conn.Query(sql, params).status());
  return conn
      .Query("DELETE FROM millrace.sync_column_clock WHERE tenant_id = $1 AND table_name = $2 "
             "AND row_id = ANY($3::uuid[])",
             {tenant_id, table.name, PgTextArray(ids)})
      .status();
}

Status ClearTombstones(PgConnection& conn, const std::string& tenant_id,
                       const catalog::TableSpec& table, const std::vector<std::string>& ids) {
  if (ids.empty()) return Status::Ok();
  return conn
      .Query("DELETE FROM millrace.sync_tombstone WHERE tenant_id = $1 AND table_name = $2 AND "
             "row_id = ANY($3::uuid[])",
             {tenant_id, table.name, PgTextArray(ids)})
      .status();
}

Status LockSharedMerges(PgConnection& conn, const std::string& tenant_id) {
  return conn.Query("SELECT pg_advisory_xact_lock(hashtext('millrace.shared/' || $1))", {tenant_id})
      .status();
}

Result<SharedMergeResult> MergeSharedChanges(PgConnection& conn, const std::string& tenant_id,
                                             const catalog::TableSpec& table,
                                             const std::vector<SharedChange>& changes,
                                             bool publish_all) {
  SharedMergeResult out;
  if (changes.empty()) return out;
  // New rows cannot be locked before they exist: one merger per tenant at a time.
  MILLRACE_RETURN_IF_ERROR(LockSharedMerges(conn, tenant_id));
  std::vector<std::string> ids;
  for (const auto& c : changes) ids.push_back(c.row.id());
  MILLRACE_ASSIGN_OR_RETURN(
      auto res,
      conn.Query("SELECT " + PgSelectList(table, "t.") +
                     ", array_to_json(c.hlcs)::text, array_to_json(c.origins)::text FROM " +
                     PgTable(table) +
                     " t LEFT JOIN millrace.sync_column_clock c ON c.tenant_id = t.tenant_id AND "
                     "c.table_name = $2 AND c.row_id = t.id WHERE t.tenant_id = $1 AND t.id = "
                     "ANY($3::uuid[]) FOR UPDATE OF t",
                 {tenant_id, table.name, PgTextArray(ids)}));
  const int ncols = static_cast<int>(table.columns.size());
  std::map<std::string, sync::VersionedRow> current;
  for (int r = 0; r < res.rows(); ++r) {
    MILLRACE_ASSIGN_OR_RETURN(Row row, RowFromPg(table, res, r));
    sync::ColumnClock row_clock{static_cast<std::uint64_t>(row.Int(catalog::kHlcColumn)),
                                row.Text(catalog::kOriginColumn)};
    sync::VersionedRow v = sync::Versioned(row, row_clock);
    if (!res.IsNull(r, ncols) && !res.IsNull(r, ncols + 1)) {
      auto hlcs = nlohmann::json::parse(res.Get(r, ncols), nullptr, false);
      auto origins = nlohmann::json::parse(res.Get(r, ncols + 1), nullptr, false);
      if (hlcs.is_array() && origins.is_array() && hlcs.size() == v.clocks.size() &&
          origins.size() == v.clocks.size()) {
        for (std::size_t i = 0; i < v.clocks.size(); ++i)
          v.clocks[i] = {hlcs[i].get<std::uint64_t>(), origins[i].get<std::string>()};
      }
    }
    current.emplace(row.id(), std::move(v));
  }
  // Rows deleted, by id: the delete's clock, and the row as it was deleted (for the feed).
  MILLRACE_ASSIGN_OR_RETURN(auto tombs, Tombstones(conn, tenant_id, table, ids));
  const std::map<std::string, sync::ColumnClock> tombs_before = tombs;
  std::map<std::string, Row> deleted_rows;

  std::map<std::string, const SharedChange*> last_sent;  // what each row's writer believes now
  std::set<std::string> altered;                         // rows central changed on the way in
  std::vector<std::string> order;
  std::vector<std::string> conflict_rows;
  std::vector<PgParam> conflict_params;
  for (const auto& c : changes) {
    const std::string id = c.row.id();
    if (std::find(order.begin(), order.end(), id) == order.end()) order.push_back(id);
    last_sent[id] = &c;
    if (c.publish) altered.insert(id);
    auto it = current.find(id);
    auto tomb = tombs.find(id);
    if (c.deleted) {
      if (it != current.end()) {
        sync::DeleteResult d = sync::MergeDelete(it->second, c.clock, c.base_hlc);
        if (d.conflict) {
          AddConflict(tenant_id, table, id, *d.conflict, &conflict_rows, &conflict_params);
          ++out.conflicts;
        }
        if (!d.deleted) {
          if (d.kept) it->second = std::move(*d.kept);
          continue;
        }
        current.erase(it);
      } else if (tomb != tombs.end() && !c.clock.Beats(tomb->second)) {
        continue;  // deleted already, by a newer delete
      }
      tombs[id] = c.clock;
      deleted_rows.insert_or_assign(id, Stamped(c.row, c.clock));
      continue;
    }
    std::optional<sync::VersionedRow> before;
    if (it != current.end()) {
      before = it->second;
    } else if (tomb != tombs.end()) {
      // A write of a deleted row that never saw the delete.
      sync::TombstoneResult t = sync::WriteMeetsTombstone(c.clock, c.base_hlc, tomb->second);
      if (t.conflict) {
        AddConflict(tenant_id, table, id, *t.conflict, &conflict_rows, &conflict_params);
        ++out.conflicts;
      }
      if (!t.revives) continue;
      tombs.erase(tomb);
      deleted_rows.erase(id);
    }
    sync::Incoming in{&c.row, c.clock, c.base_hlc, before ? c.changed_columns
                                                          : std::vector<std::uint32_t>{}};
    sync::MergeResult m = sync::MergeShared(before, in);
    for (const auto& k : m.conflicts)
      AddConflict(tenant_id, table, id, k, &conflict_rows, &conflict_params);
    out.conflicts += m.conflicts.size();
    current.insert_or_assign(id, std::move(m.merged));
  }

  std::vector<const Row*> rows;
  std::vector<std::string> revived, gone;
  std::vector<const Row*> tombstones;
  std::vector<std::string> clock_values;
  std::vector<PgParam> clock_params;
  for (const auto& id : order) {
    const SharedChange& sent = *last_sent.at(id);
    auto it = current.find(id);
    if (it == current.end()) {
      auto tomb = tombs.find(id);
      if (tomb == tombs.end()) continue;  // never held, and its delete lost to a newer one
      // Deleted. A writer whose write the tombstone dropped hears of the delete again.
      auto del = deleted_rows.find(id);
      if (del == deleted_rows.end())
        del = deleted_rows.emplace(id, Stamped(sent.row, tomb->second)).first;
      // (A tombstone only moves forward, and a row already gone is no harm to delete.)
      gone.push_back(id);
      tombstones.push_back(&del->second);
      if (publish_all || altered.count(id) || !sent.deleted) out.feed.push_back({del->second, true});
      continue;
    }
    const sync::VersionedRow& v = it->second;
    if (tombs_before.count(id)) revived.push_back(id);
    rows.push_back(&v.row);
    std::vector<std::string> hlcs, origins;
    for (const auto& k : v.clocks) {
      hlcs.push_back(std::to_string(k.hlc));
      origins.push_back(k.origin);
    }
    std::string h = "{";
    for (std::size_t i = 0; i < hlcs.size(); ++i) h += (i ? "," : "") + hlcs[i];
    h += "}";
    const int base = static_cast<int>(clock_params.size());
    clock_values.push_back("($" + std::to_string(base + 1) + ", $" + std::to_string(base + 2) +
                           ", $" + std::to_string(base + 3) + "::uuid, $" +
                           std::to_string(base + 4) + "::bigint[], $" + std::to_string(base + 5) +
                           "::text[])");
    for (auto&& p : std::vector<PgParam>{tenant_id, table.name, id, h, PgTextArray(origins)})
      clock_params.push_back(std::move(p));
    if (publish_all || altered.count(id) || sent.deleted || !(v.row == sent.row))
      out.feed.push_back({v.row, false});
  }
  if (!gone.empty()) {
    MILLRACE_RETURN_IF_ERROR(conn.Query("DELETE FROM " + PgTable(table) +
                                            " WHERE tenant_id = $1 AND id = ANY($2::uuid[])",
                                        {tenant_id, PgTextArray(gone)})
                                 .status());
    MILLRACE_RETURN_IF_ERROR(WriteTombstones(conn, tenant_id, table, tombstones));
  }
  MILLRACE_RETURN_IF_ERROR(ClearTombstones(conn, tenant_id, table, revived));
  if (!rows.empty()) {
    MILLRACE_RETURN_IF_ERROR(UpsertRows(conn, tenant_id, table, rows));
    std::string sql =
        "INSERT INTO millrace.sync_column_clock (tenant_id, table_name, row_id, hlcs, origins) "
        "VALUES ";
    for (std::size_t i = 0; i < clock_values.size(); ++i) sql += (i ? ", " : "") + clock_values[i];
    sql += " ON CONFLICT (tenant_id, table_name, row_id) DO UPDATE SET hlcs = EXCLUDED.hlcs, "
           "origins = EXCLUDED.origins";
    MILLRACE_RETURN_IF_ERROR(conn.Query(sql, clock_params).status());
  }
  if (!conflict_rows.empty()) {
    std::string csql =
        "INSERT INTO millrace.sync_conflict (tenant_id, table_name, row_id, column_name, rule, "
        "winner, kept_value, lost_value, kept_hlc, kept_origin, lost_hlc, lost_origin) VALUES ";
    for (std::size_t i = 0; i < conflict_rows.size(); ++i)
      csql += (i ? ", " : "") + conflict_rows[i];
    MILLRACE_RETURN_IF_ERROR(conn.Query(csql, conflict_params).status());
  }
  out.rows_written = rows.size() + gone.size();
  return out;
}

Result<std::vector<Row>> SiteRows(PgConnection& conn, const std::string& tenant_id,
                                  const std::string& site_id, const catalog::TableSpec& t,
                                  const std::vector<std::string>* ids, bool lock,
                                  std::int64_t horizon_ms) {
  std::string where = "tenant_id = $1";
  std::vector<PgParam> params = {tenant_id};
  if (t.scope == catalog::RoutingScope::kSite) {
    // Master data without a site belongs to every site; everything else to its own.
    where += t.merge == catalog::MergePolicy::kCentralOwned ? " AND (site_id IS NULL OR site_id = $2)"
                                                           : " AND site_id = $2";
    params.push_back(site_id);
  }
  if (ids) {
    where += " AND id = ANY($" + std::to_string(params.size() + 1) + "::uuid[])";
    params.push_back(PgTextArray(*ids));
  }
  if (horizon_ms > 0 && t.owner == catalog::Owner::kSite) {
    params.push_back(Uuid::FloorV7(horizon_ms).ToString());
    where += " AND id >= $" + std::to_string(params.size()) + "::uuid";
  }
  MILLRACE_ASSIGN_OR_RETURN(auto res, conn.Query("SELECT " + PgSelectList(t) + " FROM " +
                                                     PgTable(t) + " WHERE " + where +
                                                     " ORDER BY id" + (lock ? " FOR UPDATE" : ""),
                                                 params));
  std::vector<Row> rows;
  rows.reserve(static_cast<std::size_t>(res.rows()));
  for (int r = 0; r < res.rows(); ++r) {
    MILLRACE_ASSIGN_OR_RETURN(Row row, RowFromPg(t, res, r));
    rows.push_back(std::move(row));
  }
  return rows;
}

Result<std::int64_t> SiteFactHorizon(PgConnection& conn, const std::string& tenant_id,
                                     const std::string& site_id) {
  MILLRACE_ASSIGN_OR_RETURN(std::int64_t retained, TenantFactHorizon(conn, tenant_id));
  MILLRACE_ASSIGN_OR_RETURN(
      auto r, conn.Query("SELECT purge_horizon_ms FROM millrace.sync_site WHERE tenant_id = $1 "
                         "AND site_id = $2",
                         {tenant_id, site_id}));
  const std::int64_t purged = r.rows() == 1 ? std::stoll(r.GetString(0, 0)) : 0;
  return std::max(retained, purged);
}

Result<std::map<std::string, std::string>> SiteContent(PgConnection& conn,
                                                       const std::string& tenant_id,
                                                       const std::string& site_id) {
  MILLRACE_RETURN_IF_ERROR(BeginTenant(conn, tenant_id, /*repeatable_read=*/true));
  std::map<std::string, std::string> out;
  Status s = [&]() -> Status {
    MILLRACE_ASSIGN_OR_RETURN(std::int64_t horizon, SiteFactHorizon(conn, tenant_id, site_id));
    for (const auto& t : catalog::MesCatalog().tables()) {
      MILLRACE_ASSIGN_OR_RETURN(auto rows, SiteRows(conn, tenant_id, site_id, t, nullptr, false,
                                                    horizon));
      out[t.name] = sync::ContentDigest(rows);
    }
    return conn.Exec("COMMIT");
  }();
  if (!s.ok()) {
    (void)Rollback(conn);
    return s;
  }
  return out;
}

}  // namespace millrace::central
