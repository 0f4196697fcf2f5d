// AtMostEvery: a call that does its work at most once per period, for /metrics collectors
// that read PostgreSQL (scrapes come every few seconds from each Prometheus; what they read
// changes far less often, and scrapes in between show the last reading).
//
// Thread-safety: the returned function may be called from any thread.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>

namespace millrace {

inline std::function<void()> AtMostEvery(std::chrono::milliseconds every,
                                         std::function<void()> fn) {
  struct Last {
    std::mutex mu;
    std::optional<std::chrono::steady_clock::time_point> ran;
  };
  return [every, fn = std::move(fn), last = std::make_shared<Last>()] {
    {
      std::lock_guard lock(last->mu);
      const auto now = std::chrono::steady_clock::now();
      if (last->ran && now - *last->ran < every) return;
      last->ran = now;
    }
    fn();
  };
}

}  // namespace millrace
