// Catalog rows in PostgreSQL's binary wire formats: one array parameter per column, so a
// batch of rows goes in as `INSERT ... SELECT FROM unnest($1, $2, ...)`, one statement
// with no text to print or parse on either side. Row-level security, partition routing
// and triggers apply as to any INSERT (COPY FROM is refused under row-level security).
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <vector>

#include "millrace/central/pg.h"
#include "millrace/common/catalog.h"
#include "millrace/common/row.h"

namespace millrace::central {

// The array of column `column` of `rows` (every row of one table), or of the tenant id
// repeated when `column` is -1, as a binary parameter of type <column type>[].
// InvalidArgument when a value does not fit its column (a UUID that does not parse).
Result<PgBinaryParam> ColumnArray(const std::vector<Row>& rows, int column,
                                  const std::string& tenant_id = "");

// "INSERT INTO <table> (tenant_id, <columns>) SELECT * FROM unnest($1::text[], ...)".
std::string UnnestInsertSql(const catalog::TableSpec& table);

// Inserts `rows` (of `table`, new facts) in one statement of binary arrays. REQUIRES: a
// transaction in the tenant's context (BeginTenant).
Status InsertRowsBinary(PgConnection& conn, const std::string& tenant_id,
                        const catalog::TableSpec& table, const std::vector<Row>& rows);

}  // namespace millrace::central
