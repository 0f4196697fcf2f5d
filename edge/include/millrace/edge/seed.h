// A small realistic factory for demos and tests: one site with two lines and six work
// units, materials, BOMs, routings with an inspection plan, a reason tree, three shifts,
// users of every role, stock lots, and two work orders.
//
// Master data is written through the downstream path, as if it came from central (an
// edge never authors master data). Stock receipts, lots and work orders are written like
// any site write and captured for sync. Ids are derived from the site and the record's
// code, so seeding the same site twice yields the same ids.
#pragma once

#include <string>

#include "millrace/edge/store.h"

namespace millrace::edge {

// PINs of the seeded users (badge: PIN): 1001, 1002 operators; 2001 supervisor;
// 3001 quality. All PINs are "1234" except where a test needs otherwise.
inline constexpr const char* kDemoPin = "1234";

// Loads the demo factory. AlreadyExists when the site already has equipment.
Status SeedDemoSite(EdgeStore& store);

// The deterministic id a seeded record of `kind` and `code` gets at `site`.
std::string SeedId(const std::string& site, const std::string& kind, const std::string& code);

// Hashes a PIN with libsodium's Argon2id (crypto_pwhash_str, interactive limits).
Result<std::string> HashPin(const std::string& pin);
// True when `pin` matches `hash`.
bool VerifyPin(const std::string& hash, const std::string& pin);

}  // namespace millrace::edge
