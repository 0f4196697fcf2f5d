// LoginThrottle: slows down the guessing of secrets: PINs at the edge's terminals,
// passwords at central.
//
// Wrong secrets are counted per key (a badge, a login) and per client address. After
// `key_free` wrong ones in a row for a key (or `address_free` from one address within
// `address_window`, whatever the keys) further attempts are refused without looking at the
// secret, for a delay that doubles with every further failure (base_delay, 2x, 4x, ... up
// to max_delay): even the right secret is refused until the delay has passed. A right one
// clears its key's count; a key's count is forgotten after `forget_after` without a
// failure, an address's after `address_window`. Attempts being checked count as failures
// until they are known, so many parallel guesses get no more tries than one at a time.
//
// Kept in memory, bounded (the oldest entries go first beyond max_entries). Times come from
// the injected clock, monotonic in production, so a stepped wall clock neither shortens
// nor stretches a lockout.
//
// Thread-safety: all methods may be called from many threads.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "millrace/common/clock.h"

namespace millrace {

struct LoginThrottleOptions {
  int key_free = 3;
  int address_free = 10;
  std::int64_t base_delay_ms = 5'000;
  std::int64_t max_delay_ms = 15 * 60'000;
  std::int64_t forget_after_ms = 60 * 60'000;
  std::int64_t address_window_ms = 10 * 60'000;
  std::size_t max_entries = 10'000;
};

struct LoginRefusal {
  enum class Why { kKey, kAddress } why;
  std::int64_t retry_after_ms;  // > 0
};

class LoginThrottle {
 public:
  explicit LoginThrottle(LoginThrottleOptions options = {}, const Clock* clock = MonotonicClock());

  // Before a secret is checked: a refusal while the key or the address is locked, or while
  // attempts already being checked would lock them. Otherwise the attempt is counted as in
  // flight until Failed or Succeeded reports its outcome; exactly one of them must follow.
  std::optional<LoginRefusal> Check(const std::string& key, const std::string& address);
  // After a check of a secret that was wrong (or of a key that does not exist).
  void Failed(const std::string& key, const std::string& address);
  // After a right secret: the key starts over.
  void Succeeded(const std::string& key, const std::string& address);
  // After a check that could not tell (a database unreachable): the attempt no longer
  // counts as in flight, and nothing else changes; a lock stays.
  void Abandoned(const std::string& key, const std::string& address);

 private:
  struct Entry {
    int failures = 0;
    int in_flight = 0;  // attempts checked and not reported yet
    std::int64_t last_failure_ms = 0;
    std::int64_t locked_until_ms = 0;
  };
  void Fail(std::map<std::string, Entry>& map, const std::string& key, int free,
            std::int64_t window, std::int64_t now);
  void Settle(std::map<std::string, Entry>& map, const std::string& key);
  void Forget(std::map<std::string, Entry>& map, std::int64_t window, std::int64_t now);

  const LoginThrottleOptions options_;
  const Clock* clock_;
  std::mutex mu_;
  std::map<std::string, Entry> keys_, addresses_;
};

}  // namespace millrace
