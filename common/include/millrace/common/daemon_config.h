// The config sections every Millrace daemon shares: [http] and [log].
//
//   [http]
//   listen = "127.0.0.1"      # address to bind
//   port = 8080               # 0 lets the kernel choose
//   threads = 2
//   body_limit_bytes = 1048576
//   read_timeout_ms = 15000
//
//   [log]
//   level = "info"            # trace debug info warn error critical off
//   format = "human"          # human | json
#pragma once

#include "millrace/common/config.h"
#include "millrace/common/http_server.h"
#include "millrace/common/logging.h"

namespace millrace {

// Reads [http] into *options, keeping its current values as defaults.
Status ReadHttpSection(ConfigFile& file, HttpServerOptions* options);
// Reads [log] into *options, keeping its current values as defaults.
Status ReadLogSection(ConfigFile& file, LogOptions* options);

}  // namespace millrace

namespace millrace {

// The serve loop of every Millrace daemon: starts an HttpServer for `router`, writes the
// bound port to `port_file` (when not empty; for tests and scripts using port 0), logs
// "<what> serving on <url>", waits for SIGINT/SIGTERM, stops the server and logs
// "stopped cleanly". REQUIRES: BlockShutdownSignals() was called before any thread began.
Status ServeUntilShutdownSignal(const HttpServerOptions& options, const Router& router,
                                const std::string& port_file, const std::string& what);

}  // namespace millrace
