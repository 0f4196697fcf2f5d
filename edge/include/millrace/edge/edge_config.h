// mes-edge's configuration file (TOML):
//
//   [site]
//   id = "plant-lyon"           # the site this edge runs; [a-z0-9-], 1..32 characters
//   time_zone = "Europe/Paris"  # IANA zone of the site's shifts and production day
//                               # (default UTC); provisioning writes central's record of it
//
//   [store]                             # every path in this file that is relative is
//   path = "/var/lib/millrace/edge.db"  # relative to this file's directory
//
//   [backup]
//   dir = "/var/lib/millrace/backups"   # default: backups/ beside the store
//   interval_minutes = 60               # scheduled online backups; 0 turns them off
//   keep = 24                           # newest backups kept in dir
//   ship = true                         # with [sync]: each scheduled backup also goes to
//                                       # central (compressed, over the sync link)
//   ship_chunk_kib = 512                # bytes per upload chunk (two in flight)
//
//   [retention]                         # the site's own facts, once central holds them
//   keep_facts_days = 365               # purged when made longer ago than this and nothing
//                                       # open needs them (retention.h); 0: kept forever;
//                                       # else at least 7
//   purge_interval_minutes = 60         # how often the purge runs
//
//   [sync]                              # absent: the edge works alone, nothing syncs
//   endpoints = ["tcp://central.example:7400"]   # central nodes, tried in order
//   secret_key_file = "site.key"        # the site's Curve secret key (0600); relative
//   central_public_key_file = "central.pub"   # paths are relative to this file
//   insecure_development = false        # true: no Curve at all (development only)
//   batch_rows = 5000                   # changes per upstream batch
//   window = 4                          # batches in flight
//   keep_acked_hours = 24               # acknowledged changes stay in the outbox until
//                                       # this long after their capture, sent again if
//                                       # central is restored from an older backup (0:
//                                       # purged once acknowledged)
//   snapshot_file = "snapshot.pb"       # master data from provisioning, applied before
//                                       # the first sync so the site works offline at once
//
//   [clock]                             # absent: the system clock as it is
//   offset_file = "clock-offset-ms"     # milliseconds added to the system clock, re-read
//                                       # every 100 ms: steps a running edge's clock (chaos
//                                       # tests, rehearsing an NTP correction)
//
//   [http] and [log]: see common/daemon_config.h
#pragma once

#include <string>
#include <vector>

#include "millrace/common/catalog.h"
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

using catalog::IsValidSiteId;  // site ids: 1..32 of [a-z0-9-]

}  // namespace millrace::edge
