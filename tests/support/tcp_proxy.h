// TcpProxy: a loopback TCP relay a test puts between an edge and central to break the
// link on demand: Cut() closes every connection and refuses new ones until Heal();
// SetDelay() holds every chunk back before forwarding it.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "millrace/common/status.h"

namespace millrace::testing {

class TcpProxy {
 public:
  // Listens on 127.0.0.1 (a kernel-chosen port) and relays to 127.0.0.1:target_port.
  static Result<std::unique_ptr<TcpProxy>> Start(std::uint16_t target_port);
  ~TcpProxy();
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  std::uint16_t port() const { return port_; }
  void Cut();
  void Heal();
  bool cut() const { return cut_; }
  void SetDelay(std::chrono::milliseconds delay) { delay_ms_ = delay.count(); }

 private:
  TcpProxy(int listen_fd, std::uint16_t port, std::uint16_t target);
  void AcceptLoop();
  void Relay(int a, int b, std::uint64_t generation);

  int listen_fd_;
  std::uint16_t port_, target_;
  std::atomic<bool> stop_{false}, cut_{false};
  std::atomic<std::uint64_t> generation_{0};
  std::atomic<std::int64_t> delay_ms_{0};
  std::mutex mu_;
  std::vector<std::thread> relays_;
  std::thread acceptor_;
};

}  // namespace millrace::testing
