// mes-central's configuration file (TOML):
//
//   [database]
//   url = "host=/run/postgresql dbname=millrace user=millrace_app"   # libpq conninfo or URI
//
//   [http] and [log]: see common/daemon_config.h
#pragma once

#include <string>

#include "millrace/common/http_server.h"
#include "millrace/common/logging.h"
#include "millrace/common/status.h"

namespace millrace::central {

struct CentralConfig {
  std::string database_url;
  HttpServerOptions http;
  LogOptions log;
};

Result<CentralConfig> LoadCentralConfig(const std::string& path);

}  // namespace millrace::central
