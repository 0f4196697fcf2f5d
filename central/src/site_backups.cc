#include "millrace/central/site_backups.h"

#include <ctime>
#include <optional>

#include "millrace/central/central_store.h"

namespace millrace::central {
namespace {

const char* kSelectBackup =
    "SELECT tenant_id, site_id, backup_id, store_key, state, coalesce(node, ''), sha256, "
    "store_epoch, bytes, raw_bytes, schema_version, (extract(epoch FROM taken_at) * 1000)::bigint, "
    "coalesce((extract(epoch FROM received_at) * 1000)::bigint, 0), "
    "coalesce((extract(epoch FROM verified_at) * 1000)::bigint, 0), coalesce(verify_error, ''), "
    "verify_result FROM millrace.site_backup ";

SiteBackup BackupFromRow(const PgResult& r, int i) {
  SiteBackup b;
  b.tenant_id = r.GetString(i, 0);
  b.site_id = r.GetString(i, 1);
  b.backup_id = r.GetString(i, 2);
  b.store_key = r.GetString(i, 3);
  b.state = r.GetString(i, 4);
  b.node = r.GetString(i, 5);
  b.sha256 = r.GetString(i, 6);
  b.store_epoch = r.GetString(i, 7);
  b.bytes = std::stoll(r.GetString(i, 8));
  b.raw_bytes = std::stoll(r.GetString(i, 9));
  b.schema_version = std::stoll(r.GetString(i, 10));
  b.taken_ms = std::stoll(r.GetString(i, 11));
  b.received_ms = std::stoll(r.GetString(i, 12));
  b.verified_ms = std::stoll(r.GetString(i, 13));
  b.verify_error = r.GetString(i, 14);
  if (!r.IsNull(i, 15)) b.verify_result = nlohmann::json::parse(r.Get(i, 15), nullptr, false);
  return b;
}

std::string IsoMs(std::int64_t ms) {
  if (ms == 0) return "";
  std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace

Result<std::vector<SiteBackup>> ListSiteBackups(PgConnection& conn, const std::string& tenant_id,
                                                const std::string& site_id) {
  std::vector<SiteBackup> out;
  MILLRACE_RETURN_IF_ERROR(InTenantTransaction(conn, tenant_id, [&]() -> Status {
    MILLRACE_ASSIGN_OR_RETURN(
        auto r, conn.Query(std::string(kSelectBackup) +
                               "WHERE tenant_id = $1 AND ($2 = '' OR site_id = $2) ORDER BY "
                               "taken_at DESC, site_id, backup_id",
                           {tenant_id, site_id}));
    for (int i = 0; i < r.rows(); ++i) out.push_back(BackupFromRow(r, i));
    return Status::Ok();
  }));
  return out;
}

Result<SiteBackup> LoadSiteBackup(PgConnection& conn, const std::string& tenant,
                                  const std::string& site, const std::string& id) {
  std::optional<SiteBackup> found;
  MILLRACE_RETURN_IF_ERROR(InTenantTransaction(conn, tenant, [&]() -> Status {
    MILLRACE_ASSIGN_OR_RETURN(
        auto r, conn.Query(std::string(kSelectBackup) +
                               "WHERE tenant_id = $1 AND site_id = $2 AND backup_id = $3",
                           {tenant, site, id}));
    if (r.rows() == 1) found = BackupFromRow(r, 0);
    return Status::Ok();
  }));
  if (!found)
    return Status::NotFound("site " + tenant + "/" + site + " has no backup " + id +
                            " (pruned, or never offered)");
  return *std::move(found);
}

nlohmann::json SiteBackupJson(const SiteBackup& b) {
  return {{"site", b.site_id},
          {"backup_id", b.backup_id},
          {"state", b.state},
          {"bytes", b.bytes},
          {"raw_bytes", b.raw_bytes},
          {"sha256", b.sha256},
          {"schema_version", b.schema_version},
          {"store_epoch", b.store_epoch},
          {"node", b.node},
          {"taken_at", IsoMs(b.taken_ms)},
          {"received_at", b.received_ms ? nlohmann::json(IsoMs(b.received_ms)) : nullptr},
          {"verified_at", b.verified_ms ? nlohmann::json(IsoMs(b.verified_ms)) : nullptr},
          {"verify_error",
           b.verify_error.empty() ? nlohmann::json(nullptr) : nlohmann::json(b.verify_error)},
          {"verify_result", b.verify_result},
          {"store_key", b.store_key}};
}

}  // namespace millrace::central
