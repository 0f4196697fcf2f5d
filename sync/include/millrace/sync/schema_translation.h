// Rows between the catalog's newest shape and the shape of the edge schema before it.
//
// Central serves edges of its own edge schema and of the one before (common/
// schema_versions.h), so a fleet upgrades site by site. A column the catalog gained
// (ColumnSpec::since) comes last in its table, is nullable and belongs to an append-only
// table (catalog.h), so the two shapes differ only by a suffix of columns:
//   up       an older edge's change is as wide as its table at that edge's schema; central
//            reads it with NULL in the columns the edge does not know (DecodeServedShape,
//            which also reads feed entries central wrote before its upgrade);
//   down     central leaves those columns out of what it sends that edge (NarrowChange);
//   compare  a row whose added columns are NULL compares equal to its older shape
//            (ComparableChange), so drift checks and content digests agree across them.
// Pure functions of their arguments; thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>

#include "millrace/common/catalog.h"
#include "millrace/common/row.h"
#include "millrace/common/schema_versions.h"
#include "millrace/common/status.h"
#include "millrace/sync/v1/sync.pb.h"

namespace millrace::sync {

// The edge schema of a pull or drift request that says none: edges began saying it there
// with edge schema 7, so one that does not is of schema 6 (central refuses older ones at
// Hello). EdgeSchemaOf: the schema whose shape to use for what an edge said (0: that one; a
// schema newer than this build's: this build's).
inline constexpr int kUnlabelledEdgeSchema = 6;
int EdgeSchemaOf(std::uint32_t said);

// DecodeChange (row_codec.h) for a change in the shape of any edge schema this build serves:
// one as wide as its table at the older served schema is read with NULL in the columns
// added since.
// `known_columns`, when given, is set to how many leading columns the sender knew.
Result<Row> DecodeServedShape(const v1::Change& change, const catalog::Catalog& catalog,
                           std::size_t* known_columns = nullptr);

// Leaves out of `change` the columns an edge of `edge_schema` does not know (and any
// changed_columns index past them). A change of an unknown table is left as it is.
void NarrowChange(v1::Change* change, const catalog::Catalog& catalog, int edge_schema);

// EncodeChange(row, OP_UPSERT) with the trailing NULLs of added columns left out: the
// encoding drift fingerprints and content digests hash, equal for an older edge's copy of
// the row and central's. With `edge_schema`, narrowed to that schema first (central
// comparing its rows with such an edge's: a value the edge cannot hold is no difference).
// REQUIRES: row.Validate() is OK.
v1::Change ComparableChange(const Row& row, int edge_schema = kEdgeSchemaVersion);

}  // namespace millrace::sync
