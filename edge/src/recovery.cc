#include "millrace/edge/recovery.h"

#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "millrace/common/catalog.h"
#include "millrace/common/ddl.h"

namespace millrace::edge {
namespace {

using nlohmann::json;

constexpr const char* kNoteKey = "recovery_pending";

const catalog::TableSpec& T(const char* name) {
  return *catalog::MesCatalog().Find(name);
}

Result<RecoveredRows> ReadNote(SqliteDb& db) {
  MILLRACE_ASSIGN_OR_RETURN(
      std::string text,
      db.QueryText(std::string("SELECT value FROM edge_meta WHERE key = '") + kNoteKey + "'"));
  RecoveredRows rows;
  if (text.empty()) return rows;
  const json note = json::parse(text, nullptr, false);
  if (!note.is_object())
    return Status::Corruption(std::string("edge_meta ") + kNoteKey + " is not a JSON object");
  for (const auto& id : note.value("operations", json::array()))
    rows.operations.insert(id.get<std::string>());
  for (const auto& id : note.value("users", json::array()))
    rows.users.insert(id.get<std::string>());
  return rows;
}

Status WriteNote(SqliteDb& db, const RecoveredRows& rows) {
  if (rows.empty())
    return db.Exec(std::string("DELETE FROM edge_meta WHERE key = '") + kNoteKey + "'");
  const json note = {{"operations", rows.operations}, {"users", rows.users}};
  return db.Exec(std::string("INSERT INTO edge_meta (key, value) VALUES ('") + kNoteKey + "', " +
                 catalog::QuoteLiteral(note.dump()) +
                 ") ON CONFLICT (key) DO UPDATE SET value = excluded.value");
}

struct Totals {
  double good = 0, scrap = 0, rework = 0;
};

// The sums of the COUNT events whose `column` (operation_id or work_order_id) is `id`.
Result<Totals> CountEvents(WriteTxn& txn, const char* column, const std::string& id) {
  MILLRACE_ASSIGN_OR_RETURN(
      Statement * stmt,
      txn.db().Prepare(std::string("SELECT total(good_quantity), total(scrap_quantity), "
                                   "total(rework_quantity) FROM production_event WHERE ") +
                       column + " = ? AND kind = 'COUNT'"));
  MILLRACE_RETURN_IF_ERROR(stmt->Bind(1, id));
  MILLRACE_ASSIGN_OR_RETURN(bool row, stmt->Step());
  Totals t;
  if (row) {
    t.good = std::max(0.0, sqlite3_column_double(stmt->raw(), 0));
    t.scrap = std::max(0.0, sqlite3_column_double(stmt->raw(), 1));
    t.rework = std::max(0.0, sqlite3_column_double(stmt->raw(), 2));
  }
  stmt->Reset();
  return t;
}

// The operation's totals from its events, and its order's: good from the events of its
// last operation that is not cancelled (what leaves it), scrap from all its events. The
// order is recounted rather than moved by the operation's difference: the copies of the
// two central sent back may each have been taken or not. True when anything changed.
Result<bool> Recount(WriteTxn& txn, const std::string& operation_id) {
  MILLRACE_ASSIGN_OR_RETURN(auto op, txn.Get(T("work_order_operation"), operation_id));
  if (!op) return false;  // not on this store (yet): its events count when it comes
  MILLRACE_ASSIGN_OR_RETURN(Totals t, CountEvents(txn, "operation_id", operation_id));
  bool changed = false;
  if (t.good != op->Real("good_quantity") || t.scrap != op->Real("scrap_quantity") ||
      t.rework != op->Real("rework_quantity")) {
    Row updated = *op;
    updated.Set("good_quantity", t.good)
        .Set("scrap_quantity", t.scrap)
        .Set("rework_quantity", t.rework);
    MILLRACE_RETURN_IF_ERROR(txn.Update(updated, *op));
    changed = true;
  }
  MILLRACE_ASSIGN_OR_RETURN(auto wo, txn.Get(T("work_order"), op->Text("work_order_id")));
  if (!wo) return changed;
  MILLRACE_ASSIGN_OR_RETURN(auto last, txn.Select(T("work_order_operation"),
                                                  "work_order_id = ? AND status != 'Cancelled'",
                                                  {wo->id()}, "seq DESC", 1));
  Totals out;
  if (!last.empty()) {
    MILLRACE_ASSIGN_OR_RETURN(out, CountEvents(txn, "operation_id", last.front().id()));
  }
  MILLRACE_ASSIGN_OR_RETURN(Totals all, CountEvents(txn, "work_order_id", wo->id()));
  if (out.good == wo->Real("good_quantity") && all.scrap == wo->Real("scrap_quantity"))
    return changed;
  Row order = *wo;
  order.Set("good_quantity", out.good).Set("scrap_quantity", all.scrap);
  MILLRACE_RETURN_IF_ERROR(txn.Update(order, *wo));
  return true;
}

// Ends each of the user's open sessions but the newest when the next one began. Returns
// how many it ended.
Result<int> OneOpenSession(WriteTxn& txn, const std::string& user_id) {
  MILLRACE_ASSIGN_OR_RETURN(
      auto open, txn.Select(T("operator_session"), "user_id = ? AND badge_out_at IS NULL",
                            {user_id}, "badge_in_at, id"));
  int ended = 0;
  for (std::size_t i = 0; i + 1 < open.size(); ++i) {
    const Row loaded = open[i];
    open[i].Set("badge_out_at", open[i + 1].Int("badge_in_at"));
    MILLRACE_RETURN_IF_ERROR(txn.Update(open[i], loaded));
    MILLRACE_ASSIGN_OR_RETURN(
        Statement * del,
        txn.db().Prepare("DELETE FROM terminal_session WHERE operator_session_id = ?"));
    MILLRACE_RETURN_IF_ERROR(del->Bind(1, open[i].id()));
    MILLRACE_RETURN_IF_ERROR(del->Run());
    ++ended;
  }
  return ended;
}

}  // namespace

Status NoteRecovered(WriteTxn& txn, const RecoveredRows& rows) {
  if (rows.empty()) return Status::Ok();
  MILLRACE_ASSIGN_OR_RETURN(RecoveredRows note, ReadNote(txn.db()));
  note.operations.insert(rows.operations.begin(), rows.operations.end());
  note.users.insert(rows.users.begin(), rows.users.end());
  return WriteNote(txn.db(), note);
}

Result<Reconciled> ReconcileRecovered(EdgeStore& store) {
  Reconciled done;
  MILLRACE_RETURN_IF_ERROR(store.Write([&](WriteTxn& txn) -> Status {
    done = {};
    MILLRACE_ASSIGN_OR_RETURN(RecoveredRows note, ReadNote(txn.db()));
    if (note.empty()) return Status::Ok();
    for (const auto& id : note.operations) {
      MILLRACE_ASSIGN_OR_RETURN(bool changed, Recount(txn, id));
      done.operations += changed ? 1 : 0;
    }
    for (const auto& id : note.users) {
      MILLRACE_ASSIGN_OR_RETURN(int ended, OneOpenSession(txn, id));
      done.sessions += ended;
    }
    return WriteNote(txn.db(), {});
  }));
  if (done.operations || done.sessions)
    spdlog::warn(
        "sync: the site's rows central sent back to this store were taken into account: "
        "{} operation total(s) recounted from their events, {} session(s) left open "
        "before a later badge-in ended",
        done.operations, done.sessions);
  return done;
}

}  // namespace millrace::edge
