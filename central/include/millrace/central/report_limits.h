// ReportLimits: per-tenant limits of the reporting API, so one tenant's dashboards cannot
// crowd out another's: requests per second (a token bucket with a burst of twice the rate)
// and rows answered per minute. A refusal says how long to wait (HTTP 429, Retry-After).
//
// Thread-safety: all methods may be called from any thread.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "millrace/common/clock.h"
#include "millrace/common/status.h"

namespace millrace::central {

struct ReportLimitOptions {
  double requests_per_second = 20;
  std::int64_t rows_per_minute = 500'000;
};

class ReportLimits {
 public:
  explicit ReportLimits(ReportLimitOptions options, const Clock* clock = MonotonicClock());

  // Takes a request from the tenant's allowance. RateLimited ("... retry after N s") when
  // it has none left; *retry_after_s says N.
  Status Admit(const std::string& tenant, int* retry_after_s);
  // Counts rows answered (from the cache too) against the tenant's minute.
  void Charge(const std::string& tenant, std::int64_t rows);

 private:
  struct Tenant {
    double tokens = 0;
    std::int64_t refilled_ms = 0;
    std::int64_t minute = -1;
    std::int64_t rows = 0;
  };
  const ReportLimitOptions options_;
  const Clock* clock_;
  std::mutex mu_;
  std::map<std::string, Tenant> tenants_;
};

}  // namespace millrace::central
