// `mes-central config check`: the file as serve would read it, and the files it names.
#include "millrace/central/central_config.h"
#include "millrace/central/tenant_map.h"
#include "millrace/common/config_command.h"
#include "millrace/sync/transport.h"

namespace millrace::central {

Result<std::string> CheckCentralConfig(const std::string& path) {
  MILLRACE_ASSIGN_OR_RETURN(CentralConfig c, LoadCentralConfig(path));
  for (const auto& [key, file] : {std::pair{"http.tls_cert_file", c.http.tls_cert_file},
                                  std::pair{"http.tls_key_file", c.http.tls_key_file},
                                  std::pair{"pg_backup.pgbackrest_config",
                                            c.pg_backup.enabled ? c.pg_backup.jobs.pgbackrest.config
                                                                : std::string()}})
    if (!file.empty()) MILLRACE_RETURN_IF_ERROR(CheckReadableFile(path, key, file));
  std::string out = std::string("http ") + (c.http.tls_cert_file.empty() ? "http://" : "https://") +
                    c.http.address + ":" + std::to_string(c.http.port) + "\n";
  if (c.sync.enabled) {
    if (!c.sync.insecure_development) {
      auto secret = sync::ReadKeyFile(c.sync.secret_key_file, /*secret=*/true);
      if (!secret.ok())
        return secret.status().WithContext("config " + path + ": key 'sync.secret_key_file'");
    }
    out += "sync on " + c.sync.bind +
           (c.sync.insecure_development ? " without Curve (development)" : " over Curve") + ", " +
           std::to_string(c.sync.workers) + " appliers\n";
  } else {
    out += "sync: none (no edge can connect to this node)\n";
  }
  out += std::string("database: ") +
         (c.database.transaction_pooler ? std::string("through a transaction pooler, sessions at session_url")
                                        : std::string("direct")) +
         (c.database.replica_url.empty() ? "; reports read the primary"
                                         : "; reports read a replica while it is at most " +
                                               std::to_string(c.database.replica_max_staleness_s) +
                                               " s behind") +
         "\n";
  if (!c.cluster.name.empty()) {
    auto map = LoadTenantMap(c.cluster.tenant_map_file);
    if (!map.ok()) return map.status().WithContext("config " + path + ": key 'cluster.tenant_map'");
    if (!map->clusters.count(c.cluster.name))
      return Status::InvalidArgument("config " + path + ": key 'cluster.name': cluster \"" +
                                     c.cluster.name + "\" is not declared in " + map->file);
    int here = 0;
    for (const auto& [tenant, cluster] : map->tenants) here += cluster == c.cluster.name;
    out += "cluster " + c.cluster.name + " of " + std::to_string(map->clusters.size()) + " in " +
           map->file + ": " + std::to_string(here) + " of " + std::to_string(map->tenants.size()) +
           " tenants\n";
  }
  out += "jobs: " + std::to_string(c.jobs.workers) + " workers\n";
  out += "site backups: " + (c.backups.dir.empty() ? std::string("declined") : c.backups.dir) + "\n";
  if (c.pg_backup.enabled) out += "pg_backup: stanza " + c.pg_backup.jobs.pgbackrest.stanza + "\n";
  return out;
}

}  // namespace millrace::central
