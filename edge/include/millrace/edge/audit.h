// The audit trail at the edge: one audit_record per supervisor or quality action, written
// in the same transaction as the action, so the record and the change commit together or
// not at all. Records sync to central like other facts and are never changed or deleted
// (the catalog marks the table immutable: SQLite and PostgreSQL triggers refuse it).
//
// Thread-safety: functions over the caller's WriteTxn.
#pragma once

#include <string>

#include "millrace/common/clock.h"
#include "millrace/edge/services.h"
#include "millrace/edge/store.h"

namespace millrace::edge {

// Records that `actor` did `action` ("work_order.hold") to `after`'s row. old_value and
// new_value hold the columns that differ from `before` (all of `after`'s when `before` is
// null); the clock columns (hlc, origin) are left out: the record has its own.
Status RecordAudit(WriteTxn& txn, const Clock* clock, const Actor& actor, const std::string& action,
                   const Row* before, const Row& after, const std::string& reason);

// The same for a row deleted: its last value as old_value, no new_value.
Status RecordDeleteAudit(WriteTxn& txn, const Clock* clock, const Actor& actor,
                         const std::string& action, const Row& deleted, const std::string& reason);

// The refusal when an action that needs a reason has none.
Status RequireReason(const std::string& reason, const std::string& action);

}  // namespace millrace::edge
