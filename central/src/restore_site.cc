#include "millrace/central/restore_site.h"

#include "millrace/central/tenant_map.h"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "millrace/central/central_audit.h"
#include "millrace/central/central_store.h"
#include "millrace/common/catalog.h"
#include "millrace/common/digest.h"
#include "millrace/common/files.h"
#include "millrace/common/gzip.h"
#include "millrace/common/hlc.h"
#include "millrace/common/sqlite.h"
#include "millrace/common/time_zone.h"
#include "millrace/sync/site_keys.h"
#include "millrace/sync/transport.h"

namespace millrace::central {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// Fetches the backup into `db_path`, checked: the SHA-256 it was received with, whole
// gzip, the size it was offered with, and SQLite's integrity check.
Status FetchBackup(BackupStore& store, const SiteBackup& b, const std::string& db_path) {
  const std::string gz = db_path + ".gz";
  Status fetched = store.Fetch(b.store_key, gz);
  if (fetched.code() == StatusCode::kNotFound)
    return Status::NotFound(
        "backup " + b.store_key + " is not in this node's backup store" +
        (b.node.empty() ? std::string() : " (node " + b.node + " received it)"));
  MILLRACE_RETURN_IF_ERROR(fetched);
  MILLRACE_ASSIGN_OR_RETURN(std::string sha, FileSha256Hex(gz));
  if (sha != b.sha256)
    return Status::Corruption("backup " + b.store_key + " has sha256 " + sha +
                              ", it was received as " + b.sha256);
  MILLRACE_ASSIGN_OR_RETURN(std::uint64_t bytes,
                            GunzipFile(gz, db_path, static_cast<std::uint64_t>(b.raw_bytes)));
  std::error_code ec;
  fs::remove(gz, ec);
  if (bytes != static_cast<std::uint64_t>(b.raw_bytes))
    return Status::Corruption("backup " + b.store_key + " expands to " + std::to_string(bytes) +
                              " bytes, not " + std::to_string(b.raw_bytes));
  MILLRACE_ASSIGN_OR_RETURN(SqliteDb db, SqliteDb::OpenReadOnly(db_path));
  MILLRACE_ASSIGN_OR_RETURN(std::string check, db.QueryText("PRAGMA integrity_check"));
  if (check != "ok") return Status::Corruption("backup " + b.store_key + ": " + check);
  return Status::Ok();
}

}  // namespace

Result<RestoreSiteResult> RestoreSite(PgConnection& conn, BackupStore& store,
                                      const RestoreSiteOptions& ro) {
  ProvisionOptions o = ro.site;
  if (!catalog::IsValidSiteId(o.site_id))
    return Status::InvalidArgument("--site \"" + o.site_id + "\" is not a site id");
  if (o.endpoints.empty()) return Status::InvalidArgument("name at least one central endpoint");
  if (!o.insecure_development && o.central_public_key.empty())
    return Status::FailedPrecondition(
        "central's public key is not known here ([sync] secret_key_file): the edge could not "
        "trust central");
  std::error_code ec;
  if (fs::exists(o.out_dir, ec))
    return Status::AlreadyExists(o.out_dir +
                                 " already exists; restore-site writes a new directory");
  MILLRACE_ASSIGN_OR_RETURN(std::vector<SiteBackup> backups,
                            ListSiteBackups(conn, o.tenant_id, o.site_id));
  const SiteBackup* newest = nullptr;
  for (const SiteBackup& b : backups)
    if (b.state == "verified" && (!newest || b.taken_ms > newest->taken_ms)) newest = &b;
  if (!newest)
    return Status::NotFound("site " + o.tenant_id + "/" + o.site_id +
                            " has no verified backup (mes-central backups list)");
  MILLRACE_RETURN_IF_ERROR(InTenantTransaction(conn, o.tenant_id, [&]() -> Status {
    MILLRACE_ASSIGN_OR_RETURN(
        auto r, conn.Query("SELECT time_zone, active, coalesce(extract(epoch FROM now() - "
                           "last_seen_at) * 1000, -1)::bigint FROM millrace.sync_site WHERE "
                           "tenant_id = $1 AND site_id = $2",
                           {o.tenant_id, o.site_id}));
    if (r.rows() != 1) return Status::NotFound("no site " + o.tenant_id + "/" + o.site_id);
    if (r.Get(0, 1) != "t")
      return Status::FailedPrecondition("site " + o.tenant_id + "/" + o.site_id + " is revoked");
    const std::int64_t silent_ms = std::stoll(r.GetString(0, 2));
    if (!ro.force && silent_ms >= 0 && silent_ms < ro.live_within_ms)
      return Status::FailedPrecondition("site " + o.tenant_id + "/" + o.site_id +
                                        " was heard from " + std::to_string(silent_ms / 1000) +
                                        " s ago: its edge is not dead, and the bundle's " +
                                        "fresh keys would lock it out. Stop it first, or --force");
    o.time_zone = r.GetString(0, 0);
    return Status::Ok();
  }));

  const fs::path out = fs::absolute(o.out_dir);
  MILLRACE_ASSIGN_OR_RETURN(const fs::path tmp, StageSiteDirectory(out));
  auto fail = [&](Status s) {
    fs::remove_all(tmp, ec);
    return s;
  };
  if (Status s = FetchBackup(store, *newest, (tmp / "edge.db").string()); !s.ok()) return fail(s);

  RestoreSiteResult result;
  result.backup = *newest;
  sync::CurveKeyPair keys;
  if (!ro.keep_key_file.empty()) {
    auto secret = sync::ReadKeyFile(ro.keep_key_file, true);
    if (!secret.ok()) return fail(secret.status());
    auto pub = sync::CurvePublicKey(*secret);
    if (!pub.ok()) return fail(pub.status());
    keys = {*pub, *secret};
    result.fresh_keys = false;
  } else {
    auto made = sync::GenerateCurveKeyPair();
    if (!made.ok()) return fail(made.status());
    keys = *made;
  }
  result.public_key = keys.public_key;
  if (Status s = WriteSiteKeys(tmp, keys, o); !s.ok()) return fail(s);

  const json manifest = {{"tenant", o.tenant_id},
                         {"site", o.site_id},
                         {"backup", SiteBackupJson(*newest)},
                         {"public_key", keys.public_key},
                         {"fresh_keys", result.fresh_keys}};
  for (Status s :
       {WriteFileAtomically((tmp / "edge.toml").string(), SiteEdgeToml(o, false), 0600),
        WriteFileAtomically((tmp / "bundle.json").string(), manifest.dump(2) + "\n", 0600)})
    if (!s.ok()) return fail(s);

  // A kept key must be one the site holds.
  auto key_is_current = [&]() -> Status {
    MILLRACE_ASSIGN_OR_RETURN(
        auto r, conn.Query("SELECT 1 FROM millrace.sync_site_key WHERE tenant_id = $1 AND "
                           "site_id = $2 AND public_key = $3 AND (retire_at IS NULL OR "
                           "retire_at > now())",
                           {o.tenant_id, o.site_id, keys.public_key}));
    if (r.rows() != 1)
      return Status::FailedPrecondition(ro.keep_key_file + " is not a current key of site " +
                                        o.tenant_id + "/" + o.site_id);
    return Status::Ok();
  };
  if (!result.fresh_keys) {
    if (Status s = InTenantTransaction(conn, o.tenant_id, key_is_current); !s.ok()) return fail(s);
  }
  // The directory is whole: in place first, then the keys at central, so the site's keys
  // change only once the new secret key is where the new edge reads it. A fresh pair is
  // registered and the site's other keys are refused from now on (the dead machine's
  // among them). If that fails the directory goes: its key would be refused.
  fs::rename(tmp, out, ec);
  if (ec)
    return fail(Status::IOError("cannot move " + tmp.string() + " to " + out.string() + ": " +
                                ec.message()));
  Status keyed = FsyncParentDirectory(out.string());
  if (keyed.ok())
    keyed = InTenantTransaction(conn, o.tenant_id, [&]() -> Status {
      if (!result.fresh_keys) {
        MILLRACE_RETURN_IF_ERROR(key_is_current());
      } else {
        MILLRACE_RETURN_IF_ERROR(conn.Query("INSERT INTO millrace.sync_site_key (tenant_id, "
                                            "site_id, public_key) VALUES ($1, $2, $3)",
                                            {o.tenant_id, o.site_id, keys.public_key})
                                     .status());
        MILLRACE_ASSIGN_OR_RETURN(
            auto retired,
            conn.Query("UPDATE millrace.sync_site_key SET retire_at = now() WHERE tenant_id = "
                       "$1 AND site_id = $2 AND public_key <> $3 AND (retire_at IS NULL OR "
                       "retire_at > now())",
                       {o.tenant_id, o.site_id, keys.public_key}));
        result.keys_retired = static_cast<int>(retired.affected());
      }
      return RecordCentralAudit(conn, o.tenant_id, WallClockHlc(), o.who,
                                {"site.restore_bundle", o.site_id, "site_backup", "", nullptr,
                                 json{{"backup_id", newest->backup_id},
                                      {"public_key", keys.public_key},
                                      {"fresh_keys", result.fresh_keys},
                                      {"keys_retired", result.keys_retired}}});
    });
  if (!keyed.ok()) {
    fs::remove_all(out, ec);
    return keyed;
  }
  result.out_dir = out.string();
  return result;
}

void AddRestoreJobKind(JobKinds& kinds, const RestoreJobOptions& o) {
  kinds.Add(
      {"site_restore",
       "Write the bundle a replacement edge starts from (as mes-central restore-site, with "
       "fresh keys) into the export directory: the site's newest verified backup, its keys, "
       "central's public key and edge.toml",
       false,
       {{"site", JobField::Type::kString, true, 1, 32, "the site id"},
        {"endpoint", JobField::Type::kString, true, 1, 512,
         "central's sync endpoint the edge connects to, e.g. tcp://central.example:7001"},
        {"http_port", JobField::Type::kInt, false, 1, 65535,
         "the terminal HTTP port written into edge.toml (default 8080)"},
        {"force", JobField::Type::kBool, false, 0, 0,
         "write it though the site was heard from lately (its edge is locked out)"}},
       [o](JobContext& ctx) -> Status {
         if (!o.store)
           return Status::FailedPrecondition("this node keeps no site backups ([backups] dir)");
         if (o.export_dir.empty())
           return Status::FailedPrecondition(
               "this node has no export directory ([jobs] export_dir)");
         const Job& job = ctx.job();
         RestoreSiteOptions ro;
         ro.site.tenant_id = job.tenant_id;
         ro.site.site_id = ctx.payload().at("site").get<std::string>();
         ro.site.endpoints = {ctx.payload().at("endpoint").get<std::string>()};
         MILLRACE_RETURN_IF_ERROR(CheckTenantHere(o.cluster, o.tenant_map_file, job.tenant_id));
         ro.site.http_port = static_cast<int>(ctx.payload().value("http_port", 8080));
         ro.site.central_public_key = o.central_public_key;
         ro.site.insecure_development = o.insecure_development;
         ro.site.who = {job.created_by.empty() ? "mes-central" : job.created_by,
                        "site_restore job " + std::to_string(job.id)};
         ro.live_within_ms = o.live_within_ms;
         ro.force = ctx.payload().value("force", false);
         const fs::path dir = fs::path(o.export_dir) / job.tenant_id;
         std::error_code ec;
         fs::create_directories(dir, ec);
         if (ec) return Status::IOError("export directory " + dir.string() + ": " + ec.message());
         ro.site.out_dir =
             (dir / (std::to_string(job.id) + "-restore-" + ro.site.site_id)).string();
         ctx.Progress(0, 1, "bundles");
         MILLRACE_ASSIGN_OR_RETURN(RestoreSiteResult r, RestoreSite(ctx.conn(), *o.store, ro));
         ctx.Progress(1, 1, "bundles");
         ctx.result = {{"dir", r.out_dir},
                       {"backup_id", r.backup.backup_id},
                       {"public_key", r.public_key},
                       {"keys_retired", r.keys_retired}};
         return Status::Ok();
       },
       nullptr,
       1});
}

}  // namespace millrace::central
