// The MES schema catalog: the one declaration of every synced table.
//
// Everything per-table in Millrace is derived from here: SQLite and PostgreSQL DDL
// (common/ddl.h), row codecs and merges in sync/, routing of the downstream feed. Adding a
// column means adding it here, not in five places.
//
// Every table gets four system columns around its domain columns:
//   id      UUIDv7, the primary key (PostgreSQL: (tenant_id, id))
//   site_id the site that owns the row; NULL only on central-owned rows meant for the
//           whole tenant
//   hlc     hybrid logical clock of the row's last change (common/hlc.h, packed BIGINT)
//   origin  the node (site or central) that made that change
// PostgreSQL adds tenant_id in front.
//
// Thread-safety: the catalog is immutable after construction; share it freely.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace millrace::catalog {

enum class ColumnType {
  kUuid,       // SQLite TEXT (36 chars), PostgreSQL uuid
  kText,       // TEXT / text
  kInt,        // INTEGER / bigint
  kReal,       // REAL / double precision
  kBool,       // INTEGER 0/1 / boolean
  kTimestamp,  // INTEGER Unix ms UTC / timestamptz
  kHlc,        // INTEGER / bigint (packed HlcTimestamp)
  kJson,       // TEXT (valid JSON) / json (text kept as written, so both sides compare equal)
  kEnum,       // TEXT limited to ColumnSpec::values / text with the same CHECK
};

// Who authors a table's rows ([C], [S], [B] in DOMAIN.md).
enum class Owner { kCentral, kSite, kShared };

enum class MergePolicy {
  kCentralOwned,  // written only at central; flows down; an edge refuses local edits
  kAppendOnly,    // immutable site facts: inserted once, never updated
  kSiteOwned,     // site-authored rows only their site updates (closing a downtime): LWW by HLC
  kSharedLww,     // edited on both sides: per-column LWW by HLC, site id breaks ties, and a
                  // state-machine column only moves forward
};

// Which edges receive a table's rows on the downstream feed.
enum class RoutingScope {
  kSite,    // the row's own site (a NULL site_id means every site of the tenant)
  kTenant,  // every site of the tenant
};

std::string_view ToString(ColumnType t);
std::string_view ToString(Owner o);
std::string_view ToString(MergePolicy m);
std::string_view ToString(RoutingScope s);

// A state machine over a status column. Status only moves forward: a merge may replace
// state A by B only when B is reachable from A along the arrows.
class StateMachine {
 public:
  StateMachine(std::string name, std::vector<std::string> states,
               std::vector<std::pair<std::string, std::string>> arrows);

  const std::string& name() const { return name_; }
  const std::vector<std::string>& states() const { return states_; }
  const std::vector<std::pair<std::string, std::string>>& arrows() const { return arrows_; }
  bool IsState(std::string_view s) const;
  // There is an arrow from -> to.
  bool CanTransition(std::string_view from, std::string_view to) const;
  // `to` can be reached from `from` by one or more arrows.
  bool IsReachable(std::string_view from, std::string_view to) const;
  // No arrow leaves `s`.
  bool IsTerminal(std::string_view s) const;

 private:
  int Index(std::string_view s) const;
  std::string name_;
  std::vector<std::string> states_;
  std::vector<std::pair<std::string, std::string>> arrows_;
  std::vector<std::vector<bool>> reach_;  // transitive closure
};

// What a value of a column may be beyond its type, checked by Row::Validate on every write
// path (terminal HTTP, mesctl, the downstream apply, central's applier and `put`):
//   kReal        finite, within [min, max] (default +-1e12)
//   kInt         within [min, max] (default +-2^53, what JSON numbers carry exactly)
//   kTimestamp   Unix ms within [min, max] (default 1970 .. 2200)
//   kHlc         not negative
//   kText        valid UTF-8 without NUL, at most max_length bytes (default 4096)
//   kJson        at most max_length bytes (default 1 MiB)
// Bounds are validation, not shape: they are not part of the catalog fingerprint.
struct ColumnLimits {
  double min, max;
  std::size_t max_length;
};

struct ColumnSpec {
  std::string name;
  ColumnType type = ColumnType::kText;
  bool nullable = false;
  std::vector<std::string> values;              // kEnum: the allowed values
  const StateMachine* state_machine = nullptr;  // set on a status column; values = its states
  std::optional<double> min, max;               // unset: the type's default range
  std::size_t max_length = 0;                   // 0: the type's default
  // The edge schema (common/schema_versions.h) whose migration added the column; 0: a
  // column of the first catalog. Central serves the edge schema before its own, which does
  // not know the column (sync/schema_translation.h).
  int since = 0;

  ColumnSpec Null() const {
    ColumnSpec c = *this;
    c.nullable = true;
    return c;
  }
  ColumnSpec Range(double lo, double hi) const {
    ColumnSpec c = *this;
    c.min = lo;
    c.max = hi;
    return c;
  }
  ColumnSpec MaxLength(std::size_t n) const {
    ColumnSpec c = *this;
    c.max_length = n;
    return c;
  }
  ColumnSpec Since(int edge_schema) const {
    ColumnSpec c = *this;
    c.since = edge_schema;
    return c;
  }
  // The limits in force: the column's own or its type's defaults.
  ColumnLimits Limits() const;
};

struct IndexSpec {
  IndexSpec(std::vector<std::string> cols, std::string predicate = "", bool central = false)
      : columns(std::move(cols)), where(std::move(predicate)), central_only(central) {}
  std::vector<std::string> columns;  // PostgreSQL puts tenant_id first
  std::string where;                 // a partial index's predicate (SQL), or none
  bool central_only = false;         // for central's reports: not made on the edge
};

struct TableSpec {
  std::string name;
  Owner owner = Owner::kSite;
  MergePolicy merge = MergePolicy::kAppendOnly;
  RoutingScope scope = RoutingScope::kSite;
  std::string doc;
  std::vector<ColumnSpec> columns;  // all columns, system columns included, in storage order
  std::vector<IndexSpec> indexes;   // for the report and terminal query paths
  // Records that never change once written, by anyone (the audit trail): the DDL refuses
  // UPDATE and DELETE on both sides, and the application role is granted neither.
  bool immutable = false;

  const ColumnSpec* Find(std::string_view column) const;
  // How many leading columns an edge of `edge_schema` knows: the columns added later
  // (ColumnSpec::since) come last, after the system columns.
  std::size_t WidthAt(int edge_schema) const;
  // The state-machine column, or nullptr.
  const ColumnSpec* StatusColumn() const;
  bool site_id_nullable() const;
};

// A column added after the first catalog (ColumnSpec::since) must be translatable for the
// edge schema before it: it comes after every column of an older schema, is nullable (an
// older edge's rows carry NULL in it), and belongs to an append-only table (no older edge
// ever rewrites a row, so none can erase the value it does not know). The constructor
// throws std::logic_error naming the column otherwise.
class Catalog {
 public:
  explicit Catalog(std::vector<TableSpec> tables);
  Catalog(const Catalog&) = delete;
  Catalog& operator=(const Catalog&) = delete;

  const std::vector<TableSpec>& tables() const { return tables_; }
  const TableSpec* Find(std::string_view table) const;
  // A stable 64-bit fingerprint of every name, type, flag and policy above. Two nodes
  // with the same fingerprint agree on the shape of every synced row.
  std::uint64_t Fingerprint() const { return fingerprint_; }
  // Fingerprint as 16 hex digits.
  std::string FingerprintHex() const;
  // The fingerprint of the catalog as an edge of `edge_schema` has it: the columns added
  // after that schema left out. Equal to Fingerprint() for the newest schema.
  std::string FingerprintHexAt(int edge_schema) const;
  // The newest ColumnSpec::since of any column (0: none was added).
  int NewestSince() const { return newest_since_; }

 private:
  std::vector<TableSpec> tables_;
  std::uint64_t fingerprint_;
  int newest_since_ = 0;
};

// The fingerprint of the catalog that the newest schema migrations (edge/migrations,
// central/migrations) create. A catalog change changes MesCatalog()'s fingerprint and fails
// a test until both sides have a new migration step and this value is updated.
inline constexpr std::string_view kMigratedCatalogFingerprint = "e1c6cb74adfe68fb";

// The Millrace MES catalog (DOMAIN.md). Built once, on first use.
const Catalog& MesCatalog();

// The MES state machines, for domain services and merges.
const StateMachine& WorkOrderStates();
const StateMachine& OperationStates();
const StateMachine& LotStates();
const StateMachine& NonConformanceStates();

// Site and tenant ids: 1..32 of [a-z0-9-], not starting with '-'. Every node checks
// them the same way (edge config, provisioning, the PostgreSQL CHECKs).
bool IsValidSiteId(const std::string& id);

// The system column names.
inline constexpr std::string_view kIdColumn = "id";
inline constexpr std::string_view kSiteColumn = "site_id";
inline constexpr std::string_view kHlcColumn = "hlc";
inline constexpr std::string_view kOriginColumn = "origin";

}  // namespace millrace::catalog
