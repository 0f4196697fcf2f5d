#include "millrace/common/http.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <future>
#include <nlohmann/json.hpp>

namespace millrace {
namespace {

std::vector<std::string> SplitPath(std::string_view path) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < path.size()) {
    while (i < path.size() && path[i] == '/') ++i;
    std::size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    if (j > i) out.emplace_back(path.substr(i, j - i));
    i = j;
  }
  return out;
}

int HexDigit(char h) {
  if (h >= '0' && h <= '9') return h - '0';
  if (h >= 'a' && h <= 'f') return h - 'a' + 10;
  if (h >= 'A' && h <= 'F') return h - 'A' + 10;
  return -1;
}

bool PercentDecode(std::string_view in, bool plus_is_space, std::string* out) {
  out->clear();
  for (std::size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      if (in.size() - i < 3) return false;  // '%' needs two hex digits
      int hi = HexDigit(in[i + 1]), lo = HexDigit(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      out->push_back(static_cast<char>(hi << 4 | lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out->push_back(' ');
    } else {
      out->push_back(c);
    }
  }
  return true;
}

}  // namespace

std::string JsonEscape(std::string_view s) {
  std::string out =
      nlohmann::json(std::string(s)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return out.substr(1, out.size() - 2);
}

std::string HttpRequest::Header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? "" : it->second;
}

bool HttpRequest::ParseTarget() {
  std::string_view t = target;
  std::size_t q = t.find('?');
  if (!PercentDecode(t.substr(0, q), false, &path)) return false;
  query.clear();
  if (q == std::string_view::npos) return true;
  std::string_view rest = t.substr(q + 1);
  while (!rest.empty()) {
    std::size_t amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    std::size_t eq = pair.find('=');
    std::string key, value;
    if (!PercentDecode(pair.substr(0, eq), true, &key)) return false;
    if (eq != std::string_view::npos && !PercentDecode(pair.substr(eq + 1), true, &value))
      return false;
    if (!key.empty()) query[key] = value;
    if (amp == std::string_view::npos) break;
    rest = rest.substr(amp + 1);
  }
  return true;
}

HttpResponse HttpResponse::Json(int status, std::string json_body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(json_body);
  return r;
}

HttpResponse HttpResponse::Text(int status, std::string body, std::string content_type) {
  HttpResponse r;
  r.status = status;
  r.content_type = std::move(content_type);
  r.body = std::move(body);
  return r;
}

HttpResponse HttpResponse::File(std::string path, std::string content_type,
                                const std::string& download_name) {
  HttpResponse r;
  r.content_type = std::move(content_type);
  r.file = std::move(path);
  std::string name;
  for (char c : download_name) name += (c == '"' || c == '\\' || c < ' ') ? '_' : c;
  r.headers["Content-Disposition"] = "attachment; filename=\"" + name + "\"";
  return r;
}

HttpResponse HttpResponse::Error(const Status& status) {
  nlohmann::json j;
  j["error"]["code"] = std::string(StatusCodeName(status.code()));
  if (!status.rule().empty()) j["error"]["rule"] = status.rule();
  j["error"]["message"] = status.message();
  int http = status.ok() ? 500 : HttpStatusFor(status.code());
  return Json(http, j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

Router::Router(MetricsRegistry* metrics) : metrics_(metrics) {
  if (metrics_) {
    requests_ =
        &metrics_->AddCounter("mes_http_requests_total", "HTTP requests by route and status",
                              {"method", "route", "status"});
    latency_ = &metrics_->AddHistogram("mes_http_request_duration_seconds",
                                       "HTTP request handling time by route", {"route"});
  }
}

struct HttpReply::Once {
  explicit Once(std::shared_ptr<Sink> s) : sink(std::move(s)) {}
  ~Once() {
    if (!sent.exchange(true))
      sink->Send([] {
        return HttpResponse::Error(Status::Internal("the server did not answer this request"));
      });
  }
  std::shared_ptr<Sink> sink;
  std::atomic<bool> sent{false};
};

HttpReply::HttpReply(std::shared_ptr<Sink> sink) : once_(std::make_shared<Once>(std::move(sink))) {}

void HttpReply::operator()(HttpResponse response) const {
  Make([r = std::move(response)]() { return r; });
}

void HttpReply::Make(std::function<HttpResponse()> make) const {
  if (once_->sent.exchange(true)) return;
  once_->sink->Send(std::move(make));
}

void Router::Add(std::string_view method, std::string_view pattern, HttpHandler handler) {
  AddAsync(method, pattern, [handler = std::move(handler)](const HttpRequest& req, HttpReply reply) {
    reply(handler(req));
  });
}

void Router::AddAsync(std::string_view method, std::string_view pattern,
                      AsyncHttpHandler handler) {
  routes_.push_back(
      Route{std::string(method), std::string(pattern), SplitPath(pattern), std::move(handler)});
}

void Router::AddOperationalRoutes(std::vector<std::pair<std::string, ReadinessCheck>> checks,
                                  MetricsExposure exposure) {
  Add("GET", "/health",
      [](const HttpRequest&) { return HttpResponse::Json(200, R"({"status":"ok"})"); });
  Add("GET", "/ready", [checks = std::move(checks)](const HttpRequest&) {
    nlohmann::json body;
    body["checks"] = nlohmann::json::object();
    bool ready = true;
    for (const auto& [name, check] : checks) {
      Status s = check();
      body["checks"][name] = s.ok() ? "ok" : s.ToString();
      ready = ready && s.ok();
    }
    body["status"] = ready ? "ready" : "not_ready";
    return HttpResponse::Json(ready ? 200 : 503, body.dump());
  });
  if (metrics_) {
    Add("GET", "/metrics", [m = metrics_, exposure = std::move(exposure)](const HttpRequest& req) {
      const bool all = !exposure.may_see_private || exposure.may_see_private(req);
      return HttpResponse::Text(200, m->Render(all ? std::set<std::string>{} : exposure.private_labels),
                                "text/plain; version=0.0.4; charset=utf-8");
    });
  }
}

const Router::Route* Router::Match(HttpRequest& request, HttpResponse* refusal,
                                   std::string* route_label) const {
  auto segments = SplitPath(request.path);
  bool path_matched = false;
  for (const auto& route : routes_) {
    if (route.segments.size() != segments.size()) continue;
    std::map<std::string, std::string> params;
    bool match = true;
    for (std::size_t i = 0; i < segments.size() && match; ++i) {
      const auto& p = route.segments[i];
      if (p.size() > 2 && p.front() == '{' && p.back() == '}') {
        params[p.substr(1, p.size() - 2)] = segments[i];
      } else {
        match = p == segments[i];
      }
    }
    if (!match) continue;
    path_matched = true;
    if (route.method != request.method) continue;
    *route_label = route.pattern;
    request.path_params = std::move(params);
    return &route;
  }
  if (path_matched) {
    *route_label = "(method_not_allowed)";
    *refusal = HttpResponse::Error(
        Status::InvalidArgument("method " + request.method + " is not allowed on " + request.path));
    refusal->status = 405;
    return nullptr;
  }
  *route_label = "(unmatched)";
  *refusal = HttpResponse::Error(Status::NotFound("no route for " + request.method + " " + request.path));
  return nullptr;
}

namespace {

// Counts the answer of one request by route and status once it is made.
class MeteredSink final : public HttpReply::Sink {
 public:
  MeteredSink(HttpReply inner, Family<Counter>* requests, Family<Histogram>* latency,
              std::string method, std::string route)
      : inner_(std::move(inner)),
        requests_(requests),
        latency_(latency),
        method_(std::move(method)),
        route_(std::move(route)),
        start_(std::chrono::steady_clock::now()) {}
  void Send(std::function<HttpResponse()> make) override {
    inner_.Make([make = std::move(make), requests = requests_, latency = latency_,
                 method = method_, route = route_, start = start_] {
      HttpResponse response = make();
      const double secs =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      requests->With({method, route, std::to_string(response.status)}).Increment();
      latency->With({route}).Observe(secs);
      return response;
    });
  }

 private:
  HttpReply inner_;
  Family<Counter>* requests_;
  Family<Histogram>* latency_;
  std::string method_, route_;
  std::chrono::steady_clock::time_point start_;
};

// Hands the answer to a caller waiting on a future.
class WaitingSink final : public HttpReply::Sink {
 public:
  void Send(std::function<HttpResponse()> make) override { answer.set_value(make()); }
  std::promise<HttpResponse> answer;
};

}  // namespace

void Router::HandleAsync(HttpRequest& request, HttpReply reply) const {
  std::string route_label;
  HttpResponse refusal;
  const Route* route = Match(request, &refusal, &route_label);
  if (requests_)
    reply = HttpReply(std::make_shared<MeteredSink>(std::move(reply), requests_, latency_,
                                                    request.method, route_label));
  if (!route) return reply(std::move(refusal));
  try {
    route->handler(request, reply);
  } catch (const std::exception& e) {
    spdlog::error("handler for {} {} threw: {}", request.method, route->pattern, e.what());
    reply(HttpResponse::Error(Status::Internal("the server failed to handle this request")));
  }
}

HttpResponse Router::Handle(HttpRequest& request) const {
  auto sink = std::make_shared<WaitingSink>();
  std::future<HttpResponse> answer = sink->answer.get_future();
  HandleAsync(request, HttpReply(sink));
  return answer.get();
}

}  // namespace millrace
