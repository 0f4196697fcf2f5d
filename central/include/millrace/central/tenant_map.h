// The tenant -> PostgreSQL cluster map: which cluster holds each tenant, and where the
// central nodes of each cluster are reached. One file, the same on every central node and
// on the load balancer, spreads tenants over several clusters; each cluster has central
// nodes of its own ([cluster] name in their configuration), and a node only creates,
// provisions and restores tenants the map puts on its cluster.
//
//   [clusters.a]
//   sync = "tcp://sync-a.example.com:7400"   # where the cluster's edges connect
//   http = "https://a.example.com"           # its dashboard and reporting API (optional)
//   [clusters.b]
//   sync = "tcp://sync-b.example.com:7400"
//   [tenants]
//   acme = "a"
//   globex = "b"
//
// HAProxy routes a tenant's HTTP to its cluster with the map `mes-central tenant-map
// --haproxy` prints ("acme a" per line) and a rule such as
//   use_backend central_http_%[req.hdr(host),field(1,.),map(/etc/haproxy/tenants.map)]
// (deploy/cluster/README.md).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "millrace/common/status.h"

namespace millrace::central {

struct TenantCluster {
  std::string sync;  // the edges' endpoint, tcp://host:port
  std::string http;  // "" when not given
};

struct TenantMap {
  std::string file;
  std::map<std::string, TenantCluster> clusters;
  std::map<std::string, std::string> tenants;  // tenant -> cluster
};

// Reads and checks the file: every tenant names a declared cluster, names are ids (a-z, 0-9,
// '-', 1..32), endpoints are tcp://host:port. Every error names the file and the key.
Result<TenantMap> LoadTenantMap(const std::string& path);

// Ok when `tenant` is on `cluster`; otherwise FailedPrecondition naming where it lives (or
// that the map does not list it), so the command can be run on the right cluster's central.
Status CheckTenantOnCluster(const TenantMap& map, const std::string& cluster,
                            const std::string& tenant);

// The check every command and job that creates a tenant or a site's keys makes: with a map
// (`cluster` non-empty), Ok when it puts `tenant` on `cluster` (else FailedPrecondition
// naming its cluster), and an empty `endpoints` (when given) gets the cluster's sync
// address. Without one, every tenant is here and `endpoints` must be given.
Status CheckTenantHere(const std::string& cluster, const std::string& map_file,
                       const std::string& tenant, std::vector<std::string>* endpoints = nullptr);

// HAProxy's map file: "tenant cluster" per line, sorted.
std::string HaproxyTenantMap(const TenantMap& map);

}  // namespace millrace::central
