#include "millrace/sync/content.h"

#include <cstdio>

#include "millrace/sync/schema_translation.h"

namespace millrace::sync {

std::string ContentDigest(const std::vector<Row>& rows) {
  std::uint64_t h = 1469598103934665603ull;
  for (const Row& r : rows) {
    const std::string bytes = ComparableChange(r).SerializeAsString();
    for (unsigned char c : bytes) {
      h ^= c;
      h *= 1099511628211ull;
    }
  }
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
  return std::to_string(rows.size()) + ":" + hex;
}

}  // namespace millrace::sync
