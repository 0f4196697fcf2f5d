// The terminal HTTP API (/api/v1/...): JSON over the MesService, for the web terminal,
// mesctl and scripts. Handlers are pure request -> response functions on a Router.
//
// Authentication: POST /api/v1/sessions with badge id and PIN returns a token; every
// other call sends "Authorization: Bearer <token>". Lists page with a keyset cursor:
// ?limit=N&after=<id> returns {"items": [...], "next": "<id>" | null}.
// Errors: {"error": {"code": "<status code>", "rule": "<rule broken>", "message": "..."}}.
#pragma once

#include "millrace/common/http.h"
#include "millrace/edge/services.h"

namespace millrace::edge {

struct ApiOptions {
  std::string backup_dir = "backups";
  int backup_keep = 24;
};

// REQUIRES: service outlives the router.
void AddTerminalApi(Router& router, MesService& service, ApiOptions options = {});

// A row as JSON, driven by the catalog (booleans as true/false, JSON columns embedded,
// timestamps as Unix ms). Never includes secrets (users.pin_hash).
std::string RowJson(const Row& row);

}  // namespace millrace::edge
