// A frozen schema migration: one released step of the edge's or central's schema.
//
// Migrations live as SQL files (edge/migrations, central/migrations) compiled into the
// binaries by cmake/MillraceEmbed.cmake. A released migration never changes: a change to
// the catalog is a new step, and the tests fail when the newest step and the catalog
// disagree (tests/unit/edge/migrations_test.cc, tests/integration/pg_migrations_test.cc)
// or when a released step's text changes.
#pragma once

#include <string_view>
#include <vector>

namespace millrace {

struct Migration {
  int version;             // 1, 2, ... in order, no gaps
  std::string_view name;   // the file name without .sql, e.g. "0002_outbox"
  std::string_view sql;    // one or more statements
};

}  // namespace millrace
