// What central's JSON admin routes (jobs, backups, alerts) share: a handler that
// authenticates the caller, takes a pooled connection and answers the body's JSON or its
// error; and the keyset paging parameters of their lists.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "millrace/central/people.h"
#include "millrace/central/pg_pool.h"
#include "millrace/common/http.h"

namespace millrace::central {

using JsonRouteBody =
    std::function<Result<nlohmann::json>(const HttpRequest&, const Viewer&, PgConnection&)>;

// REQUIRES: `pool` outlives the handler.
inline HttpHandler JsonRoute(PgPool* pool,
                             std::function<Result<Viewer>(const HttpRequest&)> authenticate,
                             JsonRouteBody body) {
  return [pool, authenticate = std::move(authenticate),
          body = std::move(body)](const HttpRequest& req) {
    auto who = authenticate(req);
    if (!who.ok()) return HttpResponse::Error(who.status());
    auto conn = pool->Acquire();
    if (!conn.ok()) return HttpResponse::Error(conn.status());
    Result<nlohmann::json> out = body(req, *who, **conn);
    if (!out.ok()) return HttpResponse::Error(out.status());
    return HttpResponse::Json(200, out->dump());
  };
}

// ?limit= (1 .. max_limit) and ?before= (an id: the keyset of the next page), the one
// `key` names: InvalidArgument naming it when it is not a number in range.
inline Status PageParam(const std::string& key, const std::string& value, int max_limit, int* limit,
                        std::int64_t* before) {
  if (value.empty() || value.size() > 18 ||
      value.find_first_not_of("0123456789") != std::string::npos)
    return Status::InvalidArgument(key + " must be a positive number, got '" + value + "'");
  const std::int64_t v = std::stoll(value);
  if (key == "before") {
    *before = v;
    return Status::Ok();
  }
  if (v < 1 || v > max_limit)
    return Status::InvalidArgument("limit must be within 1 .. " + std::to_string(max_limit) +
                                   ", got " + value);
  *limit = static_cast<int>(v);
  return Status::Ok();
}

}  // namespace millrace::central
