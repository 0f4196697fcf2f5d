// HttpServer: puts a Router on a TCP port with Boost.Beast.
//
// Listener accepts; each Session reads one request at a time under a read deadline
// (a silent or trickling client is disconnected), enforces a body size limit (413 with a
// JSON error), calls the Router and writes the response, keeping the connection alive
// when the client asks. Beast stays inside the .cc so including this header is cheap.
//
// Thread-safety: Start/Stop from one controlling thread. Handlers run on the server's
// I/O threads, concurrently when threads > 1.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "millrace/common/http.h"
#include "millrace/common/status.h"

namespace millrace {

struct HttpServerOptions {
  std::string address = "127.0.0.1";
  std::uint16_t port = 0;  // 0: the kernel picks a free port; see HttpServer::port()
  std::size_t body_limit_bytes = 1 << 20;
  std::chrono::milliseconds read_timeout{15000};
  std::chrono::milliseconds write_timeout{15000};
  int threads = 1;
  // HTTPS: a PEM certificate chain and its PEM private key (both, or neither: plain HTTP).
  // TLS 1.2 and newer only.
  std::string tls_cert_file;
  std::string tls_key_file;
};

class HttpServer {
 public:
  // REQUIRES: router outlives the server.
  HttpServer(HttpServerOptions options, const Router* router);
  ~HttpServer();  // Stop()s
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and starts serving. Unavailable if the address cannot be bound.
  Status Start();
  // The bound port (after Start).
  std::uint16_t port() const;
  // "http://127.0.0.1:8080" (https:// when serving TLS)
  std::string url() const;
  // Stops accepting, closes connections, joins the I/O threads. Idempotent.
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace millrace
