// The edge's SQLite schema: the catalog tables plus edge bookkeeping, versioned with
// PRAGMA user_version and recorded with the catalog fingerprint they were made from.
// The steps are the frozen SQL files in edge/migrations (common/migration.h); a released
// step never changes, a catalog change is a new step. Migrating runs in one transaction:
// if it fails the database is as it was.
#pragma once

#include <string>

#include "millrace/common/migration.h"
#include "millrace/common/schema_versions.h"
#include "millrace/common/sqlite.h"

namespace millrace::edge {

using millrace::kEdgeSchemaVersion;  // common/schema_versions.h

// Every step, in order (generated from edge/migrations).
const std::vector<Migration>& EdgeMigrations();

// Brings the database to kEdgeSchemaVersion. FailedPrecondition if it is newer.
Status MigrateEdgeSchema(SqliteDb& db);
// OK when the database is at this build's version and catalog.
Status CheckEdgeSchemaCurrent(SqliteDb& db);

}  // namespace millrace::edge
