// The client transport through a link that flaps: cut, reconnected while cut (as the sync
// client does when a batch goes unanswered), healed. Every time the link heals, the next
// connection must complete its handshake and carry a frame both ways within seconds.
// A transport that closed its socket monitor before the monitored socket could leave
// libzmq's I/O thread blocked on a monitor event for good: one site that never syncs again.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>
#include <zmq.hpp>

#include "millrace/sync/transport.h"
#include "tcp_proxy.h"

namespace millrace::testing {
namespace {

using namespace std::chrono_literals;

// A Curve ROUTER that echoes every frame back (no ZAP handler: any client key is let in).
class EchoCentral {
 public:
  EchoCentral() {
    keys_ = *sync::GenerateCurveKeyPair();
    router_.set(zmq::sockopt::linger, 0);
    router_.set(zmq::sockopt::curve_server, 1);
    router_.set(zmq::sockopt::curve_secretkey, keys_.secret_key);
    router_.bind("tcp://127.0.0.1:*");
    const std::string ep = router_.get(zmq::sockopt::last_endpoint);
    port_ = static_cast<std::uint16_t>(std::stoi(ep.substr(ep.rfind(':') + 1)));
    thread_ = std::thread([this] {
      while (!stop_) {
        zmq::pollitem_t item{router_.handle(), 0, ZMQ_POLLIN, 0};
        zmq::poll(&item, 1, 50ms);
        zmq::message_t id, body;
        while (router_.recv(id, zmq::recv_flags::dontwait)) {
          (void)router_.recv(body, zmq::recv_flags::dontwait);
          (void)router_.send(id, zmq::send_flags::sndmore | zmq::send_flags::dontwait);
          (void)router_.send(body, zmq::send_flags::dontwait);
        }
      }
    });
  }
  ~EchoCentral() {
    stop_ = true;
    thread_.join();
  }
  std::uint16_t port() const { return port_; }
  const std::string& public_key() const { return keys_.public_key; }

 private:
  sync::CurveKeyPair keys_;
  zmq::context_t ctx_{1};
  zmq::socket_t router_{ctx_, zmq::socket_type::router};
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

TEST(TransportFlapTest, EveryHealedLinkCarriesFramesAgainAfterManyReconnects) {
  EchoCentral central;
  auto proxy = TcpProxy::Start(central.port());
  ASSERT_TRUE(proxy.ok());
  auto site = *sync::GenerateCurveKeyPair();
  sync::ZmqClientOptions o;
  o.endpoints = {"tcp://127.0.0.1:" + std::to_string((*proxy)->port())};
  o.secret_key = site.secret_key;
  o.public_key = site.public_key;
  o.server_public_key = central.public_key();
  o.heartbeat = 200ms;
  auto transport = sync::NewZmqClientTransport(o);
  ASSERT_TRUE(transport.ok()) << transport.status().ToString();
  auto& t = **transport;
  // A frame goes out and comes back within `within`.
  auto round_trip = [&](const std::string& frame, std::chrono::milliseconds within) {
    const auto deadline = std::chrono::steady_clock::now() + within;
    bool sent = false;
    while (std::chrono::steady_clock::now() < deadline) {
      if (!sent) sent = t.Send(frame).ok();
      auto got = t.Receive(50ms);
      if (got.ok() && *got && **got == frame) return true;
    }
    return false;
  };
  ASSERT_TRUE(round_trip("hello", 5s));
  for (int flap = 0; flap < 30; ++flap) {
    (*proxy)->Cut();
    // While cut, the client gives up on the connection a few times, each a new socket.
    for (int r = 0; r < 3; ++r) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20 + 30 * r));
      (void)t.Receive(10ms);
      ASSERT_TRUE(t.Reconnect().ok());
    }
    std::this_thread::sleep_for(150ms);  // failed attempts: disconnect events on the monitor
    (*proxy)->Heal();
    ASSERT_TRUE(round_trip("frame " + std::to_string(flap), 5s))
        << "after flap " << flap << " the healed link carried nothing for 5 s";
  }
}

}  // namespace
}  // namespace millrace::testing
