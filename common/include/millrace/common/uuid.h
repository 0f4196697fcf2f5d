// Uuid: 128-bit identifiers, generated as UUIDv7 (RFC 9562).
//
// Layout of a v7: 48-bit Unix milliseconds, 4-bit version (7), 12 random bits, 2-bit
// variant (10), 62 random bits: 74 random bits from the kernel CSPRNG (getrandom).
// Ids sort by creation time at millisecond granularity, which keeps B-tree inserts at the
// right-hand edge in SQLite and PostgreSQL.
//
// Thread-safety: NewV7 may be called from any thread (each thread buffers its own
// random bytes); a Uuid is a plain value.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "millrace/common/clock.h"
#include "millrace/common/status.h"

namespace millrace {

class Uuid {
 public:
  using Bytes = std::array<std::uint8_t, 16>;

  Uuid() : bytes_{} {}  // the nil UUID
  explicit Uuid(const Bytes& bytes) : bytes_(bytes) {}

  // A new UUIDv7 stamped with clock->NowMillis(). REQUIRES: clock != nullptr.
  static Uuid NewV7(const Clock* clock = SystemClock());
  // The least UUID of millisecond `ms` (its first 48 bits, zeros after): every UUIDv7 made
  // at or after `ms` sorts at or after it, as bytes and as lower-case text, and every one
  // made before sorts before. Where time-keyed ids are cut at an instant (retention).
  static Uuid FloorV7(std::int64_t ms);
  // Parses the canonical 8-4-4-4-12 hex form (either case). Any version is accepted.
  static Result<Uuid> Parse(std::string_view text);

  // Lower-case canonical form, 36 characters.
  std::string ToString() const;
  const Bytes& bytes() const { return bytes_; }
  int version() const { return bytes_[6] >> 4; }
  bool is_nil() const { return bytes_ == Bytes{}; }
  // The embedded Unix milliseconds. Meaningful only when version() == 7.
  std::int64_t TimestampMillis() const;

  auto operator<=>(const Uuid&) const = default;

 private:
  Bytes bytes_;
};

}  // namespace millrace
