// Rows <-> wire changes, driven by the catalog: one codec for every table.
//
// Values travel as v1::Value in catalog column order; UUIDs as 16 bytes, everything
// integral (int, bool, timestamp, hlc) as sint64. Decoding checks the table exists, the
// value count and each value against its column, so a bad change is refused with a
// reason (to be parked in a reject table) instead of reaching storage.
#pragma once

#include "millrace/common/catalog.h"
#include "millrace/common/row.h"
#include "millrace/common/status.h"
#include "millrace/sync/v1/sync.pb.h"

namespace millrace::sync {

// REQUIRES: row.Validate() is OK. seq is left 0 for the caller to set.
v1::Change EncodeChange(const Row& row, v1::Op op);

// InvalidArgument (naming table and column) when the change does not fit the catalog.
Result<Row> DecodeChange(const v1::Change& change, const catalog::Catalog& catalog);

}  // namespace millrace::sync
