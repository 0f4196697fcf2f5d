#include "millrace/central/job_queue.h"

#include <algorithm>

namespace millrace::central {
namespace {

// The columns of millrace.job as Job reads them, times as Unix milliseconds (0: NULL).
constexpr const char* kJobColumns =
    "job_id, tenant_id, kind, payload::text, priority, state, attempts, max_attempts, "
    "coalesce(worker, ''), cancel_requested, progress_done, progress_total, "
    "coalesce(progress_unit, ''), coalesce(last_error, ''), coalesce(result::text, 'null'), "
    "created_by, "
    "coalesce((extract(epoch FROM created_at) * 1000)::bigint, 0), "
    "coalesce((extract(epoch FROM run_after) * 1000)::bigint, 0), "
    "coalesce((extract(epoch FROM started_at) * 1000)::bigint, 0), "
    "coalesce((extract(epoch FROM finished_at) * 1000)::bigint, 0), "
    "coalesce((extract(epoch FROM lease_until) * 1000)::bigint, 0)";

std::int64_t Int(const PgResult& r, int row, int col) {
  return std::stoll(r.GetString(row, col));
}

Job ReadJob(const PgResult& r, int row) {
  Job j;
  j.id = Int(r, row, 0);
  j.tenant_id = r.GetString(row, 1);
  j.kind = r.GetString(row, 2);
  j.payload = nlohmann::json::parse(r.Get(row, 3), nullptr, false);
  j.priority = static_cast<int>(Int(r, row, 4));
  j.state = r.GetString(row, 5);
  j.attempts = static_cast<int>(Int(r, row, 6));
  j.max_attempts = static_cast<int>(Int(r, row, 7));
  j.worker = r.GetString(row, 8);
  j.cancel_requested = r.Get(row, 9) == "t";
  if (!r.IsNull(row, 10)) j.progress_done = Int(r, row, 10);
  if (!r.IsNull(row, 11)) j.progress_total = Int(r, row, 11);
  j.progress_unit = r.GetString(row, 12);
  j.last_error = r.GetString(row, 13);
  j.result = nlohmann::json::parse(r.Get(row, 14), nullptr, false);
  j.created_by = r.GetString(row, 15);
  j.created_ms = Int(r, row, 16);
  j.run_after_ms = Int(r, row, 17);
  j.started_ms = Int(r, row, 18);
  j.finished_ms = Int(r, row, 19);
  j.lease_until_ms = Int(r, row, 20);
  return j;
}

// A PostgreSQL array literal of numbers and NULLs.
std::string NumberArray(const std::vector<std::optional<std::int64_t>>& items) {
  std::string out = "{";
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i) out += ',';
    out += items[i] ? std::to_string(*items[i]) : "NULL";
  }
  return out + "}";
}

Status CheckRange(const char* field, std::int64_t v, std::int64_t lo, std::int64_t hi) {
  if (v < lo || v > hi)
    return Status::InvalidArgument(std::string(field) + " must be within " + std::to_string(lo) +
                                   " .. " + std::to_string(hi) + ", got " + std::to_string(v));
  return Status::Ok();
}

}  // namespace

const char* JobOutcomeName(JobOutcome o) {
  switch (o) {
    case JobOutcome::kSucceeded: return "succeeded";
    case JobOutcome::kFailed: return "failed";
    case JobOutcome::kPermanent: return "permanent";
    case JobOutcome::kCancelled: return "cancelled";
    case JobOutcome::kReleased: return "released";
  }
  return "failed";
}

Result<std::int64_t> EnqueueJob(PgConnection& conn, const NewJob& job) {
  // A tenant id as CreateTenant takes it (it names a directory of exports), or the platform's.
  const bool tenant_ok =
      job.tenant_id == kPlatformTenant ||
      (!job.tenant_id.empty() && job.tenant_id.size() <= 32 &&
       job.tenant_id.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") == std::string::npos);
  if (!tenant_ok)
    return Status::InvalidArgument("a job's tenant is a tenant id (1..32 of a-z, 0-9, '-') or '*', got '" +
                                   job.tenant_id + "'");
  if (job.kind.empty()) return Status::InvalidArgument("a job needs a kind");
  if (!job.payload.is_object()) return Status::InvalidArgument("a job's payload is a JSON object");
  MILLRACE_RETURN_IF_ERROR(CheckRange("priority", job.priority, -100, 100));
  MILLRACE_RETURN_IF_ERROR(CheckRange("max_attempts", job.max_attempts, 1, 100));
  MILLRACE_RETURN_IF_ERROR(CheckRange("backoff_ms", job.backoff_ms, 1, 3'600'000));
  MILLRACE_RETURN_IF_ERROR(CheckRange("delay_ms", job.delay_ms, 0, 366LL * 86'400'000));
  MILLRACE_ASSIGN_OR_RETURN(
      auto r, conn.Query("SELECT millrace.job_enqueue($1, $2, $3::jsonb, $4, $5, $6, "
                         "now() + make_interval(secs => $7::bigint / 1000.0), $8, $9)",
                         {job.tenant_id, job.kind, job.payload.dump(), std::to_string(job.priority),
                          std::to_string(job.max_attempts), std::to_string(job.backoff_ms),
                          std::to_string(job.delay_ms),
                          job.dedupe_key.empty() ? PgParam() : PgParam(job.dedupe_key),
                          job.created_by.empty() ? std::string("mes-central") : job.created_by}));
  return Int(r, 0, 0);
}

Result<std::optional<Job>> ClaimJob(PgConnection& conn, const std::string& worker, int lease_ms,
                                    const std::vector<std::string>& kinds) {
  MILLRACE_ASSIGN_OR_RETURN(
      auto r, conn.Query(std::string("SELECT ") + kJobColumns +
                             " FROM millrace.job_claim($1, $2, $3::text[])",
                         {worker, std::to_string(lease_ms),
                          kinds.empty() ? PgParam() : PgParam(PgTextArray(kinds))}));
  if (r.rows() == 0) return std::optional<Job>();
  return std::optional<Job>(ReadJob(r, 0));
}

Result<std::vector<std::pair<std::int64_t, bool>>> RenewLeases(
    PgConnection& conn, const std::vector<LeaseRenewal>& renewals, int lease_ms) {
  std::vector<std::pair<std::int64_t, bool>> out;
  if (renewals.empty()) return out;
  std::vector<std::optional<std::int64_t>> ids, done, total;
  std::vector<std::string> workers, units;
  for (const LeaseRenewal& l : renewals) {
    ids.push_back(l.job_id);
    workers.push_back(l.worker);
    done.push_back(l.done);
    total.push_back(l.total);
    units.push_back(l.unit);
  }
  MILLRACE_ASSIGN_OR_RETURN(
      auto r, conn.Query("SELECT job_id, keep FROM millrace.job_renew($1::bigint[], $2::text[], "
                         "$3::bigint[], $4::bigint[], $5::text[], $6)",
                         {NumberArray(ids), PgTextArray(workers), NumberArray(done),
                          NumberArray(total), PgTextArray(units), std::to_string(lease_ms)}));
  for (int i = 0; i < r.rows(); ++i) out.emplace_back(Int(r, i, 0), r.Get(i, 1) == "t");
  return out;
}

Result<std::optional<std::string>> FinishJob(PgConnection& conn, std::int64_t id,
                                             const std::string& worker, JobOutcome outcome,
                                             const std::string& error,
                                             const nlohmann::json& result) {
  MILLRACE_ASSIGN_OR_RETURN(
      auto r, conn.Query("SELECT millrace.job_finish($1, $2, $3, $4, $5::jsonb)",
                         {std::to_string(id), worker, std::string(JobOutcomeName(outcome)),
                          error.empty() ? PgParam() : PgParam(error),
                          result.is_null() ? PgParam() : PgParam(result.dump())}));
  if (r.IsNull(0, 0)) return std::optional<std::string>();
  return std::optional<std::string>(r.GetString(0, 0));
}

Result<std::string> CancelJob(PgConnection& conn, std::int64_t id, const std::string& tenant) {
  MILLRACE_ASSIGN_OR_RETURN(auto r, conn.Query("SELECT millrace.job_cancel($1, $2)",
                                               {std::to_string(id), tenant.empty() ? PgParam() : PgParam(tenant)}));
  if (r.IsNull(0, 0)) return Status::NotFound("no job " + std::to_string(id));
  return r.GetString(0, 0);
}

Result<std::string> RetryJob(PgConnection& conn, std::int64_t id, const std::string& tenant) {
  // job_retry refuses a job still live with SQLSTATE 55000: FailedPrecondition.
  MILLRACE_ASSIGN_OR_RETURN(auto r, conn.Query("SELECT millrace.job_retry($1, $2)",
                                               {std::to_string(id), tenant.empty() ? PgParam() : PgParam(tenant)}));
  if (r.IsNull(0, 0)) return Status::NotFound("no job " + std::to_string(id));
  return r.GetString(0, 0);
}

Result<std::vector<Job>> ListJobs(PgConnection& conn, const JobFilter& f) {
  static const std::vector<std::string> kStates = {"queued", "running", "succeeded", "dead",
                                                   "cancelled"};
  if (!f.state.empty() && std::find(kStates.begin(), kStates.end(), f.state) == kStates.end())
    return Status::InvalidArgument("unknown job state '" + f.state +
                                   "' (queued, running, succeeded, dead or cancelled)");
  MILLRACE_RETURN_IF_ERROR(CheckRange("limit", f.limit, 1, 10000));
  const auto opt = [](const std::string& s) { return s.empty() ? PgParam() : PgParam(s); };
  MILLRACE_ASSIGN_OR_RETURN(
      auto r, conn.Query(std::string("SELECT ") + kJobColumns +
                             " FROM millrace.job_list($1, $2, $3, $4, $5)",
                         {opt(f.tenant_id), opt(f.state), opt(f.kind),
                          f.before > 0 ? PgParam(std::to_string(f.before)) : PgParam(),
                          std::to_string(f.limit)}));
  std::vector<Job> out;
  for (int i = 0; i < r.rows(); ++i) out.push_back(ReadJob(r, i));
  return out;
}

Result<std::optional<Job>> GetJob(PgConnection& conn, std::int64_t id, const std::string& tenant) {
  MILLRACE_ASSIGN_OR_RETURN(
      auto r, conn.Query(std::string("SELECT ") + kJobColumns + " FROM millrace.job_get($1, $2)",
                         {std::to_string(id), tenant.empty() ? PgParam() : PgParam(tenant)}));
  if (r.rows() == 0) return std::optional<Job>();
  return std::optional<Job>(ReadJob(r, 0));
}

Result<std::vector<JobCount>> CountJobs(PgConnection& conn, const std::string& tenant) {
  MILLRACE_ASSIGN_OR_RETURN(auto r, conn.Query("SELECT kind, state, jobs, oldest_ready_s FROM "
                                               "millrace.job_counts($1)",
                                               {tenant.empty() ? PgParam() : PgParam(tenant)}));
  std::vector<JobCount> out;
  for (int i = 0; i < r.rows(); ++i)
    out.push_back({r.GetString(i, 0), r.GetString(i, 1), Int(r, i, 2),
                   std::stod(r.GetString(i, 3))});
  return out;
}

Result<int> PruneJobs(PgConnection& conn, int keep_days, int dead_days) {
  MILLRACE_ASSIGN_OR_RETURN(auto r, conn.Query("SELECT millrace.job_prune($1, $2)",
                                               {std::to_string(keep_days), std::to_string(dead_days)}));
  return static_cast<int>(Int(r, 0, 0));
}

Result<int> ReclaimExpiredLeases(PgConnection& conn) {
  MILLRACE_ASSIGN_OR_RETURN(auto r, conn.Query("SELECT millrace.job_reclaim()"));
  return static_cast<int>(Int(r, 0, 0));
}

nlohmann::json JobJson(const Job& j, std::int64_t now_ms) {
  nlohmann::json out{{"id", j.id},
                     {"tenant", j.tenant_id},
                     {"kind", j.kind},
                     {"payload", j.payload},
                     {"priority", j.priority},
                     {"state", j.state},
                     {"attempts", j.attempts},
                     {"max_attempts", j.max_attempts},
                     {"created_by", j.created_by},
                     {"created_ms", j.created_ms},
                     {"run_after_ms", j.run_after_ms}};
  if (!j.worker.empty()) out["worker"] = j.worker;
  if (j.cancel_requested && j.state == "running") out["cancel_requested"] = true;
  if (!j.last_error.empty()) out["last_error"] = j.last_error;
  if (!j.result.is_null()) out["result"] = j.result;
  if (j.started_ms) out["started_ms"] = j.started_ms;
  if (j.finished_ms) out["finished_ms"] = j.finished_ms;
  if (j.lease_until_ms) out["lease_until_ms"] = j.lease_until_ms;
  if (j.progress_done || j.progress_total) {
    nlohmann::json p{{"unit", j.progress_unit}};
    if (j.progress_done) p["done"] = *j.progress_done;
    if (j.progress_total) p["total"] = *j.progress_total;
    const std::int64_t end = j.finished_ms ? j.finished_ms : now_ms;
    const double secs = static_cast<double>(end - j.started_ms) / 1000.0;
    if (j.progress_done && j.started_ms && secs > 0) {
      const double rate = static_cast<double>(*j.progress_done) / secs;
      p["rate_per_s"] = rate;
      if (j.state == "running" && j.progress_total && rate > 0)
        p["eta_s"] = static_cast<double>(std::max<std::int64_t>(*j.progress_total - *j.progress_done, 0)) / rate;
    }
    out["progress"] = std::move(p);
  }
  return out;
}

}  // namespace millrace::central
