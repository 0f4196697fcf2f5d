// Logging: one spdlog set-up for every Millrace binary.
//
// Two formats: "human" (timestamp, level, message, then key=value context) for a
// terminal, and "json" (one JSON object per line) for log shippers. The level and format
// come from config and may be overridden by MILLRACE_LOG_LEVEL / MILLRACE_LOG_FORMAT.
//
// ScopedLogContext attaches ids (tenant, site, batch, seq) to every line the current
// thread logs while it lives, so a boundary logs once with the ids that find the row.
//
// Thread-safety: InitLogging once at start-up; logging and ScopedLogContext are per thread.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "millrace/common/status.h"

namespace millrace {

struct LogOptions {
  std::string level = "info";    // trace, debug, info, warn, error, critical, off
  std::string format = "human";  // human | json
  std::string program = "millrace";
};

// Applies environment overrides, installs the default logger on stderr.
Status InitLogging(LogOptions options);

using LogField = std::pair<std::string, std::string>;

class ScopedLogContext {
 public:
  explicit ScopedLogContext(std::vector<LogField> fields);
  ~ScopedLogContext();
  ScopedLogContext(const ScopedLogContext&) = delete;
  ScopedLogContext& operator=(const ScopedLogContext&) = delete;

 private:
  std::size_t previous_size_;
};

// The fields of every live ScopedLogContext on this thread, outermost first.
const std::vector<LogField>& CurrentLogContext();

}  // namespace millrace
