#include "millrace/common/signals.h"

#include <cerrno>
#include <csignal>
#include <ctime>

namespace millrace {
namespace {
sigset_t ShutdownSet() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}
}  // namespace

void BlockShutdownSignals() {
  sigset_t set = ShutdownSet();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  // A peer closing a socket must not kill the daemon.
  std::signal(SIGPIPE, SIG_IGN);
}

int WaitForShutdownSignal(std::chrono::milliseconds timeout) {
  sigset_t set = ShutdownSet();
  for (;;) {
    int sig;
    if (timeout.count() < 0) {
      sig = sigwaitinfo(&set, nullptr);
    } else {
      timespec ts{};
      ts.tv_sec = static_cast<time_t>(timeout.count() / 1000);
      ts.tv_nsec = static_cast<long>((timeout.count() % 1000) * 1000000);
      sig = sigtimedwait(&set, nullptr, &ts);
      if (sig < 0 && errno == EAGAIN) return 0;
    }
    if (sig > 0) return sig;
    if (errno != EINTR) return 0;
  }
}

}  // namespace millrace
