#include "millrace/common/http_server.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <mutex>
#include <thread>

#include <boost/asio.hpp>
#include <nlohmann/json.hpp>

#include "millrace/common/http_client.h"

namespace millrace {
namespace {

using boost::asio::ip::tcp;

class HttpServerTest : public ::testing::Test {
 protected:
  void Start(HttpServerOptions options) {
    router_.Add("POST", "/echo",
                [](const HttpRequest& r) { return HttpResponse::Json(200, r.body); });
    router_.AddOperationalRoutes({});
    server_ = std::make_unique<HttpServer>(options, &router_);
    ASSERT_TRUE(server_->Start().ok());
    ASSERT_NE(server_->port(), 0);
    endpoint_ = {"127.0.0.1", server_->port()};
  }

  // Sends raw bytes on a fresh connection and returns everything read until the server
  // closes the connection (or `wait` passes).
  std::string Raw(const std::string& bytes,
                  std::chrono::milliseconds wait = std::chrono::milliseconds(3000)) {
    boost::asio::io_context ioc;
    tcp::socket s(ioc);
    s.connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), server_->port()));
    boost::asio::write(s, boost::asio::buffer(bytes));
    timeval tv{static_cast<time_t>(wait.count() / 1000),
               static_cast<suseconds_t>(wait.count() % 1000 * 1000)};
    setsockopt(s.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    std::string out;
    char buf[4096];
    for (;;) {
      ssize_t n = ::recv(s.native_handle(), buf, sizeof(buf), 0);
      if (n <= 0) break;
      out.append(buf, static_cast<std::size_t>(n));
    }
    return out;
  }

  MetricsRegistry metrics_;
  Router router_{&metrics_};
  std::unique_ptr<HttpServer> server_;
  HttpEndpoint endpoint_;
};

// Runs a shell command and returns what it printed on stdout.
std::string Shell(const std::string& cmd, int* rc = nullptr) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return out;
  char buf[4096];
  while (std::size_t n = std::fread(buf, 1, sizeof(buf), p)) out.append(buf, n);
  const int status = ::pclose(p);
  if (rc) *rc = WEXITSTATUS(status);
  return out;
}

TEST_F(HttpServerTest, ServesHttpsWithTheConfiguredCertificateAndOnlyHttps) {
  const std::string dir = "/tmp/millrace-tls-" + std::to_string(::getpid());
  int rc = -1;
  Shell("mkdir -p " + dir + " && openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "
        "/CN=localhost -addext subjectAltName=IP:127.0.0.1 -keyout " + dir + "/key.pem -out " +
        dir + "/cert.pem 2>/dev/null && chmod 644 " + dir + "/key.pem",
        &rc);
  ASSERT_EQ(rc, 0) << "openssl could not make a test certificate";
  {
    // A private key others may read is refused, with the fix.
    HttpServerOptions loose;
    loose.tls_cert_file = dir + "/cert.pem";
    loose.tls_key_file = dir + "/key.pem";
    HttpServer refused(loose, &router_);
    Status s = refused.Start();
    EXPECT_EQ(s.code(), StatusCode::kPermissionDenied) << s.ToString();
    EXPECT_NE(s.message().find("chmod 600"), std::string::npos) << s.ToString();
  }
  Shell("chmod 600 " + dir + "/key.pem", &rc);
  HttpServerOptions o;
  o.tls_cert_file = dir + "/cert.pem";
  o.tls_key_file = dir + "/key.pem";
  Start(o);
  EXPECT_EQ(server_->url().rfind("https://", 0), 0u) << server_->url();
  const std::string port = std::to_string(server_->port());
  // A client that trusts the certificate gets answers, over TLS.
  std::string body = Shell("curl -sS --cacert " + dir + "/cert.pem https://127.0.0.1:" + port +
                               "/health",
                           &rc);
  EXPECT_EQ(rc, 0);
  EXPECT_EQ(body, "{\"status\":\"ok\"}");
  body = Shell("curl -sS --cacert " + dir + "/cert.pem -X POST --data-binary '{\"a\":1}' "
               "https://127.0.0.1:" + port + "/echo",
               &rc);
  EXPECT_EQ(body, "{\"a\":1}");
  // Plain HTTP on the HTTPS port gets nothing, and neither does a client that does not
  // trust the certificate.
  Shell("curl -sS --max-time 5 http://127.0.0.1:" + port + "/health 2>/dev/null", &rc);
  EXPECT_NE(rc, 0);
  Shell("curl -sS --max-time 5 https://127.0.0.1:" + port + "/health 2>/dev/null", &rc);
  EXPECT_EQ(rc, 60) << "curl: peer certificate cannot be authenticated";
  server_.reset();
  Shell("rm -rf " + dir);
}

TEST_F(HttpServerTest, RefusesACertificateWithoutItsKeyOrAFileThatIsNotOne) {
  HttpServerOptions half;
  half.tls_cert_file = "/nonexistent/cert.pem";
  HttpServer a(half, &router_);
  Status s = a.Start();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("both"), std::string::npos) << s.ToString();
  HttpServerOptions missing;
  missing.tls_cert_file = "/nonexistent/cert.pem";
  missing.tls_key_file = "/nonexistent/key.pem";
  HttpServer b(missing, &router_);
  s = b.Start();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("/nonexistent/cert.pem"), std::string::npos) << s.ToString();
}

TEST_F(HttpServerTest, ServesOnAKernelChosenPort) {
  Start({});
  auto res = HttpCall(endpoint_, "GET", "/health");
  ASSERT_TRUE(res.ok()) << res.status().ToString();
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "{\"status\":\"ok\"}");
  EXPECT_EQ(res->content_type, "application/json");
  auto echo = HttpCall(endpoint_, "POST", "/echo", "{\"good\":5}");
  EXPECT_EQ(echo->body, "{\"good\":5}");
  EXPECT_EQ(server_->url(), "http://127.0.0.1:" + std::to_string(server_->port()));
}

TEST_F(HttpServerTest, StreamsAFileBodyFromDiskAndAnswers404WhenItIsGone) {
  const std::string path = ::testing::TempDir() + "/millrace-http-file-" + std::to_string(getpid()) + ".csv";
  std::string content;
  for (int i = 0; i < 200000; ++i) content += "row," + std::to_string(i) + "\n";  // ~2.5 MB
  {
    std::FILE* f = std::fopen(path.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    ASSERT_EQ(std::fwrite(content.data(), 1, content.size(), f), content.size());
    std::fclose(f);
  }
  router_.Add("GET", "/file", [&](const HttpRequest&) {
    return HttpResponse::File(path, "text/csv", "export \"1\".csv");
  });
  Start({});
  auto res = HttpCall(endpoint_, "GET", "/file");
  ASSERT_TRUE(res.ok()) << res.status().ToString();
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->content_type, "text/csv");
  EXPECT_EQ(res->body, content);
  const std::string head = Raw("GET /file HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").substr(0, 400);
  EXPECT_NE(head.find("Content-Disposition: attachment; filename=\"export _1_.csv\""), std::string::npos) << head;
  EXPECT_NE(head.find("Content-Length: " + std::to_string(content.size())), std::string::npos) << head;
  std::remove(path.c_str());
  auto gone = HttpCall(endpoint_, "GET", "/file");
  ASSERT_TRUE(gone.ok());
  EXPECT_EQ(gone->status, 404);
  EXPECT_NE(gone->body.find("the file is gone"), std::string::npos);
}

TEST_F(HttpServerTest, KeepsAConnectionAliveForSeveralRequests) {
  Start({});
  std::string two =
      "GET /health HTTP/1.1\r\nHost: x\r\n\r\nGET /health HTTP/1.1\r\nHost: x\r\nConnection: "
      "close\r\n\r\n";
  std::string out = Raw(two);
  std::size_t first = out.find("HTTP/1.1 200");
  ASSERT_NE(first, std::string::npos) << out;
  EXPECT_NE(out.find("HTTP/1.1 200", first + 1), std::string::npos) << out;
}

TEST_F(HttpServerTest, OversizedBodyGets413WithJsonError) {
  HttpServerOptions o;
  o.body_limit_bytes = 1024;
  Start(o);
  auto res = HttpCall(endpoint_, "POST", "/echo", std::string(4096, 'x'));
  ASSERT_TRUE(res.ok()) << res.status().ToString();
  EXPECT_EQ(res->status, 413);
  EXPECT_EQ(nlohmann::json::parse(res->body)["error"]["code"], "resource_exhausted");
  // The server is still fine afterwards.
  EXPECT_EQ(HttpCall(endpoint_, "POST", "/echo", "{}")->status, 200);
}

TEST_F(HttpServerTest, MalformedRequestGets400) {
  Start({});
  std::string out = Raw("THIS IS NOT HTTP\r\n\r\n");
  EXPECT_EQ(out.rfind("HTTP/1.1 400", 0), 0u) << out;
  EXPECT_NE(out.find("invalid_argument"), std::string::npos);
}

TEST_F(HttpServerTest, ASilentClientIsDisconnectedAtTheReadDeadline) {
  HttpServerOptions o;
  o.read_timeout = std::chrono::milliseconds(200);
  Start(o);
  auto start = std::chrono::steady_clock::now();
  std::string out = Raw("GET /health HTTP/1.1\r\nHost: x\r\n",
                        std::chrono::milliseconds(5000));  // never finishes
  auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(out, "");
  EXPECT_LT(waited,
            std::chrono::milliseconds(4000));  // closed by the server, not by our 5 s receive limit
}

TEST_F(HttpServerTest, BadPercentEncodingIs400) {
  Start({});
  auto res = HttpCall(endpoint_, "GET", "/health%zz");
  ASSERT_TRUE(res.ok());
  EXPECT_EQ(res->status, 400);
}

TEST_F(HttpServerTest, StopsCleanlyWithAnOpenIdleConnection) {
  Start({});
  boost::asio::io_context ioc;
  tcp::socket idle(ioc);
  idle.connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), server_->port()));
  server_->Stop();
  server_->Stop();  // idempotent
  auto res = HttpCall(endpoint_, "GET", "/health", "", {}, std::chrono::milliseconds(500));
  EXPECT_FALSE(res.ok());
}

TEST_F(HttpServerTest, ServesConcurrentClientsOnSeveralThreads) {
  HttpServerOptions o;
  o.threads = 4;
  Start(o);
  std::vector<std::thread> clients;
  std::atomic<int> ok{0};
  for (int t = 0; t < 8; ++t)
    clients.emplace_back([&] {
      for (int i = 0; i < 25; ++i) {
        auto r = HttpCall(endpoint_, "POST", "/echo", "{\"i\":" + std::to_string(i) + "}");
        if (r.ok() && r->status == 200 && r->body == "{\"i\":" + std::to_string(i) + "}") ++ok;
      }
    });
  for (auto& c : clients) c.join();
  EXPECT_EQ(ok.load(), 200);
}

// An async route answered from another thread after the handler returned: no I/O thread
// waits for it, so one I/O thread serves other requests meanwhile.
TEST_F(HttpServerTest, AnAsyncRouteIsAnsweredFromAnotherThreadWhileOthersAreServed) {
  std::mutex mu;
  std::vector<HttpReply> waiting;
  router_.AddAsync("POST", "/later", [&](const HttpRequest& r, HttpReply reply) {
    std::lock_guard lock(mu);
    waiting.push_back(reply);
    (void)r;
  });
  HttpServerOptions o;
  o.threads = 1;
  Start(o);
  std::thread slow([&] {
    auto r = HttpCall(endpoint_, "POST", "/later", "{}");
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->status, 201);
    EXPECT_EQ(r->body, "{\"made\":\"elsewhere\"}");
  });
  for (int i = 0; i < 500; ++i) {
    {
      std::lock_guard lock(mu);
      if (!waiting.empty()) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  // The one I/O thread is free while /later waits.
  auto echo = HttpCall(endpoint_, "POST", "/echo", "{\"x\":1}");
  ASSERT_TRUE(echo.ok());
  EXPECT_EQ(echo->body, "{\"x\":1}");
  std::thread([&] {
    std::lock_guard lock(mu);
    ASSERT_EQ(waiting.size(), 1u);
    waiting[0].Make([] { return HttpResponse::Json(201, R"({"made":"elsewhere"})"); });
    waiting[0](HttpResponse::Json(500, "{}"));  // a second answer is ignored
    waiting.clear();
  }).join();
  slow.join();
  EXPECT_NE(metrics_.Render().find("route=\"/later\",status=\"201\""), std::string::npos);
}

TEST_F(HttpServerTest, ARequestWhoseAnswerIsDroppedIs500AndStopWaitsForAnswers) {
  std::mutex mu;
  std::vector<HttpReply> waiting;
  router_.AddAsync("GET", "/dropped", [](const HttpRequest&, HttpReply) {});
  router_.AddAsync("GET", "/slow", [&](const HttpRequest&, HttpReply reply) {
    std::lock_guard lock(mu);
    waiting.push_back(std::move(reply));
  });
  Start({});
  auto dropped = HttpCall(endpoint_, "GET", "/dropped");
  ASSERT_TRUE(dropped.ok());
  EXPECT_EQ(dropped->status, 500);
  std::thread client([&] {
    auto r = HttpCall(endpoint_, "GET", "/slow");
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->status, 200);
  });
  for (int i = 0; i < 500; ++i) {
    {
      std::lock_guard lock(mu);
      if (!waiting.empty()) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  // Stop() while /slow is unanswered: it waits, the answer still reaches the client.
  std::thread answer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    std::lock_guard lock(mu);
    waiting.front()(HttpResponse::Json(200, "{}"));
    waiting.clear();
  });
  server_->Stop();
  answer.join();
  client.join();
}

TEST(HttpServerBindTest, BindingABusyPortIsUnavailable) {
  Router router;
  HttpServer a({}, &router);
  ASSERT_TRUE(a.Start().ok());
  HttpServerOptions o;
  o.port = a.port();
  HttpServer b(o, &router);
  Status s = b.Start();
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_NE(s.message().find("cannot bind"), std::string::npos);
}

TEST(HttpClientTest, ParsesUrlsAndRejectsBadOnes) {
  auto ep = ParseHttpUrl("http://127.0.0.1:8080/api");
  ASSERT_TRUE(ep.ok());
  EXPECT_EQ(ep->host, "127.0.0.1");
  EXPECT_EQ(ep->port, 8080);
  EXPECT_FALSE(ParseHttpUrl("https://x:1").ok());
  EXPECT_FALSE(ParseHttpUrl("http://nohost").ok());
  EXPECT_FALSE(ParseHttpUrl("http://x:99999").ok());
}

TEST(HttpClientTest, NobodyListeningIsUnavailable) {
  Router router;
  std::uint16_t port;
  {
    HttpServer s({}, &router);
    ASSERT_TRUE(s.Start().ok());
    port = s.port();
  }
  auto r = HttpCall({"127.0.0.1", port}, "GET", "/health");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace millrace
