#include "millrace/central/job_runner.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>

#include "millrace/common/clock.h"

namespace millrace::central {
namespace {

// Why a running job was told to stop.
enum Why : int { kNone = 0, kCancel = 1, kShutdown = 2 };

bool Permanent(StatusCode c) {
  return c == StatusCode::kInvalidArgument || c == StatusCode::kNotFound ||
         c == StatusCode::kPermissionDenied || c == StatusCode::kFailedPrecondition;
}

const char* TypeName(JobField::Type t) {
  switch (t) {
    case JobField::Type::kString: return "a string";
    case JobField::Type::kInt: return "an integer";
    case JobField::Type::kBool: return "true or false";
  }
  return "?";
}

}  // namespace

void JobContext::Progress(std::int64_t done, std::optional<std::int64_t> total, const std::string& unit) {
  std::lock_guard<std::mutex> lock(reported.mu);
  reported.done = done;
  reported.total = total;
  reported.unit = unit;
}

void JobKinds::Add(JobKind kind) { kinds_[kind.name] = std::move(kind); }

const JobKind* JobKinds::Find(const std::string& name) const {
  auto it = kinds_.find(name);
  return it == kinds_.end() ? nullptr : &it->second;
}

std::vector<std::string> JobKinds::Names() const {
  std::vector<std::string> out;
  for (const auto& [name, kind] : kinds_) out.push_back(name);
  return out;
}

Status JobKinds::Check(const NewJob& job) const {
  const JobKind* kind = Find(job.kind);
  if (!kind) {
    std::string known;
    for (const auto& n : Names()) known += (known.empty() ? "" : ", ") + n;
    return Status::InvalidArgument("unknown job kind '" + job.kind + "' (known: " + known + ")");
  }
  if (kind->platform && job.tenant_id != kPlatformTenant)
    return Status::InvalidArgument(job.kind + " is a platform job: it takes no tenant");
  if (!kind->platform && (job.tenant_id.empty() || job.tenant_id == kPlatformTenant))
    return Status::InvalidArgument(job.kind + " is a tenant's job: name the tenant");
  if (!job.payload.is_object())
    return Status::InvalidArgument(job.kind + ": the payload is a JSON object");
  for (const auto& [name, value] : job.payload.items()) {
    auto f = std::find_if(kind->fields.begin(), kind->fields.end(),
                          [&](const JobField& x) { return x.name == name; });
    if (f == kind->fields.end()) {
      std::string known;
      for (const auto& x : kind->fields) known += (known.empty() ? "" : ", ") + x.name;
      return Status::InvalidArgument(job.kind + ": unknown field '" + name + "' (" +
                                     (known.empty() ? std::string("it takes none") : "known: " + known) + ")");
    }
    const std::string where = job.kind + "." + name;
    switch (f->type) {
      case JobField::Type::kString: {
        if (!value.is_string()) return Status::InvalidArgument(where + " must be a string");
        const auto n = static_cast<std::int64_t>(value.get<std::string>().size());
        if (n < f->min || n > f->max)
          return Status::InvalidArgument(where + " must be " + std::to_string(f->min) + " to " +
                                         std::to_string(f->max) + " characters long");
        break;
      }
      case JobField::Type::kInt: {
        if (!value.is_number_integer()) return Status::InvalidArgument(where + " must be an integer");
        const auto v = value.get<std::int64_t>();
        if (v < f->min || v > f->max)
          return Status::InvalidArgument(where + " must be within " + std::to_string(f->min) +
                                         " .. " + std::to_string(f->max) + ", got " + std::to_string(v));
        break;
      }
      case JobField::Type::kBool:
        if (!value.is_boolean()) return Status::InvalidArgument(where + " must be " + TypeName(f->type));
        break;
    }
  }
  for (const JobField& f : kind->fields)
    if (f.required && !job.payload.contains(f.name))
      return Status::InvalidArgument(job.kind + ": field '" + f.name + "' is required (" + f.help + ")");
  return kind->check ? kind->check(job) : Status::Ok();
}

Result<std::int64_t> JobKinds::Enqueue(PgConnection& conn, NewJob job) const {
  MILLRACE_RETURN_IF_ERROR(Check(job));
  const JobKind* kind = Find(job.kind);
  const NewJob defaults;
  if (job.max_attempts == defaults.max_attempts) job.max_attempts = kind->max_attempts;
  if (job.backoff_ms == defaults.backoff_ms) job.backoff_ms = kind->backoff_ms;
  return EnqueueJob(conn, job);
}

JobRunner::JobRunner(JobRunnerOptions options, const JobKinds* kinds, MetricsRegistry* metrics)
    : o_(std::move(options)),
      kinds_(kinds),
      kind_names_(kinds->Names()),
      jobs_gauge_(metrics->AddGauge("mes_central_jobs", "Jobs in the queue by kind and state (all nodes)",
                                    {"kind", "state"})),
      oldest_gauge_(metrics->AddGauge("mes_central_job_oldest_ready_seconds",
                                      "How long the oldest job ready to run has waited, by kind",
                                      {"kind"})),
      finished_(metrics->AddCounter("mes_central_job_attempts_total",
                                    "Job attempts this node ended, by kind and the job's state after",
                                    {"kind", "state"})),
      seconds_(metrics->AddHistogram("mes_central_job_attempt_seconds",
                                     "Time of the job attempts this node ran, by kind", {"kind"},
                                     {0.01, 0.1, 1, 10, 60, 600, 3600})) {
  for (const auto& name : kind_names_) {
    for (const char* state : {"queued", "running", "succeeded", "dead", "cancelled"})
      jobs_gauge_.With({name, state}).Set(0);
    oldest_gauge_.With({name}).Set(0);
  }
  keepers_.emplace_back([this] { Renew(); });
  keepers_.emplace_back([this] { Housekeep(); });
  for (int i = 0; i < o_.workers; ++i) workers_.emplace_back([this, i] { Work(i); });
}

JobRunner::~JobRunner() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    for (auto& [id, r] : running_) {
      int none = kNone;
      r->why.compare_exchange_strong(none, kShutdown);
      r->stop = true;
    }
  }
  wake_.notify_all();
  // The leases stay renewed until every worker has given its job back.
  for (auto& t : workers_) t.join();
  {
    std::lock_guard<std::mutex> lock(mu_);
    keepers_stop_ = true;
  }
  wake_.notify_all();
  for (auto& t : keepers_) t.join();
}

bool JobRunner::KeeperPause(std::chrono::milliseconds d) {
  std::unique_lock<std::mutex> lock(mu_);
  return !wake_.wait_for(lock, d, [this] { return keepers_stop_; });
}

void JobRunner::Wake() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++wakes_;
  }
  wake_.notify_all();
}

void JobRunner::Work(int index) {
  const std::string worker = o_.node + "/" + std::to_string(index + 1);
  std::unique_ptr<PgConnection> conn;
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    const std::uint64_t seen = wakes_;
    lock.unlock();
    std::chrono::milliseconds pause = o_.poll;
    if (!conn) {
      auto c = PgConnection::Connect(o_.db_url);
      if (c.ok()) {
        conn = std::move(*c);
      } else {
        spdlog::warn("jobs: worker {} cannot reach PostgreSQL: {}", worker, c.status().ToString());
        pause = std::chrono::milliseconds(5000);
      }
    }
    if (conn) {
      auto claimed = ClaimJob(*conn, worker, static_cast<int>(o_.lease.count()), kind_names_);
      if (!claimed.ok()) {
        spdlog::warn("jobs: worker {} could not claim: {}", worker, claimed.status().ToString());
        conn.reset();
      } else if (*claimed) {
        RunOne(*conn, worker, std::move(**claimed));
        pause = std::chrono::milliseconds(0);  // look for the next one at once
      }
    }
    lock.lock();
    if (pause.count() > 0)
      wake_.wait_for(lock, pause, [&] { return stop_ || wakes_ != seen; });
  }
}

void JobRunner::RunOne(PgConnection& conn, const std::string& worker, Job job) {
  auto r = std::make_shared<Running>();
  r->job = std::move(job);
  JobContext ctx(r->job, conn, &r->stop);
  r->ctx = &ctx;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_) {
      r->why = kShutdown;
      r->stop = true;
    }
    // An attempt of this job still running here lost its lease (this one could not have
    // been claimed otherwise): it stops, and its end will be refused.
    auto& slot = running_[r->job.id];
    if (slot) {
      int none = kNone;
      slot->why.compare_exchange_strong(none, kCancel);
      slot->stop = true;
    }
    slot = r;
  }
  const Job& j = r->job;
  spdlog::info("jobs: {} runs job {} ({} of {}, attempt {} of {})", worker, j.id, j.kind,
               j.tenant_id, j.attempts, j.max_attempts);
  const JobKind* kind = kinds_->Find(j.kind);
  const auto started = std::chrono::steady_clock::now();
  Status s;
  try {
    s = kind ? kind->run(ctx) : Status::Internal("no handler for job kind " + j.kind);
  } catch (const std::exception& e) {
    s = Status::Internal(std::string("the job threw: ") + e.what());
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = running_.find(j.id);
    if (it != running_.end() && it->second == r) running_.erase(it);
  }
  JobOutcome outcome = JobOutcome::kSucceeded;
  if (!s.ok()) {
    const int why = r->why.load();
    outcome = why == kCancel     ? JobOutcome::kCancelled
              : why == kShutdown ? JobOutcome::kReleased
              : Permanent(s.code()) ? JobOutcome::kPermanent
                                    : JobOutcome::kFailed;
  }
  // The progress reported last goes with the end of the attempt.
  std::vector<LeaseRenewal> last;
  {
    std::lock_guard<std::mutex> lock(ctx.reported.mu);
    if (ctx.reported.done) last.push_back({j.id, worker, ctx.reported.done, ctx.reported.total, ctx.reported.unit});
  }
  if (!last.empty()) (void)RenewLeases(conn, last, static_cast<int>(o_.lease.count()));
  auto after = FinishJob(conn, j.id, worker, outcome, s.ok() ? "" : s.ToString(), ctx.result);
  seconds_.With({j.kind}).Observe(secs);
  if (!after.ok()) {
    spdlog::warn("jobs: job {} ({}) ended ({}) but its end could not be recorded: {}; its lease "
                 "will run out and another attempt will be made",
                 j.id, j.kind, JobOutcomeName(outcome), after.status().ToString());
    return;
  }
  if (!*after) {
    spdlog::warn("jobs: job {} ({}) was taken back from {} while it ran (its lease ran out)", j.id,
                 j.kind, worker);
    return;
  }
  finished_.With({j.kind, **after}).Increment();
  if (s.ok())
    spdlog::info("jobs: job {} ({} of {}) succeeded in {:.2f} s", j.id, j.kind, j.tenant_id, secs);
  else
    spdlog::warn("jobs: job {} ({} of {}) attempt {} ended {} after {:.2f} s: {}", j.id, j.kind,
                 j.tenant_id, j.attempts, **after, secs, s.ToString());
}

void JobRunner::Renew() {
  const auto every = std::min<std::chrono::milliseconds>(o_.lease / 3, std::chrono::milliseconds(5000));
  const std::string url = WithConnectTimeout(o_.db_url, static_cast<int>(std::max<long>(1, every.count() / 1000)));
  std::unique_ptr<PgConnection> conn;
  do {
    // The attempts running now, with their progress.
    std::map<std::int64_t, std::shared_ptr<Running>> attempts;
    std::vector<LeaseRenewal> renewals;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (const auto& [id, r] : running_) {
        attempts[id] = r;
        LeaseRenewal l{id, r->job.worker, {}, {}, {}};
        std::lock_guard<std::mutex> p(r->ctx->reported.mu);
        l.done = r->ctx->reported.done;
        l.total = r->ctx->reported.total;
        l.unit = r->ctx->reported.unit;
        renewals.push_back(std::move(l));
      }
    }
    if (renewals.empty()) continue;
    if (!conn) {
      auto c = PgConnection::Connect(url);
      if (!c.ok()) {
        spdlog::warn("jobs: the lease keeper cannot reach PostgreSQL: {}", c.status().ToString());
        continue;
      }
      conn = std::move(*c);
    }
    auto kept = RenewLeases(*conn, renewals, static_cast<int>(o_.lease.count()));
    if (!kept.ok()) {
      spdlog::warn("jobs: the lease keeper: {}", kept.status().ToString());
      conn.reset();
      continue;
    }
    // The very attempts renewed are told, never a later attempt of the same job.
    for (auto [id, keep] : *kept) {
      auto it = attempts.find(id);
      if (keep || it == attempts.end()) continue;
      const auto& r = it->second;
      int none = kNone;
      if (r->why.compare_exchange_strong(none, kCancel))
        spdlog::info("jobs: job {} ({}) is told to stop (cancelled, or its lease was lost)", id, r->job.kind);
      r->stop = true;
    }
  } while (KeeperPause(every));
}

void JobRunner::Housekeep() {
  const auto every = std::min<std::chrono::milliseconds>(o_.lease / 3, std::chrono::milliseconds(5000));
  std::unique_ptr<PgConnection> conn;
  std::map<std::string, std::int64_t> scheduled;  // kind/every -> the period last enqueued
  auto pruned = std::chrono::steady_clock::time_point{};
  do {
    if (!conn) {
      auto c = PgConnection::Connect(o_.db_url);
      if (!c.ok()) {
        spdlog::warn("jobs: the housekeeper cannot reach PostgreSQL: {}", c.status().ToString());
        continue;
      }
      conn = std::move(*c);
    }
    Status s = Status::Ok();
    auto counts = CountJobs(*conn);
    if (counts.ok()) {
      std::map<std::string, double> oldest;
      std::set<std::pair<std::string, std::string>> seen;
      for (const JobCount& c : *counts) {
        jobs_gauge_.With({c.kind, c.state}).Set(static_cast<double>(c.jobs));
        seen.insert({c.kind, c.state});
        if (c.state == "queued") oldest[c.kind] = c.oldest_ready_s;
      }
      for (const auto& name : kind_names_) {
        for (const char* state : {"queued", "running", "succeeded", "dead", "cancelled"})
          if (!seen.count({name, state})) jobs_gauge_.With({name, state}).Set(0);
        oldest_gauge_.With({name}).Set(oldest.count(name) ? oldest[name] : 0);
      }
    } else {
      s = counts.status();
    }
    const std::int64_t now_s = SystemClock()->NowMillis() / 1000;
    for (const JobSchedule& sc : o_.schedules) {
      if (!s.ok()) break;
      const std::int64_t period = now_s / std::max<std::int64_t>(sc.every.count(), 1);
      // A kind may have several schedules (pg_backup: full weekly, incr daily); where their
      // periods start together the dedupe key is the same and the first listed is queued.
      const std::string which = sc.kind + "/" + std::to_string(sc.every.count());
      if (scheduled[which] == period || !kinds_->Find(sc.kind)) continue;
      NewJob job;
      job.kind = sc.kind;
      job.payload = sc.payload;
      job.dedupe_key = sc.kind + "@" + std::to_string(period * sc.every.count());
      job.created_by = "schedule";
      auto id = kinds_->Enqueue(*conn, job);
      if (id.ok()) scheduled[which] = period;
      else s = id.status();
    }
    if (s.ok() && std::chrono::steady_clock::now() - pruned > std::chrono::hours(1)) {
      auto n = PruneJobs(*conn, o_.keep_finished_days, o_.keep_dead_days);
      if (n.ok()) {
        pruned = std::chrono::steady_clock::now();
        if (*n > 0) spdlog::info("jobs: pruned {} finished job(s)", *n);
        if (o_.hourly) o_.hourly();
      } else {
        s = n.status();
      }
    }
    if (!s.ok()) {
      spdlog::warn("jobs: the housekeeper: {}", s.ToString());
      conn.reset();
    }
  } while (KeeperPause(every));
}

}  // namespace millrace::central
