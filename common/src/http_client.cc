#include "millrace/common/http_client.h"

#include <sys/socket.h>
#include <sys/time.h>

#include <boost/asio/connect.hpp>
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
  if (url.rfind(prefix, 0) != 0) return Status::InvalidArgument("URL must start with http://, got '" + url + "'");
  std::string rest = url.substr(prefix.size());
  rest = rest.substr(0, rest.find('/'));
  auto colon = rest.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    return Status::InvalidArgument("URL must name host and port (http://host:port), got '" + url + "'");
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

Result<HttpResponse> HttpCall(const HttpEndpoint& endpoint, const std::string& method, const std::string& target,
                              const std::string& body, const std::map<std::string, std::string>& headers,
                              std::chrono::milliseconds timeout) {
  std::string where = endpoint.host + ":" + std::to_string(endpoint.port);
  asio::io_context ioc;
  tcp::resolver resolver(ioc);
  tcp::socket socket(ioc);
  beast::error_code ec;
  auto results = resolver.resolve(endpoint.host, std::to_string(endpoint.port), ec);
  if (ec) return Status::Unavailable("cannot resolve " + where + ": " + ec.message());
  asio::connect(socket, results, ec);
  if (ec) return Status::Unavailable("cannot connect to " + where + ": " + ec.message());

  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));

  http::request<http::string_body> req{http::string_to_verb(method), target, 11};
  req.set(http::field::host, endpoint.host);
  req.set(http::field::user_agent, "millrace");
  for (const auto& [k, v] : headers) req.set(k, v);
  if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
    if (headers.find("content-type") == headers.end()) req.set(http::field::content_type, "application/json");
    req.body() = body;
  }
  req.keep_alive(false);
  req.prepare_payload();
  http::write(socket, req, ec);
  if (ec) return Status::Unavailable("cannot send to " + where + ": " + ec.message());

  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(64ull << 20);
  http::read(socket, buffer, parser, ec);
  if (ec == asio::error::would_block || ec == asio::error::try_again || ec == asio::error::timed_out) {
    return Status::Timeout("no answer from " + where + " within " + std::to_string(timeout.count()) + " ms");
  }
  if (ec) return Status::Unavailable("cannot read the answer from " + where + ": " + ec.message());
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
  socket.shutdown(tcp::socket::shutdown_both, ignored);
  return out;
}

}  // namespace millrace
