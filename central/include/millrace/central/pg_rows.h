// Catalog rows <-> PostgreSQL, for every table at once (no per-table code).
//
// Writing: COPY text lines and text parameters, tenant_id first, then the catalog columns.
// Timestamps (Unix ms on the wire) become timestamptz, booleans true/false, UUIDs their
// canonical text. Reading: a select list that casts every column back to the wire shape
// (timestamps to Unix ms, booleans to 0/1, json to its text as written), so a row read
// from PostgreSQL compares equal to the row an edge holds.
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <vector>

#include "millrace/central/pg.h"
#include "millrace/common/catalog.h"
#include "millrace/common/row.h"

namespace millrace::central {

// "millrace"."<table>"
std::string PgTable(const catalog::TableSpec& table);
// "tenant_id", "id", "site_id", ... in catalog order.
std::string PgInsertColumns(const catalog::TableSpec& table);
// The catalog columns cast to the wire shape, for SELECT (optionally qualified: "t.").
std::string PgSelectList(const catalog::TableSpec& table, const std::string& qualifier = "");
// Reads a row selected with PgSelectList, starting at column `first`.
Result<Row> RowFromPg(const catalog::TableSpec& table, const PgResult& res, int row, int first = 0);
// One COPY text line (with the newline): tenant_id, then the row.
void AppendCopyLine(const std::string& tenant_id, const Row& row, std::string* out);
// Text parameters: tenant_id, then the row.
void AppendParams(const std::string& tenant_id, const Row& row, std::vector<PgParam>* out);
// Unix ms as a timestamptz literal ("2026-11-22 08:00:00.123+00").
std::string PgTimestamp(std::int64_t unix_ms);

}  // namespace millrace::central
