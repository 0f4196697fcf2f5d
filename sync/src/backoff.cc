#include "millrace/sync/backoff.h"

#include <algorithm>

namespace millrace::sync {

Backoff::Backoff(BackoffOptions options, std::uint64_t seed) : options_(options), rng_(seed) {
  if (options_.initial.count() < 1) options_.initial = std::chrono::milliseconds(1);
  options_.max = std::max(options_.max, options_.initial);
}

std::chrono::milliseconds Backoff::Next() {
  const std::int64_t max = options_.max.count();
  std::int64_t d = options_.initial.count();
  for (int i = 0; i < failures_ && d < max; ++i) d *= 2;
  d = std::min(d, max);
  ++failures_;
  std::uniform_int_distribution<std::int64_t> jitter(d / 2, d);
  return std::chrono::milliseconds(jitter(rng_));
}

}  // namespace millrace::sync
