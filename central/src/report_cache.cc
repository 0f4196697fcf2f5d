#include "millrace/central/report_cache.h"

namespace millrace::central {

namespace {
std::size_t SizeOf(const std::string& key, const CachedReport& r) {
  return key.size() + r.body.size() + r.etag.size() + 256;
}
}  // namespace

ReportCache::ReportCache(std::size_t max_bytes, const Clock* clock, std::int64_t ttl_ms)
    : max_bytes_(max_bytes), clock_(clock), ttl_ms_(ttl_ms) {}

std::optional<CachedReport> ReportCache::Get(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = index_.find(key);
  if (it == index_.end()) {
    ++stats_.misses;
    return std::nullopt;
  }
  if (it->second->expires_ms <= clock_->NowMillis()) {
    Drop(it->second);
    ++stats_.misses;
    return std::nullopt;
  }
  lru_.splice(lru_.begin(), lru_, it->second);
  ++stats_.hits;
  return lru_.front().report;
}

std::uint64_t ReportCache::generation() const {
  std::lock_guard<std::mutex> lock(mu_);
  return generation_;
}

void ReportCache::Put(const std::string& key, CachedReport report, std::uint64_t generation_before) {
  const std::size_t size = SizeOf(key, report);
  if (size > max_bytes_ / 4) return;  // one answer never takes most of the cache
  std::lock_guard<std::mutex> lock(mu_);
  if (generation_ != generation_before) return;  // something changed while it was computed
  if (auto it = index_.find(key); it != index_.end()) Drop(it->second);
  const std::int64_t ttl = report.from_rollups ? 600'000 : ttl_ms_;
  lru_.push_front(Slot{key, std::move(report), clock_->NowMillis() + ttl});
  index_[key] = lru_.begin();
  stats_.bytes += size;
  ++stats_.entries;
  while (stats_.bytes > max_bytes_ && !lru_.empty()) {
    Drop(std::prev(lru_.end()));
    ++stats_.evicted;
  }
}

int ReportCache::Invalidate(const std::string& tenant, const std::string& site,
                            const std::string& from, const std::string& to) {
  // Dates compare as text: "-infinity" sorts before every date and "infinity" after.
  std::lock_guard<std::mutex> lock(mu_);
  ++generation_;
  int n = 0;
  for (auto it = lru_.begin(); it != lru_.end();) {
    const CachedReport& r = it->report;
    const bool hit = r.tenant == tenant && r.from_rollups && (r.sites.empty() || r.sites.count(site)) &&
                     (r.from.empty() || (r.from <= to && from <= r.to));
    auto next = std::next(it);
    if (hit) {
      Drop(it);
      ++n;
    }
    it = next;
  }
  stats_.invalidated += static_cast<std::uint64_t>(n);
  return n;
}

void ReportCache::Clear() {
  std::lock_guard<std::mutex> lock(mu_);
  ++generation_;
  while (!lru_.empty()) Drop(lru_.begin());
}

void ReportCache::Drop(std::list<Slot>::iterator it) {
  stats_.bytes -= SizeOf(it->key, it->report);
  --stats_.entries;
  index_.erase(it->key);
  lru_.erase(it);
}

ReportCache::Stats ReportCache::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

}  // namespace millrace::central
