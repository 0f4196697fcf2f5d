// The terminal API's JSON codec (private to edge/src): rows as JSON, the request body and
// its fields checked by name and type, errors as {"error": {"code", "rule", "message"}},
// and the bearer token of a request.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "millrace/common/http.h"
#include "millrace/common/row.h"
#include "millrace/common/status.h"

namespace millrace::edge::api {

using json = nlohmann::json;

// A row as JSON, driven by the catalog; never a secret column (users.pin_hash).
json ToJson(const Row& row);

HttpResponse Ok(const json& body, int status = 200);
// {"error":{"code","rule","message"}}: the rule when the status names one.
HttpResponse ApiError(const Status& s);

// The body as a JSON object ({} when empty), or bad_json.
Result<json> Body(const HttpRequest& req);
// Refuses a body field the request does not take (unknown_field, naming it and what the
// request takes): a misspelt field must not be dropped while the request is answered as if
// it had been understood.
Status OnlyFields(const json& body, const std::vector<std::string>& known);
// A string field: "" when absent and not required; field_required, bad_field.
Result<std::string> Str(const json& body, const char* key, bool required);
Result<std::optional<double>> Num(const json& body, const char* key, bool required);
Result<std::optional<bool>> Bool(const json& body, const char* key);

// The session token: "Authorization: Bearer ...", or the web terminal's cookie.
std::string Bearer(const HttpRequest& req);

}  // namespace millrace::edge::api
