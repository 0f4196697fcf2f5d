// Hybrid logical clock (Kulkarni et al.): a timestamp that follows physical time but
// never goes backwards and orders causally related events across nodes.
//
// An HlcTimestamp packs 48 bits of physical milliseconds and a 16-bit logical counter
// into one 64-bit integer, so timestamps compare as integers and store as BIGINT.
// Sites' clocks drift; Update() refuses a remote timestamp more than max_forward_skew
// ahead of local physical time with StatusCode::kClockSkew instead of adopting it,
// so one bad clock cannot drag every node into its future.
//
// Thread-safety: HybridClock is safe to call from many threads.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>

#include "millrace/common/clock.h"
#include "millrace/common/status.h"

namespace millrace {

class HlcTimestamp {
 public:
  static constexpr std::uint64_t kMaxPhysical = (std::uint64_t{1} << 48) - 1;
  static constexpr std::uint32_t kMaxCounter = 0xFFFF;

  constexpr HlcTimestamp() = default;
  constexpr HlcTimestamp(std::uint64_t physical_ms, std::uint32_t counter)
      : packed_((physical_ms & kMaxPhysical) << 16 | (counter & kMaxCounter)) {}
  static constexpr HlcTimestamp FromPacked(std::uint64_t packed) {
    HlcTimestamp t;
    t.packed_ = packed;
    return t;
  }

  constexpr std::uint64_t packed() const { return packed_; }
  constexpr std::uint64_t physical_ms() const { return packed_ >> 16; }
  constexpr std::uint32_t counter() const {
    return static_cast<std::uint32_t>(packed_ & kMaxCounter);
  }
  // "1732269600123.7"
  std::string ToString() const;

  constexpr auto operator<=>(const HlcTimestamp&) const = default;

 private:
  std::uint64_t packed_ = 0;
};

class HybridClock {
 public:
  // REQUIRES: clock outlives this object. max_forward_skew_ms >= 0.
  HybridClock(const Clock* clock, std::int64_t max_forward_skew_ms);
  HybridClock(const HybridClock&) = delete;
  HybridClock& operator=(const HybridClock&) = delete;

  // A timestamp greater than every one this clock has issued or accepted.
  HlcTimestamp Now();
  // Merges a timestamp received from another node (on receipt of its change). Returns
  // the new local timestamp, or kClockSkew (leaving the clock untouched) when the remote
  // physical time is more than max_forward_skew_ms ahead of local physical time.
  Result<HlcTimestamp> Update(HlcTimestamp remote);
  // Seeds the clock from durable state at start-up (the highest HLC already stored), so
  // a restarted node never issues a timestamp below what it issued before.
  void Observe(HlcTimestamp stored);

  HlcTimestamp Last() const;
  std::int64_t max_forward_skew_ms() const { return max_forward_skew_ms_; }
  std::uint64_t skew_refusals() const;

 private:
  HlcTimestamp Advance(std::uint64_t physical, std::uint64_t floor_l, std::uint32_t floor_c)
      /* REQUIRES: mu_ held */;

  const Clock* clock_;
  const std::int64_t max_forward_skew_ms_;
  mutable std::mutex mu_;
  HlcTimestamp last_;
  std::uint64_t skew_refusals_ = 0;
};

}  // namespace millrace
