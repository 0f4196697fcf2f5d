#include "millrace/central/report_limits.h"

#include <algorithm>
#include <cmath>

namespace millrace::central {

ReportLimits::ReportLimits(ReportLimitOptions options, const Clock* clock)
    : options_(options), clock_(clock) {}

Status ReportLimits::Admit(const std::string& tenant, int* retry_after_s) {
  const std::int64_t now = clock_->NowMillis();
  const double burst = std::max(1.0, 2 * options_.requests_per_second);
  std::lock_guard<std::mutex> lock(mu_);
  auto [it, fresh] = tenants_.try_emplace(tenant);
  Tenant& t = it->second;
  if (fresh) {
    t.tokens = burst;
    t.refilled_ms = now;
  }
  t.tokens = std::min(burst, t.tokens + static_cast<double>(now - t.refilled_ms) / 1000.0 *
                                            options_.requests_per_second);
  t.refilled_ms = now;
  const std::int64_t minute = now / 60000;
  if (t.minute == minute && t.rows >= options_.rows_per_minute) {
    *retry_after_s = static_cast<int>((minute + 1) * 60 - now / 1000);
    return Status::RateLimited("tenant " + tenant + " has been sent " + std::to_string(t.rows) +
                               " report rows this minute (the limit is " +
                               std::to_string(options_.rows_per_minute) + "); retry after " +
                               std::to_string(*retry_after_s) + " s");
  }
  if (t.tokens < 1) {
    *retry_after_s = std::max(1, static_cast<int>(std::ceil((1 - t.tokens) / options_.requests_per_second)));
    return Status::RateLimited("tenant " + tenant + " is over " +
                               std::to_string(static_cast<int>(options_.requests_per_second)) +
                               " report requests per second; retry after " +
                               std::to_string(*retry_after_s) + " s");
  }
  t.tokens -= 1;
  return Status::Ok();
}

void ReportLimits::Charge(const std::string& tenant, std::int64_t rows) {
  const std::int64_t minute = clock_->NowMillis() / 60000;
  std::lock_guard<std::mutex> lock(mu_);
  Tenant& t = tenants_[tenant];
  if (t.minute != minute) {
    t.minute = minute;
    t.rows = 0;
  }
  t.rows += rows;
}

}  // namespace millrace::central
