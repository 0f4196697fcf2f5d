// Reconnect backoff: exponential with jitter, so a fleet of edges that lost central at
// the same moment does not reconnect in lockstep when it comes back.
//
// The n-th consecutive failure waits a random delay in [d/2, d], d = min(max, initial*2^n).
// Reset() after a success. The random source is seeded by the caller, so tests are exact.
//
// Thread-safety: none; one owner.
#pragma once

#include <chrono>
#include <cstdint>
#include <random>

namespace millrace::sync {

struct BackoffOptions {
  std::chrono::milliseconds initial{100};
  std::chrono::milliseconds max{10'000};
};

class Backoff {
 public:
  Backoff(BackoffOptions options, std::uint64_t seed);
  // The delay before the next attempt; each call counts one more failure.
  std::chrono::milliseconds Next();
  void Reset() { failures_ = 0; }
  int failures() const { return failures_; }

 private:
  BackoffOptions options_;
  std::mt19937_64 rng_;
  int failures_ = 0;
};

}  // namespace millrace::sync
