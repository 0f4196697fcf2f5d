#include "millrace/central/tenant_map.h"

#include "millrace/common/config.h"

namespace millrace::central {

namespace {

bool IsId(const std::string& s) {
  if (s.empty() || s.size() > 32) return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  return true;
}

}  // namespace

Result<TenantMap> LoadTenantMap(const std::string& path) {
  MILLRACE_ASSIGN_OR_RETURN(ConfigFile file, ConfigFile::Load(path));
  TenantMap map;
  map.file = path;
  for (const std::string& name : file.Keys("clusters")) {
    const std::string key = "clusters." + name;
    if (!IsId(name)) return file.Invalid(key, "a cluster name is 1..32 of a-z, 0-9, '-'");
    TenantCluster c;
    MILLRACE_ASSIGN_OR_RETURN(c.sync, file.GetString(key + ".sync"));
    if (c.sync.rfind("tcp://", 0) != 0 || c.sync.find(':', 6) == std::string::npos)
      return file.Invalid(key + ".sync", "expected tcp://host:port, got \"" + c.sync + "\"");
    MILLRACE_ASSIGN_OR_RETURN(c.http, file.GetString(key + ".http", ""));
    if (!c.http.empty() && c.http.rfind("http://", 0) != 0 && c.http.rfind("https://", 0) != 0)
      return file.Invalid(key + ".http", "expected an http:// or https:// address, got \"" + c.http + "\"");
    map.clusters.emplace(name, std::move(c));
  }
  if (map.clusters.empty()) return file.Invalid("clusters", "declares no cluster ([clusters.NAME] with sync = ...)");
  for (const std::string& tenant : file.Keys("tenants")) {
    const std::string key = "tenants." + tenant;
    if (!IsId(tenant)) return file.Invalid(key, "a tenant id is 1..32 of a-z, 0-9, '-'");
    MILLRACE_ASSIGN_OR_RETURN(std::string cluster, file.GetString(key));
    if (!map.clusters.count(cluster)) {
      std::string known;
      for (const auto& [n, c] : map.clusters) known += (known.empty() ? "" : ", ") + n;
      return file.Invalid(key, "names cluster \"" + cluster + "\", which is not declared (declared: " +
                                   known + ")");
    }
    map.tenants.emplace(tenant, cluster);
  }
  MILLRACE_RETURN_IF_ERROR(file.Finish());
  return map;
}

Status CheckTenantOnCluster(const TenantMap& map, const std::string& cluster,
                            const std::string& tenant) {
  auto it = map.tenants.find(tenant);
  if (it == map.tenants.end())
    return Status::FailedPrecondition("tenant " + tenant + " is not in the tenant map " + map.file +
                                      ": add it under [tenants] with its cluster first");
  if (it->second != cluster)
    return Status::FailedPrecondition("tenant " + tenant + " lives on cluster " + it->second +
                                      " (" + map.file + "), and this central serves cluster " +
                                      cluster + ": run this on a central node of cluster " +
                                      it->second);
  return Status::Ok();
}

Status CheckTenantHere(const std::string& cluster, const std::string& map_file,
                       const std::string& tenant, std::vector<std::string>* endpoints) {
  if (cluster.empty()) {
    if (endpoints && endpoints->empty())
      return Status::InvalidArgument("--endpoint is required (no [cluster] tenant map names this "
                                     "cluster's sync address)");
    return Status::Ok();
  }
  MILLRACE_ASSIGN_OR_RETURN(TenantMap map, LoadTenantMap(map_file));
  auto here = map.clusters.find(cluster);
  if (here == map.clusters.end())
    return Status::InvalidArgument("cluster.name \"" + cluster + "\" is not declared in " + map.file);
  MILLRACE_RETURN_IF_ERROR(CheckTenantOnCluster(map, cluster, tenant));
  if (endpoints && endpoints->empty()) endpoints->push_back(here->second.sync);
  return Status::Ok();
}

std::string HaproxyTenantMap(const TenantMap& map) {
  std::string out;
  for (const auto& [tenant, cluster] : map.tenants) out += tenant + " " + cluster + "\n";
  return out;
}

}  // namespace millrace::central
