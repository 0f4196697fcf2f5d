// The job queue in PostgreSQL (central migration 10): what enqueues, claims, renews and
// ends jobs, over the migration's SECURITY DEFINER functions (the application role cannot
// touch the tables otherwise). The semantics (fair claims, leases, backoff, the dead
// letter) live in the migration's comments; job_runner.h runs workers over this.
//
// Thread-safety: functions over one connection, used by one thread.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "millrace/central/admin_token.h"  // kPlatformTenant: the platform's own jobs
#include "millrace/central/pg.h"

namespace millrace::central {

struct NewJob {
  std::string tenant_id = kPlatformTenant;
  std::string kind;
  nlohmann::json payload = nlohmann::json::object();
  int priority = 0;            // -100 .. 100, higher first
  int max_attempts = 5;        // 1 .. 100
  int backoff_ms = 5000;       // the first retry's delay (doubling, jittered), 1 ms .. 1 h
  std::int64_t delay_ms = 0;   // run no sooner than this from now
  std::string dedupe_key;      // non-empty: a second enqueue with it returns the first job
  std::string created_by;
};

struct Job {
  std::int64_t id = 0;
  std::string tenant_id, kind;
  nlohmann::json payload;
  int priority = 0;
  std::string state;  // queued, running, succeeded, dead, cancelled
  int attempts = 0, max_attempts = 0;
  std::string worker;
  bool cancel_requested = false;
  std::optional<std::int64_t> progress_done, progress_total;
  std::string progress_unit;
  std::string last_error;
  nlohmann::json result;  // null until it succeeded
  std::string created_by;
  // Unix milliseconds; 0: not yet.
  std::int64_t created_ms = 0, run_after_ms = 0, started_ms = 0, finished_ms = 0, lease_until_ms = 0;
};

// A running job's lease renewal and progress (job_renew).
struct LeaseRenewal {
  std::int64_t job_id = 0;
  std::string worker;
  std::optional<std::int64_t> done, total;
  std::string unit;
};

enum class JobOutcome { kSucceeded, kFailed, kPermanent, kCancelled, kReleased };
const char* JobOutcomeName(JobOutcome o);

struct JobCount {
  std::string kind, state;
  std::int64_t jobs = 0;
  double oldest_ready_s = 0;
};

// The job's id (the existing job's when the dedupe key is taken). InvalidArgument names a
// field out of range.
Result<std::int64_t> EnqueueJob(PgConnection& conn, const NewJob& job);
// The next job among `kinds` (empty: any), leased to `worker` for lease_ms; nullopt: none.
Result<std::optional<Job>> ClaimJob(PgConnection& conn, const std::string& worker, int lease_ms,
                                    const std::vector<std::string>& kinds);
// For each renewal, whether its worker should go on (false: the job was cancelled, or its
// lease lost to a reclaim).
Result<std::vector<std::pair<std::int64_t, bool>>> RenewLeases(
    PgConnection& conn, const std::vector<LeaseRenewal>& renewals, int lease_ms);
// The job's state after; nullopt when the job is no longer `worker`'s.
Result<std::optional<std::string>> FinishJob(PgConnection& conn, std::int64_t id,
                                             const std::string& worker, JobOutcome outcome,
                                             const std::string& error,
                                             const nlohmann::json& result = nullptr);
// Cancel and retry, within `tenant` (empty: any). NotFound for no such job; retry refuses
// (FailedPrecondition) a job that is not dead or cancelled. The state after.
Result<std::string> CancelJob(PgConnection& conn, std::int64_t id, const std::string& tenant);
Result<std::string> RetryJob(PgConnection& conn, std::int64_t id, const std::string& tenant);

struct JobFilter {
  std::string tenant_id, state, kind;  // empty: any
  std::int64_t before = 0;             // only jobs older than this id (the next page); 0: any
  int limit = 100;
};
Result<std::vector<Job>> ListJobs(PgConnection& conn, const JobFilter& filter);
Result<std::optional<Job>> GetJob(PgConnection& conn, std::int64_t id, const std::string& tenant);
// Of `tenant` (empty: of all).
Result<std::vector<JobCount>> CountJobs(PgConnection& conn, const std::string& tenant = "");
// Deletes finished jobs past their keeping (succeeded and cancelled after keep_days, dead
// after dead_days); how many.
Result<int> PruneJobs(PgConnection& conn, int keep_days, int dead_days);
// Leases that ran out, taken back now (a claim does this too); how many.
Result<int> ReclaimExpiredLeases(PgConnection& conn);

// A job as JSON for the CLI and the HTTP API, with its progress rate and ETA when known
// (now_ms: the time to reckon them at).
nlohmann::json JobJson(const Job& job, std::int64_t now_ms);

}  // namespace millrace::central
