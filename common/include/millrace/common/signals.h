// Shutdown signals for daemons. Call BlockShutdownSignals() first thing in main(), before
// any thread starts, so SIGINT/SIGTERM are delivered only to WaitForShutdownSignal().
//
// Thread-safety: call both from the main thread.
#pragma once

#include <chrono>

namespace millrace {

void BlockShutdownSignals();
// Waits for SIGINT or SIGTERM; returns the signal number, or 0 when `timeout` passed.
// A negative timeout waits forever.
int WaitForShutdownSignal(std::chrono::milliseconds timeout = std::chrono::milliseconds(-1));

}  // namespace millrace
