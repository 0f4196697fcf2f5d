// The demo factory on an edge (common/demo_factory.h has the master data): one site with
// two lines and six work units, materials, BOMs, routings with an inspection plan, a
// reason tree, three shifts, users of every role, stock lots, and two work orders.
//
// Master data is written through the downstream path, as if it came from central (an
// edge never authors master data); a synced edge gets it from central instead. Stock
// receipts, lots and work orders are written like any site write and captured for sync.
// Ids are derived from the site and the record's code, so seeding twice yields the same ids.
#pragma once

#include <string>

#include "millrace/common/demo_factory.h"
#include "millrace/edge/store.h"

namespace millrace::edge {

// PINs of the seeded users (badge: PIN): 1001, 1002 operators; 2001 supervisor;
// 3001 quality. All PINs are "1234".
inline constexpr const char* kDemoPin = demo::kPin;

// Loads the demo factory's site state (stock lots, work orders), and first its master data
// when `master_data` (a standalone edge; a synced edge gets it from central). AlreadyExists
// when the site already has stock; FailedPrecondition without master data to build on.
Status SeedDemoSite(EdgeStore& store, bool master_data = true);

// The deterministic id a seeded record of `kind` and `code` gets at `site`.
std::string SeedId(const std::string& site, const std::string& kind, const std::string& code);


}  // namespace millrace::edge
