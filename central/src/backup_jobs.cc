#include "millrace/central/backup_jobs.h"

#include <spdlog/spdlog.h>

#include <ctime>
#include <filesystem>
#include <map>

#include "millrace/central/central_store.h"
#include "millrace/common/uuid.h"
#include "millrace/central/job_queue.h"
#include "millrace/central/pg_rows.h"
#include "millrace/common/catalog.h"
#include "millrace/common/ddl.h"
#include "millrace/common/digest.h"
#include "millrace/common/gzip.h"
#include "millrace/common/sqlite.h"

namespace millrace::central {
namespace {

namespace fs = std::filesystem;

constexpr std::int64_t kStalledUploadMs = 24LL * 3600 * 1000;
// The backup's acknowledged watermark: outbox entries at or below it are kept ones
// ([sync] keep_acked_hours), not pending.
const std::string kAckedSeq =
    "(SELECT coalesce(max(value), 0) FROM sync_state WHERE key = 'acked_seq')";

// A local file removed when it goes.
struct TempFile {
  std::string path;
  ~TempFile() {
    std::error_code ec;
    fs::remove(path, ec);
  }
};

// What checking the expanded backup found: the counts, and the first thing wrong ("" when
// nothing is).
struct Findings {
  nlohmann::json tables = nlohmann::json::object();
  std::string problem;
};

Status CheckBackupFile(JobContext& ctx, const SiteBackup& b, const std::string& db_path,
                       Findings& f) {
  MILLRACE_ASSIGN_OR_RETURN(SqliteDb db, SqliteDb::OpenReadOnly(db_path));
  auto check = db.QueryText("PRAGMA integrity_check");
  if (!check.ok() || *check != "ok") {
    f.problem = "PRAGMA integrity_check: " + (check.ok() ? *check : check.status().ToString());
    return Status::Ok();
  }
  MILLRACE_ASSIGN_OR_RETURN(std::int64_t version, db.QueryInt("PRAGMA user_version"));
  if (version != b.schema_version) {
    f.problem = "the file is at edge schema version " + std::to_string(version) +
                " but was offered as version " + std::to_string(b.schema_version);
    return Status::Ok();
  }
  // A backup of an older edge schema has the catalog of its schema (catalog.h).
  const catalog::Catalog& cat = catalog::MesCatalog();
  const std::string expected = cat.FingerprintHexAt(static_cast<int>(version));
  auto fingerprint = db.QueryText("SELECT value FROM edge_meta WHERE key = 'catalog_fingerprint'");
  if (!fingerprint.ok() || *fingerprint != expected) {
    f.problem = "the file's catalog is " +
                (fingerprint.ok() ? *fingerprint : fingerprint.status().ToString()) +
                ", central's for edge schema " + std::to_string(version) + " is " + expected;
    return Status::Ok();
  }
  auto epoch = db.QueryText("SELECT value FROM edge_meta WHERE key = 'store_epoch'");
  if (!epoch.ok() || *epoch != b.store_epoch) {
    f.problem = "the file belongs to store epoch " + (epoch.ok() ? *epoch : std::string("?")) +
                ", the offer said " + b.store_epoch;
    return Status::Ok();
  }
  // The site's own rows: those the backup holds with no change waiting in its outbox
  // (central acknowledged them) must all be at central, applied or parked.
  std::vector<const catalog::TableSpec*> tables;
  for (const auto& t : cat.tables())
    if (t.merge != catalog::MergePolicy::kCentralOwned && t.scope == catalog::RoutingScope::kSite)
      tables.push_back(&t);
  // Facts before the site's horizon (retention: purged at the edge or at central) are
  // compared on neither side, and rows deleted at central (tombstones) may still be in a
  // backup taken before the delete reached the site.
  std::int64_t horizon = 0;
  MILLRACE_RETURN_IF_ERROR(InTenantTransaction(ctx.conn(), b.tenant_id, [&]() -> Status {
    MILLRACE_ASSIGN_OR_RETURN(horizon, SiteFactHorizon(ctx.conn(), b.tenant_id, b.site_id));
    return Status::Ok();
  }));
  const std::string floor = Uuid::FloorV7(horizon).ToString();
  std::int64_t done = 0;
  for (const catalog::TableSpec* t : tables) {
    if (ctx.Stopping()) return Status::Unavailable("stopping");
    const bool cut = t->owner == catalog::Owner::kSite;
    MILLRACE_ASSIGN_OR_RETURN(
        std::int64_t in_backup,
        db.QueryInt("SELECT count(*) FROM " + catalog::QuoteIdent(t->name) +
                    " WHERE site_id = " + catalog::QuoteLiteral(b.site_id) +
                    (cut ? " AND id >= " + catalog::QuoteLiteral(floor) : std::string()) +
                    " AND id NOT IN (SELECT row_id FROM outbox WHERE table_name = " +
                    catalog::QuoteLiteral(t->name) + " AND seq > " + kAckedSeq + ")"));
    MILLRACE_ASSIGN_OR_RETURN(
        std::int64_t pending,
        db.QueryInt("SELECT count(DISTINCT row_id) FROM outbox WHERE table_name = " +
                    catalog::QuoteLiteral(t->name) + " AND seq > " + kAckedSeq));
    std::int64_t at_central = 0, parked = 0, deleted = 0;
    MILLRACE_RETURN_IF_ERROR(InTenantTransaction(ctx.conn(), b.tenant_id, [&]() -> Status {
      MILLRACE_ASSIGN_OR_RETURN(
          auto r, ctx.conn().Query("SELECT count(*) FROM " + PgTable(*t) +
                                       " WHERE tenant_id = $1 AND site_id = $2" +
                                       (cut ? " AND id >= $3::uuid" : " AND $3 <> ''"),
                                   {b.tenant_id, b.site_id, floor}));
      at_central = std::stoll(r.GetString(0, 0));
      MILLRACE_ASSIGN_OR_RETURN(
          auto d, ctx.conn().Query("SELECT count(*) FROM millrace.sync_tombstone WHERE tenant_id "
                                   "= $1 AND site_id = $2 AND table_name = $3",
                                   {b.tenant_id, b.site_id, t->name}));
      deleted = std::stoll(d.GetString(0, 0));
      MILLRACE_ASSIGN_OR_RETURN(
          auto p, ctx.conn().Query("SELECT count(DISTINCT row_id) FROM millrace.sync_reject "
                                   "WHERE tenant_id = $1 AND site_id = $2 AND table_name = $3",
                                   {b.tenant_id, b.site_id, t->name}));
      parked = std::stoll(p.GetString(0, 0));
      return Status::Ok();
    }));
    f.tables[t->name] = {{"backup_acknowledged", in_backup},
                         {"backup_pending", pending},
                         {"central", at_central},
                         {"central_parked", parked},
                         {"central_deleted", deleted}};
    if (in_backup > at_central + parked + deleted && f.problem.empty())
      f.problem = t->name + ": the backup holds " + std::to_string(in_backup) +
                  " acknowledged row(s) of the site, central " + std::to_string(at_central) +
                  " (and " + std::to_string(parked) + " parked, " + std::to_string(deleted) +
                  " deleted)";
    ctx.Progress(++done, static_cast<std::int64_t>(tables.size()), "tables");
  }
  return Status::Ok();
}

Status RecordVerification(PgConnection& conn, const SiteBackup& b, const Findings& f) {
  return InTenantTransaction(conn, b.tenant_id, [&]() -> Status {
    return conn
        .Query(
            "UPDATE millrace.site_backup SET state = $4, verified_at = now(), verify_error = "
            "nullif($5, ''), verify_result = $6::jsonb, updated_at = now() WHERE tenant_id = "
            "$1 AND site_id = $2 AND backup_id = $3",
            {b.tenant_id, b.site_id, b.backup_id, f.problem.empty() ? "verified" : "failed",
             f.problem, nlohmann::json{{"tables", f.tables}}.dump()})
        .status();
  });
}

Status BackupVerify(const BackupJobOptions& o, JobContext& ctx) {
  if (!o.store) return Status::FailedPrecondition("this node keeps no backup store");
  const std::string tenant = ctx.job().tenant_id;
  const std::string site = ctx.payload().at("site").get<std::string>();
  const std::string id = ctx.payload().at("backup_id").get<std::string>();
  MILLRACE_ASSIGN_OR_RETURN(SiteBackup b, LoadSiteBackup(ctx.conn(), tenant, site, id));
  if (b.state == "receiving")
    return Status::FailedPrecondition("backup " + id + " of " + site + " is still being received");
  std::error_code ec;
  fs::create_directories(o.work_dir, ec);
  if (ec) return Status::IOError("cannot create " + o.work_dir + ": " + ec.message());
  const std::string base =
      (fs::path(o.work_dir) / ("verify-" + std::to_string(ctx.job().id))).string();
  TempFile gz{base + ".db.gz"}, db{base + ".db"};
  Findings f;
  Status fetched = o.store->Fetch(b.store_key, gz.path);
  if (fetched.code() == StatusCode::kNotFound) {
    // Another node's directory may hold it: let another node try, within the attempts.
    return Status::Unavailable(
        "backup " + b.store_key + " is not in this node's backup store" +
        (b.node.empty() ? std::string() : " (node " + b.node + " received it)"));
  }
  MILLRACE_RETURN_IF_ERROR(fetched);
  MILLRACE_ASSIGN_OR_RETURN(std::string sha, FileSha256Hex(gz.path));
  if (sha != b.sha256) {
    f.problem = "the stored file's sha256 is " + sha + ", it was received as " + b.sha256;
  } else {
    auto expanded = GunzipFile(gz.path, db.path, static_cast<std::uint64_t>(b.raw_bytes));
    if (!expanded.ok()) {
      if (expanded.status().code() == StatusCode::kIOError) return expanded.status();
      f.problem = "expanding it: " + expanded.status().message();
    } else if (*expanded != static_cast<std::uint64_t>(b.raw_bytes)) {
      f.problem = "it expands to " + std::to_string(*expanded) + " bytes, the offer said " +
                  std::to_string(b.raw_bytes);
    } else {
      MILLRACE_RETURN_IF_ERROR(CheckBackupFile(ctx, b, db.path, f));
    }
  }
  MILLRACE_RETURN_IF_ERROR(RecordVerification(ctx.conn(), b, f));
  if (f.problem.empty())
    spdlog::info("backup {} of {}/{} verified", id, tenant, site);
  else
    spdlog::error("backup {} of {}/{} failed verification: {}", id, tenant, site, f.problem);
  NewJob prune;
  prune.tenant_id = tenant;
  prune.kind = "backup_prune";
  prune.payload = {{"site", site}};
  prune.dedupe_key = "backup_prune:" + tenant + "/" + site + "/" + id;
  prune.created_by = "job:" + std::to_string(ctx.job().id);
  MILLRACE_ASSIGN_OR_RETURN(std::int64_t prune_job, EnqueueJob(ctx.conn(), prune));
  ctx.result = {{"backup_id", id},      {"site", site},       {"verified", f.problem.empty()},
                {"problem", f.problem}, {"tables", f.tables}, {"prune_job", prune_job}};
  return Status::Ok();
}

Status BackupPrune(const BackupJobOptions& o, JobContext& ctx) {
  if (!o.store) return Status::FailedPrecondition("this node keeps no backup store");
  const std::string tenant = ctx.job().tenant_id;
  const std::string site = ctx.payload().at("site").get<std::string>();
  MILLRACE_ASSIGN_OR_RETURN(std::vector<SiteBackup> all, ListSiteBackups(ctx.conn(), tenant, site));
  const std::int64_t now = SystemClock()->NowMillis();
  std::vector<RetainedBackup> retained;
  std::vector<const SiteBackup*> doomed;
  std::map<std::string, const SiteBackup*> by_id;
  for (const SiteBackup& b : all) {
    by_id[b.backup_id] = &b;
    if (b.state == "receiving") {
      if (now - b.taken_ms > kStalledUploadMs) doomed.push_back(&b);  // its upload stalled
      continue;
    }
    retained.push_back({b.backup_id, b.taken_ms, b.state == "failed"});
  }
  for (const std::string& id : BackupsToPrune(retained, o.retention)) doomed.push_back(by_id[id]);
  nlohmann::json pruned = nlohmann::json::array();
  for (const SiteBackup* b : doomed) {
    if (ctx.Stopping()) break;
    Status gone =
        b->state == "receiving" ? o.store->DropPart(b->store_key) : o.store->Delete(b->store_key);
    if (!gone.ok() && gone.code() != StatusCode::kNotFound) return gone;
    MILLRACE_RETURN_IF_ERROR(InTenantTransaction(ctx.conn(), tenant, [&]() -> Status {
      return ctx.conn()
          .Query(
              "DELETE FROM millrace.site_backup WHERE tenant_id = $1 AND site_id = $2 AND "
              "backup_id = $3",
              {tenant, site, b->backup_id})
          .status();
    }));
    pruned.push_back(b->backup_id);
  }
  ctx.result = {
      {"site", site},
      {"kept", static_cast<std::int64_t>(all.size()) - static_cast<std::int64_t>(pruned.size())},
      {"pruned", pruned}};
  return Status::Ok();
}

// "2026-12-02T10" (UTC) of now: the period a sweep's jobs are deduped by.
std::string UtcHour() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H", &tm);
  return buf;
}

Status BackupSweep(const BackupJobOptions& o, JobContext& ctx) {
  const int days =
      static_cast<int>(ctx.payload().value("reverify_days", std::int64_t{o.reverify_days}));
  MILLRACE_ASSIGN_OR_RETURN(
      auto due,
      ctx.conn().Query("SELECT tenant_id, site_id, backup_id FROM millrace.site_backup_due($1)",
                       {std::to_string(days)}));
  MILLRACE_ASSIGN_OR_RETURN(
      auto sites, ctx.conn().Query("SELECT tenant_id, site_id FROM millrace.site_backup_sites()"));
  const std::int64_t total = due.rows() + sites.rows();
  std::int64_t verify = 0, prune = 0;
  const std::string by = "job:" + std::to_string(ctx.job().id);
  for (int i = 0; i < due.rows() && !ctx.Stopping(); ++i) {
    NewJob j;
    j.tenant_id = due.GetString(i, 0);
    j.kind = "backup_verify";
    j.payload = {{"site", due.GetString(i, 1)}, {"backup_id", due.GetString(i, 2)}};
    j.dedupe_key = "backup_verify:" + j.tenant_id + "/" + due.GetString(i, 1) + "/" +
                   due.GetString(i, 2) + ":" + UtcHour();
    j.priority = -10;  // behind what arrives now
    j.created_by = by;
    MILLRACE_RETURN_IF_ERROR(EnqueueJob(ctx.conn(), j).status());
    ctx.Progress(++verify, total, "jobs queued");
  }
  for (int i = 0; i < sites.rows() && !ctx.Stopping(); ++i) {
    NewJob j;
    j.tenant_id = sites.GetString(i, 0);
    j.kind = "backup_prune";
    j.payload = {{"site", sites.GetString(i, 1)}};
    j.dedupe_key = "backup_prune:" + j.tenant_id + "/" + sites.GetString(i, 1) + ":" + UtcHour();
    j.priority = -10;
    j.created_by = by;
    MILLRACE_RETURN_IF_ERROR(EnqueueJob(ctx.conn(), j).status());
    ctx.Progress(verify + ++prune, total, "jobs queued");
  }
  ctx.result = {{"verify_queued", verify}, {"prune_queued", prune}, {"reverify_days", days}};
  return Status::Ok();
}

}  // namespace

void AddBackupJobKinds(JobKinds& kinds, const BackupJobOptions& o) {
  const std::vector<JobField> site_field = {
      {"site", JobField::Type::kString, true, 1, 32, "the site id"}};
  std::vector<JobField> verify_fields = site_field;
  verify_fields.push_back({"backup_id", JobField::Type::kString, true, 1, 64,
                           "the backup, as `mes-central backups list` names it"});
  kinds.Add({"backup_verify",
             "Open a stored site backup and check it (SHA-256 at rest, PRAGMA integrity_check, "
             "schema, epoch, the site's row counts against central); then prune the site's "
             "backups",
             false, verify_fields, [o](JobContext& ctx) { return BackupVerify(o, ctx); }});
  kinds.Add({"backup_prune",
             "Apply the backup retention to a site's backups (the newest of each of the last "
             "keep_hourly hours and keep_daily days, the newest usable one always kept)",
             false, site_field, [o](JobContext& ctx) { return BackupPrune(o, ctx); }});
  kinds.Add({"backup_sweep",
             "Queue backup_verify for the site backups verified longer ago than reverify_days "
             "(or never), and backup_prune for every site with backups; hourly",
             true,
             {{"reverify_days", JobField::Type::kInt, false, 0, 3650,
               "verify again after this many days (default: [backups] reverify_days)"}},
             [o](JobContext& ctx) { return BackupSweep(o, ctx); }});
}

JobSchedule BackupSweepSchedule() {
  return {"backup_sweep", std::chrono::hours(1), nlohmann::json::object()};
}

}  // namespace millrace::central
