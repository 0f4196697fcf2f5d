// Central's own deletes of master data and shared rows (mes-central delete).
//
// A delete removes the rows and leaves a tombstone of each (the delete's clock, stamped by
// central after every clock the row carries), published on the tenant's feed in the same
// transaction, so every edge that holds a row deletes it and a write older than the delete
// never brings it back (sync/merge.h). Shared rows go through the column merge, so a site's
// edit made after the delete keeps the row. Facts are append-only and never deleted.
//
// Thread-safety: functions over one connection, used by one thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "millrace/central/central_audit.h"
#include "millrace/central/pg.h"
#include "millrace/common/hlc.h"

namespace millrace::central {

struct RowDeleteResult {
  std::vector<std::string> ids;
  std::uint64_t feed_head = 0;
  std::size_t conflicts = 0;
};

// Deletes the rows of `table` (central-owned or shared) with these ids in one transaction,
// each with an audit record holding its last value (`who` names the actor and the reason).
// InvalidArgument for a table of facts, an id that is not a UUID or no id at all; NotFound
// naming the ids central does not hold (nothing is deleted then).
Result<RowDeleteResult> DeleteRows(PgConnection& conn, const std::string& tenant_id,
                                   const std::string& table, const std::vector<std::string>& ids,
                                   HybridClock& hlc, const WriteContext& who = {});

}  // namespace millrace::central
