// Small blocking HTTP/1.1 clients for mesctl, mes-sim and tests, with a deadline on every
// call: HttpCall makes one request on a connection of its own; HttpConnection keeps one
// connection alive for many.
//
// Thread-safety: each HttpCall is independent; an HttpConnection is used by one thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "millrace/common/http.h"
#include "millrace/common/status.h"

namespace millrace {

struct HttpEndpoint {
  std::string host;
  std::uint16_t port = 0;
};

// Parses "http://host:port" (a trailing path is ignored). Only plain http is supported.
Result<HttpEndpoint> ParseHttpUrl(const std::string& url);

// Sends one request and reads the whole response. Unavailable when the server cannot be
// reached, Timeout when it does not answer in time. HTTP error statuses are returned as
// responses, not as errors.
Result<HttpResponse> HttpCall(const HttpEndpoint& endpoint, const std::string& method,
                              const std::string& target, const std::string& body = "",
                              const std::map<std::string, std::string>& headers = {},
                              std::chrono::milliseconds timeout = std::chrono::milliseconds(10000));

// A kept-alive connection to one endpoint, opened on first use and again whenever the
// server closed it. A request is sent again only when a kept connection turned out closed
// before any of the answer came (the server never saw it); otherwise the error is
// returned, since the request may have been applied.
class HttpConnection {
 public:
  // A connection unused for this long is replaced rather than reused (servers close
  // idle ones: mes-edge and mes-central after 15 s).
  static constexpr std::chrono::seconds kIdleReuse{10};

  explicit HttpConnection(HttpEndpoint endpoint,
                          std::chrono::milliseconds timeout = std::chrono::milliseconds(10000));
  ~HttpConnection();
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  // As HttpCall.
  Result<HttpResponse> Call(const std::string& method, const std::string& target,
                            const std::string& body = "",
                            const std::map<std::string, std::string>& headers = {});

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace millrace
