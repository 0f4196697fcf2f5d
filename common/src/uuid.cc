#include "millrace/common/uuid.h"

#include <algorithm>

#include <sys/random.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace millrace {
namespace {

// Buffers kernel randomness so a UUID costs no system call in the common case.
class RandomPool {
 public:
  void Fill(std::uint8_t* out, std::size_t n) {
    if (pos_ + n > sizeof(buf_)) Refill();
    std::memcpy(out, buf_ + pos_, n);
    // Never hand out the same bytes twice.
    std::memset(buf_ + pos_, 0, n);
    pos_ += n;
  }

 private:
  void Refill() {
    std::size_t got = 0;
    while (got < sizeof(buf_)) {
      ssize_t r = getrandom(buf_ + got, sizeof(buf_) - got, 0);
      if (r < 0) {
        if (errno == EINTR) continue;
        // No entropy source is a broken system, not an ordinary failure.
        throw std::runtime_error(std::string("getrandom failed: ") + std::strerror(errno));
      }
      got += static_cast<std::size_t>(r);
    }
    pos_ = 0;
  }

  std::uint8_t buf_[4096];
  std::size_t pos_ = sizeof(buf_);
};

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

Uuid Uuid::NewV7(const Clock* clock) {
  thread_local RandomPool pool;
  Bytes b;
  pool.Fill(b.data() + 6, 10);
  auto ms = static_cast<std::uint64_t>(clock->NowMillis()) & 0xFFFFFFFFFFFFull;
  for (int i = 0; i < 6; ++i) b[i] = static_cast<std::uint8_t>(ms >> (8 * (5 - i)));
  b[6] = static_cast<std::uint8_t>(0x70 | (b[6] & 0x0F));  // version 7
  b[8] = static_cast<std::uint8_t>(0x80 | (b[8] & 0x3F));  // variant 10
  return Uuid(b);
}

Uuid Uuid::FloorV7(std::int64_t ms) {
  Bytes b{};
  const auto u = static_cast<std::uint64_t>(std::max<std::int64_t>(ms, 0)) & 0xFFFFFFFFFFFFull;
  for (int i = 0; i < 6; ++i) b[i] = static_cast<std::uint8_t>(u >> (8 * (5 - i)));
  return Uuid(b);
}

Result<Uuid> Uuid::Parse(std::string_view text) {
  if (text.size() != 36) {
    return Status::InvalidArgument("uuid must be 36 characters (8-4-4-4-12), got " +
                                   std::to_string(text.size()));
  }
  Bytes b{};
  std::size_t out = 0;
  for (std::size_t i = 0; i < 36;) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (text[i] != '-')
        return Status::InvalidArgument("uuid has no '-' at position " + std::to_string(i));
      ++i;
      continue;
    }
    int hi = HexValue(text[i]);
    int lo = HexValue(text[i + 1]);
    if (hi < 0 || lo < 0) {
      return Status::InvalidArgument("uuid has a non-hex character near position " +
                                     std::to_string(i));
    }
    b[out++] = static_cast<std::uint8_t>(hi << 4 | lo);
    i += 2;
  }
  return Uuid(b);
}

std::string Uuid::ToString() const {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s;
  s.reserve(36);
  for (std::size_t i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) s.push_back('-');
    s.push_back(kHex[bytes_[i] >> 4]);
    s.push_back(kHex[bytes_[i] & 0x0F]);
  }
  return s;
}

std::int64_t Uuid::TimestampMillis() const {
  std::uint64_t ms = 0;
  for (int i = 0; i < 6; ++i) ms = ms << 8 | bytes_[i];
  return static_cast<std::int64_t>(ms);
}

}  // namespace millrace
