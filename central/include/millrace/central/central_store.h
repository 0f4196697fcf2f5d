// Writing catalog rows into central's PostgreSQL inside a tenant transaction: the pieces
// the sync applier and central's own edits (master data, releasing work orders) share.
//
// Every function REQUIRES an open transaction on `conn` whose tenant context was set with
// BeginTenant(), so row-level security applies to all of it.
//
// Thread-safety: functions over one connection, used by one thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "millrace/central/pg.h"
#include "millrace/common/catalog.h"
#include "millrace/common/row.h"
#include "millrace/sync/central_side.h"
#include "millrace/sync/merge.h"

namespace millrace::central {

inline constexpr const char* kFeedChannel = "millrace_feed";
inline constexpr const char* kCentralOrigin = "central";

// BEGIN (REPEATABLE READ when asked) and SET LOCAL app.tenant_id.
Status BeginTenant(PgConnection& conn, const std::string& tenant_id, bool repeatable_read = false);
Status Rollback(PgConnection& conn);
// Runs `body` in a transaction of `tenant_id`'s context: COMMIT when it succeeds, ROLLBACK
// (and its error) when it fails.
Status InTenantTransaction(PgConnection& conn, const std::string& tenant_id,
                           const std::function<Status()>& body, bool repeatable_read = false);

// INSERT ... ON CONFLICT (tenant_id, id) DO UPDATE SET every column, multi-row.
// `update_when` (SQL over t. and EXCLUDED.) limits which existing rows are replaced.
Status UpsertRows(PgConnection& conn, const std::string& tenant_id, const catalog::TableSpec& table,
                  const std::vector<const Row*>& rows, const std::string& update_when = "");
// Multi-row INSERT ... ON CONFLICT DO NOTHING: the row-by-row path for facts, which are
// inserted once (a fact already present is a replay, not a change). Needs no UPDATE grant.
Status InsertRowsIfAbsent(PgConnection& conn, const std::string& tenant_id,
                          const catalog::TableSpec& table, const std::vector<const Row*>& rows);
// Plain multi-row INSERT: AlreadyExists when a row is there already.
Status InsertRows(PgConnection& conn, const std::string& tenant_id, const catalog::TableSpec& table,
                  const std::vector<const Row*>& rows);
// One INSERT of binary column arrays (pg_binary.h; RLS refuses COPY into the table) or,
// for a few rows, one multi-row INSERT: the fast path for facts known to be new.
Status CopyRows(PgConnection& conn, const std::string& tenant_id, const catalog::TableSpec& table,
                const std::vector<Row>& rows);

// Appends rows to the tenant's downstream feed, routed by their table's scope, at the next
// positions; positions are handed out under the tenant's row lock so they become visible
// in order. Notifies kFeedChannel with "<tenant> <head>" at commit. Returns the new head
// (0 when rows is empty). Rows merged from a site's batch name that site and the batch's
// last seq (Change.reflects_site/reflects_seq) so the site knows they include its changes.
struct FeedProvenance {
  std::string site_id;
  std::uint64_t through_seq = 0;
  std::string store_epoch;  // the epoch through_seq counts in
  bool recovered = false;   // rows sent back to the site's new store (Change.recovered)
  std::set<std::string> clamped;  // rows whose site clock central clamped (Change.clamped)
};
// A row for the feed: written, or deleted (v1::OP_DELETE: the row as last known, stamped
// with the delete's clock, routed as the row was).
struct FeedRow {
  Row row;
  bool deleted = false;
};
Result<std::uint64_t> AppendFeed(PgConnection& conn, const std::string& tenant_id,
                                 const std::vector<FeedRow>& rows,
                                 const FeedProvenance& reflects = {});
// Rows written, all of them.
Result<std::uint64_t> AppendFeed(PgConnection& conn, const std::string& tenant_id,
                                 const std::vector<Row>& rows,
                                 const FeedProvenance& reflects = {});

// A change of a shared row (sync/central_side.h): a site's, or central's own edit.
using SharedChange = sync::SharedChange;

struct SharedMergeResult {
  std::vector<FeedRow> feed;  // merged rows (or deletes) the writer's site must receive
  std::size_t conflicts = 0;
  std::size_t rows_written = 0;
};

// Takes the tenant's shared-row merge lock (a transaction-level advisory lock): every
// writer of shared rows takes it before it locks any of them, so writers queue instead of
// deadlocking. MergeSharedChanges takes it itself.
Status LockSharedMerges(PgConnection& conn, const std::string& tenant_id);

// Merges changes of one shared table, in order, into the stored rows and their column
// clocks (sync/merge.h), records every conflict in sync_conflict, and returns the rows to
// publish: those whose merged state differs from what their writer sent, or all of them
// when `publish_all` (central's own edits). A delete that wins removes the row and its
// clocks and leaves a tombstone (sync_tombstone); a write newer than a row's tombstone
// brings the row back, an older one is dropped and the delete published again.
Result<SharedMergeResult> MergeSharedChanges(PgConnection& conn, const std::string& tenant_id,
                                             const catalog::TableSpec& table,
                                             const std::vector<SharedChange>& changes,
                                             bool publish_all);

// The rows of `table` central holds that belong on `site`'s edge (its own facts and shared
// rows, the master data routed to it), by id; only those of `ids` when given (REQUIRES:
// UUIDs), locked FOR UPDATE when `lock`; the site's facts made before `horizon_ms` (Unix
// ms) left out. In the caller's transaction.
Result<std::vector<Row>> SiteRows(PgConnection& conn, const std::string& tenant_id,
                                  const std::string& site_id, const catalog::TableSpec& table,
                                  const std::vector<std::string>* ids = nullptr,
                                  bool lock = false, std::int64_t horizon_ms = 0);

// Where comparisons of the site's rows with central's begin: the later of the horizon the
// site's edge purged its facts to and the tenant's retention (retention.h). In the
// caller's transaction.
Result<std::int64_t> SiteFactHorizon(PgConnection& conn, const std::string& tenant_id,
                                     const std::string& site_id);

// table -> content digest (sync/content.h) of every row central holds that belongs on
// `site`'s edge: its own facts and shared rows, and the master data routed to it; its
// facts before SiteFactHorizon left out. Read in one REPEATABLE READ snapshot. Compare with
// the edge's GET /api/v1/sync/content.
Result<std::map<std::string, std::string>> SiteContent(PgConnection& conn,
                                                       const std::string& tenant_id,
                                                       const std::string& site_id);

// The tombstones of `table` for `ids`: id -> the delete's clock. In the caller's transaction.
Result<std::map<std::string, sync::ColumnClock>> Tombstones(PgConnection& conn,
                                                           const std::string& tenant_id,
                                                           const catalog::TableSpec& table,
                                                           const std::vector<std::string>& ids);
// Records (or moves forward) the tombstones of `rows`, each the row as deleted stamped with
// the delete's clock, and removes their column clocks. The rows themselves are the
// caller's to delete.
Status WriteTombstones(PgConnection& conn, const std::string& tenant_id,
                       const catalog::TableSpec& table, const std::vector<const Row*>& rows);
// Forgets the tombstones of rows written again.
Status ClearTombstones(PgConnection& conn, const std::string& tenant_id,
                       const catalog::TableSpec& table, const std::vector<std::string>& ids);

// The text form of a value, for conflict records and logs.
std::string ValueToText(const Value& v);

}  // namespace millrace::central
