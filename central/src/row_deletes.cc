#include "millrace/central/row_deletes.h"

#include <set>

#include "millrace/central/central_store.h"
#include "millrace/central/pg_rows.h"
#include "millrace/common/uuid.h"

namespace millrace::central {

using catalog::MergePolicy;

Result<RowDeleteResult> DeleteRows(PgConnection& conn, const std::string& tenant_id,
                                   const std::string& table_name,
                                   const std::vector<std::string>& given, HybridClock& hlc,
                                   const WriteContext& who) {
  const catalog::TableSpec* t = catalog::MesCatalog().Find(table_name);
  if (!t) return Status::InvalidArgument("no table " + table_name + " in the catalog");
  if (t->merge != MergePolicy::kCentralOwned && t->merge != MergePolicy::kSharedLww)
    return Status::InvalidArgument(table_name +
                                   " holds site facts: they are append-only and never deleted");
  if (given.empty()) return Status::InvalidArgument("name at least one id to delete");
  std::vector<std::string> ids;
  std::set<std::string> seen;
  for (const auto& id : given) {
    auto u = Uuid::Parse(id);
    if (!u.ok()) return Status::InvalidArgument("id \"" + id + "\" is not a UUID");
    if (seen.insert(u->ToString()).second) ids.push_back(u->ToString());
  }
  MILLRACE_RETURN_IF_ERROR(BeginTenant(conn, tenant_id));
  RowDeleteResult result;
  Status s = [&]() -> Status {
    // Shared rows are locked under the tenant's merge lock, as every writer of them does.
    if (t->merge == MergePolicy::kSharedLww)
      MILLRACE_RETURN_IF_ERROR(LockSharedMerges(conn, tenant_id));
    MILLRACE_ASSIGN_OR_RETURN(
        auto res, conn.Query("SELECT " + PgSelectList(*t) + " FROM " + PgTable(*t) +
                                 " WHERE tenant_id = $1 AND id = ANY($2::uuid[]) ORDER BY id "
                                 "FOR UPDATE",
                             {tenant_id, PgTextArray(ids)}));
    std::vector<Row> rows;
    for (int r = 0; r < res.rows(); ++r) {
      MILLRACE_ASSIGN_OR_RETURN(Row row, RowFromPg(*t, res, r));
      seen.erase(row.id());
      rows.push_back(std::move(row));
    }
    if (rows.size() != ids.size()) {
      std::string missing;
      for (const auto& id : ids)
        if (seen.count(id)) missing += (missing.empty() ? "" : ", ") + id;
      return Status::NotFound("tenant " + tenant_id + " has no " + table_name + " row " +
                              missing + " (nothing was deleted)");
    }
    // The delete comes after every write of the row, whatever this process's clock says:
    // a site's clock ahead of this machine's (inside the skew limit) stamped some of them.
    MILLRACE_ASSIGN_OR_RETURN(
        auto clocks, conn.Query("SELECT max(h) FROM millrace.sync_column_clock c, unnest(c.hlcs) h "
                                "WHERE c.tenant_id = $1 AND c.table_name = $2 AND c.row_id = "
                                "ANY($3::uuid[])",
                                {tenant_id, t->name, PgTextArray(ids)}));
    if (clocks.rows() == 1 && !clocks.IsNull(0, 0))
      hlc.Observe(HlcTimestamp::FromPacked(std::stoull(clocks.GetString(0, 0))));
    std::vector<SharedChange> changes;
    std::vector<FeedRow> feed;
    for (Row& row : rows) {
      const auto base = static_cast<std::uint64_t>(row.Int(catalog::kHlcColumn));
      hlc.Observe(HlcTimestamp::FromPacked(base));
      const std::uint64_t now = hlc.Now().packed();
      MILLRACE_RETURN_IF_ERROR(RecordCentralAudit(
          conn, tenant_id, now, who,
          {"delete", row.Text(catalog::kSiteColumn), t->name, row.id(), AuditRow(row), nullptr}));
      row.Set(catalog::kHlcColumn, static_cast<std::int64_t>(now));
      row.Set(catalog::kOriginColumn, std::string(kCentralOrigin));
      result.ids.push_back(row.id());
      if (t->merge == MergePolicy::kSharedLww) {
        SharedChange c{row, {now, kCentralOrigin}, base, {}, false, 0};
        c.deleted = true;
        changes.push_back(std::move(c));
      } else {
        feed.push_back({row, true});
      }
    }
    if (!changes.empty()) {
      MILLRACE_ASSIGN_OR_RETURN(auto m, MergeSharedChanges(conn, tenant_id, *t, changes, true));
      result.conflicts = m.conflicts;
      feed = std::move(m.feed);
    } else {
      MILLRACE_RETURN_IF_ERROR(conn.Query("DELETE FROM " + PgTable(*t) +
                                              " WHERE tenant_id = $1 AND id = ANY($2::uuid[])",
                                          {tenant_id, PgTextArray(ids)})
                                   .status());
      std::vector<const Row*> stones;
      for (const FeedRow& r : feed) stones.push_back(&r.row);
      MILLRACE_RETURN_IF_ERROR(WriteTombstones(conn, tenant_id, *t, stones));
    }
    MILLRACE_ASSIGN_OR_RETURN(result.feed_head, AppendFeed(conn, tenant_id, feed));
    return conn.Exec("COMMIT");
  }();
  if (!s.ok()) {
    (void)Rollback(conn);
    return s;
  }
  return result;
}

}  // namespace millrace::central
