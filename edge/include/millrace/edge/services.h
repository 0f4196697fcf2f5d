// MesService: the factory's terminal workflows (DOMAIN.md) on top of the EdgeStore.
//
// Every write is planned here and run as one store write (its own savepoint of a group
// commit, with its outbox entries): each returns a Pending (pending.h) that the caller
// runs with Wait() or, without waiting for the disk, Then(). Reads are one snapshot.
// State changes follow the catalog's state machines: a status moves only along an arrow.
// A refused request changes nothing and returns a Status naming the rule broken in
// Status::rule() ("operation_not_ready"):
//   InvalidArgument     bad input (negative quantity, unknown enum value, missing field)
//   NotFound            a referenced row does not exist at this site
//   Unauthenticated     badge/PIN or session token not recognised
//   PermissionDenied    role or site not allowed
//   Conflict            the state machine has no such arrow from the current state
//   FailedPrecondition  another guard (qualification, BOM, lot availability, ...)
//
// Thread-safety: all methods may be called concurrently (the store serialises writes).
//
// The workflows live by subject: sessions.cc, work_orders.cc, operations.cc (operations
// and downtime), quality_material.cc; the rules they share in service_rules.h.
#pragma once

#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "millrace/common/time_zone.h"
#include "millrace/edge/pending.h"
#include "millrace/edge/store.h"

namespace millrace::edge {

// Who is acting: resolved from a terminal session token.
struct Actor {
  std::string user_id;
  std::string user_name;
  std::string role;        // operator | supervisor | quality
  std::string session_id;  // operator_session id, or "desk:<id>" for a session at no unit
  std::string work_unit_id;       // empty in a desk session
  std::string shift_instance_id;  // the shift the operator badged into; empty outside shifts
  std::vector<std::string> qualifications;
};

struct TerminalSession {
  std::string token;  // bearer token for the HTTP API; only its hash is stored
  std::int64_t expires_ms = 0;
  Actor actor;
};

struct CountReport {
  double good = 0, scrap = 0, rework = 0;
  std::string scrap_reason_id;  // required when scrap > 0
  std::string note = {};        // the operator's note on the count; optional, <= 500 bytes
};

struct MeasurementInput {
  std::string characteristic_id;
  std::string operation_id;     // optional
  std::string lot_id;           // optional
  std::optional<double> value;  // measured characteristics
  std::optional<bool> passed;   // pass/fail characteristics
  bool hold_lot_when_out_of_spec = true;
};

struct MeasurementResult {
  Row measurement;
  std::optional<Row> non_conformance;  // created when out of spec
};

class MesService {
 public:
  // REQUIRES: store outlives the service. Shifts follow the site's time `zone`.
  explicit MesService(EdgeStore* store, std::int64_t session_ttl_ms = 12 * 3600 * 1000,
                      TimeZone zone = TimeZone::Utc());

  // ---- 1. badge in / out ----
  // At a work unit given by id or code; a supervisor or quality engineer may also badge in
  // at no unit (a desk session: no operator_session, nothing on the floor).
  Pending<TerminalSession> BadgeIn(const std::string& badge_id, const std::string& pin,
                                  const std::string& work_unit);
  Result<Actor> Authenticate(const std::string& token);
  Pending<std::monostate> BadgeOut(const Actor& actor);

  // ---- supervisor: work orders ----
  // Each supervisor and quality action below writes an audit record (audit.h) with the
  // row's old and new values and `reason`; holding, cancelling and short-closing an order,
  // and correcting counts, refuse an empty reason (reason_required).
  Pending<Row> CreateWorkOrder(const Actor& actor, const std::string& number,
                              const std::string& material_id, double quantity,
                              std::optional<std::int64_t> due_at);
  Pending<Row> ReleaseWorkOrder(const Actor& actor, const std::string& work_order_id,
                               const std::string& reason = "");
  Pending<Row> HoldWorkOrder(const Actor& actor, const std::string& work_order_id,
                            const std::string& reason);
  Pending<Row> ResumeWorkOrder(const Actor& actor, const std::string& work_order_id,
                              const std::string& reason = "");
  Pending<Row> CancelWorkOrder(const Actor& actor, const std::string& work_order_id,
                              const std::string& reason);
  Pending<Row> CloseWorkOrder(const Actor& actor, const std::string& work_order_id,
                             const std::string& reason = "");
  // Completes a work order before all its quantity is made: open operations are
  // cancelled, the order goes InProgress -> Completed -> Closed.
  Pending<Row> ShortCloseWorkOrder(const Actor& actor, const std::string& work_order_id,
                                  const std::string& reason);
  // Deletes a Draft work order made in error (nothing was released or made on it): the
  // delete syncs to central as a tombstone (store.h WriteTxn::Delete), and the audit
  // record keeps the order's last value. A released order is cancelled instead
  // (work_order_not_draft). Returns the order as deleted.
  Pending<Row> DeleteWorkOrder(const Actor& actor, const std::string& work_order_id,
                               const std::string& reason);

  // ---- 2, 3, 8: operations ----
  Pending<Row> StartOperation(const Actor& actor, const std::string& operation_id);
  Pending<Row> PauseOperation(const Actor& actor, const std::string& operation_id);
  Pending<Row> ResumeOperation(const Actor& actor, const std::string& operation_id);
  Pending<Row> ReportCount(const Actor& actor, const std::string& operation_id,
                          const CountReport& report);
  Pending<Row> CompleteOperation(const Actor& actor, const std::string& operation_id);
  // A supervisor's correction of an operation's counts by signed differences (a COUNT event
  // of its own); the totals may not go below zero.
  Pending<Row> CorrectCounts(const Actor& actor, const std::string& operation_id,
                            const CountReport& delta, const std::string& reason);

  // ---- 4. downtime ----
  // work_unit_id empty: the actor's. Pauses the operation running there.
  Pending<Row> StartDowntime(const Actor& actor, const std::string& work_unit_id,
                            const std::string& reason_id, const std::string& comment);
  Pending<Row> ClassifyDowntime(const Actor& actor, const std::string& downtime_id,
                               const std::string& reason_id);
  // Closes the stop and resumes the operation it paused (when that is still allowed).
  Pending<Row> EndDowntime(const Actor& actor, const std::string& downtime_id);

  // ---- 5. measurements ----
  Pending<MeasurementResult> RecordMeasurement(const Actor& actor, const MeasurementInput& input);

  // ---- 6, 7. material ----
  // Returns the genealogy link written.
  Pending<Row> ConsumeLot(const Actor& actor, const std::string& operation_id,
                         const std::string& lot_id, double quantity);
  // Returns the operation's output lot after adding `quantity`.
  Pending<Row> ProduceOutput(const Actor& actor, const std::string& operation_id, double quantity);

  // ---- quality ----
  // Moves a lot along its state machine (quarantine, hold, release to available, scrap);
  // quality or supervisor. Consumption happens only through ConsumeLot.
  Pending<Row> SetLotStatus(const Actor& actor, const std::string& lot_id,
                           const std::string& status, const std::string& reason = "");
  Pending<Row> DisposeNonConformance(const Actor& actor, const std::string& nc_id,
                                    const std::string& disposition, bool close,
                                    const std::string& reason = "");

  EdgeStore& store() { return *store_; }

 private:
  template <typename T>
  Pending<T> Plan(typename Pending<T>::Body body) {
    return Pending<T>(store_, std::move(body));
  }

  Pending<Row> MoveWorkOrder(const Actor& actor, const std::string& work_order_id,
                            const std::string& to, const std::string& rule,
                            const std::string& action, const std::string& audit_action,
                            const std::string& reason);

  EdgeStore* store_;
  std::int64_t session_ttl_ms_;
  TimeZone zone_;
};

}  // namespace millrace::edge
