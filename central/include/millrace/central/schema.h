// Central's PostgreSQL schema: versioned migrations that create the roles, the schema
// and every catalog table with its RLS policy, recorded in millrace.schema_migrations
// together with the catalog fingerprint they were made from. The steps are the frozen SQL
// files in central/migrations (common/migration.h); a released step never changes, a
// catalog change is a new step.
//
// Migrations run in one transaction under an advisory lock, so two central nodes
// starting at once cannot interleave, and a failed migration leaves nothing behind.
// Tables are created as the owner role (never a login role) and granted to the app role.
#pragma once

#include <string>

#include "millrace/central/pg.h"
#include "millrace/common/ddl.h"
#include "millrace/common/migration.h"

namespace millrace::central {

inline constexpr int kCentralSchemaVersion = 19;

// Every step, in order (generated from central/migrations), with @SCHEMA@, @OWNER@ and
// @APP@ standing for the deployment's names.
const std::vector<Migration>& CentralMigrations();

struct SchemaState {
  int version = 0;  // 0: nothing applied yet
  std::string catalog_fingerprint;
};

// REQUIRES: `admin` may create roles and is a member of the owner role (a superuser is).
// Returns the state after migrating. FailedPrecondition if the database is newer than
// this build.
Result<SchemaState> MigrateCentralSchema(PgConnection& admin,
                                         const catalog::PostgresDdlOptions& options = {});

// What the database holds now (readable by the app role).
Result<SchemaState> ReadSchemaState(PgConnection& conn,
                                    const catalog::PostgresDdlOptions& options = {});

// Makes the monthly partitions of the site fact tables up to `months_ahead` months after
// this one (moving rows a site's fast clock put in a default partition into their month);
// returns how many it made. Run by every mes-central serve at start and every few hours.
Result<int> EnsureFactPartitions(PgConnection& conn, int months_ahead = 3);

// OK when the database is at this build's version and catalog; used by /ready.
Status CheckSchemaCurrent(PgConnection& conn, const catalog::PostgresDdlOptions& options = {});

}  // namespace millrace::central
