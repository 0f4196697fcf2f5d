// Process limits a daemon sets for itself at start.
#pragma once

#include <sys/resource.h>

namespace millrace {

// Raises the soft limit of open files to the hard limit: a central serving a thousand
// sites holds a socket for each (and a test process as many SQLite files). Returns the
// limit in force.
inline rlim_t RaiseOpenFileLimit() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return 0;
  if (lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &lim) != 0) (void)getrlimit(RLIMIT_NOFILE, &lim);
  }
  return lim.rlim_cur;
}

}  // namespace millrace
