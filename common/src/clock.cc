#include "millrace/common/clock.h"

#include <charconv>
#include <chrono>

#include "millrace/common/files.h"

namespace millrace {
namespace {

class RealClock final : public Clock {
 public:
  std::int64_t NowMillis() const override {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  }
};

}  // namespace

Clock* SystemClock() {
  static RealClock clock;
  return &clock;
}

namespace {
class Monotonic final : public Clock {
 public:
  std::int64_t NowMillis() const override {
    using namespace std::chrono;
    return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
  }
};
}  // namespace

Clock* MonotonicClock() {
  static Monotonic clock;
  return &clock;
}

std::int64_t OffsetFileClock::NowMillis() const {
  using namespace std::chrono;
  const std::int64_t steady =
      duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
  if (steady >= next_read_steady_ms_.load(std::memory_order_relaxed)) Reload(steady);
  return base_->NowMillis() + offset_.load(std::memory_order_relaxed);
}

std::int64_t OffsetFileClock::offset_millis() const {
  (void)NowMillis();
  return offset_.load(std::memory_order_relaxed);
}

void OffsetFileClock::Reload(std::int64_t steady_ms) const {
  std::lock_guard lock(mu_);
  if (steady_ms < next_read_steady_ms_.load(std::memory_order_relaxed)) return;
  next_read_steady_ms_.store(steady_ms + 100, std::memory_order_relaxed);
  Result<std::string> text = ReadFile(path_);
  std::string s = text.ok() ? std::move(text).value() : std::string();
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\r')) s.pop_back();
  if (s.empty()) {  // missing or empty: no offset
    offset_.store(0, std::memory_order_relaxed);
    return;
  }
  std::int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec == std::errc() && end == s.data() + s.size()) offset_.store(v, std::memory_order_relaxed);
}

}  // namespace millrace
