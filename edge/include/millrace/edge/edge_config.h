// mes-edge's configuration file (TOML):
//
//   [site]
//   id = "plant-lyon"           # the site this edge runs; [a-z0-9-], 1..32 characters
//
//   [store]
//   path = "/var/lib/millrace/edge.db"
//
//   [http] and [log]: see common/daemon_config.h
#pragma once

#include <string>

#include "millrace/common/http_server.h"
#include "millrace/common/logging.h"
#include "millrace/common/status.h"

namespace millrace::edge {

struct EdgeConfig {
  std::string site_id;
  std::string store_path;
  HttpServerOptions http;
  LogOptions log;
};

// Loads and validates; every error names the file and the key.
Result<EdgeConfig> LoadEdgeConfig(const std::string& path);

// Site and tenant ids: 1..32 of [a-z0-9-], not starting with '-'.
bool IsValidSiteId(const std::string& id);

}  // namespace millrace::edge
