// Central's cross-site reports (DOMAIN.md, "Cross-site reports"): one declaration per report
// (its name, what it answers, the parameters it takes) drives parsing, validation, caching
// and the HTTP routes under /api/v1/reports/<name>.
//
// Every report reads a tenant's data inside a transaction of that tenant (row-level
// security), and those over time read the rollups (central migration 6), never the raw
// facts, except the drill-downs, which list the facts behind a number. Percentages are
// computed from sums when read. Dates are business dates in each site's own time zone.
//
// A request's parameters are checked before anything runs: an unknown parameter, a bad
// date, a range too long for its granularity, a limit out of range are refused with an
// error that names them.
//
// Thread-safety: the functions are pure or use only the connection given.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "millrace/central/pg.h"
#include "millrace/common/status.h"

namespace millrace::central {

struct ReportSpec {
  std::string name;   // the path segment: /api/v1/reports/<name>
  std::string title;  // what it answers
  std::vector<std::string> groups;  // values of group= (the first is the default); none: no group=
  std::vector<std::string> bys;     // values of by= (the first is the default)
  std::vector<std::string> params;  // further parameters it takes (drill-down keys)
  bool time_range = true;           // takes from=, to= (and granularity= when granular)
  bool granular = false;            // takes granularity=
  std::vector<std::string> sorts;   // values of sort= (the first is the default)
  // Computed from the rollups: a cached answer holds until the tenant's rollups change
  // for its sites and dates. Otherwise it holds for a few seconds.
  bool from_rollups = true;
};

// Every report, in the order of DOMAIN.md.
const std::vector<ReportSpec>& Reports();
const ReportSpec* FindReport(const std::string& name);

enum class Granularity { kNone, kHour, kShift, kDay, kWeek, kMonth };

struct ReportQuery {
  const ReportSpec* spec = nullptr;
  std::string tenant_id;
  std::vector<std::string> sites, lines, units, products;  // ids or codes
  std::string from, to;  // YYYY-MM-DD, both included, business dates in each site's zone
  Granularity granularity = Granularity::kDay;
  std::string group, by, sort;
  std::map<std::string, std::string> params;  // the report's own parameters
  int limit = 100;
  std::string after;  // keyset cursor of the previous page ("" for the first)
  // The sites the viewer may see (empty: all of the tenant's). Row-level security holds the
  // report to them (app.sites) when it runs as the report role, whatever its SQL filters.
  std::vector<std::string> allowed_sites;
  bool csv = false;

  // The canonical form of everything that decides the answer (for caching).
  std::string CacheKey() const;
};

// Parses the query parameters of GET /api/v1/reports/<spec.name>. `today` (YYYY-MM-DD)
// sets the default range (the seven days up to today). `tenant_id` is the caller's tenant
// (an operator of the platform passes tenant= instead, `tenant_param_allowed`).
Result<ReportQuery> ParseReportQuery(const ReportSpec& spec,
                                     const std::map<std::string, std::string>& query,
                                     const std::string& accept_header, const std::string& today,
                                     const std::string& tenant_id, bool tenant_param_allowed);

struct ReportColumn {
  enum class Type { kText, kInteger, kNumber, kRatio, kDate, kTime };
  std::string name;
  Type type = Type::kText;
};

struct ReportResult {
  std::vector<ReportColumn> columns;
  std::vector<std::vector<nlohmann::json>> rows;  // values in column order
  std::string next;                               // cursor of the next page; "" on the last
  // When each site's data was last brought up to date at central (its last applied batch),
  // and the oldest of them: the answer is as of then.
  std::map<std::string, std::string> sites_as_of;
  std::string data_as_of;
  std::set<std::string> sites;  // the sites the answer covers (for cache invalidation)
  // Where it was read (the caller says: replica_reads.h): "primary" or "replica", the
  // replica's staleness in seconds, and why the primary when a replica is configured.
  std::string read_from = "primary";
  std::optional<double> staleness_s;
  std::string replica_skipped;
};

// Runs the report in a transaction of the query's tenant on `conn` (as central's report
// role: PgPoolOptions::role), with app.sites set to the query's allowed sites.
Result<ReportResult> RunReport(PgConnection& conn, const ReportQuery& query);

// {"report", "tenant", "data_as_of", "sites_as_of", "read_from", "staleness_seconds",
//  "columns", "rows": [{...}], "next"}.
std::string RenderReportJson(const ReportQuery& query, const ReportResult& result);
// RFC 4180: a header of column names, then one line per row.
std::string RenderReportCsv(const ReportResult& result);

}  // namespace millrace::central
