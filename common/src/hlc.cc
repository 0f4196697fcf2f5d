#include "millrace/common/hlc.h"

#include <algorithm>

namespace millrace {

std::string HlcTimestamp::ToString() const {
  return std::to_string(physical_ms()) + "." + std::to_string(counter());
}

HybridClock::HybridClock(const Clock* clock, std::int64_t max_forward_skew_ms)
    : clock_(clock), max_forward_skew_ms_(std::max<std::int64_t>(0, max_forward_skew_ms)) {}

namespace {
std::uint64_t PhysicalNow(const Clock* clock) {
  std::int64_t ms = clock->NowMillis();
  if (ms < 0) return 0;
  return std::min<std::uint64_t>(static_cast<std::uint64_t>(ms), HlcTimestamp::kMaxPhysical);
}
}  // namespace

// Moves last_ to the smallest timestamp that is > last_, > (floor_l, floor_c) and has
// physical part >= physical. The counter overflowing carries into the physical part,
// which keeps monotonicity at the cost of running 1 ms ahead in a 65,536-event burst.
HlcTimestamp HybridClock::Advance(std::uint64_t physical, std::uint64_t floor_l,
                                  std::uint32_t floor_c) {
  std::uint64_t l = last_.physical_ms();
  std::uint32_t c = last_.counter();
  if (floor_l > l || (floor_l == l && floor_c > c)) {
    l = floor_l;
    c = floor_c;
  }
  if (physical > l) {
    last_ = HlcTimestamp(physical, 0);
  } else if (c < HlcTimestamp::kMaxCounter) {
    last_ = HlcTimestamp(l, c + 1);
  } else {
    last_ = HlcTimestamp(l + 1, 0);
  }
  return last_;
}

HlcTimestamp HybridClock::Now() {
  std::uint64_t pt = PhysicalNow(clock_);
  std::lock_guard lock(mu_);
  return Advance(pt, 0, 0);
}

Result<HlcTimestamp> HybridClock::Update(HlcTimestamp remote) {
  std::uint64_t pt = PhysicalNow(clock_);
  std::lock_guard lock(mu_);
  if (remote.physical_ms() > pt + static_cast<std::uint64_t>(max_forward_skew_ms_)) {
    ++skew_refusals_;
    return Status::ClockSkew(
        "remote clock " + remote.ToString() + " is " + std::to_string(remote.physical_ms() - pt) +
        " ms ahead of local time; the limit is " + std::to_string(max_forward_skew_ms_) + " ms");
  }
  return Advance(pt, remote.physical_ms(), remote.counter());
}

void HybridClock::Observe(HlcTimestamp stored) {
  std::lock_guard lock(mu_);
  if (stored > last_) last_ = stored;
}

HlcTimestamp HybridClock::Last() const {
  std::lock_guard lock(mu_);
  return last_;
}

std::uint64_t HybridClock::skew_refusals() const {
  std::lock_guard lock(mu_);
  return skew_refusals_;
}

}  // namespace millrace
