// The ZeroMQ client transport: one DEALER socket to one endpoint at a time.
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <zmq.hpp>

#include "millrace/common/files.h"
#include "millrace/sync/transport.h"

namespace millrace::sync {
namespace {

bool IsZ85Key(const std::string& k) {
  if (k.size() != 40) return false;
  std::uint8_t raw[32];
  return zmq_z85_decode(raw, k.c_str()) != nullptr;
}

class ZmqClientTransport final : public ClientTransport {
 public:
  explicit ZmqClientTransport(ZmqClientOptions options) : options_(std::move(options)) {
    wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  }
  ~ZmqClientTransport() override {
    Close();
    if (wake_fd_ >= 0) ::close(wake_fd_);
  }

  // Stops the socket's monitor before closing either end. libzmq sends monitor events with
  // a blocking send from its I/O thread: closing our end of the monitor first lets an event
  // of the closing DEALER (a disconnect) block that thread for good, and with it every later
  // connection of this transport.
  void Close() {
    if (socket_) (void)zmq_socket_monitor(socket_->handle(), nullptr, 0);
    socket_.reset();
    monitor_.reset();
  }

  Status SetCurveKeys(const std::string& secret_key, const std::string& public_key) override {
    if (options_.insecure_development)
      return Status::FailedPrecondition("development mode uses no Curve keys");
    if (!IsZ85Key(secret_key) || !IsZ85Key(public_key))
      return Status::InvalidArgument("sync keys must be Z85 Curve keys");
    options_.secret_key = secret_key;
    options_.public_key = public_key;
    return Status::Ok();
  }

  Status Connect() {
    if (wake_fd_ < 0) return Status::IOError("eventfd failed");
    try {
      Close();
      link_up_ = false;
      socket_ = std::make_unique<zmq::socket_t>(context_, zmq::socket_type::dealer);
      socket_->set(zmq::sockopt::linger, 0);
      socket_->set(zmq::sockopt::immediate, 1);  // queue only to a finished handshake
      socket_->set(zmq::sockopt::sndhwm, 64);
      socket_->set(zmq::sockopt::rcvhwm, 64);
      socket_->set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(options_.max_frame_bytes));
      const int hb = static_cast<int>(options_.heartbeat.count());
      // The edge finds a dead central by its own PINGs; it asks central for no time-to-live
      // of its own (heartbeat_ttl): libzmq re-arms such a timer for every message it gets,
      // at a cost that grows with the connections central holds (a linear search of its
      // timers), which a thousand sites' PINGs made a fifth of a core. Central finds a
      // dead edge by its own, slower PINGs (server_transport.h).
      socket_->set(zmq::sockopt::heartbeat_ivl, hb);
      socket_->set(zmq::sockopt::heartbeat_timeout, 3 * hb);
      // A central that comes back is found within a second: loopback and LAN connection
      // attempts to a closed port are cheap, and a site's catch-up starts sooner.
      socket_->set(zmq::sockopt::reconnect_ivl, 100);
      socket_->set(zmq::sockopt::reconnect_ivl_max, 1000);
      if (!options_.insecure_development) {
        socket_->set(zmq::sockopt::curve_serverkey, options_.server_public_key);
        socket_->set(zmq::sockopt::curve_publickey, options_.public_key);
        socket_->set(zmq::sockopt::curve_secretkey, options_.secret_key);
      }
      // The link's state (handshake done, connection dropped) comes from a socket monitor.
      const std::string monitor_address =
          "inproc://millrace-link-" + std::to_string(reinterpret_cast<std::uintptr_t>(this)) +
          "-" + std::to_string(++generation_);
      if (zmq_socket_monitor(socket_->handle(), monitor_address.c_str(),
                             ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED) == 0) {
        monitor_ = std::make_unique<zmq::socket_t>(context_, zmq::socket_type::pair);
        monitor_->set(zmq::sockopt::linger, 0);
        monitor_->connect(monitor_address);
      }
      socket_->connect(endpoint());
    } catch (const zmq::error_t& e) {
      return Status::InvalidArgument("cannot connect to " + endpoint() + ": " + e.what());
    }
    return Status::Ok();
  }

  Status Send(std::string frame) override {
    if (!socket_) return Status::Unavailable("not connected");
    try {
      auto sent = socket_->send(zmq::buffer(frame), zmq::send_flags::dontwait);
      if (!sent) return Status::Unavailable("no connection to " + endpoint() + " can take data");
    } catch (const zmq::error_t& e) {
      return Status::Unavailable(std::string("send to ") + endpoint() + ": " + e.what());
    }
    return Status::Ok();
  }

  Result<std::optional<std::string>> Receive(std::chrono::milliseconds timeout) override {
    if (!socket_) return Status::Unavailable("not connected");
    zmq::pollitem_t items[] = {{socket_->handle(), 0, ZMQ_POLLIN, 0},
                               {nullptr, wake_fd_, ZMQ_POLLIN, 0},
                               {monitor_ ? monitor_->handle() : nullptr, -1, ZMQ_POLLIN, 0}};
    try {
      zmq::poll(items, monitor_ ? 3 : 2, timeout);
      if (items[1].revents & ZMQ_POLLIN) {
        std::uint64_t n;
        while (::read(wake_fd_, &n, sizeof n) > 0) {
        }
      }
      if (monitor_ && (items[2].revents & ZMQ_POLLIN)) DrainMonitor();
      zmq::message_t msg;
      if (socket_->recv(msg, zmq::recv_flags::dontwait)) return std::optional<std::string>(msg.to_string());
    } catch (const zmq::error_t& e) {
      if (e.num() == EINTR) return std::optional<std::string>();
      return Status::Unavailable(std::string("receive from ") + endpoint() + ": " + e.what());
    }
    return std::optional<std::string>();
  }

  void Wake() override {
    std::uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(wake_fd_, &one, sizeof one);
  }

  Status Reconnect() override {
    next_ = (next_ + 1) % options_.endpoints.size();
    spdlog::info("sync: reconnecting to {}", endpoint());
    return Connect();
  }

  std::string endpoint() const override { return options_.endpoints[next_]; }

  bool LinkUp() const override { return link_up_; }

 private:
  // Each monitor event is two frames: 6 bytes (uint16 event, uint32 value), the address.
  void DrainMonitor() {
    while (true) {
      zmq::message_t event, address;
      if (!monitor_->recv(event, zmq::recv_flags::dontwait)) return;
      if (event.more()) (void)monitor_->recv(address, zmq::recv_flags::dontwait);
      if (event.size() < sizeof(std::uint16_t)) continue;
      std::uint16_t id;
      std::memcpy(&id, event.data(), sizeof id);
      if (id == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) link_up_ = true;
      if (id == ZMQ_EVENT_DISCONNECTED) link_up_ = false;
    }
  }

  ZmqClientOptions options_;
  zmq::context_t context_{1};
  std::unique_ptr<zmq::socket_t> socket_;
  std::unique_ptr<zmq::socket_t> monitor_;  // PAIR end of socket_'s monitor
  std::uint64_t generation_ = 0;
  bool link_up_ = false;
  std::size_t next_ = 0;
  int wake_fd_ = -1;
};

}  // namespace

bool IsCurvePublicKey(const std::string& key) { return IsZ85Key(key); }

Result<CurveKeyPair> GenerateCurveKeyPair() {
  char pub[41], sec[41];
  if (zmq_curve_keypair(pub, sec) != 0)
    return Status::Unavailable("this libzmq was built without CurveZMQ");
  return CurveKeyPair{pub, sec};
}

Result<std::string> CurvePublicKey(const std::string& secret_key) {
  if (!IsZ85Key(secret_key)) return Status::InvalidArgument("not a Z85-encoded Curve key");
  char pub[41];
  if (zmq_curve_public(pub, secret_key.c_str()) != 0)
    return Status::InvalidArgument("not a Curve secret key");
  return std::string(pub);
}

Result<std::string> ReadKeyFile(const std::string& path, bool secret) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    return Status::NotFound("key file " + path + " does not exist");
  if (secret && (st.st_mode & 077) != 0) {
    return Status::PermissionDenied("secret key file " + path +
                                    " is readable by group or others; run: chmod 600 " + path);
  }
  MILLRACE_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front())))
    text.erase(0, 1);
  if (!IsZ85Key(text))
    return Status::InvalidArgument("key file " + path + " does not hold a Z85 Curve key");
  return text;
}

Status WriteKeyFile(const std::string& path, const std::string& key, bool secret) {
  return WriteFileAtomically(path, key + "\n", secret ? 0600 : 0644);
}

Result<std::unique_ptr<ClientTransport>> NewZmqClientTransport(ZmqClientOptions options) {
  if (options.endpoints.empty())
    return Status::InvalidArgument("no central endpoint configured");
  if (options.insecure_development) {
    spdlog::warn(
        "sync: development mode, the link to central is NOT encrypted or authenticated");
  } else {
    if (!zmq_has("curve")) return Status::Unavailable("this libzmq was built without CurveZMQ");
    for (const auto* k : {&options.secret_key, &options.public_key, &options.server_public_key})
      if (!IsZ85Key(*k)) return Status::InvalidArgument("sync keys must be Z85 Curve keys");
  }
  auto t = std::make_unique<ZmqClientTransport>(std::move(options));
  MILLRACE_RETURN_IF_ERROR(t->Connect());
  return std::unique_ptr<ClientTransport>(std::move(t));
}

}  // namespace millrace::sync
