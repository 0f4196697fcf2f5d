#include "tenant_map_command.h"

#include <iostream>
#include <set>

#include "millrace/central/pg.h"
#include "millrace/central/tenant_map.h"
#include "millrace/common/logging.h"

namespace millrace::central {
namespace {

int Fail(const Status& s) {
  std::cerr << "mes-central tenant-map: " << s.ToString() << "\n";
  return s.code() == StatusCode::kInvalidArgument ? 2 : 1;
}

}  // namespace

Status CheckTenantHere(const CentralConfig& config, const std::string& tenant,
                       std::vector<std::string>* endpoints) {
  return CheckTenantHere(config.cluster.name, config.cluster.tenant_map_file, tenant, endpoints);
}

void AddTenantMapCommand(CLI::App& app, TenantMapCommand* c) {
  c->root = app.add_subcommand(
      "tenant-map",
      "The tenant -> PostgreSQL cluster map ([cluster] tenant_map) against this node's database: "
      "each tenant the database holds (one the map puts on another cluster, or does not list, "
      "is an error: exit 1) and each tenant of the map; --haproxy prints HAProxy's map file instead");
  c->root->add_option("-c,--config", c->config_path, "mes-central configuration file (TOML)")
      ->required()
      ->check(CLI::ExistingFile);
  c->root->add_flag("--haproxy", c->haproxy,
                    "Print HAProxy's map file (\"tenant cluster\" per line), for a rule such as "
                    "use_backend central_http_%[req.hdr(host),field(1,.),map(FILE)]; reads no database");
}

int RunTenantMapCommand(const TenantMapCommand& c) {
  (void)InitLogging({.level = "warn", .format = "human", .program = "mes-central"});
  auto config = LoadCentralConfig(c.config_path);
  if (!config.ok()) return Fail(config.status());
  if (config->cluster.name.empty())
    return Fail(Status::InvalidArgument("config " + c.config_path +
                                        " has no [cluster] table: every tenant is on one cluster"));
  auto map = LoadTenantMap(config->cluster.tenant_map_file);
  if (!map.ok()) return Fail(map.status());
  if (!map->clusters.count(config->cluster.name))
    return Fail(Status::InvalidArgument("cluster.name \"" + config->cluster.name +
                                        "\" is not declared in " + map->file));
  if (c.haproxy) {
    std::cout << HaproxyTenantMap(*map);
    return 0;
  }
  auto conn = PgConnection::Connect(config->database_url);
  if (!conn.ok()) return Fail(conn.status());
  // Every tenant this cluster's database holds (the registry is readable across tenants only
  // through this function), against the map.
  auto held = (*conn)->Query("SELECT millrace.alert_tenants()");
  if (!held.ok()) return Fail(held.status());
  std::set<std::string> here_db;
  for (int i = 0; i < held->rows(); ++i) here_db.insert(held->GetString(i, 0));
  int wrong = 0;
  for (const std::string& tenant : here_db) {
    Status s = CheckTenantOnCluster(*map, config->cluster.name, tenant);
    if (!s.ok()) {
      std::cout << tenant << "  WRONG CLUSTER: " << s.message() << "\n";
      ++wrong;
    } else {
      std::cout << tenant << "  here\n";
    }
  }
  for (const auto& [tenant, cluster] : map->tenants) {
    if (here_db.count(tenant)) continue;
    std::cout << tenant << "  "
              << (cluster == config->cluster.name ? "mapped here, not created yet (mes-central create-tenant)"
                                                  : "cluster " + cluster)
              << "\n";
  }
  if (wrong > 0) {
    std::cerr << "mes-central tenant-map: " << wrong << " tenant(s) in cluster " << config->cluster.name
              << "'s database are not mapped to it\n";
    return 1;
  }
  return 0;
}

}  // namespace millrace::central
