// Content digests: how two nodes prove they hold the same rows. A digest covers a list of
// rows sorted by id, each encoded as its wire change (sync/row_codec.h), so equal digests
// mean the same rows with the same values, byte for byte, whatever stores them. A column
// added since the edge schema before (catalog.h) counts only where it is not NULL, so an
// edge of that schema and central compare equal (ComparableChange, schema_translation.h).
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <vector>

#include "millrace/common/row.h"

namespace millrace::sync {

// "<rows>:<64-bit FNV-1a of the encoded rows, hex>". REQUIRES: rows sorted by id.
std::string ContentDigest(const std::vector<Row>& rows);

}  // namespace millrace::sync
