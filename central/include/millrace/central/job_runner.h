// JobRunner: a mes-central node's workers over the job queue (job_queue.h). Each worker
// has its own PostgreSQL connection, claims a job of a kind it knows, runs it and ends the
// attempt by what it returned; a keeper thread renews the leases of the node's running
// jobs with their progress (one statement for all of them), tells a job asked to stop,
// counts the queue for /metrics, and enqueues the periodic jobs (at most one per period
// over all nodes, by a dedupe key naming the period). Enqueues anywhere wake the workers
// (NOTIFY millrace_jobs via Wake()); otherwise they look every poll interval.
//
// A kind declares its payload's fields; an enqueue with an unknown field, a missing one or
// a value out of range is refused with an error that names it. A run that returns
// InvalidArgument, NotFound, PermissionDenied or FailedPrecondition goes to the dead letter
// at once (retrying cannot help); any other failure is retried with backoff.
//
// Thread-safety: Wake() and the accessors from any thread; JobContext from its job's
// worker thread only.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "millrace/central/job_queue.h"
#include "millrace/central/pg.h"
#include "millrace/common/metrics.h"

namespace millrace::central {

// One field of a kind's payload.
struct JobField {
  enum class Type { kString, kInt, kBool };
  std::string name;
  Type type = Type::kString;
  bool required = false;
  std::int64_t min = 0, max = 0;  // kInt: the range; kString: the length
  std::string help;
};

class JobContext {
 public:
  JobContext(const Job& job, PgConnection& conn, std::atomic<bool>* stop)
      : job_(job), conn_(conn), stop_(stop) {}
  const Job& job() const { return job_; }
  const nlohmann::json& payload() const { return job_.payload; }
  // The worker's connection, for the job's own statements.
  PgConnection& conn() { return conn_; }
  // Recorded with the next lease renewal (a few seconds), shown by `jobs list` with a
  // rate and an ETA.
  void Progress(std::int64_t done, std::optional<std::int64_t> total, const std::string& unit);
  // True once the job was cancelled, its lease was lost or the node stops: return soon
  // (with any status: the outcome is decided by why it stopped).
  bool Stopping() const { return stop_->load(); }
  // Attached to the job once it succeeded (shown by `jobs list`).
  nlohmann::json result;

  struct Reported {
    std::mutex mu;
    std::optional<std::int64_t> done, total;
    std::string unit;
  } reported;

 private:
  const Job& job_;
  PgConnection& conn_;
  std::atomic<bool>* stop_;
};

struct JobKind {
  std::string name;
  std::string help;
  bool platform = false;  // the platform's job (tenant '*'); otherwise a tenant's
  std::vector<JobField> fields;
  std::function<Status(JobContext&)> run;
  // Further checks of an enqueue past its fields' (optional): InvalidArgument naming what
  // is wrong.
  std::function<Status(const NewJob&)> check = nullptr;
  // Defaults of an enqueue of this kind.
  int max_attempts = 5;
  int backoff_ms = 5000;
};

// A periodic job: enqueued once per period by whichever node comes first.
struct JobSchedule {
  std::string kind;
  std::chrono::seconds every{3600};
  nlohmann::json payload = nlohmann::json::object();
};

class JobKinds {
 public:
  void Add(JobKind kind);
  const JobKind* Find(const std::string& name) const;
  std::vector<std::string> Names() const;
  const std::map<std::string, JobKind>& all() const { return kinds_; }
  // The job as enqueued, its payload checked against its kind (unknown kind, unknown or
  // missing field, value out of range: InvalidArgument naming it; a platform kind for a
  // tenant or a tenant's kind without one: InvalidArgument).
  Status Check(const NewJob& job) const;
  // Check(), then the kind's default attempts and backoff where `job` keeps the defaults,
  // then EnqueueJob().
  Result<std::int64_t> Enqueue(PgConnection& conn, NewJob job) const;

 private:
  std::map<std::string, JobKind> kinds_;
};

struct JobRunnerOptions {
  std::string db_url;
  std::string node;  // this node's name in workers' names ("<node>/<n>")
  int workers = 2;
  std::chrono::milliseconds lease{30'000};
  std::chrono::milliseconds poll{2'000};
  std::vector<JobSchedule> schedules;
  int keep_finished_days = 14;
  int keep_dead_days = 90;
  // Runs hourly on the keeper's thread with the pruning of finished jobs (what kinds left
  // on disk past their keeping).
  std::function<void()> hourly;
};

class JobRunner {
 public:
  // REQUIRES: kinds and metrics outlive the runner.
  JobRunner(JobRunnerOptions options, const JobKinds* kinds, MetricsRegistry* metrics);
  // Stops: running jobs are told to stop, and those that do not finish are given back to
  // the queue without counting the attempt.
  ~JobRunner();
  JobRunner(const JobRunner&) = delete;
  JobRunner& operator=(const JobRunner&) = delete;

  // A job may be ready: idle workers look now.
  void Wake();

 private:
  struct Running {
    Job job;
    JobContext* ctx = nullptr;
    std::atomic<bool> stop{false};
    std::atomic<int> why{0};  // why it was told to stop (job_runner.cc)
  };
  void Work(int index);
  // Renews the leases of this node's running jobs and tells those to stop that lost theirs
  // or were cancelled; nothing slow runs on its thread.
  void Renew();
  // Counts the queue for /metrics, enqueues the periodic jobs, prunes.
  void Housekeep();
  void RunOne(PgConnection& conn, const std::string& worker, Job job);
  // Waits up to `d` for the keepers' stop; false once they are to stop.
  bool KeeperPause(std::chrono::milliseconds d);

  const JobRunnerOptions o_;
  const JobKinds* kinds_;
  std::vector<std::string> kind_names_;
  Family<Gauge>& jobs_gauge_;
  Family<Gauge>& oldest_gauge_;
  Family<Counter>& finished_;
  Family<Histogram>& seconds_;

  std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;          // the workers stop
  bool keepers_stop_ = false;  // then the keepers (after the workers gave their jobs back)
  std::uint64_t wakes_ = 0;
  // This node's running attempts by job id (one attempt of a job at a time: a newer one
  // replaces an attempt whose lease was lost, which is told to stop).
  std::map<std::int64_t, std::shared_ptr<Running>> running_;
  std::vector<std::thread> workers_, keepers_;
};

}  // namespace millrace::central
