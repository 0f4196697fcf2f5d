#include "api_json.h"

#include <algorithm>

#include "millrace/common/row_json.h"

namespace millrace::edge::api {

json ToJson(const Row& row) {
  json j = json::object();
  const auto& cols = row.table().columns;
  for (std::size_t i = 0; i < cols.size(); ++i) {
    if (row.table().name == "users" && cols[i].name == "pin_hash") continue;
    j[cols[i].name] = ValueToJson(cols[i], row.values()[i]);
  }
  return j;
}

HttpResponse ApiError(const Status& s) {
  return HttpResponse::Error(s);
}

HttpResponse Ok(const json& body, int status) {
  return HttpResponse::Json(status, body.dump());
}

Result<json> Body(const HttpRequest& req) {
  if (req.body.empty()) return json::object();
  json j = json::parse(req.body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return Status::InvalidArgument("the request body must be a JSON object").WithRule("bad_json");
  }
  return j;
}

Status OnlyFields(const json& body, const std::vector<std::string>& known) {
  std::string unknown;
  for (auto it = body.begin(); it != body.end(); ++it)
    if (std::find(known.begin(), known.end(), it.key()) == known.end())
      unknown += (unknown.empty() ? "'" : ", '") + it.key() + "'";
  if (unknown.empty()) return Status::Ok();
  std::string list;
  for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
  return Status::InvalidArgument(
             unknown + (unknown.find(',') == std::string::npos ? " is" : " are") +
             " not a field of this request" +
             (list.empty() ? " (it takes no body)" : " (it takes " + list + ")"))
      .WithRule("unknown_field");
}

Result<std::string> Str(const json& body, const char* key, bool required) {
  if (!body.contains(key) || body[key].is_null()) {
    if (required)
      return Status::InvalidArgument(std::string("'") + key + "' is required")
          .WithRule("field_required");
    return std::string();
  }
  if (!body[key].is_string())
    return Status::InvalidArgument(std::string("'") + key + "' must be a string")
        .WithRule("bad_field");
  return body[key].get<std::string>();
}

Result<std::optional<double>> Num(const json& body, const char* key, bool required) {
  if (!body.contains(key) || body[key].is_null()) {
    if (required)
      return Status::InvalidArgument(std::string("'") + key + "' is required")
          .WithRule("field_required");
    return std::optional<double>();
  }
  if (!body[key].is_number())
    return Status::InvalidArgument(std::string("'") + key + "' must be a number")
        .WithRule("bad_field");
  return std::optional<double>(body[key].get<double>());
}

Result<std::optional<bool>> Bool(const json& body, const char* key) {
  if (!body.contains(key) || body[key].is_null()) return std::optional<bool>();
  if (!body[key].is_boolean())
    return Status::InvalidArgument(std::string("'") + key + "' must be true or false")
        .WithRule("bad_field");
  return std::optional<bool>(body[key].get<bool>());
}

std::string Bearer(const HttpRequest& req) {
  std::string h = req.Header("authorization");
  const std::string prefix = "Bearer ";
  if (h.rfind(prefix, 0) == 0) return h.substr(prefix.size());
  // The web terminal keeps its token in a cookie.
  std::string cookie = req.Header("cookie");
  auto pos = cookie.find("millrace_token=");
  if (pos != std::string::npos) {
    auto end = cookie.find(';', pos);
    return cookie.substr(pos + 15, end == std::string::npos ? std::string::npos : end - pos - 15);
  }
  return "";
}

}  // namespace millrace::edge::api
