// Transport: how the sync client reaches central. The client's protocol logic is written
// against this seam; production uses ZeroMQ (a DEALER socket with CurveZMQ), unit tests a
// fake that can lose, delay and cut messages on demand.
//
// Thread-safety: Wake() may be called from any thread; everything else from the one
// thread that runs the client.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "millrace/common/status.h"

namespace millrace::sync {

class ClientTransport {
 public:
  virtual ~ClientTransport() = default;
  // Queues one frame for central. Unavailable when no connection can take it now (the
  // caller keeps the data and tries again later); never blocks.
  virtual Status Send(std::string frame) = 0;
  // Waits up to `timeout` for a frame from central. nullopt on timeout or after Wake().
  virtual Result<std::optional<std::string>> Receive(std::chrono::milliseconds timeout) = 0;
  // Ends a Receive() in progress (or the next one) early. Any thread.
  virtual void Wake() = 0;
  // Drops the current connection and connects to the next endpoint of the list.
  virtual Status Reconnect() = 0;
  // True while the current connection has finished its handshake with central and has not
  // dropped since. A change ends a Receive() in progress. Transports that cannot tell say
  // false, and the client then relies on its backoff alone.
  virtual bool LinkUp() const { return false; }
  virtual std::string endpoint() const = 0;
  // The site's Curve key pair for the next connection (after a key rotation). Transports
  // without keys say FailedPrecondition.
  virtual Status SetCurveKeys(const std::string& secret_key, const std::string& public_key) {
    (void)secret_key;
    (void)public_key;
    return Status::FailedPrecondition("this transport holds no Curve keys");
  }
};

// CurveZMQ keys as Z85 text (40 characters).
struct CurveKeyPair {
  std::string public_key;
  std::string secret_key;
};
Result<CurveKeyPair> GenerateCurveKeyPair();
// Whether `key` is a Z85 Curve key (40 characters).
bool IsCurvePublicKey(const std::string& key);
// The public key of a secret key. InvalidArgument when it is not a Z85 Curve key.
Result<std::string> CurvePublicKey(const std::string& secret_key);
// Reads a key file (one Z85 key, surrounding whitespace ignored). A secret key file must
// not be readable by group or others: PermissionDenied names the file and the fix.
Result<std::string> ReadKeyFile(const std::string& path, bool secret);
// Writes a key file atomically, mode 0600 for secrets and 0644 for public keys.
Status WriteKeyFile(const std::string& path, const std::string& key, bool secret);

struct ZmqClientOptions {
  std::vector<std::string> endpoints;  // tried in order, wrapping around
  // Curve: the site's key pair and central's public key. All empty only in development
  // mode, which must be asked for (insecure_development) and is logged as a warning.
  std::string secret_key;
  std::string public_key;
  std::string server_public_key;
  bool insecure_development = false;
  std::chrono::milliseconds heartbeat{1000};  // ZMTP PING interval; the peer is dead after 3
  std::size_t max_frame_bytes = 16u << 20;
};

Result<std::unique_ptr<ClientTransport>> NewZmqClientTransport(ZmqClientOptions options);

}  // namespace millrace::sync
