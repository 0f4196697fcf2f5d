// Putting a restored store right once central has sent back the site's rows its copy
// lacked.
//
// A store restored from a backup (a new store epoch, store_epoch.h) works on at once, on
// the totals and sessions the backup held. The rows the site wrote after the backup come
// back on the feed later (Change.recovered), but the running totals the floor has added
// to since the restore, and the sessions it badged in, do not know of them:
// - an operation's good, scrap and rework are the sums of its COUNT events (a correction
//   is a COUNT event too): an operation with recovered events is recounted from its
//   events, and so is its work order (good: the events of its last operation that is not
//   cancelled, what leaves the order; scrap: all its events);
// - an operator has one open session: of an operator's open sessions, each but the newest
//   is ended when the next one began.
// Both are ordinary captured writes, so central gets them like any edit on the floor.
//
// Crash-safe: the feed batch that brings recovered rows records what they touch in
// edge_meta in its own transaction (NoteRecovered); ReconcileRecovered makes the writes
// and clears the note in one transaction, and is run again at start while a note is left.
//
// Thread-safety: NoteRecovered in the caller's transaction; ReconcileRecovered from any
// thread (it goes through the store's writer).
#pragma once

#include <set>
#include <string>

#include "millrace/edge/store.h"

namespace millrace::edge {

struct RecoveredRows {
  std::set<std::string> operations;  // operations with recovered COUNT events
  std::set<std::string> users;       // operators with recovered sessions
  bool empty() const { return operations.empty() && users.empty(); }
};

// Adds `rows` to the note in edge_meta (what an earlier batch noted stays).
Status NoteRecovered(WriteTxn& txn, const RecoveredRows& rows);

struct Reconciled {
  int operations = 0;  // operations whose totals changed
  int sessions = 0;    // sessions ended
};

// Recounts and ends what the note names, then clears it; nothing when there is no note.
Result<Reconciled> ReconcileRecovered(EdgeStore& store);

}  // namespace millrace::edge
