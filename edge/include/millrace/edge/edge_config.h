// mes-edge's configuration file (TOML): what each key means, its default and its range are
// in the configuration reference, deploy/config/README.md, which `mes-edge config reference`
// prints from the loader itself (edge_config.cc, edge_config_docs.cc). A minimal file:
//
//   [site]
//   id = "plant-lyon"
//   [store]
//   path = "/var/lib/millrace/edge.db"
//   [sync]                              # absent: the edge works alone, nothing syncs
//   endpoints = ["tcp://central.example:7400"]
//   secret_key_file = "site.key"
//   central_public_key_file = "central.pub"
#pragma once

#include <string>
#include <vector>

#include "millrace/common/catalog.h"
#include "millrace/common/config.h"
#include "millrace/common/http_server.h"
#include "millrace/common/logging.h"
#include "millrace/common/status.h"
#include "millrace/common/time_zone.h"

namespace millrace::edge {

struct EdgeSyncConfig {
  bool enabled = false;
  std::vector<std::string> endpoints;
  std::string secret_key_file;
  std::string central_public_key_file;
  bool insecure_development = false;
  int batch_rows = 5000;
  int window = 4;
  int keep_acked_hours = 24;
  std::string snapshot_file;  // applied once, before the first sync
  // A site provisioned for enrollment: with no secret key yet, the edge makes its key pair
  // and registers it with this one-time code at enroll_url (central's HTTP) (enroll.h).
  std::string enrollment_code;
  std::string enroll_url;
};

struct EdgeConfig {
  std::string site_id;
  TimeZone time_zone = TimeZone::Utc();
  std::string store_path;
  std::string backup_dir;
  double backup_interval_minutes = 60;  // 0: no scheduled backups
  int backup_keep = 24;
  bool backup_ship = true;  // with [sync]: scheduled backups are shipped to central
  int backup_ship_chunk_kib = 512;
  int keep_facts_days = 365;            // 0: facts are kept forever
  double purge_interval_minutes = 60;
  EdgeSyncConfig sync;
  std::string clock_offset_file;  // empty: the system clock unchanged
  HttpServerOptions http;
  LogOptions log;
};

// Loads and validates; every error names the file and the key.
Result<EdgeConfig> LoadEdgeConfig(const std::string& path);
// The same for a file already parsed; relative paths are relative to file.name()'s directory.
Result<EdgeConfig> ReadEdgeConfig(ConfigFile& file);

// `mes-edge config check`: LoadEdgeConfig, then the files it names (Curve keys by their
// form and mode, TLS files, the snapshot, the store's directory). A summary of what serve
// would do, or the first thing wrong.
Result<std::string> CheckEdgeConfig(const std::string& path);

// mes-edge's part of the configuration reference (Markdown; config_reference.h).
Result<std::string> EdgeConfigReference();

using catalog::IsValidSiteId;  // site ids: 1..32 of [a-z0-9-]

}  // namespace millrace::edge
