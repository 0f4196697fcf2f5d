// Enrollment: a site provisioned with a one-time code instead of keys (provision-site
// --enroll-hours) gets its key registered on first contact. The edge makes its own Curve
// key pair (the secret never leaves it) and posts the public key with the code to
// POST /api/v1/enroll; central registers the key if the code is known, unused, unexpired and
// the site active, and spends the code in the same step (migration 0018, sync_enroll()).
// Only the code's SHA-256 is kept. A code is 160 random bits, so guessing one is hopeless;
// every attempt is still logged with the caller's address.
//
// Thread-safety: functions only; the route runs on any HTTP thread.
#pragma once

#include <string>
#include <string_view>

#include "millrace/central/central_audit.h"
#include "millrace/central/pg.h"
#include "millrace/central/pg_pool.h"
#include "millrace/common/http.h"
#include "millrace/common/status.h"

namespace millrace::central {

// A fresh code: 32 characters of Crockford's base32 in four groups ("7KQ2M9XD-...").
std::string NewEnrollmentCode();

// The SHA-256 (hex) of a code, as kept: case and dashes do not count. InvalidArgument when
// it is not a code's shape.
Result<std::string> EnrollmentCodeHash(std::string_view code);

// Registers `public_key` for the code's site and spends the code, with an audit record.
// Answers the tenant and site; NotFound (unknown code), Conflict (spent on another key, or
// the key is some site's already), FailedPrecondition (expired), PermissionDenied (the site
// was revoked). The same code and key again answer Ok (an edge asking twice).
struct Enrolled {
  std::string tenant_id, site_id;
};
Result<Enrolled> Enroll(PgConnection& conn, std::string_view code, const std::string& public_key,
                        const WriteContext& who);

// POST /api/v1/enroll {"code", "public_key"}: no other credential (the code is one).
void AddEnrollRoute(Router& router, PgPool* pool);

}  // namespace millrace::central
