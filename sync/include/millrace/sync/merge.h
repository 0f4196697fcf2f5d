// Merging an incoming change into the stored row, by the catalog's merge policy.
//
// Shared rows (MergePolicy::kSharedLww) merge column by column: every column carries the
// HLC and origin of the write that set it, the newer write wins and the origin (site id,
// or "central") breaks ties. A state-machine column only moves forward: a status the
// stored one can reach replaces it whatever the clocks say, and a status that would move
// backwards is kept out. The merged row's hlc and origin are those of its newest column.
//
// A conflict is a write that did not see the value it competes with: the incoming change's
// base_hlc (the row as its writer last saw it) is older than the stored column's clock and
// the values differ. Every conflict is reported with both values, the winner and the HLCs,
// whichever side won.
//
// Deletes leave a tombstone: the row's id and the clock of the delete. A delete removes a
// shared row only when it is newer than every column of the row (a later edit it did not
// see keeps the row), and a write of a deleted row brings it back only when it is newer
// than the tombstone: a tombstone loses to nothing older, on either side. Both outcomes
// of a delete that competes with a write it did not see are conflicts, recorded with the
// column "(row)".
//
// Thread-safety: pure functions over values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "millrace/common/catalog.h"
#include "millrace/common/hlc.h"
#include "millrace/common/row.h"

namespace millrace::sync {

struct ColumnClock {
  std::uint64_t hlc = 0;
  std::string origin;
  // Newer wins; the origin breaks a tie so every node picks the same winner.
  bool Beats(const ColumnClock& other) const {
    return hlc != other.hlc ? hlc > other.hlc : origin > other.origin;
  }
};

// A stored shared row and the clock of each of its columns (catalog order).
struct VersionedRow {
  Row row;
  std::vector<ColumnClock> clocks;
};

struct Incoming {
  const Row* row = nullptr;
  ColumnClock clock;                         // the change's (possibly clamped) HLC and origin
  std::uint64_t base_hlc = 0;                // the row's hlc as the writer saw it; 0: unknown
  std::vector<std::uint32_t> changed_columns;  // empty: every column
};

struct MergeConflict {
  std::string column;
  Value kept;
  Value lost;
  ColumnClock kept_clock;
  ColumnClock lost_clock;
  bool incoming_won = false;
  // "last_writer_wins", "status_forward", "status_backward"; for deletes "delete_wins",
  // "delete_loses" (a newer edit keeps the row), "delete_status" (a status change the
  // delete did not see keeps the row), "write_after_delete" (a newer write brings a
  // deleted row back), "deleted" (an older write of a deleted row is dropped).
  std::string rule;
};

// The column name a conflict over a whole row (a delete) is recorded under.
inline constexpr const char* kWholeRow = "(row)";

struct MergeResult {
  VersionedRow merged;
  std::vector<MergeConflict> conflicts;
  bool changed = false;  // the stored row differs from before
};

// A VersionedRow whose every column carries `clock` (a new row, or a row without history).
VersionedRow Versioned(Row row, const ColumnClock& clock);

// REQUIRES: incoming.row is of the same table as `current`, validated, same id.
// `current` is nullopt when the row is new.
MergeResult MergeShared(const std::optional<VersionedRow>& current, const Incoming& incoming);

// What a delete (`clock`, made on the row as of `base_hlc`) does to the stored row. A
// delete made without seeing the row's status move on (its status column's clock is past
// base_hlc: a work order released while a site deleted it as a Draft) loses whatever the
// clocks say, like a status that would move backwards; the row it keeps then carries the
// status column stamped just after the delete (`kept`), so every node that holds the
// delete's tombstone takes the row back.
struct DeleteResult {
  bool deleted = false;
  std::optional<MergeConflict> conflict;
  std::optional<VersionedRow> kept;  // the row as it stays, when the delete lost
};
// REQUIRES: current has its column clocks (the row's own hlc/origin are its newest).
DeleteResult MergeDelete(const VersionedRow& current, const ColumnClock& clock,
                         std::uint64_t base_hlc);

// What a write (`clock`, made on the row as of `base_hlc`) of a row deleted at `tombstone`
// does: brings the row back when newer (`revives`), else is dropped. A write that did not
// see the delete (base_hlc older than it: made on the row before it) is a conflict either
// way; one that saw it (a row deliberately written again) is none.
struct TombstoneResult {
  bool revives = false;
  std::optional<MergeConflict> conflict;
};
TombstoneResult WriteMeetsTombstone(const ColumnClock& clock, std::uint64_t base_hlc,
                                    const ColumnClock& tombstone);

// For policies without column clocks (site-owned rows): the incoming row replaces the
// stored one when its (hlc, origin) beats the stored row's.
bool IncomingRowWins(const Row& current, const Row& incoming);

}  // namespace millrace::sync
