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
  std::string rule;  // "last_writer_wins", "status_forward", "status_backward"
};

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

// For policies without column clocks (site-owned rows): the incoming row replaces the
// stored one when its (hlc, origin) beats the stored row's.
bool IncomingRowWins(const Row& current, const Row& incoming);

}  // namespace millrace::sync
