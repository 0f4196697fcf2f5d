#include "millrace/common/login_throttle.h"

#include <algorithm>

namespace millrace {

LoginThrottle::LoginThrottle(LoginThrottleOptions options, const Clock* clock)
    : options_(options), clock_(clock) {}

std::optional<LoginRefusal> LoginThrottle::Check(const std::string& key,
                                                 const std::string& address) {
  std::lock_guard lock(mu_);
  const std::int64_t now = clock_->NowMillis();
  // Locked, or as many attempts in flight as may be wrong before a lock: refused (in the
  // second case until those attempts are known, a short wait).
  auto refuse = [&](std::map<std::string, Entry>& map, const std::string& who, int free,
                    std::int64_t window) -> std::int64_t {
    auto it = map.find(who);
    if (it == map.end()) return 0;
    Entry& e = it->second;
    if (e.in_flight == 0 && e.locked_until_ms <= now && e.failures > 0 &&
        now - e.last_failure_ms > window)
      e.failures = 0;  // forgotten
    if (e.locked_until_ms > now) return e.locked_until_ms - now;
    // Attempts at once: what is left of the free ones, or one after a lock has passed.
    const int allowed = e.failures >= free ? 1 : free - e.failures;
    if (e.in_flight >= allowed) return 1000;
    return 0;
  };
  if (std::int64_t wait = refuse(keys_, key, options_.key_free, options_.forget_after_ms))
    return LoginRefusal{LoginRefusal::Why::kKey, wait};
  if (std::int64_t wait =
          refuse(addresses_, address, options_.address_free, options_.address_window_ms))
    return LoginRefusal{LoginRefusal::Why::kAddress, wait};
  Forget(keys_, options_.forget_after_ms, now);
  Forget(addresses_, options_.address_window_ms, now);
  ++keys_[key].in_flight;
  ++addresses_[address].in_flight;
  return std::nullopt;
}

void LoginThrottle::Settle(std::map<std::string, Entry>& map, const std::string& key) {
  auto it = map.find(key);
  if (it != map.end() && it->second.in_flight > 0) --it->second.in_flight;
}

void LoginThrottle::Fail(std::map<std::string, Entry>& map, const std::string& key, int free,
                       std::int64_t window, std::int64_t now) {
  Entry& e = map[key];
  if (e.in_flight > 0) --e.in_flight;
  if (e.failures > 0 && now - e.last_failure_ms > window) e.failures = 0;
  ++e.failures;
  e.last_failure_ms = now;
  if (e.failures >= free) {
    const int doublings = std::min(e.failures - free, 20);
    e.locked_until_ms =
        now + std::min(options_.max_delay_ms, options_.base_delay_ms << doublings);
  }
}

void LoginThrottle::Failed(const std::string& key, const std::string& address) {
  std::lock_guard lock(mu_);
  const std::int64_t now = clock_->NowMillis();
  Fail(keys_, key, options_.key_free, options_.forget_after_ms, now);
  Fail(addresses_, address, options_.address_free, options_.address_window_ms, now);
}

void LoginThrottle::Succeeded(const std::string& key, const std::string& address) {
  std::lock_guard lock(mu_);
  Settle(addresses_, address);
  auto it = keys_.find(key);
  if (it == keys_.end()) return;
  const int in_flight = std::max(0, it->second.in_flight - 1);
  it->second = Entry{};
  it->second.in_flight = in_flight;  // other attempts of the key are still being checked
}

void LoginThrottle::Abandoned(const std::string& key, const std::string& address) {
  std::lock_guard lock(mu_);
  Settle(keys_, key);
  Settle(addresses_, address);
}

void LoginThrottle::Forget(std::map<std::string, Entry>& map, std::int64_t window,
                         std::int64_t now) {
  if (map.size() < options_.max_entries) return;
  // Full: what has been quiet longest goes first, never a lock that still holds or an
  // attempt in flight; only if everything is locked, the lock that ends soonest.
  for (auto it = map.begin(); it != map.end();) {
    const Entry& e = it->second;
    if (e.in_flight == 0 && e.locked_until_ms <= now && now - e.last_failure_ms > window)
      it = map.erase(it);
    else
      ++it;
  }
  while (map.size() >= options_.max_entries) {
    auto victim = map.end();
    for (auto it = map.begin(); it != map.end(); ++it) {
      const Entry& e = it->second;
      if (e.in_flight > 0) continue;
      const bool locked = e.locked_until_ms > now;
      if (victim == map.end()) {
        victim = it;
        continue;
      }
      const Entry& v = victim->second;
      const bool v_locked = v.locked_until_ms > now;
      if (locked != v_locked ? !locked
                             : (locked ? e.locked_until_ms < v.locked_until_ms
                                       : e.last_failure_ms < v.last_failure_ms))
        victim = it;
    }
    if (victim == map.end()) return;  // everything in flight: wait for them
    map.erase(victim);
  }
}

}  // namespace millrace
