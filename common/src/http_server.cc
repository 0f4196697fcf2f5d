#include "millrace/common/http_server.h"

#include <pthread.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

namespace millrace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

http::response<http::string_body> ToBeast(const HttpResponse& r, unsigned version,
                                          bool keep_alive) {
  http::response<http::string_body> res{static_cast<http::status>(r.status), version};
  res.set(http::field::server, "millrace");
  res.set(http::field::content_type, r.content_type);
  for (const auto& [k, v] : r.headers) res.set(k, v);
  res.keep_alive(keep_alive);
  res.body() = r.body;
  res.prepare_payload();
  return res;
}

// Requests handed to the router whose answers are not written yet. The server's I/O context outlives
// them: Stop() waits for their answers before it tears the context down.
class Unanswered {
 public:
  void Begin() {
    std::lock_guard lock(mu_);
    ++n_;
  }
  void End() {
    std::lock_guard lock(mu_);
    if (--n_ == 0) cv_.notify_all();
  }
  // True when none is left within `timeout`.
  bool WaitNone(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return n_ == 0; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int n_ = 0;
};

// One connection: plain HTTP, or HTTPS (kTls: a TLS handshake first, a TLS close last).
template <bool kTls>
class Session : public std::enable_shared_from_this<Session<kTls>> {
  using Stream = std::conditional_t<kTls, beast::ssl_stream<beast::tcp_stream>, beast::tcp_stream>;

 public:
  Session(tcp::socket socket, const Router* router, const HttpServerOptions* options,
          asio::ssl::context* tls, Unanswered* unanswered)
      : stream_(MakeStream(std::move(socket), tls)),
        router_(router),
        options_(options),
        unanswered_(unanswered) {
    beast::error_code ec;
    auto ep = beast::get_lowest_layer(stream_).socket().remote_endpoint(ec);
    if (!ec) remote_ = ep.address().to_string();
  }

  void Run() {
    asio::dispatch(stream_.get_executor(), [self = this->shared_from_this()] {
      if constexpr (kTls) {
        beast::get_lowest_layer(self->stream_).expires_after(self->options_->read_timeout);
        self->stream_.async_handshake(asio::ssl::stream_base::server,
                                      [self](beast::error_code ec) {
                                        if (ec) return self->CloseSocket();  // not TLS, or refused
                                        self->DoRead();
                                      });
      } else {
        self->DoRead();
      }
    });
  }

 private:
  static Stream MakeStream(tcp::socket socket, asio::ssl::context* tls) {
    if constexpr (kTls) {
      return Stream(std::move(socket), *tls);
    } else {
      (void)tls;
      return Stream(std::move(socket));
    }
  }

  void DoRead() {
    parser_.emplace();
    parser_->body_limit(options_->body_limit_bytes);
    parser_->header_limit(16 * 1024);
    beast::get_lowest_layer(stream_).expires_after(options_->read_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&Session::OnRead, this->shared_from_this()));
  }

  void OnRead(beast::error_code ec, std::size_t) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
        ec == asio::error::operation_aborted || ec == asio::error::connection_reset ||
        ec == asio::error::eof || ec == asio::ssl::error::stream_truncated) {
      return DoClose();
    }
    if (ec == http::error::body_limit) {
      return Reply(HttpResponse::Error(Status::ResourceExhausted(
                       "request body exceeds the limit of " +
                       std::to_string(options_->body_limit_bytes) + " bytes")),
                   11, false);
    }
    if (ec) {
      if (ec == http::error::partial_message) return DoClose();
      return Reply(
          HttpResponse::Error(Status::InvalidArgument("malformed HTTP request: " + ec.message())),
          11, false);
    }
    auto& req = parser_->get();
    HttpRequest request;
    request.method = std::string(req.method_string());
    request.target = std::string(req.target());
    request.remote_address = remote_;
    for (const auto& field : req) {
      std::string name(field.name_string());
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      request.headers[name] = std::string(field.value());
    }
    request.body = std::move(req.body());
    bool keep_alive = req.keep_alive();
    unsigned version = req.version();
    if (!request.ParseTarget()) {
      return Reply(HttpResponse::Error(
                       Status::InvalidArgument("bad percent-encoding in the request target")),
                   version, false);
    }
    // The answer is written on this connection's strand, whichever thread gives it: at
    // once for a plain handler, from the store's writer once its commit is durable for an
    // async one. No thread waits for it meanwhile.
    unanswered_->Begin();
    counted_ = true;
    router_->HandleAsync(request, HttpReply(std::make_shared<Answer>(this->shared_from_this(),
                                                                     version, keep_alive)));
  }

  // Where the router's answer goes: back onto the connection's strand.
  class Answer final : public HttpReply::Sink {
   public:
    Answer(std::shared_ptr<Session> session, unsigned version, bool keep_alive)
        : session_(std::move(session)), version_(version), keep_alive_(keep_alive) {}
    void Send(std::function<HttpResponse()> make) override {
      auto s = std::move(session_);
      auto executor = s->stream_.get_executor();
      asio::dispatch(executor, [s = std::move(s), make = std::move(make), v = version_,
                                ka = keep_alive_] {
        HttpResponse response;
        try {
          response = make();
        } catch (const std::exception& e) {
          spdlog::error("HTTP: building an answer threw: {}", e.what());
          response = HttpResponse::Error(Status::Internal("the server failed to answer"));
        }
        s->Reply(response, v, ka);
      });
    }

   private:
    std::shared_ptr<Session> session_;
    unsigned version_;
    bool keep_alive_;
  };

  void Reply(const HttpResponse& response, unsigned version, bool keep_alive) {
    if (!response.file.empty()) return ReplyWithFile(response, version, keep_alive);
    auto res =
        std::make_shared<http::response<http::string_body>>(ToBeast(response, version, keep_alive));
    beast::get_lowest_layer(stream_).expires_after(options_->write_timeout);
    http::async_write(
        stream_, *res,
        [self = this->shared_from_this(), res, keep_alive](beast::error_code ec, std::size_t) {
          if (std::exchange(self->counted_, false)) self->unanswered_->End();
          if (ec || !keep_alive) return self->DoClose();
          self->DoRead();
        });
  }

  // The file streamed from disk; the write may take as long as the timeout plus a second
  // per MiB (a slow link still gets a large export).
  void ReplyWithFile(const HttpResponse& response, unsigned version, bool keep_alive) {
    auto res = std::make_shared<http::response<http::file_body>>(static_cast<http::status>(response.status), version);
    beast::error_code opened;
    res->body().open(response.file.c_str(), beast::file_mode::scan, opened);
    if (opened) {
      return Reply(HttpResponse::Error(Status::NotFound("the file is gone: " + opened.message())),
                   version, keep_alive);
    }
    res->set(http::field::server, "millrace");
    res->set(http::field::content_type, response.content_type);
    for (const auto& [k, v] : response.headers) res->set(k, v);
    res->keep_alive(keep_alive);
    res->prepare_payload();
    const auto size = res->body().size();
    beast::get_lowest_layer(stream_).expires_after(options_->write_timeout +
                                                   std::chrono::seconds(size >> 20));
    http::async_write(
        stream_, *res,
        [self = this->shared_from_this(), res, keep_alive](beast::error_code ec, std::size_t) {
          if (std::exchange(self->counted_, false)) self->unanswered_->End();
          if (ec || !keep_alive) return self->DoClose();
          self->DoRead();
        });
  }

  void DoClose() {
    if constexpr (kTls) {
      beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(5));
      stream_.async_shutdown(
          [self = this->shared_from_this()](beast::error_code) { self->CloseSocket(); });
    } else {
      CloseSocket();
    }
  }

  void CloseSocket() {
    beast::error_code ec;
    auto& socket = beast::get_lowest_layer(stream_).socket();
    socket.shutdown(tcp::socket::shutdown_send, ec);
    socket.close(ec);
  }

  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  const Router* router_;
  const HttpServerOptions* options_;
  Unanswered* unanswered_;
  bool counted_ = false;  // the request being answered is counted in unanswered_
  std::string remote_;
};

}  // namespace

struct HttpServer::Impl {
  HttpServerOptions options;
  const Router* router;
  // Owned by pointer so Stop() can destroy them: destroying the io_context destroys every
  // pending handler and with it every session, which closes idle keep-alive connections.
  std::unique_ptr<asio::io_context> ioc;
  // Keeps the I/O threads running while nothing is pending but an answer being worked on
  // elsewhere (an async route), until Stop().
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::unique_ptr<tcp::acceptor> acceptor;
  std::unique_ptr<asio::ssl::context> tls;  // set when serving HTTPS
  std::vector<std::thread> threads;
  Unanswered unanswered;
  std::uint16_t port = 0;
  bool running = false;

  void Accept() {
    acceptor->async_accept(
        asio::make_strand(*ioc), [this](beast::error_code ec, tcp::socket socket) {
          if (ec == asio::error::operation_aborted || !acceptor->is_open()) return;
          if (!ec && tls)
            std::make_shared<Session<true>>(std::move(socket), router, &options, tls.get(),
                                            &unanswered)
                ->Run();
          else if (!ec)
            std::make_shared<Session<false>>(std::move(socket), router, &options, nullptr,
                                             &unanswered)
                ->Run();
          Accept();
        });
  }
};

HttpServer::HttpServer(HttpServerOptions options, const Router* router)
    : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  impl_->router = router;
}

HttpServer::~HttpServer() {
  Stop();
}

Status HttpServer::Start() {
  auto& im = *impl_;
  if (im.running) return Status::FailedPrecondition("HTTP server already started");
  beast::error_code ec;
  auto address = asio::ip::make_address(im.options.address, ec);
  if (ec)
    return Status::InvalidArgument("bad listen address '" + im.options.address +
                                   "': " + ec.message());
  if (!im.options.tls_cert_file.empty() || !im.options.tls_key_file.empty()) {
    if (im.options.tls_cert_file.empty() || im.options.tls_key_file.empty())
      return Status::InvalidArgument(
          "HTTPS needs both a certificate (tls_cert_file) and its key (tls_key_file)");
    // The private key is a secret: like the daemons' other secrets, refused when group or
    // others may read it.
    struct stat st {};
    if (::stat(im.options.tls_key_file.c_str(), &st) == 0 && (st.st_mode & 077) != 0)
      return Status::PermissionDenied("the TLS private key " + im.options.tls_key_file +
                                      " is readable by group or others; run: chmod 600 " +
                                      im.options.tls_key_file);
    im.tls = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
    im.tls->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                        asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                        asio::ssl::context::no_tlsv1_1);
    im.tls->use_certificate_chain_file(im.options.tls_cert_file, ec);
    if (ec)
      return Status::InvalidArgument("cannot use the certificate " + im.options.tls_cert_file +
                                     ": " + ec.message());
    im.tls->use_private_key_file(im.options.tls_key_file, asio::ssl::context::pem, ec);
    if (ec)
      return Status::InvalidArgument("cannot use the private key " + im.options.tls_key_file +
                                     ": " + ec.message());
  }
  im.ioc = std::make_unique<asio::io_context>();
  im.work.emplace(im.ioc->get_executor());
  im.acceptor = std::make_unique<tcp::acceptor>(asio::make_strand(*im.ioc));
  tcp::endpoint endpoint{address, im.options.port};
  std::string where = im.options.address + ":" + std::to_string(im.options.port);
  im.acceptor->open(endpoint.protocol(), ec);
  if (ec) return Status::Unavailable("cannot open a socket for " + where + ": " + ec.message());
  im.acceptor->set_option(asio::socket_base::reuse_address(true), ec);
  im.acceptor->bind(endpoint, ec);
  if (ec) return Status::Unavailable("cannot bind " + where + ": " + ec.message());
  im.acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Status::Unavailable("cannot listen on " + where + ": " + ec.message());
  im.port = im.acceptor->local_endpoint().port();
  im.Accept();
  int n = std::max(1, im.options.threads);
  for (int i = 0; i < n; ++i)
    im.threads.emplace_back([&im] {
      pthread_setname_np(pthread_self(), "http-io");  // for top -H and perf
      im.ioc->run();
    });
  im.running = true;
  return Status::Ok();
}

std::uint16_t HttpServer::port() const {
  return impl_->port;
}

std::string HttpServer::url() const {
  return std::string(impl_->tls ? "https://" : "http://") + impl_->options.address + ":" +
         std::to_string(impl_->port);
}

void HttpServer::Stop() {
  auto& im = *impl_;
  if (!im.running) return;
  im.running = false;
  // Close the listening socket on its own strand and wait for that, so no new connection
  // is accepted once Stop() returns.
  std::promise<void> closed;
  asio::post(im.acceptor->get_executor(), [&im, &closed] {
    beast::error_code ec;
    im.acceptor->close(ec);
    closed.set_value();
  });
  closed.get_future().wait_for(std::chrono::seconds(5));
  // Requests still being worked on (a write waiting for its commit) are answered first:
  // their answers need the I/O context.
  if (!im.unanswered.WaitNone(std::chrono::seconds(30))) {
    spdlog::error("HTTP: requests still unanswered after 30 s; stopping without them");
    im.ioc->stop();
    for (auto& t : im.threads) t.join();
    im.threads.clear();
    // A late answer must still find its connection's context: leave both in place.
    (void)im.acceptor.release();
    (void)im.ioc.release();
    return;
  }
  im.work.reset();
  im.ioc->stop();
  for (auto& t : im.threads) t.join();
  im.threads.clear();
  im.acceptor.reset();
  im.ioc.reset();
}

}  // namespace millrace
