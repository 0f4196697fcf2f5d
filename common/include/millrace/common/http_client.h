// A small blocking HTTP/1.1 client for mesctl and tests: one request per connection,
// with a deadline on every socket operation. Not for hot paths.
//
// Thread-safety: each call is independent.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
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

}  // namespace millrace
