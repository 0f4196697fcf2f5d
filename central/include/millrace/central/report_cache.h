// ReportCache: answers of the reporting API kept per tenant and query, with their ETag, in
// bounded memory (least recently used go first). An answer computed from the rollups
// holds until the tenant's rollups change for one of its sites on one of its dates, which
// central hears on millrace_reports (LISTEN/NOTIFY, from every central process and every
// path that writes facts); other answers hold for a few seconds.
//
// Thread-safety: all methods may be called from any thread.
#pragma once

#include <cstdint>
#include <list>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>

#include "millrace/common/clock.h"

namespace millrace::central {

struct CachedReport {
  std::string body, content_type, etag, data_as_of;
  std::string disposition;  // Content-Disposition of a CSV answer
  std::string read_from;    // X-Read-From: "primary", or "replica; staleness=0.4s"
  std::string tenant;
  std::set<std::string> sites;  // the sites the answer covers
  std::string from, to;         // its dates ("" for none: then it only ages out)
  bool from_rollups = true;
};

class ReportCache {
 public:
  // `clock` is monotonic; `ttl_ms` bounds answers not from rollups (and, as a safety net,
  // ten minutes those from rollups).
  explicit ReportCache(std::size_t max_bytes, const Clock* clock = MonotonicClock(),
                       std::int64_t ttl_ms = 5000);

  std::optional<CachedReport> Get(const std::string& key);
  // Counts every invalidation: an answer computed from a snapshot read before the count
  // moved may be older than a change already announced, so Put refuses it.
  std::uint64_t generation() const;
  void Put(const std::string& key, CachedReport report, std::uint64_t generation_before);
  // The tenant's rollups changed for `site` from `from` to `to` (dates, or "-infinity" /
  // "infinity"): answers that cover the site and overlap the dates go. Returns how many.
  int Invalidate(const std::string& tenant, const std::string& site, const std::string& from,
                 const std::string& to);
  // Everything goes (the listener lost its connection and may have missed changes).
  void Clear();

  struct Stats {
    std::uint64_t hits = 0, misses = 0, invalidated = 0, evicted = 0;
    std::size_t entries = 0, bytes = 0;
  };
  Stats stats() const;

 private:
  struct Slot {
    std::string key;
    CachedReport report;
    std::int64_t expires_ms;
  };
  void Drop(std::list<Slot>::iterator it);

  const std::size_t max_bytes_;
  const Clock* clock_;
  const std::int64_t ttl_ms_;
  mutable std::mutex mu_;
  std::list<Slot> lru_;  // most recent first
  std::unordered_map<std::string, std::list<Slot>::iterator> index_;
  Stats stats_;
  std::uint64_t generation_ = 0;
};

}  // namespace millrace::central
