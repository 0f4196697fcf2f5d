// The rules and lookups MesService's workflows share (private to edge/src): refusals that
// name the rule broken, loading a row or refusing with <what>_not_found, moving a status
// along its state machine, role and quantity guards, the shift an event happens in, and
// appending a production event. The workflows themselves live by subject in
// sessions.cc, work_orders.cc, operations.cc and quality_material.cc.
#pragma once

#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

#include "millrace/common/catalog.h"
#include "millrace/common/time_zone.h"
#include "millrace/edge/services.h"
#include "millrace/edge/store.h"

namespace millrace::edge::rules {

const catalog::TableSpec& T(const char* name);

// A refusal naming the rule broken (Status::rule()).
Status Rule(StatusCode code, const std::string& rule, const std::string& message);

// The row, or InvalidArgument <what>_required for an empty id, NotFound <what>_not_found.
Result<Row> Load(ReadTxn& txn, const char* table, const std::string& id, const char* what);

// Moves row.status along an arrow of sm, or refuses naming `rule` (Conflict).
Status Transition(Row& row, const catalog::StateMachine& sm, const std::string& to,
                  const std::string& rule);

Status RequireRole(const Actor& actor, std::initializer_list<const char*> roles,
                   const std::string& action);
// A finite quantity >= 0 (> 0 unless allow_zero), or bad_quantity.
Status RequireQuantity(double q, const char* what, bool allow_zero);

// A new row of `table` with a UUIDv7 id from `clock`.
Row NewRow(const char* table, const Clock* clock);
// The strings of a JSON array text (users.sites, users.qualifications); others skipped.
std::vector<std::string> JsonStrings(const std::string& text);

// The shift running at `now` at this site (shift_calendar.h, in the site's time zone) and
// its instance, created on first use: every event and badge-in names the shift it
// happened in. nullopt when no pattern covers `now`.
Result<std::optional<Row>> CurrentShift(WriteTxn& txn, const Clock* clock, const TimeZone& zone,
                                        std::int64_t now);

// Everything a guard on an operation needs, loaded once, and writing the two back without
// the store reading them again.
class OpContext {
 public:
  OpContext(Row op_in, Row wo_in)
      : op(op_in), wo(wo_in), op_stored_(std::move(op_in)), wo_stored_(std::move(wo_in)) {}
  Row op;
  Row wo;
  Status SaveOp(WriteTxn& txn);
  Status SaveWorkOrder(WriteTxn& txn);

 private:
  Row op_stored_, wo_stored_;  // as stored now: what a save compares against
};
Result<OpContext> LoadOp(ReadTxn& txn, const std::string& operation_id);

// A production event of `kind` on the operation, in the shift it happens in.
Status AppendEvent(WriteTxn& txn, const Clock* clock, const TimeZone& zone, const Actor& actor,
                   const OpContext& c, const char* kind, const CountReport& q = {});

// The work order allows shop-floor activity (Released or InProgress), or
// work_order_on_hold / work_order_not_active.
Status RequireWorkOrderActive(const Row& wo);
// The operation is Running, or Conflict operation_not_running saying that `what` (as in
// "counts are reported on") needs a running one.
Status RequireRunning(const Row& op, const std::string& what);
// No open stop on the unit, or work_unit_down.
Status RequireNoOpenDowntime(ReadTxn& txn, const std::string& work_unit_id);

// The output lot of an operation, created (empty) on first use.
Result<Row> OutputLot(WriteTxn& txn, const Clock* clock, const OpContext& c);

}  // namespace millrace::edge::rules
