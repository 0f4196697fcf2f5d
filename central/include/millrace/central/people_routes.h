// Who is asking central's HTTP, and the routes that manage people.
//
// A request is someone's by one of three credentials:
//   - the session cookie of a user who logged in (POST /api/v1/session). The cookie is
//     HttpOnly and SameSite=Strict; a request that changes anything must also carry the
//     session's CSRF token in X-CSRF-Token (given at login and by GET /api/v1/session).
//   - an API token of a tenant (Authorization: Bearer mrt_...), with its role and sites.
//   - an admin token of the platform (Authorization: Bearer <hex>): a platform operator.
// Logins are throttled per login and per address (common/login_throttle.h): 429 with
// Retry-After, the right password refused too while locked.
//
// Routes: POST/GET/DELETE /api/v1/session; GET/POST /api/v1/users and PATCH
// /api/v1/users/{login} for a tenant's admins (and the platform's operators, who name the
// tenant); GET/POST /api/v1/api-tokens and DELETE /api/v1/api-tokens/{name} likewise. Every
// body is checked field by field; an unknown field is refused by name.
//
// Thread-safety: Authenticate and the handlers may run on any HTTP thread.
#pragma once

#include <string>

#include "millrace/central/admin_token.h"
#include "millrace/central/people.h"
#include "millrace/central/pg_pool.h"
#include "millrace/central/report_routes.h"
#include "millrace/common/http.h"
#include "millrace/common/login_throttle.h"

namespace millrace::central {

struct CentralAuthOptions {
  PgPool* pool = nullptr;                  // for sessions and tokens
  AdminTokenCache* admin_tokens = nullptr;
  LoginThrottle* throttle = nullptr;
  int idle_seconds = 8 * 3600;             // a session lasts this long past its last use
  bool secure_cookies = false;             // central serves HTTPS: cookies say Secure
  MetricsRegistry* metrics = nullptr;
};

class CentralAuth {
 public:
  explicit CentralAuth(CentralAuthOptions options);

  // Unauthenticated without a valid credential; PermissionDenied for a state-changing
  // request with a session but without its CSRF token.
  Result<Viewer> Authenticate(const HttpRequest& req) const;
  // A tenant's admin of `tenant` or a platform operator; `tenant` "" means the viewer's own.
  static Status RequireAdmin(const Viewer& v, const std::string& tenant);

  void AddRoutes(Router& router) const;

 private:
  CentralAuthOptions o_;
  Family<Counter>* logins_ = nullptr;
};

}  // namespace millrace::central
