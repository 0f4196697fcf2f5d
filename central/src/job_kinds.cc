#include "millrace/central/job_kinds.h"

#include "millrace/central/tenant_map.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>

#include "millrace/central/central_store.h"
#include "millrace/central/drift_jobs.h"
#include "millrace/central/provision.h"
#include "millrace/central/reports.h"
#include "millrace/central/retention.h"
#include "millrace/central/rollups.h"
#include "millrace/central/schema.h"
#include "millrace/common/ddl.h"
#include "millrace/common/files.h"
#include "millrace/common/http.h"

namespace millrace::central {
namespace {

constexpr std::int64_t kDayMs = 86'400'000;
// Unix milliseconds from 2000 to 2100: the range a rebuild may name.
constexpr std::int64_t kMinMs = 946'684'800'000, kMaxMs = 4'102'444'800'000;

Status PartitionMaintenance(JobContext& ctx) {
  const int months = ctx.payload().value("months_ahead", 3);
  MILLRACE_ASSIGN_OR_RETURN(int made, EnsureFactPartitions(ctx.conn(), months));
  ctx.result = {{"partitions_made", made}};
  return Status::Ok();
}

Status RollupRebuild(JobContext& ctx) {
  RebuildRange range;
  range.tenant_id = ctx.job().tenant_id;
  range.site_id = ctx.payload().at("site").get<std::string>();
  range.from_ms = ctx.payload().value("from_ms", std::int64_t{0});
  range.to_ms = ctx.payload().value("to_ms", std::int64_t{0});
  std::int64_t days = 0;
  MILLRACE_RETURN_IF_ERROR(RebuildRollups(
      ctx.conn(), range,
      [&](const RebuildProgress& p) {
        days = (p.done_ms + kDayMs - 1) / kDayMs;
        ctx.Progress(days, (p.total_ms + kDayMs - 1) / kDayMs, "days");
      },
      [&] { return ctx.Stopping(); }));
  ctx.result = {{"days_rebuilt", days}};
  return Status::Ok();
}

// ---- tenant_provision ----

Status TenantProvision(const JobKindsOptions& o, JobContext& ctx) {
  const std::string tenant = ctx.payload().at("tenant").get<std::string>();
  MILLRACE_RETURN_IF_ERROR(CheckTenantHere(o.cluster, o.tenant_map_file, tenant));
  const WriteContext who{"job:" + std::to_string(ctx.job().id) + " (" + ctx.job().created_by + ")",
                         "tenant_provision"};
  Status made = CreateTenant(ctx.conn(), tenant, ctx.payload().at("name").get<std::string>(), who);
  if (made.code() == StatusCode::kAlreadyExists) {
    // A retry finds the tenant an earlier attempt of this job made (its audit record names
    // the job); anyone else's tenant of that id is a refusal.
    bool ours = false;
    MILLRACE_RETURN_IF_ERROR(InTenantTransaction(ctx.conn(), tenant, [&]() -> Status {
      MILLRACE_ASSIGN_OR_RETURN(
          auto r, ctx.conn().Query("SELECT 1 FROM millrace.central_audit WHERE tenant_id = $1 AND "
                                   "action = 'tenant.create' AND actor = $2",
                                   {tenant, who.actor}));
      ours = r.rows() > 0;
      return Status::Ok();
    }));
    if (!ours) return Status::FailedPrecondition(made.message());
  } else {
    MILLRACE_RETURN_IF_ERROR(made);
  }
  ctx.result = {{"tenant", tenant}};
  if (ctx.payload().value("demo", false)) {
    MILLRACE_ASSIGN_OR_RETURN(std::uint64_t head, SeedDemoTenant(ctx.conn(), tenant, {}, who));
    ctx.result["demo_feed_head"] = head;
  }
  return Status::Ok();
}

// ---- report_export ----

constexpr const char* kExportQueryHelp =
    "the report's parameters as in its URL, e.g. group=site&from=2026-11-01&to=2026-11-30";

// Today where it is latest (UTC+14), as the reporting API's default range has it.
std::string TodayEverywhere() {
  const std::time_t t = std::time(nullptr) + 14 * 3600;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char out[32];
  std::snprintf(out, sizeof out, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
  return out;
}

// The report and its query as the job names them, checked as the reporting API checks a
// request. The export pages by itself: limit, after and format are not taken.
Result<ReportQuery> ExportQuery(const std::string& tenant, const nlohmann::json& payload) {
  const std::string name = payload.at("report").get<std::string>();
  const ReportSpec* spec = FindReport(name);
  if (!spec) {
    std::string names;
    for (const auto& r : Reports()) names += (names.empty() ? "" : ", ") + r.name;
    return Status::InvalidArgument("report_export.report: no report '" + name + "'; there are " + names);
  }
  HttpRequest parsed;
  parsed.target = "/?" + payload.value("query", std::string());
  if (!parsed.ParseTarget()) return Status::InvalidArgument("report_export.query is not a URL query");
  for (const char* own : {"limit", "after", "format"})
    if (parsed.query.count(own))
      return Status::InvalidArgument(std::string("report_export.query: '") + own +
                                     "' is not taken (an export holds every row, as CSV)");
  MILLRACE_ASSIGN_OR_RETURN(ReportQuery q, ParseReportQuery(*spec, parsed.query, "text/csv",
                                                            TodayEverywhere(), tenant, false));
  q.limit = 1000;
  q.csv = true;
  return q;
}

Status ReportExport(const JobKindsOptions& o, JobContext& ctx) {
  const Job& job = ctx.job();
  if (o.export_dir.empty()) return Status::FailedPrecondition("this node has no export directory ([jobs] export_dir)");
  MILLRACE_ASSIGN_OR_RETURN(ReportQuery q, ExportQuery(job.tenant_id, ctx.payload()));
  q.limit = std::clamp(o.export_page_rows, 1, 1000);
  const std::filesystem::path dir = std::filesystem::path(o.export_dir) / job.tenant_id;
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::IOError("export directory " + dir.string() + ": " + ec.message());
  const std::string name = std::to_string(job.id) + "-" + q.spec->name + ".csv";
  const std::string path = (dir / name).string(), part = path + ".part";
  std::FILE* out = std::fopen(part.c_str(), "wb");
  if (!out) return Status::IOError("cannot write " + part);
  PgConnection& conn = ctx.conn();
  // As the reporting API reads: the report role, with a statement timeout, SET LOCAL in each
  // page's transaction (so it holds through a pooler in transaction mode); the worker's
  // connection gets its own settings back whatever happens.
  struct Restore {
    PgConnection& conn;
    std::FILE*& out;
    std::string part;
    std::string settings;
    ~Restore() {
      conn.set_transaction_settings(settings);
      if (out) {
        std::fclose(out);
        std::remove(part.c_str());
      }
    }
  } restore{conn, out, part, conn.transaction_settings()};
  conn.set_transaction_settings("SET LOCAL ROLE \"" + catalog::PostgresDdlOptions{}.report_role +
                                "\"; SET LOCAL statement_timeout = " +
                                std::to_string(o.report_statement_timeout_s * 1000));
  std::int64_t rows = 0, bytes = 0;
  for (bool first = true;; first = false) {
    if (ctx.Stopping()) return Status::Unavailable("the export stopped after " + std::to_string(rows) + " rows");
    MILLRACE_ASSIGN_OR_RETURN(ReportResult page, RunReport(conn, q));
    std::string csv = RenderReportCsv(page);
    if (!first) csv.erase(0, csv.find("\r\n") + 2);  // the header once
    if (std::fwrite(csv.data(), 1, csv.size(), out) != csv.size())
      return Status::IOError("writing " + part + " failed (disk full?)");
    rows += static_cast<std::int64_t>(page.rows.size());
    bytes += static_cast<std::int64_t>(csv.size());
    ctx.Progress(rows, std::nullopt, "rows");
    if (page.next.empty()) break;
    q.after = page.next;
  }
  if (std::fflush(out) != 0 || fsync(fileno(out)) != 0) return Status::IOError("cannot flush " + part);
  std::fclose(out);
  out = nullptr;
  if (std::rename(part.c_str(), path.c_str()) != 0) return Status::IOError("cannot rename " + part);
  MILLRACE_RETURN_IF_ERROR(FsyncParentDirectory(path));
  ctx.result = {{"file", name}, {"rows", rows}, {"bytes", bytes}, {"node", o.node}};
  return Status::Ok();
}

}  // namespace

Result<std::string> ExportFilePath(const std::string& export_dir, const Job& job) {
  if (job.kind != "report_export" || job.state != "succeeded" || !job.result.is_object() ||
      !job.result.contains("file") || !job.result["file"].is_string())
    return Status::NotFound("job " + std::to_string(job.id) + " is not a finished report export");
  const std::string file = job.result["file"].get<std::string>();
  if (file.find('/') != std::string::npos || file.empty() || file[0] == '.')
    return Status::Corruption("job " + std::to_string(job.id) + " names an odd file");
  const std::string path = (std::filesystem::path(export_dir) / job.tenant_id / file).string();
  if (!std::filesystem::exists(path))
    return Status::NotFound("the export of job " + std::to_string(job.id) + " is not on this node (it was written on " +
                            job.result.value("node", std::string("another node")) + ", or pruned)");
  return path;
}

int PruneExports(const std::string& export_dir, int days) {
  if (export_dir.empty()) return 0;
  int n = 0;
  std::error_code ec;
  const auto cutoff = std::filesystem::file_time_type::clock::now() - std::chrono::hours(24) * days;
  for (auto it = std::filesystem::recursive_directory_iterator(export_dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (!it->is_regular_file(ec) || it->last_write_time(ec) >= cutoff) continue;
    if (std::filesystem::remove(it->path(), ec)) ++n;
  }
  return n;
}

JobKinds CentralJobKinds(const JobKindsOptions& o) {
  JobKinds kinds;
  kinds.Add({"partition_maintenance",
             "Make the site fact tables' monthly partitions up to months_ahead months ahead",
             true,
             {{"months_ahead", JobField::Type::kInt, false, 0, 24, "months after this one (default 3)"}},
             PartitionMaintenance});
  kinds.Add({"rollup_rebuild",
             "Recompute a site's report rollups from its raw facts over a range, a day at a time",
             false,
             {{"site", JobField::Type::kString, true, 1, 64, "the site id"},
              {"from_ms", JobField::Type::kInt, false, kMinMs, kMaxMs,
               "Unix milliseconds to start at (default: the site's first fact)"},
              {"to_ms", JobField::Type::kInt, false, kMinMs, kMaxMs,
               "Unix milliseconds to stop before (default: after the site's last fact)"}},
             RollupRebuild});
  kinds.Add({"tenant_provision",
             "Register a tenant (a company), and load the demo factory's master data if asked",
             true,
             {{"tenant", JobField::Type::kString, true, 1, 32, "the new tenant's id (a-z, 0-9, '-')"},
              {"name", JobField::Type::kString, true, 1, 200, "its name"},
              {"demo", JobField::Type::kBool, false, 0, 0, "load the demo factory's master data"}},
             [o](JobContext& ctx) { return TenantProvision(o, ctx); }});
  {
    JobKind exp{"report_export",
                "Write a whole report (every page) as CSV into the export directory, with progress",
                false,
                {{"report", JobField::Type::kString, true, 1, 64, "the report's name, as in /api/v1/reports/<name>"},
                 {"query", JobField::Type::kString, false, 0, 4096, kExportQueryHelp}},
                [o](JobContext& ctx) { return ReportExport(o, ctx); }};
    exp.check = [](const NewJob& job) { return ExportQuery(job.tenant_id, job.payload).status(); };
    kinds.Add(std::move(exp));
  }
  AddBackupJobKinds(kinds, o.backups);
  AddAlertJobKinds(kinds);
  AddDriftJobKinds(kinds);
  AddRetentionJobKind(kinds, o.backups);
  AddRestoreJobKind(kinds, o.restore);
  if (o.pg_backup) AddPgBackupJobKind(kinds, *o.pg_backup);
  return kinds;
}

std::vector<JobSchedule> CentralJobSchedules() {
  return {{"partition_maintenance", std::chrono::hours(6), nlohmann::json::object()},
          BackupSweepSchedule(), AlertEvaluateSchedule(), DriftSweepSchedule(),
          RetentionSchedule()};
}

}  // namespace millrace::central
