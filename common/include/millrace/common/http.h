// HTTP request/response values and the Router: the pure request -> response half of
// Millrace's HTTP servers. Nothing here touches a socket, so handlers are unit-tested by
// calling Router::Handle directly; common/http_server.h puts a Router on the network.
//
// Routes are "METHOD /path/{param}/more"; {param} matches one path segment and lands in
// HttpRequest::path_params. Errors leave as JSON: {"error":{"code":"...","message":"..."}}.
//
// Thread-safety: add routes before serving; Handle may then run on many threads at once.
#pragma once

#include <functional>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "millrace/common/metrics.h"
#include "millrace/common/status.h"

namespace millrace {

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // as sent: path plus query
  std::string path;    // decoded path, no query
  std::map<std::string, std::string> query;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::map<std::string, std::string> path_params;
  std::string body;
  std::string remote_address;

  // "" when absent.
  std::string Header(const std::string& lower_name) const;
  // Splits target into path and query (percent-decoding both). False on bad encoding.
  bool ParseTarget();
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::map<std::string, std::string> headers;
  std::string body;

  static HttpResponse Json(int status, std::string json_body);
  static HttpResponse Text(int status, std::string body,
                           std::string content_type = "text/plain; charset=utf-8");
  // {"error":{"code":"<StatusCodeName>","message":"..."}} with the code's HTTP status.
  static HttpResponse Error(const Status& status);
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

// Who sees which metric families on GET /metrics: families labelled with any of
// `private_labels` only for a request `may_see_private` admits (everything when unset).
struct MetricsExposure {
  std::set<std::string> private_labels;
  std::function<bool(const HttpRequest&)> may_see_private;
};
// A readiness probe: OK when the dependency it checks is usable.
using ReadinessCheck = std::function<Status()>;

class Router {
 public:
  // REQUIRES: metrics outlives the router (may be null: no request metrics).
  explicit Router(MetricsRegistry* metrics = nullptr);
  Router(const Router&) = delete;
  Router& operator=(const Router&) = delete;

  void Add(std::string_view method, std::string_view pattern, HttpHandler handler);
  // Registers GET /health, GET /ready (runs every named check) and GET /metrics.
  void AddOperationalRoutes(std::vector<std::pair<std::string, ReadinessCheck>> checks,
                            MetricsExposure exposure = {});

  // Routes, runs the handler (exceptions become 500), records request metrics.
  HttpResponse Handle(HttpRequest& request) const;

 private:
  struct Route {
    std::string method;
    std::string pattern;
    std::vector<std::string> segments;
    HttpHandler handler;
  };
  HttpResponse Dispatch(HttpRequest& request, std::string* route_label) const;

  std::vector<Route> routes_;
  MetricsRegistry* metrics_;
  Family<Counter>* requests_ = nullptr;
  Family<Histogram>* latency_ = nullptr;
};

// Minimal JSON string escaping for hand-built bodies.
std::string JsonEscape(std::string_view s);

}  // namespace millrace
