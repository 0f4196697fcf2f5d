// A request body that must be a JSON object of known fields only: an unknown field is
// refused by name, with the fields that are known (every write path refuses what it would
// otherwise drop).
#pragma once

#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "millrace/common/http.h"
#include "millrace/common/status.h"

namespace millrace::central {

inline Result<nlohmann::json> JsonObjectBody(const HttpRequest& req, const std::set<std::string>& allowed) {
  nlohmann::json body = nlohmann::json::parse(req.body, nullptr, false);
  if (body.is_discarded() || !body.is_object()) return Status::InvalidArgument("expected a JSON object");
  std::string names;
  for (const auto& f : allowed) names += (names.empty() ? "" : ", ") + f;
  for (const auto& [k, v] : body.items())
    if (!allowed.count(k)) return Status::InvalidArgument("unknown field '" + k + "' (" + names + " are known)");
  return body;
}

}  // namespace millrace::central
