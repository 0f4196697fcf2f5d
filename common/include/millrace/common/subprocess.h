// Running another program to its end: its output (stdout and stderr together) read line by
// line as it comes, a deadline, and a way to stop it early.
//
// The child gets /dev/null for stdin, none of the caller's other descriptors, and a process
// group of its own. Stopping (the deadline passed, or `stop` said so) sends the group
// SIGTERM, then SIGKILL 10 s later; an error while waiting kills the group at once.
//
// Thread-safety: a call blocks its thread until the child has exited; calls on different
// threads are independent.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "millrace/common/status.h"

namespace millrace {

struct SubprocessOptions {
  std::chrono::milliseconds timeout{std::chrono::hours(1)};
  // Asked about every 200 ms; true stops the child.
  std::function<bool()> stop = nullptr;
  // Each line of output as it arrives (without its newline).
  std::function<void(std::string_view line)> on_line = nullptr;
  // How much of the output the result keeps: its last this many bytes.
  std::size_t keep_bytes = 64 * 1024;
};

struct SubprocessResult {
  int exit_code = -1;    // -1 when a signal ended it
  int signal = 0;        // the signal that ended it, or 0
  bool stopped = false;  // it was stopped (deadline or `stop`)
  bool timed_out = false;
  std::string output;  // the tail of stdout and stderr
  bool ok() const { return exit_code == 0; }
};

// NotFound when argv[0] cannot be run; IOError when the child cannot be started or read.
// A child that ran and failed is a result (see exit_code), not an error.
Result<SubprocessResult> RunSubprocess(const std::vector<std::string>& argv,
                                       const SubprocessOptions& options = {});

}  // namespace millrace
