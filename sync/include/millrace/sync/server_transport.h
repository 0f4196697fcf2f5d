// ServerTransport: how central's sync server hears its sites and answers them. The
// server's dispatch and refusal logic (server.h) is written against this seam; production
// uses ZeroMQ (a ROUTER socket with CurveZMQ and a ZAP handler that admits only the keys
// of active sites), unit tests a fake that hands frames in and collects the replies.
//
// Thread-safety: Wake() from any thread; everything else from the server's socket thread.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "millrace/common/metrics.h"
#include "millrace/common/status.h"
#include "millrace/sync/central_side.h"

namespace millrace::sync {

// One message from a site.
struct InboundFrame {
  std::string connection;    // opaque id of the connection the frame came on
  std::string frame;         // the message (wire.h)
  std::optional<Peer> peer;  // who the handshake said the connection is; none without Curve
  bool multipart = false;    // it came in several parts (refused: a message is one frame)
};

class ServerTransport {
 public:
  virtual ~ServerTransport() = default;
  // Waits up to `timeout` for the next frame. nullopt on timeout or after Wake().
  virtual Result<std::optional<InboundFrame>> Receive(std::chrono::milliseconds timeout) = 0;
  // Queues a frame for a connection; never blocks. NotFound when the connection has gone
  // (the site starts over with a Hello); Unavailable when its queue is full (dropped).
  virtual Status Send(const std::string& connection, const std::string& frame) = 0;
  // Ends a Receive() in progress (or the next one) early. Any thread.
  virtual void Wake() = 0;
  // The bound endpoint, with the real port ("tcp://127.0.0.1:40123").
  virtual std::string endpoint() const = 0;
};

struct ZmqServerOptions {
  std::string bind = "tcp://127.0.0.1:*";
  std::string secret_key;  // Z85; empty only with insecure_development
  bool insecure_development = false;
  std::size_t max_frame_bytes = 16u << 20;
  // Central PINGs each edge this often and drops one silent for three intervals: slow,
  // because each PING re-arms timers whose cost grows with the connections held; an edge
  // finds a dead central by its own PINGs within seconds.
  int heartbeat_ms = 10000;
};

// The active site a Curve public key (Z85) belongs to; nullopt for unknown or revoked.
using KeyLookup = std::function<Result<std::optional<Peer>>(const std::string& public_key)>;

// Binds a ROUTER socket. With Curve, a ZAP handler thread admits only keys `find_key`
// knows and stamps each connection with its tenant, site and key; handshakes are counted
// in `metrics`. REQUIRES: find_key's target and metrics outlive the transport.
Result<std::unique_ptr<ServerTransport>> NewZmqServerTransport(ZmqServerOptions options,
                                                               KeyLookup find_key,
                                                               MetricsRegistry* metrics);

}  // namespace millrace::sync
