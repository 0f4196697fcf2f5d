#include "millrace/edge/retention.h"

#include <algorithm>

#include "millrace/common/ddl.h"
#include "millrace/common/uuid.h"

namespace millrace::edge {

namespace {

// What else must hold for an old fact to go, beyond its age and acknowledgement (SQL over
// the table's columns). Tables not named here are kept whole.
const std::map<std::string, std::string>& PurgeRules() {
  static const std::map<std::string, std::string> kRules = {
      {"production_event",
       "operation_id NOT IN (SELECT id FROM work_order_operation WHERE status NOT IN "
       "('Completed', 'Cancelled'))"},
      {"downtime_event", "ended_at IS NOT NULL"},
      {"operator_session", "badge_out_at IS NOT NULL"},
      {"inspection", "result IS NOT NULL"},
      {"serial_unit", "status IN ('scrapped', 'consumed')"},
      {"genealogy_link", "1"},
      {"measurement", "1"},
      {"inventory_movement", "1"},
      {"shift_instance", "1"},
  };
  return kRules;
}

Result<std::int64_t> StateValue(SqliteDb& db, const char* key) {
  return db.QueryInt(std::string("SELECT coalesce(max(value), 0) FROM sync_state WHERE key = '") +
                     key + "'");
}

Status RaiseState(SqliteDb& db, const char* key, std::int64_t value) {
  return db.Exec(std::string("INSERT INTO sync_state (key, value) VALUES ('") + key + "', " +
                 std::to_string(value) +
                 ") ON CONFLICT (key) DO UPDATE SET value = max(value, excluded.value)");
}

}  // namespace

bool CutAtHorizon(const catalog::TableSpec& table) {
  return table.owner == catalog::Owner::kSite;
}

Result<std::int64_t> PurgeHorizon(ReadTxn& txn) {
  return StateValue(txn.db(), "purge_horizon_ms");
}

Result<std::int64_t> FactHorizon(ReadTxn& txn) {
  MILLRACE_ASSIGN_OR_RETURN(std::int64_t own, StateValue(txn.db(), "purge_horizon_ms"));
  MILLRACE_ASSIGN_OR_RETURN(std::int64_t central, StateValue(txn.db(), "central_horizon_ms"));
  return std::max(own, central);
}

Result<std::int64_t> FactHorizon(EdgeStore& store) {
  std::int64_t horizon = 0;
  MILLRACE_RETURN_IF_ERROR(store.Read([&](ReadTxn& txn) -> Status {
    MILLRACE_ASSIGN_OR_RETURN(horizon, FactHorizon(txn));
    return Status::Ok();
  }));
  return horizon;
}

Status RecordCentralHorizon(EdgeStore& store, std::int64_t horizon_ms) {
  // Central's retention may be lengthened again: its horizon is taken as said, not raised.
  return store.ApplyDownstream([horizon_ms](WriteTxn& txn) -> Status {
    return txn.db().Exec(
        "INSERT INTO sync_state (key, value) VALUES ('central_horizon_ms', " +
        std::to_string(horizon_ms) + ") ON CONFLICT (key) DO UPDATE SET value = excluded.value");
  });
}

Result<FactPurge> PurgeSyncedFacts(EdgeStore& store, int keep_days, int batch,
                                   const std::function<bool()>& stopping) {
  if (keep_days < 1) return Status::InvalidArgument("keep_days must be at least 1");
  const std::int64_t cutoff =
      store.clock()->NowMillis() - std::int64_t{keep_days} * 24 * 60 * 60 * 1000;
  const std::string floor = Uuid::FloorV7(cutoff).ToString();
  FactPurge out;
  // The horizon moves first: a comparison made while the rows go already leaves them out.
  MILLRACE_RETURN_IF_ERROR(store.ApplyDownstream([&](WriteTxn& txn) -> Status {
    MILLRACE_RETURN_IF_ERROR(RaiseState(txn.db(), "purge_horizon_ms", cutoff));
    MILLRACE_ASSIGN_OR_RETURN(out.horizon_ms, StateValue(txn.db(), "purge_horizon_ms"));
    return Status::Ok();
  }));
  for (const auto& [name, rule] : PurgeRules()) {
    const catalog::TableSpec* t = catalog::MesCatalog().Find(name);
    if (!t || !CutAtHorizon(*t)) continue;
    const std::string q = catalog::QuoteIdent(name);
    // Each row before the cut-off is looked at once a run, in id order, `batch` at a time.
    const std::string scan =
        "SELECT id, (" + rule +
        ") AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.row_id = t.id AND o.seq > (SELECT "
        "coalesce(max(value), 0) FROM sync_state WHERE key = 'acked_seq')) FROM " + q +
        " AS t WHERE t.id > ?1 AND t.id < ?2 ORDER BY t.id LIMIT ?3";
    const std::string del = "DELETE FROM " + q + " WHERE id = ?";
    std::string after;  // '' sorts before every id
    for (;;) {
      if (stopping && stopping()) return out;
      std::int64_t scanned = 0, deleted = 0;
      MILLRACE_RETURN_IF_ERROR(store.ApplyDownstream([&](WriteTxn& txn) -> Status {
        scanned = deleted = 0;
        std::vector<std::string> gone;
        std::string last = after;
        MILLRACE_ASSIGN_OR_RETURN(Statement * stmt, txn.db().Prepare(scan));
        MILLRACE_RETURN_IF_ERROR(stmt->BindAll({after, floor, std::int64_t{batch}}));
        for (;;) {
          MILLRACE_ASSIGN_OR_RETURN(bool row, stmt->Step());
          if (!row) break;
          last = std::get<std::string>(stmt->Column(0));
          if (stmt->ColumnInt(1) != 0) gone.push_back(last);
          ++scanned;
        }
        stmt->Reset();
        MILLRACE_ASSIGN_OR_RETURN(Statement * d, txn.db().Prepare(del));
        for (const std::string& id : gone) {
          MILLRACE_RETURN_IF_ERROR(d->Bind(1, id));
          MILLRACE_RETURN_IF_ERROR(d->Run());
          d->Reset();
        }
        deleted = static_cast<std::int64_t>(gone.size());
        after = last;
        return Status::Ok();
      }));
      if (deleted > 0) out.per_table[name] += deleted;
      out.rows += deleted;
      if (scanned < batch) break;
    }
  }
  return out;
}

}  // namespace millrace::edge
