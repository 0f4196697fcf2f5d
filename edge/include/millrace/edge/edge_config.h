// mes-edge's configuration file (TOML):
//
//   [site]
//   id = "plant-lyon"           # the site this edge runs; [a-z0-9-], 1..32 characters
//
//   [store]
//   path = "/var/lib/millrace/edge.db"
//
//   [backup]
//   dir = "/var/lib/millrace/backups"   # default: backups/ beside the store
//   interval_minutes = 60               # scheduled online backups; 0 turns them off
//   keep = 24                           # newest backups kept in dir
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
  std::string backup_dir;
  double backup_interval_minutes = 60;  // 0: no scheduled backups
  int backup_keep = 24;
  HttpServerOptions http;
  LogOptions log;
};

// Loads and validates; every error names the file and the key.
Result<EdgeConfig> LoadEdgeConfig(const std::string& path);

// Site and tenant ids: 1..32 of [a-z0-9-], not starting with '-'.
bool IsValidSiteId(const std::string& id);

}  // namespace millrace::edge
