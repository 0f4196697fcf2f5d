// Sample rows for any catalog table, so tests cover every table without per-table code.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "millrace/common/catalog.h"
#include "millrace/common/row.h"

namespace millrace::testing {

enum class Dialect { kSqlite, kPostgres };

// Text values for every column of `table` (nullopt = NULL for nullable columns when
// fill_nullable is false), valid for the dialect: timestamps are Unix ms for SQLite and
// ISO-8601 for PostgreSQL, booleans 0/1 or true/false. `n` varies the values.
std::vector<std::optional<std::string>> SampleRow(const catalog::TableSpec& table, Dialect dialect,
                                                  const std::string& site_id, int n,
                                                  bool fill_nullable = true);

// The same sample as a typed Row (the wire/edge shape: Unix ms, 0/1 booleans).
Row SampleTypedRow(const catalog::TableSpec& table, const std::string& site_id, int n);

// "INSERT INTO <table> (cols...) VALUES (?, ...)" or ($1, ...), with an optional leading
// tenant_id column and schema prefix for PostgreSQL.
std::string InsertSql(const catalog::TableSpec& table, Dialect dialect,
                      const std::string& schema = "", bool with_tenant = false);

}  // namespace millrace::testing
