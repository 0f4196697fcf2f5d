#include "millrace/sync/merge.h"

namespace millrace::sync {
namespace {

bool IsSystem(const catalog::ColumnSpec& c) {
  return c.name == catalog::kIdColumn || c.name == catalog::kHlcColumn ||
         c.name == catalog::kOriginColumn;
}

ColumnClock RowClock(const Row& row) {
  return {static_cast<std::uint64_t>(row.Int(catalog::kHlcColumn)),
          row.Text(catalog::kOriginColumn)};
}

void StampRowClock(VersionedRow& v) {
  const auto& cols = v.row.table().columns;
  ColumnClock newest;
  for (std::size_t i = 0; i < cols.size(); ++i) {
    if (IsSystem(cols[i])) continue;
    if (v.clocks[i].Beats(newest)) newest = v.clocks[i];
  }
  v.row.Set(catalog::kHlcColumn, static_cast<std::int64_t>(newest.hlc));
  v.row.Set(catalog::kOriginColumn, newest.origin);
  const std::size_t hlc_i = static_cast<std::size_t>(
      v.row.table().Find(catalog::kHlcColumn) - cols.data());
  const std::size_t origin_i = static_cast<std::size_t>(
      v.row.table().Find(catalog::kOriginColumn) - cols.data());
  v.clocks[hlc_i] = newest;
  v.clocks[origin_i] = newest;
}

std::string AsText(const Value& v) {
  if (const auto* s = std::get_if<std::string>(&v)) return *s;
  return {};
}

}  // namespace

VersionedRow Versioned(Row row, const ColumnClock& clock) {
  VersionedRow v{std::move(row), {}};
  v.clocks.assign(v.row.table().columns.size(), clock);
  return v;
}

MergeResult MergeShared(const std::optional<VersionedRow>& current, const Incoming& in) {
  MergeResult result{Versioned(*in.row, in.clock), {}, true};
  if (!current) {
    StampRowClock(result.merged);
    return result;
  }
  result.merged = *current;
  result.changed = false;
  const auto& cols = in.row->table().columns;
  std::vector<bool> touched(cols.size(), in.changed_columns.empty());
  for (std::uint32_t i : in.changed_columns)
    if (i < cols.size()) touched[i] = true;

  for (std::size_t i = 0; i < cols.size(); ++i) {
    const auto& col = cols[i];
    if (!touched[i] || IsSystem(col)) continue;
    const Value& mine = current->row.values()[i];
    const Value& theirs = in.row->values()[i];
    const ColumnClock& mine_clock = current->clocks[i];
    if (mine == theirs) {
      // Same value: keep the newer clock, so a later competing write is judged against it.
      if (in.clock.Beats(mine_clock)) result.merged.clocks[i] = in.clock;
      continue;
    }
    bool incoming_wins = in.clock.Beats(mine_clock);
    std::string rule = "last_writer_wins";
    if (col.state_machine) {
      const std::string from = AsText(mine), to = AsText(theirs);
      const bool forward = col.state_machine->IsReachable(from, to);
      const bool backward = col.state_machine->IsReachable(to, from);
      if (forward && !backward) {
        incoming_wins = true;
        rule = "status_forward";
      } else if (backward && !forward) {
        incoming_wins = false;
        rule = "status_backward";
      }
    }
    const bool concurrent = in.base_hlc < mine_clock.hlc;
    // A status rule that overrides the clocks is always worth recording.
    const bool clocks_overridden = incoming_wins != in.clock.Beats(mine_clock);
    if (concurrent || clocks_overridden) {
      MergeConflict c;
      c.column = col.name;
      c.incoming_won = incoming_wins;
      c.rule = rule;
      c.kept = incoming_wins ? theirs : mine;
      c.lost = incoming_wins ? mine : theirs;
      c.kept_clock = incoming_wins ? in.clock : mine_clock;
      c.lost_clock = incoming_wins ? mine_clock : in.clock;
      result.conflicts.push_back(std::move(c));
    }
    // The column's clock only moves forward, whoever won, so the loser can never return.
    const ColumnClock newest = in.clock.Beats(mine_clock) ? in.clock : mine_clock;
    if (incoming_wins) {
      result.merged.row.mutable_values()[i] = theirs;
      result.changed = true;
    }
    result.merged.clocks[i] = newest;
  }
  const Row before = result.merged.row;
  StampRowClock(result.merged);
  if (!(before == result.merged.row)) result.changed = true;
  return result;
}

DeleteResult MergeDelete(const VersionedRow& current, const ColumnClock& clock,
                         std::uint64_t base_hlc) {
  const ColumnClock newest = RowClock(current.row);
  DeleteResult out;
  out.deleted = clock.Beats(newest);
  // A delete made on the row as it stands is no conflict, whichever way it goes; one that
  // did not see the row's newest write is, and a delete older than an edit never saw it.
  if (base_hlc >= newest.hlc && out.deleted) return out;
  std::string rule = out.deleted ? "delete_wins" : "delete_loses";
  const auto& cols = current.row.table().columns;
  if (const catalog::ColumnSpec* status = current.row.table().StatusColumn(); status && out.deleted) {
    const auto i = static_cast<std::size_t>(status - cols.data());
    if (current.clocks[i].hlc > base_hlc) {
      // The status moved on since the deleter saw the row: the row stays, its status
      // stamped just after the delete so the deleter's tombstone gives way to it.
      out.deleted = false;
      rule = "delete_status";
      VersionedRow kept = current;
      kept.clocks[i] = {clock.hlc + 1, current.clocks[i].origin};
      StampRowClock(kept);
      out.kept = std::move(kept);
    }
  }
  MergeConflict c;
  c.column = kWholeRow;
  c.incoming_won = out.deleted;
  c.rule = rule;
  c.kept = out.deleted ? Value(std::string("(deleted)")) : Value(std::string("(row)"));
  c.lost = out.deleted ? Value(std::string("(row)")) : Value(std::string("(deleted)"));
  c.kept_clock = out.deleted ? clock : out.kept ? RowClock(out.kept->row) : newest;
  c.lost_clock = out.deleted ? newest : clock;
  out.conflict = std::move(c);
  return out;
}

TombstoneResult WriteMeetsTombstone(const ColumnClock& clock, std::uint64_t base_hlc,
                                    const ColumnClock& tombstone) {
  TombstoneResult out;
  out.revives = clock.Beats(tombstone);
  if (out.revives && base_hlc >= tombstone.hlc) return out;
  MergeConflict& c = out.conflict.emplace();
  c.column = kWholeRow;
  c.incoming_won = out.revives;
  c.rule = out.revives ? "write_after_delete" : "deleted";
  c.kept = out.revives ? Value(std::string("(row)")) : Value(std::string("(deleted)"));
  c.lost = out.revives ? Value(std::string("(deleted)")) : Value(std::string("(row)"));
  c.kept_clock = out.revives ? clock : tombstone;
  c.lost_clock = out.revives ? tombstone : clock;
  return out;
}

bool IncomingRowWins(const Row& current, const Row& incoming) {
  return RowClock(incoming).Beats(RowClock(current));
}

}  // namespace millrace::sync
