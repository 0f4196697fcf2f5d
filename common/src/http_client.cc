#include "millrace/common/http_client.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

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

Result<HttpResponse> HttpCall(const HttpEndpoint& endpoint, const std::string& method,
                              const std::string& target, const std::string& body,
                              const std::map<std::string, std::string>& headers,
                              std::chrono::milliseconds timeout) {
  // Async operations on a tcp_stream are the only way to get a deadline out of Asio:
  // its blocking reads ignore SO_RCVTIMEO and wait forever.
  std::string where = endpoint.host + ":" + std::to_string(endpoint.port);
  asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  beast::error_code ec;
  tcp::resolver resolver(ioc);
  auto results = resolver.resolve(endpoint.host, std::to_string(endpoint.port), ec);
  if (ec) return Status::Unavailable("cannot resolve " + where + ": " + ec.message());

  http::request<http::string_body> req{http::string_to_verb(method), target, 11};
  req.set(http::field::host, endpoint.host);
  req.set(http::field::user_agent, "millrace");
  for (const auto& [k, v] : headers) req.set(k, v);
  if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
    if (headers.find("content-type") == headers.end())
      req.set(http::field::content_type, "application/json");
    req.body() = body;
  }
  req.keep_alive(false);
  req.prepare_payload();

  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(64ull << 20);
  enum class Stage { kConnect, kWrite, kRead, kDone } stage = Stage::kConnect;

  stream.expires_after(timeout);
  stream.async_connect(results, [&](beast::error_code e, const tcp::endpoint&) {
    if ((ec = e)) return;
    stage = Stage::kWrite;
    http::async_write(stream, req, [&](beast::error_code e2, std::size_t) {
      if ((ec = e2)) return;
      stage = Stage::kRead;
      http::async_read(stream, buffer, parser, [&](beast::error_code e3, std::size_t) {
        ec = e3;
        if (!ec) stage = Stage::kDone;
      });
    });
  });
  ioc.run();

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
  auto& res = parser.get();
  HttpResponse out;
  out.status = static_cast<int>(res.result_int());
  out.content_type = std::string(res[http::field::content_type]);
  for (const auto& field : res) {
    std::string name(field.name_string());
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out.headers[name] = std::string(field.value());
  }
  out.body = std::move(res.body());
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  return out;
}

}  // namespace millrace
