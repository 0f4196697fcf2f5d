// HTTP request/response values and the Router: the pure request -> response half of
// Millrace's HTTP servers. Nothing here touches a socket, so handlers are unit-tested by
// calling Router::Handle directly; common/http_server.h puts a Router on the network.
//
// Routes are "METHOD /path/{param}/more"; {param} matches one path segment and lands in
// HttpRequest::path_params. Errors leave as JSON: {"error":{"code":"...","message":"..."}},
// with "rule" when the Status names the rule broken. A handler answers at once (Add) or
// through an HttpReply it may give later from another thread (AddAsync).
//
// Thread-safety: add routes before serving; Handle may then run on many threads at once.
#pragma once

#include <functional>
#include <memory>
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
  // Non-empty: the body is this file's contents, streamed from disk by the server (a large
  // export never sits in memory); `body` is ignored.
  std::string file;

  static HttpResponse Json(int status, std::string json_body);
  // 200 with the file at `path` as an attachment named `download_name`.
  static HttpResponse File(std::string path, std::string content_type, const std::string& download_name);
  static HttpResponse Text(int status, std::string body,
                           std::string content_type = "text/plain; charset=utf-8");
  // {"error":{"code":"<StatusCodeName>","message":"..."}} with the code's HTTP status.
  static HttpResponse Error(const Status& status);
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

// The answer to one request, given once, from any thread, now or later. Copies share the
// one answer: the first given counts, later ones are ignored, and a request whose last
// copy goes unanswered is answered 500.
class HttpReply {
 public:
  // Where an answer goes: the connection (http_server.cc), or a waiting caller.
  class Sink {
   public:
    virtual ~Sink() = default;
    // Called once; `make` builds the response where the sink writes it.
    virtual void Send(std::function<HttpResponse()> make) = 0;
  };
  explicit HttpReply(std::shared_ptr<Sink> sink);

  void operator()(HttpResponse response) const;
  // Answers with what `make` returns, built where the answer is written (a server: on the
  // connection's own I/O thread), so a caller such as the store's writer thread only hands
  // over the result.
  void Make(std::function<HttpResponse()> make) const;

 private:
  struct Once;
  std::shared_ptr<Once> once_;
};

// A handler that answers through `reply`, now or from another thread later. The request is
// valid only during the call: what the answer needs later is copied.
using AsyncHttpHandler = std::function<void(const HttpRequest&, HttpReply)>;

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
  void AddAsync(std::string_view method, std::string_view pattern, AsyncHttpHandler handler);
  // Registers GET /health, GET /ready (runs every named check) and GET /metrics.
  void AddOperationalRoutes(std::vector<std::pair<std::string, ReadinessCheck>> checks,
                            MetricsExposure exposure = {});

  // Routes, runs the handler (exceptions become 500), records request metrics; `reply`
  // gets the answer, at once for a plain handler, perhaps later from another thread for an
  // async one. `request` must stay valid until HandleAsync returns.
  void HandleAsync(HttpRequest& request, HttpReply reply) const;
  // The same, waiting for the answer (tests, and callers without a connection).
  HttpResponse Handle(HttpRequest& request) const;

 private:
  struct Route {
    std::string method;
    std::string pattern;
    std::vector<std::string> segments;
    AsyncHttpHandler handler;
  };
  // The route for the request (path_params filled), or nullptr with `refusal` set.
  const Route* Match(HttpRequest& request, HttpResponse* refusal, std::string* route_label) const;

  std::vector<Route> routes_;
  MetricsRegistry* metrics_;
  Family<Counter>* requests_ = nullptr;
  Family<Histogram>* latency_ = nullptr;
};

// Minimal JSON string escaping for hand-built bodies.
std::string JsonEscape(std::string_view s);

}  // namespace millrace
