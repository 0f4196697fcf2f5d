// The terminal HTTP API (/api/v1/...): JSON over the MesService, for the web terminal,
// mesctl and scripts. Handlers are pure request -> response functions on a Router.
//
// Authentication: POST /api/v1/sessions with badge id and PIN returns a token; every
// other call sends "Authorization: Bearer <token>" (the web terminal: a cookie). Wrong PINs
// are throttled per badge and per client address (common/login_throttle.h): 429 with Retry-After.
// The backup, outbox and content endpoints need a supervisor. Lists page with a keyset cursor:
// ?limit=N&after=<id> returns {"items": [...], "next": "<id>" | null}.
// Errors: {"error": {"code": "<status code>", "rule": "<rule broken>", "message": "..."}}.
#pragma once

#include "millrace/common/http.h"
#include "millrace/common/login_throttle.h"
#include "millrace/edge/services.h"

namespace millrace::edge {

struct ApiOptions {
  std::string backup_dir = "backups";
  int backup_keep = 24;
  LoginThrottleOptions pin_throttle;
  MetricsRegistry* metrics = nullptr;  // PIN failures and refusals; may be null
};

// REQUIRES: service (and options.metrics) outlive the router.
void AddTerminalApi(Router& router, MesService& service, ApiOptions options = {});

// `handler` behind a badged-in supervisor's session: 401 without a session, 403 for
// another role. For the administrative endpoints registered outside the terminal API.
HttpHandler SupervisorOnly(MesService& service, HttpHandler handler);

// A row as JSON, driven by the catalog (booleans as true/false, JSON columns embedded,
// timestamps as Unix ms). Never includes secrets (users.pin_hash).
std::string RowJson(const Row& row);

}  // namespace millrace::edge
