#include "millrace/edge/pin_throttle.h"

#include <algorithm>

namespace millrace::edge {

PinThrottle::PinThrottle(PinThrottleOptions options, const Clock* clock)
    : options_(options), clock_(clock) {}

std::optional<PinRefusal> PinThrottle::Check(const std::string& badge,
                                             const std::string& address) {
  std::lock_guard lock(mu_);
  const std::int64_t now = clock_->NowMillis();
  auto locked = [&](std::map<std::string, Entry>& map, const std::string& key) -> std::int64_t {
    auto it = map.find(key);
    return it == map.end() ? 0 : std::max<std::int64_t>(0, it->second.locked_until_ms - now);
  };
  if (std::int64_t wait = locked(badges_, badge); wait > 0)
    return PinRefusal{PinRefusal::Why::kBadge, wait};
  if (std::int64_t wait = locked(addresses_, address); wait > 0)
    return PinRefusal{PinRefusal::Why::kAddress, wait};
  return std::nullopt;
}

void PinThrottle::Fail(std::map<std::string, Entry>& map, const std::string& key, int free,
                       std::int64_t now) {
  Forget(map, now);
  Entry& e = map[key];
  if (e.failures > 0 && now - e.last_failure_ms > options_.forget_after_ms) e = Entry{};
  ++e.failures;
  e.last_failure_ms = now;
  if (e.failures >= free) {
    const int doublings = std::min(e.failures - free, 20);
    e.locked_until_ms =
        now + std::min(options_.max_delay_ms, options_.base_delay_ms << doublings);
  }
}

void PinThrottle::Failed(const std::string& badge, const std::string& address) {
  std::lock_guard lock(mu_);
  const std::int64_t now = clock_->NowMillis();
  Fail(badges_, badge, options_.badge_free, now);
  Fail(addresses_, address, options_.address_free, now);
}

void PinThrottle::Succeeded(const std::string& badge) {
  std::lock_guard lock(mu_);
  badges_.erase(badge);
}

void PinThrottle::Forget(std::map<std::string, Entry>& map, std::int64_t now) {
  if (map.size() < options_.max_entries) return;
  // Full: drop what has been quiet longest (and is not locked), then anything oldest.
  for (auto it = map.begin(); it != map.end();) {
    if (it->second.locked_until_ms <= now && now - it->second.last_failure_ms > options_.forget_after_ms)
      it = map.erase(it);
    else
      ++it;
  }
  while (map.size() >= options_.max_entries) {
    auto oldest = std::min_element(map.begin(), map.end(), [](const auto& a, const auto& b) {
      return a.second.last_failure_ms < b.second.last_failure_ms;
    });
    map.erase(oldest);
  }
}

}  // namespace millrace::edge
