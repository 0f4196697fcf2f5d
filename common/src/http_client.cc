#include "millrace/common/http_client.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <optional>

namespace millrace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

Result<HttpEndpoint> ParseHttpUrl(const std::string& url) {
  const std::string prefix = "http://";
  if (url.rfind(prefix, 0) != 0)
    return Status::InvalidArgument("URL must start with http://, got '" + url + "'");
  std::string rest = url.substr(prefix.size());
  rest = rest.substr(0, rest.find('/'));
  auto colon = rest.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    return Status::InvalidArgument("URL must name host and port (http://host:port), got '" + url +
                                   "'");
  }
  HttpEndpoint ep;
  ep.host = rest.substr(0, colon);
  try {
    int port = std::stoi(rest.substr(colon + 1));
    if (port <= 0 || port > 65535) throw std::out_of_range("port");
    ep.port = static_cast<std::uint16_t>(port);
  } catch (const std::exception&) {
    return Status::InvalidArgument("bad port in URL '" + url + "'");
  }
  return ep;
}

namespace {

http::request<http::string_body> MakeRequest(const HttpEndpoint& endpoint,
                                             const std::string& method, const std::string& target,
                                             const std::string& body,
                                             const std::map<std::string, std::string>& headers,
                                             bool keep_alive) {
  http::request<http::string_body> req{http::string_to_verb(method), target, 11};
  req.set(http::field::host, endpoint.host);
  req.set(http::field::user_agent, "millrace");
  for (const auto& [k, v] : headers) req.set(k, v);
  if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
    if (headers.find("content-type") == headers.end())
      req.set(http::field::content_type, "application/json");
    req.body() = body;
  }
  req.keep_alive(keep_alive);
  req.prepare_payload();
  return req;
}

HttpResponse FromBeast(http::response<http::string_body>& res) {
  HttpResponse out;
  out.status = static_cast<int>(res.result_int());
  out.content_type = std::string(res[http::field::content_type]);
  for (const auto& field : res) {
    std::string name(field.name_string());
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out.headers[name] = std::string(field.value());
  }
  out.body = std::move(res.body());
  return out;
}

enum class Stage { kConnect, kWrite, kRead, kDone };

// One exchange on `stream` (connecting first unless `connected`), with a deadline on the
// whole of it: async operations on a tcp_stream are the only way to get a deadline out of
// Asio (its blocking reads ignore SO_RCVTIMEO and wait forever).
Result<HttpResponse> Exchange(asio::io_context& ioc, beast::tcp_stream& stream,
                              const HttpEndpoint& endpoint, bool connected,
                              http::request<http::string_body>& req,
                              std::chrono::milliseconds timeout, Stage* reached,
                              std::size_t* bytes_read) {
  const std::string where = endpoint.host + ":" + std::to_string(endpoint.port);
  beast::error_code ec;
  tcp::resolver::results_type results;
  if (!connected) {
    tcp::resolver resolver(ioc);
    results = resolver.resolve(endpoint.host, std::to_string(endpoint.port), ec);
    if (ec) return Status::Unavailable("cannot resolve " + where + ": " + ec.message());
  }
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(64ull << 20);
  Stage stage = connected ? Stage::kWrite : Stage::kConnect;
  *bytes_read = 0;
  auto read = [&] {
    stage = Stage::kRead;
    http::async_read(stream, buffer, parser, [&](beast::error_code e, std::size_t n) {
      ec = e;
      *bytes_read = n;
      if (!ec) stage = Stage::kDone;
    });
  };
  auto write = [&] {
    stage = Stage::kWrite;
    http::async_write(stream, req, [&](beast::error_code e, std::size_t) {
      if ((ec = e)) return;
      read();
    });
  };
  stream.expires_after(timeout);
  if (connected) {
    write();
  } else {
    stream.async_connect(results, [&](beast::error_code e, const tcp::endpoint&) {
      if ((ec = e)) return;
      write();
    });
  }
  ioc.restart();
  ioc.run();
  *reached = stage;
  if (ec == beast::error::timeout) {
    return Status::Timeout("no answer from " + where + " within " +
                           std::to_string(timeout.count()) + " ms");
  }
  if (ec) {
    const char* what = stage == Stage::kConnect ? "cannot connect to "
                       : stage == Stage::kWrite ? "cannot send to "
                                                : "cannot read the answer from ";
    return Status::Unavailable(what + where + ": " + ec.message());
  }
  return FromBeast(parser.get());
}

}  // namespace

Result<HttpResponse> HttpCall(const HttpEndpoint& endpoint, const std::string& method,
                              const std::string& target, const std::string& body,
                              const std::map<std::string, std::string>& headers,
                              std::chrono::milliseconds timeout) {
  asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  auto req = MakeRequest(endpoint, method, target, body, headers, false);
  Stage reached;
  std::size_t read = 0;
  auto out = Exchange(ioc, stream, endpoint, false, req, timeout, &reached, &read);
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  return out;
}

struct HttpConnection::Impl {
  HttpEndpoint endpoint;
  std::chrono::milliseconds timeout;
  asio::io_context ioc;
  std::optional<beast::tcp_stream> stream;
  std::chrono::steady_clock::time_point last_used;
};

HttpConnection::HttpConnection(HttpEndpoint endpoint, std::chrono::milliseconds timeout)
    : impl_(std::make_unique<Impl>()) {
  impl_->endpoint = std::move(endpoint);
  impl_->timeout = timeout;
}

HttpConnection::~HttpConnection() = default;

Result<HttpResponse> HttpConnection::Call(const std::string& method, const std::string& target,
                                          const std::string& body,
                                          const std::map<std::string, std::string>& headers) {
  Impl& im = *impl_;
  // A connection idle for longer than a server's read deadline may be closing as the
  // request goes out: start a new one instead.
  if (im.stream && std::chrono::steady_clock::now() - im.last_used > kIdleReuse) im.stream.reset();
  auto req = MakeRequest(im.endpoint, method, target, body, headers, true);
  for (int attempt = 0;; ++attempt) {
    const bool reused = im.stream.has_value();
    if (!reused) im.stream.emplace(im.ioc);
    Stage reached;
    std::size_t read = 0;
    auto out = Exchange(im.ioc, *im.stream, im.endpoint, reused, req, im.timeout, &reached, &read);
    if (out.ok()) {
      im.last_used = std::chrono::steady_clock::now();
      if (out->headers.count("connection") && out->headers.at("connection") == "close")
        im.stream.reset();
      return out;
    }
    im.stream.reset();
    // A kept connection the server had closed answers nothing at all: the request never
    // reached a handler, so it is sent once more on a new connection. Anything else (an
    // answer begun, a timeout) is not retried: the request may have been applied.
    if (!reused || attempt > 0 || read > 0 || out.status().code() == StatusCode::kTimeout ||
        reached == Stage::kConnect)
      return out;
  }
}

}  // namespace millrace
