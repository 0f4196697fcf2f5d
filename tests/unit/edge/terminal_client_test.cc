// The terminal-API client over a real HTTP server with a stand-in router: errors come back
// as statuses with the API's code and rule, references resolve through the list calls,
// and one kept-alive connection carries the calls, opened again after the server closed it.
#include "millrace/edge/terminal_client.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "millrace/common/http_server.h"

namespace millrace::edge {
namespace {

using json = nlohmann::json;

class TerminalClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    router_.Add("POST", "/api/v1/operations/{id}/counts", [this](const HttpRequest& r) {
      ++counts_;
      if (r.Header("authorization") != "Bearer t0k")
        return HttpResponse::Error(
            Status::Unauthenticated("badge in first").WithRule("session_required"));
      return HttpResponse::Error(
          Status::Conflict("counts need a running operation").WithRule("operation_not_running"));
    });
    router_.Add("GET", "/api/v1/work-orders", [](const HttpRequest& r) {
      json items = json::array();
      if (r.query.count("number") && r.query.at("number") == "WO 1/A")
        items.push_back({{"id", "0190a000-0000-7000-8000-000000000001"}});
      return HttpResponse::Json(200, json{{"items", items}, {"next", nullptr}}.dump());
    });
    router_.Add("GET", "/api/v1/work-orders/{id}", [](const HttpRequest&) {
      return HttpResponse::Json(
          200, json{{"operations",
                     {{{"seq", 10}, {"id", "0190a000-0000-7000-8000-000000000010"}},
                      {{"seq", 20}, {"id", "0190a000-0000-7000-8000-000000000020"}}}}}
                   .dump());
    });
    HttpServerOptions o;
    o.read_timeout = std::chrono::milliseconds(300);  // idle connections close soon
    server_ = std::make_unique<HttpServer>(o, &router_);
    ASSERT_TRUE(server_->Start().ok());
  }

  Router router_;
  std::unique_ptr<HttpServer> server_;
  std::atomic<int> counts_{0};
};

TEST_F(TerminalClientTest, AnErrorAnswerIsAStatusWithTheApisCodeAndRule) {
  auto c = TerminalClient::ForUrl(server_->url());
  ASSERT_TRUE(c.ok());
  auto r = c->Call("POST", "/api/v1/operations/x/counts", {{"good", 1}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(r.status().rule(), "session_required");
  c->set_token("t0k");
  r = c->Call("POST", "/api/v1/operations/x/counts", {{"good", 1}});
  EXPECT_EQ(r.status().code(), StatusCode::kConflict);
  EXPECT_EQ(r.status().rule(), "operation_not_running");
  EXPECT_EQ(r.status().message(), "counts need a running operation");
  auto sent = c->Send("POST", "/api/v1/operations/x/counts", {{"good", 1}});
  ASSERT_TRUE(sent.ok());
  EXPECT_EQ(sent->status, 409);
  EXPECT_FALSE(TerminalClient::ForUrl("https://nowhere").ok());
}

TEST_F(TerminalClientTest, ReferencesResolveThroughTheListCalls) {
  auto c = TerminalClient::ForUrl(server_->url());
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(*c->WorkOrderId("WO 1/A"), "0190a000-0000-7000-8000-000000000001");  // encoded
  EXPECT_EQ(*c->OperationId("WO 1/A/20"), "0190a000-0000-7000-8000-000000000020");
  EXPECT_EQ(c->OperationId("WO 1/A/30").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(c->OperationId("no-sequence").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(c->WorkOrderId("WO-9").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(*c->ReasonId(""), "");
  EXPECT_EQ(*c->LotId("0190a000-0000-7000-8000-0000000000ff"),
            "0190a000-0000-7000-8000-0000000000ff");
}

// A kept connection the server closed while idle is opened again, and the request goes
// once: the server saw it exactly once.
TEST_F(TerminalClientTest, AKeptConnectionClosedByTheServerIsOpenedAgainForTheNextCall) {
  auto c = TerminalClient::ForUrl(server_->url(), "t0k");
  ASSERT_TRUE(c.ok());
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(c->Send("POST", "/api/v1/operations/x/counts").ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(700));  // the server closes it
  auto again = c->Send("POST", "/api/v1/operations/x/counts");
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->status, 409);
  EXPECT_EQ(counts_.load(), 6);
  server_->Stop();
  EXPECT_EQ(c->Send("POST", "/api/v1/operations/x/counts").status().code(),
            StatusCode::kUnavailable);
}

}  // namespace
}  // namespace millrace::edge
