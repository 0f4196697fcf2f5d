// Clock: the time seam. Production code asks a Clock for wall time; tests hand in a
// ManualClock and step it forwards or backwards to simulate drift and NTP corrections.
//
// Thread-safety: SystemClock and ManualClock are safe to use from many threads.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>

namespace millrace {

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time in milliseconds since the Unix epoch (UTC). May jump backwards.
  virtual std::int64_t NowMillis() const = 0;
};

// The process-wide real clock (CLOCK_REALTIME). Never null; lives for the whole program.
Clock* SystemClock();

// Milliseconds since an arbitrary start (CLOCK_MONOTONIC): never jumps, not a date. For
// timeouts, backoffs and lockouts, which a stepped wall clock must not stretch or cut.
Clock* MonotonicClock();

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

// The system clock plus an offset in milliseconds read from a file (one integer, may be
// negative; a missing or empty file means 0). The file is re-read at most every 100 ms,
// so writing it steps the clock of a running daemon forwards or backwards: how the chaos
// suite makes an edge's clock jump, and how an installer rehearses an NTP correction.
// Content that is not an integer keeps the previous offset.
class OffsetFileClock final : public Clock {
 public:
  OffsetFileClock(const Clock* base, std::string path) : base_(base), path_(std::move(path)) {}
  std::int64_t NowMillis() const override;
  std::int64_t offset_millis() const;

 private:
  void Reload(std::int64_t steady_ms) const;

  const Clock* base_;
  std::string path_;
  mutable std::mutex mu_;
  mutable std::atomic<std::int64_t> offset_{0};
  mutable std::atomic<std::int64_t> next_read_steady_ms_{0};
};

}  // namespace millrace
