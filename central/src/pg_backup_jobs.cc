#include "millrace/central/pg_backup_jobs.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>
#include <thread>

#include "millrace/common/throttle.h"

namespace millrace::central {
namespace {

// The advisory lock key of central's PostgreSQL backups ('pgbackup' in ASCII).
constexpr const char* kBackupLock = "8099550625268462960";

Status CheckType(const nlohmann::json& payload) {
  const std::string type = payload.value("type", std::string("incr"));
  if (type != "full" && type != "diff" && type != "incr")
    return Status::InvalidArgument("pg_backup.type: '" + type + "' is not full, diff or incr");
  return Status::Ok();
}

Status PgBackupJob(const PgBackupJobOptions& o, JobContext& ctx) {
  MILLRACE_RETURN_IF_ERROR(CheckType(ctx.payload()));
  const std::string type = ctx.payload().value("type", std::string("incr"));
  const PgBackRest pgbackrest(o.pgbackrest);
  // One backup at a time over all nodes (pgBackRest refuses a second): a job that finds
  // another running waits for it rather than spending its attempts on the lock.
  std::unique_ptr<PgConnection> session;
  if (!o.session_url.empty()) {
    MILLRACE_ASSIGN_OR_RETURN(session, PgConnection::Connect(o.session_url));
  }
  PgConnection& conn = session ? *session : ctx.conn();
  for (bool waited = false;; waited = true) {
    MILLRACE_ASSIGN_OR_RETURN(
        auto got, conn.Query("SELECT pg_try_advisory_lock(" + std::string(kBackupLock) + ")"));
    if (got.GetString(0, 0) == "t") break;
    if (!waited) spdlog::info("pg_backup: another backup is running; job {} waits", ctx.job().id);
    if (ctx.Stopping()) return Status::Unavailable("stopped while waiting for another backup");
    std::this_thread::sleep_for(std::chrono::seconds(2));
  }
  struct Unlock {
    PgConnection& conn;
    ~Unlock() { (void)conn.Exec("SELECT pg_advisory_unlock(" + std::string(kBackupLock) + ")"); }
  } unlock{conn};
  MILLRACE_RETURN_IF_ERROR(pgbackrest.EnsureStanza());
  const auto started = std::chrono::steady_clock::now();
  ctx.Progress(0, 100, "percent");
  MILLRACE_ASSIGN_OR_RETURN(PgBackup b, pgbackrest.Backup(
                                            type,
                                            [&](double percent) {
                                              ctx.Progress(
                                                  static_cast<std::int64_t>(std::floor(percent)),
                                                  100, "percent");
                                            },
                                            [&] { return ctx.Stopping(); }));
  ctx.Progress(100, 100, "percent");
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  ctx.result = {{"label", b.label},           {"type", b.type},
                {"prior", b.prior},           {"size_bytes", b.size_bytes},
                {"repo_bytes", b.repo_bytes}, {"started_s", b.started_s},
                {"stopped_s", b.stopped_s},   {"wal_start", b.wal_start},
                {"wal_stop", b.wal_stop},     {"seconds", std::round(seconds * 10) / 10}};
  spdlog::info("pg_backup: {} backup {} of {} bytes ({} added to the repository) in {:.1f} s",
               b.type, b.label, b.size_bytes, b.repo_bytes, seconds);
  if (b.error) return Status::Corruption("pgbackrest found checksum errors in backup " + b.label);
  return Status::Ok();
}

}  // namespace

void AddPgBackupJobKind(JobKinds& kinds, const PgBackupJobOptions& o) {
  JobKind k{
      "pg_backup",
      "Back up central's PostgreSQL cluster with pgBackRest (full, diff or incr), with progress",
      true,
      {{"type", JobField::Type::kString, false, 1, 8,
        "full, diff or incr (default incr; the first backup is always full)"}},
      [o](JobContext& ctx) { return PgBackupJob(o, ctx); }};
  k.check = [](const NewJob& job) { return CheckType(job.payload); };
  k.max_attempts = 3;
  k.backoff_ms = 60'000;
  kinds.Add(std::move(k));
}

void AddPgBackupMetrics(MetricsRegistry& metrics, PgPool* pool, std::chrono::milliseconds refresh) {
  auto& succeeded = metrics
                        .AddGauge("mes_central_pg_backup_succeeded_timestamp_seconds",
                                  "When the newest pg_backup job succeeded (0: none has)")
                        .Get();
  metrics.AddCollector(AtMostEvery(refresh, [&succeeded, pool] {
    auto conn = pool->Acquire();
    if (!conn.ok()) return;  // the pool's own metrics say why
    auto r = (*conn)->Query(
        "SELECT coalesce(extract(epoch FROM max(finished_at)), 0) FROM "
        "millrace.job_list('*', 'succeeded', 'pg_backup', NULL, 10)");
    if (!r.ok()) {
      spdlog::warn("metrics: pg backups: {}", r.status().ToString());
      return;
    }
    succeeded.Set(std::stod(r->GetString(0, 0)));
  }));
}

std::vector<JobSchedule> PgBackupSchedules(const PgBackupJobOptions& o) {
  std::vector<JobSchedule> s;
  if (o.full_every_hours > 0)
    s.push_back({"pg_backup", std::chrono::hours(o.full_every_hours), {{"type", "full"}}});
  if (o.incr_every_hours > 0)
    s.push_back({"pg_backup", std::chrono::hours(o.incr_every_hours), {{"type", "incr"}}});
  return s;
}

}  // namespace millrace::central
