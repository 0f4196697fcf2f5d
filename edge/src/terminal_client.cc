#include "millrace/edge/terminal_client.h"

#include <iomanip>
#include <sstream>

#include "millrace/common/uuid.h"

namespace millrace::edge {

using json = nlohmann::json;

Result<TerminalClient> TerminalClient::ForUrl(const std::string& url, std::string token) {
  MILLRACE_ASSIGN_OR_RETURN(HttpEndpoint ep, ParseHttpUrl(url));
  return TerminalClient(std::move(ep), std::move(token));
}

TerminalClient::TerminalClient(HttpEndpoint endpoint, std::string token)
    : endpoint_(std::move(endpoint)),
      token_(std::move(token)),
      connection_(std::make_unique<HttpConnection>(endpoint_)) {}

Result<TerminalClient::Answer> TerminalClient::Send(const std::string& method,
                                                    const std::string& target, const json& body) {
  std::map<std::string, std::string> headers;
  if (!token_.empty()) headers["authorization"] = "Bearer " + token_;
  MILLRACE_ASSIGN_OR_RETURN(
      HttpResponse r,
      connection_->Call(method, target, body.is_null() ? "" : body.dump(), headers));
  Answer a;
  a.status = r.status;
  a.body = json::parse(r.body, nullptr, false);
  a.text = std::move(r.body);
  return a;
}

Status TerminalClient::ErrorOf(const Answer& a) {
  if (a.status >= 200 && a.status < 300) return Status::Ok();
  const json& e = a.body.is_object() && a.body.contains("error") && a.body["error"].is_object()
                      ? a.body["error"]
                      : json::object();
  const std::string name = e.value("code", "");
  StatusCode code = StatusCodeFromName(name).value_or(
      a.status >= 500 ? StatusCode::kUnavailable : StatusCode::kInvalidArgument);
  if (code == StatusCode::kOk) code = StatusCode::kInternal;
  const std::string message =
      e.value("message", "HTTP " + std::to_string(a.status) + ": " + a.text);
  return Status(code, message).WithRule(e.value("rule", ""));
}

Result<json> TerminalClient::Call(const std::string& method, const std::string& target,
                                  const json& body) {
  MILLRACE_ASSIGN_OR_RETURN(Answer a, Send(method, target, body));
  MILLRACE_RETURN_IF_ERROR(ErrorOf(a));
  if (a.body.is_discarded())
    return Status::Internal("the edge's answer to " + method + " " + target + " is not JSON");
  return std::move(a.body);
}

Result<json> TerminalClient::First(const std::string& target, const std::string& what) {
  MILLRACE_ASSIGN_OR_RETURN(json page, Call("GET", target));
  if (!page.contains("items") || page["items"].empty())
    return Status::NotFound(what + " not found");
  return page["items"][0];
}

std::string TerminalClient::Encode(const std::string& s) {
  std::ostringstream out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.')
      out << c;
    else
      out << '%' << std::uppercase << std::hex << std::setw(2) << std::setfill('0')
          << static_cast<int>(c);
  }
  return out.str();
}

namespace {
bool IsId(const std::string& ref) {
  return Uuid::Parse(ref).ok();
}
}  // namespace

Result<std::string> TerminalClient::WorkOrderId(const std::string& ref) {
  if (IsId(ref)) return ref;
  MILLRACE_ASSIGN_OR_RETURN(
      json wo, First("/api/v1/work-orders?number=" + Encode(ref), "work order " + ref));
  return wo["id"].get<std::string>();
}

Result<std::string> TerminalClient::OperationId(const std::string& ref) {
  if (IsId(ref)) return ref;
  auto slash = ref.rfind('/');
  if (slash == std::string::npos)
    return Status::InvalidArgument("operation '" + ref +
                                   "': give an id or WORK-ORDER/SEQ such as WO-1001/10");
  MILLRACE_ASSIGN_OR_RETURN(std::string wo, WorkOrderId(ref.substr(0, slash)));
  MILLRACE_ASSIGN_OR_RETURN(json order, Call("GET", "/api/v1/work-orders/" + wo));
  for (const auto& op : order["operations"])
    if (std::to_string(op["seq"].get<std::int64_t>()) == ref.substr(slash + 1))
      return op["id"].get<std::string>();
  return Status::NotFound("operation " + ref + " not found");
}

Result<std::string> TerminalClient::ReasonId(const std::string& ref) {
  if (ref.empty() || IsId(ref)) return ref;
  MILLRACE_ASSIGN_OR_RETURN(json r, First("/api/v1/reasons?code=" + Encode(ref), "reason " + ref));
  return r["id"].get<std::string>();
}

Result<std::string> TerminalClient::LotId(const std::string& ref) {
  if (ref.empty() || IsId(ref)) return ref;
  MILLRACE_ASSIGN_OR_RETURN(json l, First("/api/v1/lots?lot_no=" + Encode(ref), "lot " + ref));
  return l["id"].get<std::string>();
}

}  // namespace millrace::edge
