// Retention at central: a tenant keeps its sites' raw facts for a number of whole months
// (none set: for ever). Older months are exported, one table and month at a time, to the
// backup store as gzip CSV (key "<tenant>/_facts/<table>/<YYYYMM>-<ms>.csv.gz", recorded in
// millrace.fact_export with rows, bytes and SHA-256) and then purged by fact_month_purge
// (migration 0016) in the same REPEATABLE READ transaction: exactly the rows exported go,
// a row arriving meanwhile stays for the next run, the report rollups keep their sums, and
// a monthly partition no tenant's rows are left in is dropped.
//
// The fact horizon of a tenant (the first instant it keeps) is also where comparisons of
// an edge's rows with central's begin (HelloReply.fact_horizon_ms, SiteContent, drift).
//
// Thread-safety: functions over one connection, used by one thread.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "millrace/central/backup_store.h"
#include "millrace/central/backup_jobs.h"
#include "millrace/central/central_audit.h"
#include "millrace/central/job_runner.h"
#include "millrace/central/pg.h"

namespace millrace::central {

// The first instant (Unix ms, UTC) whose facts `tenant_id` keeps: the first day of the
// month `fact_retention_months` before this one, or the end of the newest month exported
// if later (a retention lengthened brings nothing back); 0 when it keeps all and exported
// nothing. In a transaction in the tenant's context.
Result<std::int64_t> TenantFactHorizon(PgConnection& conn, const std::string& tenant_id);

// Sets (months 1..1200) or clears (nullopt: keep every fact) a tenant's retention, with an
// audit record. NotFound for an unknown tenant.
Status SetFactRetention(PgConnection& conn, const std::string& tenant_id,
                        std::optional<int> months, const WriteContext& who = {});

struct RetentionSettings {
  std::optional<int> months;
  std::int64_t horizon_ms = 0;
  std::vector<nlohmann::json> exports;  // newest first: table, month, key, rows, bytes, sha256
};
Result<RetentionSettings> ShowFactRetention(PgConnection& conn, const std::string& tenant_id,
                                            int limit = 50);

struct RetentionOutcome {
  std::int64_t months = 0;  // table-months exported and purged
  std::int64_t rows = 0;
  std::int64_t bytes = 0;   // compressed, in the store
};

// Exports and purges every month of every fact table of `tenant_id` before its horizon.
// `work_dir` holds each export while it is made; `progress(done, total)` counts fact
// tables; `stopping()` true ends it after the month under way (the rest is left for the
// next run). FailedPrecondition without a retention set.
Result<RetentionOutcome> RunFactRetention(
    PgConnection& conn, BackupStore& store, const std::string& work_dir,
    const std::string& tenant_id, const std::string& exported_by,
    const std::function<void(std::int64_t, std::int64_t)>& progress = nullptr,
    const std::function<bool()>& stopping = nullptr);

// fact_retention (platform): RunFactRetention for every tenant with a retention set, with
// progress in tenants; the store and work directory are the site backups' (a node without a
// backup store fails it). Daily.
void AddRetentionJobKind(JobKinds& kinds, const BackupJobOptions& options);
JobSchedule RetentionSchedule();

}  // namespace millrace::central
