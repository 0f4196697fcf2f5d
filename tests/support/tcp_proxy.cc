#include "tcp_proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

namespace millrace::testing {

namespace {

sockaddr_in Loopback(std::uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

bool WriteAll(int fd, const char* p, ssize_t n) {
  while (n > 0) {
    ssize_t w = ::send(fd, p, static_cast<std::size_t>(n), MSG_NOSIGNAL);
    if (w <= 0) return false;
    p += w;
    n -= w;
  }
  return true;
}

}  // namespace

Result<std::unique_ptr<TcpProxy>> TcpProxy::Start(std::uint16_t target_port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::IOError("socket failed");
  sockaddr_in a = Loopback(0);
  socklen_t len = sizeof a;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, 64) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    ::close(fd);
    return Status::IOError(std::string("proxy listen: ") + std::strerror(errno));
  }
  return std::unique_ptr<TcpProxy>(new TcpProxy(fd, ntohs(a.sin_port), target_port));
}

TcpProxy::TcpProxy(int listen_fd, std::uint16_t port, std::uint16_t target)
    : listen_fd_(listen_fd), port_(port), target_(target), acceptor_([this] { AcceptLoop(); }) {}

TcpProxy::~TcpProxy() {
  stop_ = true;
  acceptor_.join();
  ++generation_;
  std::lock_guard lock(mu_);
  for (auto& t : relays_) t.join();
  ::close(listen_fd_);
}

void TcpProxy::Cut() {
  cut_ = true;
  ++generation_;  // relays of older generations close their connections
}

void TcpProxy::Heal() { cut_ = false; }

void TcpProxy::AcceptLoop() {
  while (!stop_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    if (cut_) {
      ::close(client);
      continue;
    }
    int upstream = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in t = Loopback(target_);
    if (::connect(upstream, reinterpret_cast<sockaddr*>(&t), sizeof t) != 0) {
      ::close(upstream);
      ::close(client);
      continue;
    }
    int one = 1;
    ::setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ::setsockopt(upstream, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    std::lock_guard lock(mu_);
    const std::uint64_t gen = generation_;
    relays_.emplace_back([this, client, upstream, gen] { Relay(client, upstream, gen); });
  }
}

void TcpProxy::Relay(int a, int b, std::uint64_t generation) {
  char buf[64 * 1024];
  while (!stop_ && generation_ == generation) {
    pollfd p[2] = {{a, POLLIN, 0}, {b, POLLIN, 0}};
    if (::poll(p, 2, 100) <= 0) continue;
    bool closed = false;
    for (int i = 0; i < 2 && !closed; ++i) {
      if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t n = ::recv(p[i].fd, buf, sizeof buf, 0);
      if (n <= 0) {
        closed = true;
        break;
      }
      if (const auto d = delay_ms_.load(); d > 0)
        std::this_thread::sleep_for(std::chrono::milliseconds(d));
      if (generation_ != generation || !WriteAll(p[1 - i].fd, buf, n)) closed = true;
    }
    if (closed) break;
  }
  ::close(a);
  ::close(b);
}

}  // namespace millrace::testing
