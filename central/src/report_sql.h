// The SQL of each report (reports.cc runs it). Every statement takes the common parameters
//   $1 tenant, $2 from date, $3 to date, $4 sites, $5 lines, $6 units, $7 products (text[])
// then the report's own (Sql::extra, from $8), then the keyset cursor's parts; its first
// Sql::key_parts columns are the sort key, as text, and it returns at most limit + 1 rows.
#pragma once

#include <string>
#include <vector>

#include "millrace/central/reports.h"

namespace millrace::central::report_sql {

using Params = std::vector<PgParam>;

struct Sql {
  std::string text;
  std::size_t key_parts = 0;
  Params extra;  // the report's own parameters, $8 onwards
  // An aggregation over rollup rows: joined by hash, never by probing the rollups once per
  // work unit (the planner cannot tell how many units pass the viewer's site policy, a
  // restrictive policy over settings, guesses a couple, and would loop).
  bool hash_joins = false;
  // A drill-down: the facts newest first, a page at a time, read in index order and stopped
  // at the page's end, never all sorted (the planner cannot tell how rare a reason is).
  bool index_order = false;
  // The placeholder of the cursor's part `i` (after the extras).
  std::string Cursor(std::size_t i) const { return "$" + std::to_string(8 + extra.size() + i); }
  // The placeholder of the next extra parameter, once `value` is added.
  std::string Add(PgParam value) {
    extra.push_back(std::move(value));
    return "$" + std::to_string(7 + extra.size());
  }
};

// Shared pieces of the statements.
extern const char* const kUnits;    // CTE "units": the work units in scope ($1, $4..$6)
extern const char* const kInRange;  // a rollup row `d` of the tenant in the range of dates
extern const char* const kHourInRange;  // the same for an hour row, bounded by its bucket too
extern const char* const kIso;      // to_char format of an instant in UTC, with ms
std::string ProductMatch(const std::string& product_column);  // $7
// The rollup rows of `kind` (time, output, downtime) over the range $2..$3: the day table,
// or with `months` the whole months of the range from the month table and the days around
// them from the day table (the same columns; a month row's shift is only a mark: nil
// outside every shift, otherwise report_month_shift). Months serve a report that neither
// groups by nor joins on a shift, a day or a week.
std::string RollupRows(const std::string& kind, bool months);
// The first day of the first whole month of $2..$3, and the day after the last ("whole
// months" when the first is before the second).
extern const char* const kFirstWholeMonth;
extern const char* const kAfterWholeMonths;
// Conditions on a date column: outside the whole months of $2..$3, and inside them.
std::string OutsideWholeMonths(const std::string& column);
std::string InWholeMonths(const std::string& column);
// An hour row `d` of the tenant on a day of $2..$3 outside its whole months, bounded by its
// bucket too (so an index on the bucket serves).
std::string HoursOutsideWholeMonths();
std::string FactInRange(const std::string& column);  // fact `d` in range in its site's zone (ss)
std::string Iso(const std::string& expr);
// "(<placeholder> IS NULL OR <condition>)" over the report's parameter `name` ('@' in the
// condition stands for the placeholder).
std::string Optional(Sql* sql, const ReportQuery& q, const std::string& name,
                     const std::string& condition_with_placeholder);
Status CheckBool(const ReportQuery& q, const std::string& name);
std::string Limit(const ReportQuery& q);  // " LIMIT <limit + 1>"

std::string TextArray(const std::vector<std::string>& values);
Params CommonParams(const ReportQuery& q);

Status Oee(PgConnection& conn, const ReportQuery& q, ReportResult* out, Sql* sql);
Status DowntimePareto(PgConnection& conn, const ReportQuery& q, ReportResult* out, Sql* sql);
Status DowntimeEvents(PgConnection& conn, const ReportQuery& q, ReportResult* out, Sql* sql);
Status ScrapPareto(PgConnection& conn, const ReportQuery& q, ReportResult* out, Sql* sql);
Status ScrapEvents(PgConnection& conn, const ReportQuery& q, ReportResult* out, Sql* sql);
Status Reliability(PgConnection& conn, const ReportQuery& q, ReportResult* out, Sql* sql);
Status SyncHealth(PgConnection& conn, const ReportQuery& q, ReportResult* out, Sql* sql);
// report_sql_quality.cc
Status Yield(PgConnection& conn, const ReportQuery& q, ReportResult* out, Sql* sql);
Status Quality(PgConnection& conn, const ReportQuery& q, ReportResult* out, Sql* sql);
Status Spc(PgConnection& conn, const ReportQuery& q, ReportResult* out, Sql* sql);
Status NonConformances(PgConnection& conn, const ReportQuery& q, ReportResult* out, Sql* sql);
// report_sql_orders.cc
Status Orders(PgConnection& conn, const ReportQuery& q, ReportResult* out, Sql* sql);
Status LeadTime(PgConnection& conn, const ReportQuery& q, ReportResult* out, Sql* sql);
Status Wip(PgConnection& conn, const ReportQuery& q, ReportResult* out, Sql* sql);
Status Throughput(PgConnection& conn, const ReportQuery& q, ReportResult* out, Sql* sql);
Status Genealogy(PgConnection& conn, const ReportQuery& q, ReportResult* out, Sql* sql);

}  // namespace millrace::central::report_sql
