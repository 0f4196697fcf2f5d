// SyncServer: central's half of the sync transport. A ROUTER socket with CurveZMQ; a ZAP
// handler that admits only keys the CentralSide knows as an active site and stamps each
// connection with its (tenant, site); a pool of workers, each with its own handler (its
// own database connection), that answer requests in order per site.
//
// Tenant and site come from the authenticated key, never from a payload. Frames that are
// malformed, oversized or of another protocol version get an Error reply and a counted
// metric; they never reach a handler. Revocation takes effect for new connections at the
// ZAP handshake and for existing ones in the handler, which checks the site per request.
//
// Development mode (insecure_development) uses no Curve: a peer names its site in Hello,
// and the server logs a warning at start. It must be asked for.
//
// Thread-safety: NotifyFeed() and endpoint() from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "millrace/common/metrics.h"
#include "millrace/common/status.h"
#include "millrace/sync/v1/sync.pb.h"

namespace millrace::sync {

struct Peer {
  std::string tenant_id;
  std::string site_id;
  std::string public_key;  // the Curve key of the connection; empty in development mode
};

// One per worker thread; used by that thread only.
class RequestHandler {
 public:
  virtual ~RequestHandler() = default;
  // Answers one request of an authenticated peer. Failures are answered with an Error
  // envelope, never thrown.
  virtual v1::Envelope Handle(const Peer& peer, const v1::Envelope& request) = 0;
};

class CentralSide {
 public:
  virtual ~CentralSide() = default;
  virtual Result<std::unique_ptr<RequestHandler>> NewHandler() = 0;
  // The active site whose Curve public key (Z85) this is; nullopt for unknown or revoked.
  // Called from the ZAP thread.
  virtual Result<std::optional<Peer>> FindActiveKey(const std::string& public_key) = 0;
  // Development mode only: the active site with this id. Called from the socket thread.
  virtual Result<std::optional<Peer>> FindActiveSite(const std::string& site_id) = 0;
};

struct SyncServerOptions {
  std::string bind = "tcp://127.0.0.1:*";
  std::string secret_key;  // Z85; empty only with insecure_development
  bool insecure_development = false;
  int workers = 2;
  std::size_t max_frame_bytes = 16u << 20;
  int heartbeat_ms = 1000;
};

class SyncServer {
 public:
  // Binds and starts. REQUIRES: central and metrics outlive the server.
  static Result<std::unique_ptr<SyncServer>> Start(SyncServerOptions options, CentralSide* central,
                                                   MetricsRegistry* metrics);
  ~SyncServer();  // stops and joins every thread
  SyncServer(const SyncServer&) = delete;
  SyncServer& operator=(const SyncServer&) = delete;

  // The bound endpoint, with the real port ("tcp://127.0.0.1:40123").
  std::string endpoint() const { return endpoint_; }
  // The tenant's feed grew to `head`: nudge its connected sites.
  void NotifyFeed(const std::string& tenant_id, std::uint64_t head);

  class Impl;

 private:
  explicit SyncServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  std::string endpoint_;
};

}  // namespace millrace::sync
