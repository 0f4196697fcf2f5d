// SyncServer: central's half of the sync transport. Frames come in through a
// ServerTransport (server_transport.h: in production a ROUTER socket with CurveZMQ whose
// ZAP handler admits only keys the CentralSide knows as an active site and stamps each
// connection with its tenant and site); decode threads parse a busy site's next frames
// and decode their changes while its current batch is written, and a pool of appliers, each running
// the protocol (central_protocol.h) over its own CentralSession, answers them: a site's
// requests one at a time in order, different sites in parallel, sites taking turns.
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
#include "millrace/sync/central_protocol.h"
#include "millrace/sync/central_side.h"
#include "millrace/sync/server_transport.h"
#include "millrace/sync/v1/sync.pb.h"

namespace millrace::sync {

struct SyncServerOptions {
  std::string bind = "tcp://127.0.0.1:*";
  std::string secret_key;  // Z85; empty only with insecure_development
  bool insecure_development = false;
  int workers = 2;  // appliers (each with a storage session) and as many decode threads
  std::size_t max_frame_bytes = 16u << 20;
  // Central PINGs each edge this often and drops one silent for three intervals: slow,
  // because each PING re-arms timers whose cost grows with the connections held; an edge
  // finds a dead central by its own PINGs within seconds.
  int heartbeat_ms = 10000;
};

class SyncServer {
 public:
  // Binds a ZeroMQ transport (server_transport.h) and starts. REQUIRES: central and
  // metrics outlive the server.
  static Result<std::unique_ptr<SyncServer>> Start(SyncServerOptions options, CentralSide* central,
                                                   MetricsRegistry* metrics);
  // Starts over a given transport (a fake one in unit tests). options.bind, secret_key and
  // heartbeat_ms are the transport's business and unused here.
  static Result<std::unique_ptr<SyncServer>> Start(SyncServerOptions options, CentralSide* central,
                                                   std::unique_ptr<ServerTransport> transport,
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
