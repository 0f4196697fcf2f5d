// EdgeSyncAdapter's half of drift checks (sync/drift_run.h): the store's tables as range
// trees, and the repairs, each of which touches a row only while it is as the check
// indexed it and no change of it waits in the outbox (that change is on its way to
// central, and the row is left to sync).
#include <spdlog/spdlog.h>

#include "millrace/common/catalog.h"
#include "millrace/common/uuid.h"
#include "millrace/edge/retention.h"
#include "millrace/edge/sync_adapter.h"
#include "millrace/sync/row_codec.h"

namespace millrace::edge {
namespace {

// The row as it is now, if it is still as `indexed` holds it and nothing of it is in the
// outbox past the acknowledged watermark; `*still` says whether it is.
Result<std::optional<Row>> Unchanged(ReadTxn& txn, const catalog::TableSpec& table,
                                     const std::string& id, const sync::RangeIndex& indexed,
                                     bool* still) {
  MILLRACE_ASSIGN_OR_RETURN(std::optional<Row> now, txn.Get(table, id));
  const std::optional<std::uint64_t> was = indexed.Find(id);
  *still = was.has_value() == now.has_value() && (!now || *was == sync::RowFingerprint(*now));
  if (!*still) return now;
  MILLRACE_ASSIGN_OR_RETURN(
      Statement * q,
      txn.db().Prepare("SELECT count(*) FROM outbox WHERE table_name = ? AND row_id = ? AND seq "
                       "> coalesce((SELECT value FROM sync_state WHERE key = 'acked_seq'), 0)"));
  MILLRACE_RETURN_IF_ERROR(q->Bind(1, table.name));
  MILLRACE_RETURN_IF_ERROR(q->Bind(2, id));
  MILLRACE_ASSIGN_OR_RETURN(bool has_row, q->Step());
  *still = has_row && q->ColumnInt(0) == 0;
  q->Reset();
  return now;
}

Result<const catalog::TableSpec*> TableOf(const std::string& name) {
  const catalog::TableSpec* t = catalog::MesCatalog().Find(name);
  if (!t) return Status::InvalidArgument("no table '" + name + "' in this edge's catalog");
  return t;
}

}  // namespace

Result<sync::RangeIndexes> EdgeSyncAdapter::DriftIndexes(std::uint64_t* horizon_ms) {
  sync::RangeIndexes out;
  MILLRACE_RETURN_IF_ERROR(store_->Read([&](ReadTxn& txn) -> Status {
    MILLRACE_ASSIGN_OR_RETURN(std::int64_t horizon, edge::FactHorizon(txn));
    if (horizon_ms) *horizon_ms = static_cast<std::uint64_t>(horizon);
    const std::string floor = Uuid::FloorV7(horizon).ToString();
    for (const auto& t : catalog::MesCatalog().tables()) {
      MILLRACE_ASSIGN_OR_RETURN(auto rows, CutAtHorizon(t) ? txn.Select(t, "id >= ?", {floor})
                                                           : txn.Select(t));
      sync::RangeIndex& index = out[t.name];
      for (const Row& row : rows) index.Add(row);
      index.Seal();
    }
    return Status::Ok();
  }));
  return out;
}

Result<std::size_t> EdgeSyncAdapter::WriteCentralCopies(const std::string& table,
                                                        const std::vector<sync::v1::Change>& rows,
                                                        const std::vector<std::string>& remove,
                                                        const sync::RangeIndex& indexed) {
  MILLRACE_ASSIGN_OR_RETURN(const catalog::TableSpec* spec, TableOf(table));
  std::vector<Row> decoded;
  for (const auto& c : rows) {
    MILLRACE_ASSIGN_OR_RETURN(Row row, sync::DecodeChange(c, catalog::MesCatalog()));
    if (row.table().name != table)
      return Status::InvalidArgument("central sent a " + row.table().name + " row for " + table);
    decoded.push_back(std::move(row));
  }
  if (!remove.empty() && spec->owner != catalog::Owner::kCentral)
    return Status::InvalidArgument("drift repair deletes only master data, not " + table);
  std::size_t written = 0;
  MILLRACE_RETURN_IF_ERROR(store_->ApplyDownstream([&](WriteTxn& txn) -> Status {
    written = 0;
    for (Row& row : decoded) {
      bool still = false;
      MILLRACE_ASSIGN_OR_RETURN(auto now, Unchanged(txn, *spec, row.id(), indexed, &still));
      // An audit record that exists is never overwritten (the table refuses it anyway).
      if (!still || (spec->immutable && now)) continue;
      MILLRACE_RETURN_IF_ERROR(txn.Upsert(row));
      MILLRACE_RETURN_IF_ERROR(txn.ClearTombstone(*spec, row.id()));  // central's copy stands
      ++written;
    }
    for (const std::string& id : remove) {
      bool still = false;
      MILLRACE_ASSIGN_OR_RETURN(auto now, Unchanged(txn, *spec, id, indexed, &still));
      if (!still || !now) continue;
      MILLRACE_ASSIGN_OR_RETURN(
          Statement * del, txn.db().Prepare("DELETE FROM \"" + spec->name + "\" WHERE id = ?"));
      MILLRACE_RETURN_IF_ERROR(del->Bind(1, id));
      MILLRACE_RETURN_IF_ERROR(del->Run());
      ++written;
    }
    return Status::Ok();
  }));
  if (written > 0)
    spdlog::warn("sync: drift repair wrote {} {} row(s) as central holds them", written, table);
  return written;
}

Result<std::vector<sync::v1::Change>> EdgeSyncAdapter::EdgeCopies(
    const std::string& table, const std::vector<std::string>& ids,
    const sync::RangeIndex& indexed) {
  MILLRACE_ASSIGN_OR_RETURN(const catalog::TableSpec* spec, TableOf(table));
  std::vector<sync::v1::Change> out;
  MILLRACE_RETURN_IF_ERROR(store_->Read([&](ReadTxn& txn) -> Status {
    for (const std::string& id : ids) {
      bool still = false;
      MILLRACE_ASSIGN_OR_RETURN(auto now, Unchanged(txn, *spec, id, indexed, &still));
      if (still && now) out.push_back(sync::EncodeChange(*now, sync::v1::OP_UPSERT));
    }
    return Status::Ok();
  }));
  return out;
}

}  // namespace millrace::edge
