// `mes-central serve` (serve_command.cc).
#pragma once

#include <string>

namespace millrace::central {

// Runs the central daemon from `config_path` until SIGINT or SIGTERM; the exit status.
// port_override >= 0 replaces [http] port; port_file and sync_endpoint_file, when set, get
// the bound HTTP port and sync endpoint once they are bound.
int ServeCentral(const std::string& config_path, int port_override, const std::string& port_file,
                 const std::string& sync_endpoint_file);

}  // namespace millrace::central
