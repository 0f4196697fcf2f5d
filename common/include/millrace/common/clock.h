// Clock: the time seam. Production code asks a Clock for wall time; tests hand in a
// ManualClock and step it forwards or backwards to simulate drift and NTP corrections.
//
// Thread-safety: SystemClock and ManualClock are safe to use from many threads.
#pragma once

#include <atomic>
#include <cstdint>

namespace millrace {

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time in milliseconds since the Unix epoch (UTC). May jump backwards.
  virtual std::int64_t NowMillis() const = 0;
};

// The process-wide real clock (CLOCK_REALTIME). Never null; lives for the whole program.
Clock* SystemClock();

// A clock that only moves when told to.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(std::int64_t start_millis) : now_(start_millis) {}
  std::int64_t NowMillis() const override { return now_.load(std::memory_order_relaxed); }
  void Set(std::int64_t millis) { now_.store(millis, std::memory_order_relaxed); }
  void Advance(std::int64_t delta_millis) {
    now_.fetch_add(delta_millis, std::memory_order_relaxed);
  }

 private:
  std::atomic<std::int64_t> now_;
};

}  // namespace millrace
