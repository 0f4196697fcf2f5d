// The delete half of the store: local deletes of shared rows, deletes that come down the
// feed, and the tombstones (sync_tombstone) both leave behind so an older write of a deleted
// row is recognised for what it is.
#include "millrace/edge/store.h"

#include <string>

#include "millrace/common/ddl.h"

namespace millrace::edge {

using catalog::MergePolicy;
using catalog::QuoteIdent;

Result<std::optional<Tombstone>> ReadTxn::GetTombstone(const catalog::TableSpec& table,
                                                       const std::string& id) {
  MILLRACE_ASSIGN_OR_RETURN(Statement * stmt,
                            db_->Prepare("SELECT hlc, origin FROM sync_tombstone WHERE "
                                         "table_name = ? AND row_id = ?"));
  MILLRACE_RETURN_IF_ERROR(stmt->BindAll({table.name, id}));
  MILLRACE_ASSIGN_OR_RETURN(bool found, stmt->Step());
  std::optional<Tombstone> out;
  if (found) out = Tombstone{stmt->ColumnInt(0), std::get<std::string>(stmt->Column(1))};
  stmt->Reset();
  return out;
}

namespace {

// Deletes the row and keeps the newer of its tombstone and `deleted`'s clock (that clock
// whatever the tombstone held, when `replace`).
Status RemoveWithTombstone(SqliteDb& db, const Row& deleted, std::int64_t now_ms,
                           bool replace = false) {
  const catalog::TableSpec& table = deleted.table();
  MILLRACE_ASSIGN_OR_RETURN(Statement * del,
                            db.Prepare("DELETE FROM " + QuoteIdent(table.name) + " WHERE \"id\" = ?"));
  MILLRACE_RETURN_IF_ERROR(del->Bind(1, deleted.id()));
  MILLRACE_RETURN_IF_ERROR(del->Run());
  MILLRACE_ASSIGN_OR_RETURN(
      Statement * stone,
      db.Prepare("INSERT INTO sync_tombstone (table_name, row_id, hlc, origin, deleted_at) VALUES "
                 "(?, ?, ?, ?, ?) ON CONFLICT (table_name, row_id) DO UPDATE SET hlc = "
                 "excluded.hlc, origin = excluded.origin, deleted_at = excluded.deleted_at WHERE "
                 "?6 OR (hlc, origin) < (excluded.hlc, excluded.origin)"));
  MILLRACE_RETURN_IF_ERROR(stone->BindAll({table.name, deleted.id(),
                                           deleted.Int(catalog::kHlcColumn),
                                           deleted.Text(catalog::kOriginColumn), now_ms,
                                           std::int64_t{replace ? 1 : 0}}));
  return stone->Run();
}

}  // namespace

Status WriteTxn::Delete(const catalog::TableSpec& table, const std::string& id, Row* deleted) {
  if (!capture_) return Status::Internal("a downstream delete goes through ApplyDelete");
  if (table.merge == MergePolicy::kCentralOwned) {
    return Status::PermissionDenied(table.name +
                                    " is master data owned by central: delete it there, an "
                                    "edge refuses local edits");
  }
  if (table.merge != MergePolicy::kSharedLww)
    return Status::Conflict(table.name + " rows are append-only facts: " + id +
                            " cannot be deleted");
  MILLRACE_ASSIGN_OR_RETURN(auto stored, Get(table, id));
  if (!stored) return Status::NotFound("no " + table.name + " " + id);
  if (stored->Text(catalog::kSiteColumn) != site_id()) {
    return Status::PermissionDenied(table.name + " " + id + " belongs to site " +
                                    stored->Text(catalog::kSiteColumn));
  }
  Row gone = *stored;
  gone.Set(catalog::kHlcColumn, static_cast<std::int64_t>(store_->hlc().Now().packed()));
  gone.Set(catalog::kOriginColumn, store_->node_id());
  MILLRACE_RETURN_IF_ERROR(RemoveWithTombstone(*db_, gone, NowMillis()));
  MILLRACE_RETURN_IF_ERROR(store_->Capture(gone, &*stored, /*deleted=*/true));
  if (deleted) *deleted = std::move(gone);
  return Status::Ok();
}

Status WriteTxn::ApplyDelete(const Row& deleted, bool replace) {
  if (capture_) return Status::Internal("a local delete goes through Delete");
  (void)store_->hlc().Update(
      HlcTimestamp::FromPacked(static_cast<std::uint64_t>(deleted.Int(catalog::kHlcColumn))));
  return RemoveWithTombstone(*db_, deleted, NowMillis(), replace);
}

Status WriteTxn::ClearTombstone(const catalog::TableSpec& table, const std::string& id) {
  MILLRACE_ASSIGN_OR_RETURN(
      Statement * stmt, db_->Prepare("DELETE FROM sync_tombstone WHERE table_name = ? AND row_id = ?"));
  MILLRACE_RETURN_IF_ERROR(stmt->BindAll({table.name, id}));
  return stmt->Run();
}

}  // namespace millrace::edge
