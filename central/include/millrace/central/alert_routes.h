// Central's alerts over HTTP (alert_store.h), for a tenant's site managers and admins and
// the platform's operators (who name the tenant: ?tenant= or "tenant" in a body):
//
//   GET    /api/v1/alerts?state=&kind=&before=&limit=   newest first; a full page names
//          next_before, the keyset of the next (state: open, pending, firing, resolved)
//   GET    /api/v1/alerts/{id}                          with its history, oldest first
//   POST   /api/v1/alerts/{id}/ack {comment}            site_manager and up
//   GET    /api/v1/alert-rules                          every kind, with the tenant's settings
//   PUT    /api/v1/alert-rules/{kind} {enabled?, severity?, threshold?, clear_threshold?,
//          for_s?}   what is not given keeps its setting; tenant_admin and up
//   DELETE /api/v1/alert-rules/{kind}                   back to the kind's defaults
//   GET    /api/v1/alert-webhooks
//   PUT    /api/v1/alert-webhooks/{name} {url, min_severity?}   tenant_admin and up
//   DELETE /api/v1/alert-webhooks/{name}
//
// An unknown field or parameter, a value out of range or of the wrong type is refused by
// name (400); another tenant's alert is not found (404).
//
// Thread-safety: the handlers run on any HTTP thread.
#pragma once

#include <functional>

#include "millrace/central/people.h"
#include "millrace/central/pg_pool.h"
#include "millrace/common/http.h"

namespace millrace::central {

struct AlertRoutesOptions {
  PgPool* pool = nullptr;
  std::function<Result<Viewer>(const HttpRequest&)> authenticate;
};

// REQUIRES: what the options point to outlives the router.
void AddAlertRoutes(Router& router, AlertRoutesOptions options);

}  // namespace millrace::central
