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
  // The placeholder of the cursor's part `i` (after the extras).
  std::string Cursor(std::size_t i) const { return "$" + std::to_string(8 + extra.size() + i); }
  // The placeholder of the next extra parameter, once `value` is added.
  std::string Add(PgParam value) {
    extra.push_back(std::move(value));
    return "$" + std::to_string(7 + extra.size());
  }
};

std::string TextArray(const std::vector<std::string>& values);
Params CommonParams(const ReportQuery& q);

Status Oee(PgConnection& conn, const ReportQuery& q, ReportResult* out, Sql* sql);
Status DowntimePareto(PgConnection& conn, const ReportQuery& q, ReportResult* out, Sql* sql);
Status DowntimeEvents(PgConnection& conn, const ReportQuery& q, ReportResult* out, Sql* sql);
Status ScrapPareto(PgConnection& conn, const ReportQuery& q, ReportResult* out, Sql* sql);
Status ScrapEvents(PgConnection& conn, const ReportQuery& q, ReportResult* out, Sql* sql);
Status Reliability(PgConnection& conn, const ReportQuery& q, ReportResult* out, Sql* sql);
Status SyncHealth(PgConnection& conn, const ReportQuery& q, ReportResult* out, Sql* sql);

}  // namespace millrace::central::report_sql
