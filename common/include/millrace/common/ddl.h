// DDL derived from the schema catalog, for the edge (SQLite) and central (PostgreSQL).
//
// SQLite: STRICT tables, CHECK constraints for enums, booleans, JSON and UUID length.
// PostgreSQL: tenant_id in front of every table, primary key (tenant_id, id), the
// catalog's indexes led by tenant_id, and row-level security that shows a session only
// the rows of current_setting('app.tenant_id'). With the setting absent a session sees
// nothing. FORCE ROW LEVEL SECURITY makes the policy bind the table owner too. Site facts
// are partitioned by range of their UUIDv7 ids, that is by the time they were made.
//
// Every statement is idempotent (IF NOT EXISTS / DROP ... IF EXISTS), so applying the
// DDL twice is harmless.
#pragma once

#include <string>
#include <vector>

#include "millrace/common/catalog.h"

namespace millrace::catalog {

// One statement per element, no trailing semicolons.
std::vector<std::string> SqliteDdl(const Catalog& catalog);

struct PostgresDdlOptions {
  std::string schema = "millrace";
  std::string owner_role = "millrace_owner";  // owns the tables; never used to log in
  std::string app_role = "millrace_app";  // what the daemons log in as: no ownership, no BYPASSRLS
  // What central's report connections SET ROLE to: reads only, and row-level security that
  // also holds it to the sites of the viewer (app.sites); granted to the app role.
  std::string report_role = "millrace_report";
};

// Creates the two roles if missing, fixes their attributes, and creates the schema owned
// by the owner role. Run by an administrator (creating a schema needs CREATE on the
// database, which the owner role does not get).
std::vector<std::string> PostgresAdminDdl(const PostgresDdlOptions& options);
// Tables, indexes, RLS policies and grants. Run as (SET ROLE) the owner role, after
// PostgresAdminDdl.
std::vector<std::string> PostgresDdl(const Catalog& catalog, const PostgresDdlOptions& options);

// The SQL type of a column in each dialect ("TEXT", "uuid", ...).
std::string SqliteType(ColumnType type);
std::string PostgresType(ColumnType type);

// Quotes an SQL identifier / string literal.
std::string QuoteIdent(const std::string& ident);
std::string QuoteLiteral(const std::string& value);

}  // namespace millrace::catalog
