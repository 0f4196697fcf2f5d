// The ZeroMQ ServerTransport: a ROUTER socket, CurveZMQ, and a ZAP handler thread that
// asks the KeyLookup whether a handshake's key belongs to an active site.
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <thread>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "millrace/sync/server_transport.h"

namespace millrace::sync {
namespace {

constexpr const char* kZapEndpoint = "inproc://zeromq.zap.01";

class ZmqServerTransport final : public ServerTransport {
 public:
  ZmqServerTransport(ZmqServerOptions options, KeyLookup find_key, MetricsRegistry* metrics)
      : options_(std::move(options)),
        find_key_(std::move(find_key)),
        auth_(metrics->AddCounter("mes_sync_handshakes_total",
                                  "Curve handshakes judged by the ZAP handler, by outcome",
                                  {"outcome"})) {}

  ~ZmqServerTransport() override {
    stop_ = true;
    if (zap_thread_.joinable()) zap_thread_.join();
    router_.reset();
    zap_.reset();
    if (wake_fd_ >= 0) ::close(wake_fd_);
  }

  Status Bind() {
    wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (wake_fd_ < 0) return Status::IOError("eventfd failed");
    try {
      if (!options_.insecure_development) {
        if (!zmq_has("curve")) return Status::Unavailable("this libzmq has no CurveZMQ");
        // The ZAP handler must be bound before any Curve socket, or libzmq admits everyone.
        zap_ = std::make_unique<zmq::socket_t>(context_, zmq::socket_type::rep);
        zap_->set(zmq::sockopt::linger, 0);
        zap_->bind(kZapEndpoint);
      }
      router_ = std::make_unique<zmq::socket_t>(context_, zmq::socket_type::router);
      router_->set(zmq::sockopt::linger, 0);
      router_->set(zmq::sockopt::router_mandatory, 1);
      // Up to twice the frame limit a frame is read and answered with an Error; beyond
      // that libzmq drops the connection before buffering it.
      router_->set(zmq::sockopt::maxmsgsize,
                   static_cast<int64_t>(2 * options_.max_frame_bytes + (64 << 10)));
      router_->set(zmq::sockopt::heartbeat_ivl, options_.heartbeat_ms);
      router_->set(zmq::sockopt::heartbeat_timeout, 3 * options_.heartbeat_ms);
      router_->set(zmq::sockopt::sndhwm, 10000);
      router_->set(zmq::sockopt::rcvhwm, 10000);
      if (!options_.insecure_development) {
        router_->set(zmq::sockopt::curve_server, 1);
        router_->set(zmq::sockopt::curve_secretkey, options_.secret_key);
        router_->set(zmq::sockopt::zap_domain, "millrace");
      }
      router_->bind(options_.bind);
      endpoint_ = router_->get(zmq::sockopt::last_endpoint);
    } catch (const zmq::error_t& e) {
      return Status::InvalidArgument("cannot bind the sync socket to " + options_.bind + ": " +
                                     e.what());
    }
    if (zap_) zap_thread_ = std::thread([this] { ZapLoop(); });
    return Status::Ok();
  }

  Result<std::optional<InboundFrame>> Receive(std::chrono::milliseconds timeout) override {
    try {
      if (auto f = TryReceive()) return f;
      zmq::pollitem_t items[] = {{router_->handle(), 0, ZMQ_POLLIN, 0},
                                 {nullptr, wake_fd_, ZMQ_POLLIN, 0}};
      zmq::poll(items, 2, timeout);
      if (items[1].revents & ZMQ_POLLIN) {
        std::uint64_t n;
        while (::read(wake_fd_, &n, sizeof n) > 0) {
        }
        return std::optional<InboundFrame>();
      }
      return TryReceive();
    } catch (const zmq::error_t& e) {
      if (e.num() == EINTR) return std::optional<InboundFrame>();
      return Status::IOError(std::string("sync socket: ") + e.what());
    }
  }

  Status Send(const std::string& connection, const std::string& frame) override {
    try {
      std::array<zmq::const_buffer, 2> parts = {zmq::buffer(connection), zmq::buffer(frame)};
      if (!zmq::send_multipart(*router_, parts, zmq::send_flags::dontwait))
        return Status::Unavailable("the connection's send queue is full");
      return Status::Ok();
    } catch (const zmq::error_t& e) {
      // EHOSTUNREACH: the peer has gone; it will start over with a Hello.
      return Status::NotFound(std::string("connection gone: ") + e.what());
    }
  }

  void Wake() override {
    std::uint64_t one = 1;
    if (wake_fd_ >= 0) [[maybe_unused]]
      ssize_t n = ::write(wake_fd_, &one, sizeof one);
  }

  std::string endpoint() const override { return endpoint_; }

 private:
  // One message if one is waiting; throws zmq::error_t.
  std::optional<InboundFrame> TryReceive() {
    std::vector<zmq::message_t> parts;
    if (!zmq::recv_multipart(*router_, std::back_inserter(parts), zmq::recv_flags::dontwait))
      return std::nullopt;
    InboundFrame in;
    if (parts.empty()) return std::nullopt;
    in.connection = parts[0].to_string();
    in.multipart = parts.size() != 2;
    if (parts.size() < 2) return in;
    in.frame = parts[1].to_string();
    if (!options_.insecure_development) {
      const char* uid = nullptr;
      try {
        uid = parts[1].gets("User-Id");
      } catch (const zmq::error_t&) {
      }
      // tenant/site/key, as the ZAP handler stamped it (Z85 may hold '/': the key is last).
      const std::string s = uid ? uid : "";
      const auto slash = s.find('/');
      const auto key_slash = slash == std::string::npos ? slash : s.find('/', slash + 1);
      if (key_slash != std::string::npos)
        in.peer = Peer{s.substr(0, slash), s.substr(slash + 1, key_slash - slash - 1),
                       s.substr(key_slash + 1)};
    }
    return in;
  }

  void ZapLoop() {
    while (!stop_) {
      std::vector<zmq::message_t> parts;
      try {
        zmq::pollitem_t item{zap_->handle(), 0, ZMQ_POLLIN, 0};
        zmq::poll(&item, 1, std::chrono::milliseconds(200));
        if (!(item.revents & ZMQ_POLLIN)) continue;
        if (!zmq::recv_multipart(*zap_, std::back_inserter(parts))) continue;
      } catch (const zmq::error_t& e) {
        if (e.num() == EINTR) continue;
        spdlog::error("sync: ZAP handler: {}", e.what());
        return;
      }
      std::string status = "400", text = "unknown or revoked site key", user_id;
      if (parts.size() >= 7 && parts[5].to_string() == "CURVE" && parts[6].size() == 32) {
        char z85[41];
        zmq_z85_encode(z85, static_cast<const std::uint8_t*>(parts[6].data()), 32);
        auto peer = find_key_(z85);
        if (!peer.ok()) {
          status = "500";
          text = "central cannot check keys now";
          spdlog::warn("sync: key lookup failed: {}", peer.status().ToString());
        } else if (*peer) {
          status = "200";
          text = "OK";
          // tenant/site/key: the key rides along so every request can check it is not
          // retired (rotated) since the handshake.
          user_id = (*peer)->tenant_id + "/" + (*peer)->site_id + "/" + z85;
        } else {
          spdlog::warn("sync: refused a handshake from {} with unknown or revoked key {}",
                       parts.size() > 3 ? parts[3].to_string() : "?", z85);
        }
      }
      auth_.With({status == "200"   ? "accepted"
                  : status == "400" ? "refused"
                                    : "error"})
          .Increment();
      const std::string request_id = parts.size() > 1 ? parts[1].to_string() : "";
      std::array<zmq::const_buffer, 6> reply = {zmq::str_buffer("1.0"), zmq::buffer(request_id),
                                                zmq::buffer(status),    zmq::buffer(text),
                                                zmq::buffer(user_id),   zmq::str_buffer("")};
      try {
        zmq::send_multipart(*zap_, reply);
      } catch (const zmq::error_t& e) {
        spdlog::error("sync: ZAP reply: {}", e.what());
      }
    }
  }

  ZmqServerOptions options_;
  KeyLookup find_key_;
  Family<Counter>& auth_;
  zmq::context_t context_{1};
  std::unique_ptr<zmq::socket_t> zap_, router_;
  std::thread zap_thread_;
  std::atomic<bool> stop_{false};
  int wake_fd_ = -1;
  std::string endpoint_;
};

}  // namespace

Result<std::unique_ptr<ServerTransport>> NewZmqServerTransport(ZmqServerOptions options,
                                                               KeyLookup find_key,
                                                               MetricsRegistry* metrics) {
  if (!options.insecure_development && options.secret_key.size() != 40)
    return Status::InvalidArgument("the sync server needs a Z85 Curve secret key");
  auto t = std::make_unique<ZmqServerTransport>(std::move(options), std::move(find_key), metrics);
  MILLRACE_RETURN_IF_ERROR(t->Bind());
  return std::unique_ptr<ServerTransport>(std::move(t));
}

}  // namespace millrace::sync
