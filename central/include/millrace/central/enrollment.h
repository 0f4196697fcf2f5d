// Enrollment: a site provisioned with a one-time code instead of keys (provision-site
// --enroll-hours) gets its key registered on first contact. The edge makes its own Curve
// key pair (the secret never leaves it) and posts the public key with the code, boxed for
// central's key, to POST /api/v1/enroll; central registers the key if the code is known, of
// that site, unused, unexpired and the site active, spends the code in the same step
// (migration 0018, sync_enroll()), and answers with a box only central could make. Only the
// code's SHA-256 is kept. A code is 160 random bits, so guessing one is hopeless; every
// refusal is still logged with the caller's address.
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
// Answers the tenant and site; NotFound (unknown code, or a code of another site than
// `site_id`), Conflict (spent on another key, or the key is some site's already),
// FailedPrecondition (expired), PermissionDenied (the site was revoked). The same code and
// key again answer Ok (an edge asking twice) and are not audited again.
struct Enrolled {
  std::string tenant_id, site_id;
  bool already = false;
};
Result<Enrolled> Enroll(PgConnection& conn, std::string_view code, const std::string& site_id,
                        const std::string& public_key, const WriteContext& who);

// A new code for an active site of `tenant_id` that has no key in use (its first code
// expired or was refused): FailedPrecondition when the site has a key, NotFound when there
// is no such active site.
Result<std::string> NewEnrollmentCodeFor(PgConnection& conn, const std::string& tenant_id,
                                         const std::string& site_id, int hours, const WriteContext& who);

// POST /api/v1/enroll {"site", "public_key", "nonce", "box"}: the box holds the code, made
// by the edge's new key for central's (sync/enrollment_box.h). An accepted enrollment is
// answered {"tenant", "site", "nonce", "box"}, the box made by central's key for the edge's
// and holding "enrolled TENANT/SITE KEY"; a refusal with {"error", "refusal"} (the outcome).
// One enrollment is checked at a time on a node (others are answered 429): the route takes
// no other credential and must not crowd the pool it shares. `central_secret_key` empty:
// this node takes no edges, and the route answers 503.
void AddEnrollRoute(Router& router, PgPool* pool, std::string central_secret_key);

}  // namespace millrace::central
