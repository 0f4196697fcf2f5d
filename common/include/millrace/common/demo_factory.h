// The demo factory: the master data of a small bracket and housing maker, for the local
// deployment, the simulator and the tests. Central loads it for a tenant and its sites
// (`mes-central seed-demo`); a standalone edge loads it for itself (`mes-edge seed`).
//
// Tenant-wide rows (materials, inspection plans, reasons, users) get ids derived from the
// tenant; plant-specific rows (the equipment tree below the enterprise, BOMs, routings,
// locations, shifts) from the site, so every node computes the same ids.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "millrace/common/row.h"
#include "millrace/common/status.h"

namespace millrace::demo {

inline constexpr const char* kPin = "1234";  // every demo user's PIN
inline constexpr std::int64_t kEpochMs = 1767225600000;  // 2026-01-01T00:00:00Z, demo row clock

// A UUIDv7 derived from a name: DemoId("plant-a", "equipment", "L1-CUT").
std::string DemoId(const std::string& scope, const std::string& kind, const std::string& code);


// Every master-data row of the demo for `tenant` (the scope of tenant-wide ids) and its
// sites, stamped as central's: origin "central", hlc at kEpochMs. Users get `pin_hash`
// and may work at every listed site.
std::vector<Row> MasterData(const std::string& tenant, const std::vector<std::string>& sites,
                            const std::string& pin_hash);

}  // namespace millrace::demo
