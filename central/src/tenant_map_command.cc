#include "tenant_map_command.h"

#include <iostream>

#include "millrace/central/central_store.h"
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
  if (config.cluster.name.empty()) {
    if (endpoints && endpoints->empty())
      return Status::InvalidArgument("--endpoint is required (no [cluster] tenant map names this "
                                     "cluster's sync address)");
    return Status::Ok();
  }
  MILLRACE_ASSIGN_OR_RETURN(TenantMap map, LoadTenantMap(config.cluster.tenant_map_file));
  auto here = map.clusters.find(config.cluster.name);
  if (here == map.clusters.end())
    return Status::InvalidArgument("cluster.name \"" + config.cluster.name + "\" is not declared in " +
                                   map.file);
  MILLRACE_RETURN_IF_ERROR(CheckTenantOnCluster(map, config.cluster.name, tenant));
  if (endpoints && endpoints->empty()) endpoints->push_back(here->second.sync);
  return Status::Ok();
}

void AddTenantMapCommand(CLI::App& app, TenantMapCommand* c) {
  c->root = app.add_subcommand(
      "tenant-map",
      "The tenant -> PostgreSQL cluster map ([cluster] tenant_map): each tenant of the map and "
      "its cluster, checked against this node's database (a tenant mapped to another cluster "
      "that this database holds is an error, exit 1); --haproxy prints HAProxy's map file instead");
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
  // Row-level security shows a tenant's registry row only inside its own context, so each
  // tenant of the map is looked for as itself: those mapped here should be in this
  // database, those mapped elsewhere should not.
  int wrong = 0;
  for (const auto& [tenant, cluster] : map->tenants) {
    bool present = false;
    Status s = InTenantTransaction(**conn, tenant, [&]() -> Status {
      MILLRACE_ASSIGN_OR_RETURN(
          auto r, (*conn)->Query("SELECT 1 FROM millrace.sync_tenant WHERE tenant_id = $1", {tenant}));
      present = r.rows() > 0;
      return Status::Ok();
    });
    if (!s.ok()) return Fail(s);
    const bool here = cluster == config->cluster.name;
    std::string what;
    if (here) what = present ? "here" : "mapped here, not created yet (mes-central create-tenant)";
    else what = present ? "MISPLACED: mapped to cluster " + cluster + " but held by this one" : "cluster " + cluster;
    std::cout << tenant << "  " << what << "\n";
    wrong += !here && present;
  }
  if (wrong > 0) {
    std::cerr << "mes-central tenant-map: " << wrong << " tenant(s) in cluster " << config->cluster.name
              << "'s database are mapped to another cluster\n";
    return 1;
  }
  return 0;
}

}  // namespace millrace::central
