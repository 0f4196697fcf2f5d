#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "millrace/common/http.h"

namespace millrace {
namespace {

HttpRequest Req(std::string method, std::string target, std::string body = "") {
  HttpRequest r;
  r.method = std::move(method);
  r.target = std::move(target);
  r.body = std::move(body);
  EXPECT_TRUE(r.ParseTarget());
  return r;
}

TEST(HttpRequestTest, SplitsAndDecodesPathAndQuery) {
  HttpRequest r = Req("GET", "/api/v1/lots/L%2F42?after=abc%20d&limit=50&flag&q=a+b");
  EXPECT_EQ(r.path, "/api/v1/lots/L/42");
  EXPECT_EQ(r.query.at("after"), "abc d");
  EXPECT_EQ(r.query.at("limit"), "50");
  EXPECT_EQ(r.query.at("flag"), "");
  EXPECT_EQ(r.query.at("q"), "a b");
}

TEST(HttpRequestTest, RejectsBrokenPercentEncoding) {
  for (const char* t : {"/a%", "/a%4", "/a%zz", "/x?y=%g1"}) {
    HttpRequest r;
    r.target = t;
    EXPECT_FALSE(r.ParseTarget()) << t;
  }
}

TEST(RouterTest, MatchesPathParametersAndMethods) {
  Router router;
  router.Add("GET", "/api/v1/work-orders/{id}", [](const HttpRequest& r) {
    return HttpResponse::Json(200, "{\"id\":\"" + r.path_params.at("id") + "\"}");
  });
  router.Add("POST", "/api/v1/work-orders/{id}/release",
             [](const HttpRequest& r) { return HttpResponse::Json(202, r.path_params.at("id")); });
  auto get = Req("GET", "/api/v1/work-orders/WO-7");
  EXPECT_EQ(router.Handle(get).body, "{\"id\":\"WO-7\"}");
  auto post = Req("POST", "/api/v1/work-orders/WO-8/release");
  auto res = router.Handle(post);
  EXPECT_EQ(res.status, 202);
  EXPECT_EQ(res.body, "WO-8");
}

TEST(RouterTest, UnknownPathIsA404JsonError) {
  Router router;
  auto req = Req("GET", "/nope");
  auto res = router.Handle(req);
  EXPECT_EQ(res.status, 404);
  EXPECT_EQ(res.content_type, "application/json");
  auto j = nlohmann::json::parse(res.body);
  EXPECT_EQ(j["error"]["code"], "not_found");
  EXPECT_EQ(j["error"]["message"], "no route for GET /nope");
}

TEST(RouterTest, WrongMethodIs405) {
  Router router;
  router.Add("GET", "/x", [](const HttpRequest&) { return HttpResponse::Json(200, "{}"); });
  auto req = Req("DELETE", "/x");
  EXPECT_EQ(router.Handle(req).status, 405);
}

TEST(RouterTest, AThrowingHandlerBecomesA500WithoutLeakingDetails) {
  Router router;
  router.Add("GET", "/boom",
             [](const HttpRequest&) -> HttpResponse { throw std::runtime_error("secret detail"); });
  auto req = Req("GET", "/boom");
  auto res = router.Handle(req);
  EXPECT_EQ(res.status, 500);
  EXPECT_EQ(nlohmann::json::parse(res.body)["error"]["code"], "internal");
  EXPECT_EQ(res.body.find("secret"), std::string::npos);
}

TEST(RouterTest, ErrorBodiesFollowTheStatusCode) {
  auto res =
      HttpResponse::Error(Status::FailedPrecondition("operation 20 needs operation 10 completed"));
  EXPECT_EQ(res.status, 422);
  auto j = nlohmann::json::parse(res.body);
  EXPECT_EQ(j["error"]["code"], "failed_precondition");
  EXPECT_EQ(j["error"]["message"], "operation 20 needs operation 10 completed");
}

TEST(RouterTest, OperationalRoutesReportHealthReadinessAndMetrics) {
  MetricsRegistry metrics;
  Router router(&metrics);
  bool db_up = true;
  router.AddOperationalRoutes(
      {{"store", [&] { return db_up ? Status::Ok() : Status::Unavailable("disk gone"); }}});

  auto health = Req("GET", "/health");
  EXPECT_EQ(router.Handle(health).status, 200);

  auto ready = Req("GET", "/ready");
  auto r1 = router.Handle(ready);
  EXPECT_EQ(r1.status, 200);
  EXPECT_EQ(nlohmann::json::parse(r1.body)["checks"]["store"], "ok");

  db_up = false;
  auto r2 = router.Handle(ready);
  EXPECT_EQ(r2.status, 503);
  auto j = nlohmann::json::parse(r2.body);
  EXPECT_EQ(j["status"], "not_ready");
  EXPECT_EQ(j["checks"]["store"], "unavailable: disk gone");

  auto m = Req("GET", "/metrics");
  auto res = router.Handle(m);
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(res.content_type.rfind("text/plain; version=0.0.4", 0), 0u);
  EXPECT_NE(
      res.body.find("mes_http_requests_total{method=\"GET\",route=\"/ready\",status=\"503\"} 1"),
      std::string::npos)
      << res.body;
  EXPECT_NE(res.body.find("mes_http_request_duration_seconds_count{route=\"/health\"} 1"),
            std::string::npos);
}

TEST(RouterTest, MetricsLabelRoutesByPatternNotRawPath) {
  MetricsRegistry metrics;
  Router router(&metrics);
  router.Add("GET", "/lots/{id}", [](const HttpRequest&) { return HttpResponse::Json(200, "{}"); });
  for (int i = 0; i < 3; ++i) {
    auto req = Req("GET", "/lots/" + std::to_string(i));
    (void)router.Handle(req);
  }
  auto unknown = Req("GET", "/random/" + std::string(10, 'x'));
  (void)router.Handle(unknown);
  std::string out = metrics.Render();
  EXPECT_NE(out.find("route=\"/lots/{id}\",status=\"200\"} 3"), std::string::npos) << out;
  EXPECT_NE(out.find("route=\"(unmatched)\",status=\"404\"} 1"), std::string::npos);
  EXPECT_EQ(out.find("xxxxxxxxxx"), std::string::npos);
}

}  // namespace
}  // namespace millrace
