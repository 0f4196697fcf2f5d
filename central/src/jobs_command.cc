#include "jobs_command.h"

#include <chrono>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <thread>

#include "millrace/central/central_audit.h"
#include "millrace/central/central_config.h"
#include "millrace/central/job_kinds.h"
#include "millrace/central/job_queue.h"
#include "millrace/common/clock.h"
#include "millrace/common/logging.h"

namespace millrace::central {
namespace {

int Fail(const Status& s) {
  std::cerr << "mes-central jobs: " << s.ToString() << "\n";
  return s.code() == StatusCode::kInvalidArgument ? 2 : 1;
}

std::string Age(std::int64_t ms) {
  if (ms <= 0) return "-";
  const std::int64_t s = (SystemClock()->NowMillis() - ms) / 1000;
  std::ostringstream o;
  if (s < 120) o << s << "s ago";
  else if (s < 7200) o << s / 60 << "m ago";
  else if (s < 2 * 86400) o << s / 3600 << "h ago";
  else o << s / 86400 << "d ago";
  return o.str();
}

// "12/40 days, 3.1/s, ETA 9 s" from a job's JSON progress.
std::string ProgressText(const nlohmann::json& j) {
  if (!j.contains("progress")) return "";
  const auto& p = j["progress"];
  std::ostringstream o;
  o << p.value("done", std::int64_t{0});
  if (p.contains("total")) o << "/" << p["total"].get<std::int64_t>();
  o << " " << p.value("unit", std::string());
  if (p.contains("rate_per_s")) o << ", " << std::fixed << std::setprecision(1) << p["rate_per_s"].get<double>() << "/s";
  if (p.contains("eta_s")) o << ", ETA " << static_cast<std::int64_t>(p["eta_s"].get<double>() + 0.5) << " s";
  return o.str();
}

void PrintJob(const Job& job, bool json, std::int64_t now) {
  const nlohmann::json j = JobJson(job, now);
  if (json) {
    std::cout << j.dump() << "\n";
    return;
  }
  std::cout << job.id << "\t" << job.kind << "\t" << job.tenant_id << "\t" << job.state << "\t"
            << "attempt " << job.attempts << "/" << job.max_attempts << "\tcreated " << Age(job.created_ms);
  const std::string progress = ProgressText(j);
  if (!progress.empty()) std::cout << "\t" << progress;
  if (!job.last_error.empty() && job.state != "succeeded") std::cout << "\tlast error: " << job.last_error;
  std::cout << "\n";
}

}  // namespace

void AddJobsCommand(CLI::App& app, JobsCommand* c) {
  c->root = app.add_subcommand(
      "jobs",
      "The job queue (PostgreSQL, shared by every mes-central node): list, show, enqueue, "
      "retry and cancel jobs, and list the kinds");
  c->root->require_subcommand(1);
  const auto config = [c](CLI::App* cmd) {
    cmd->add_option("-c,--config", c->config_path, "mes-central configuration file (TOML)")
        ->required()
        ->check(CLI::ExistingFile);
  };
  c->list = c->root->add_subcommand("list", "Jobs newest first, with state, attempts, progress (done/total, rate, ETA) and the last error");
  config(c->list);
  c->list->add_option("--tenant", c->tenant, "Only this tenant's jobs ('*': the platform's)");
  c->list->add_option("--state", c->state, "Only jobs in this state: queued, running, succeeded, dead (the dead letter) or cancelled");
  c->list->add_option("--kind", c->kind, "Only jobs of this kind");
  c->list->add_option("--limit", c->limit, "At most this many (1-10000, default 50)")->check(CLI::Range(1, 10000));
  c->list->add_option("--before", c->before, "Only jobs older than this id (the next page: the last id listed)")->check(CLI::PositiveNumber);
  c->list->add_flag("--json", c->json, "One JSON object per line");
  c->show = c->root->add_subcommand("show", "One job, as JSON");
  config(c->show);
  c->show->add_option("id", c->id, "Job id")->required();
  c->enqueue = c->root->add_subcommand("enqueue", "Queue a job of a kind ('jobs kinds' lists them and their payload fields)");
  config(c->enqueue);
  c->enqueue->add_option("kind", c->kind, "The job's kind")->required();
  c->enqueue->add_option("--tenant", c->tenant, "The tenant (a tenant's kinds need one; platform kinds take none)");
  c->enqueue->add_option("--payload", c->payload, "The job's fields as a JSON object (default {})");
  c->enqueue->add_option("--priority", c->priority, "-100 .. 100, higher first (default 0)")->check(CLI::Range(-100, 100));
  c->enqueue->add_option("--max-attempts", c->max_attempts, "Attempts before the dead letter (1-100; default: the kind's)")->check(CLI::Range(1, 100));
  c->enqueue->add_option("--actor", c->actor, "Who enqueues (default: $SUDO_USER or $USER @ host)");
  c->enqueue->add_flag("--wait", c->wait, "Wait until the job ends, showing its progress; exit 0 only if it succeeded");
  c->retry = c->root->add_subcommand("retry", "Put a dead or cancelled job back in the queue, its attempts reset");
  config(c->retry);
  c->retry->add_option("id", c->id, "Job id")->required();
  c->cancel = c->root->add_subcommand("cancel", "Cancel a job: a queued one at once, a running one at its next lease renewal");
  config(c->cancel);
  c->cancel->add_option("id", c->id, "Job id")->required();
  c->kinds = c->root->add_subcommand("kinds", "The kinds of job and their payload fields");
}

int RunJobsCommand(const JobsCommand& c) {
  (void)InitLogging({.level = "warn", .format = "human", .program = "mes-central"});
  // Every kind, for listing and checking an enqueue; the nodes run what they are set up for
  // (pg_backup only where [pg_backup] is configured).
  const JobKinds kinds =
      CentralJobKinds({"(the node's [jobs] export_dir)", "", 300, 1000, {}, {}, PgBackupJobOptions{}, "", ""});
  if (*c.kinds) {
    for (const auto& [name, k] : kinds.all()) {
      std::cout << name << (k.platform ? " (platform)" : " (a tenant's)") << ": " << k.help << "\n";
      for (const JobField& f : k.fields)
        std::cout << "  " << f.name << (f.required ? " (required)" : "") << ": " << f.help << "\n";
    }
    return 0;
  }
  auto config = LoadCentralConfig(c.config_path);
  if (!config.ok()) return Fail(config.status());
  auto conn = PgConnection::Connect(config->database_url);
  if (!conn.ok()) return Fail(conn.status());
  const std::int64_t now = SystemClock()->NowMillis();
  if (*c.list) {
    auto jobs = ListJobs(**conn, {.tenant_id = c.tenant, .state = c.state, .kind = c.kind, .before = c.before, .limit = c.limit});
    if (!jobs.ok()) return Fail(jobs.status());
    for (const Job& j : *jobs) PrintJob(j, c.json, now);
    return 0;
  }
  if (*c.show) {
    auto job = GetJob(**conn, c.id, "");
    if (!job.ok()) return Fail(job.status());
    if (!*job) return Fail(Status::NotFound("no job " + std::to_string(c.id)));
    std::cout << JobJson(**job, now).dump(2) << "\n";
    return 0;
  }
  if (*c.retry || *c.cancel) {
    auto state = *c.retry ? RetryJob(**conn, c.id, "") : CancelJob(**conn, c.id, "");
    if (!state.ok()) return Fail(state.status());
    if (*c.cancel && *state == "running")
      std::cout << "job " << c.id << " is asked to stop (it stops at its next lease renewal)\n";
    else if (*c.cancel && *state != "cancelled")
      std::cout << "job " << c.id << " had already ended: " << *state << "\n";
    else
      std::cout << "job " << c.id << " is " << *state << "\n";
    return 0;
  }
  // enqueue
  NewJob job;
  job.kind = c.kind;
  const JobKind* kind = kinds.Find(c.kind);
  job.tenant_id = c.tenant.empty() && kind && kind->platform ? kPlatformTenant : c.tenant;
  job.payload = nlohmann::json::parse(c.payload, nullptr, false);
  if (job.payload.is_discarded()) return Fail(Status::InvalidArgument("--payload is not valid JSON"));
  job.priority = c.priority;
  if (c.max_attempts) job.max_attempts = c.max_attempts;
  job.created_by = CommandLineActor(c.actor);
  auto id = kinds.Enqueue(**conn, job);
  if (!id.ok()) return Fail(id.status());
  std::cout << "job " << *id << " (" << job.kind << ") queued\n" << std::flush;
  if (!c.wait) return 0;
  for (;;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    auto j = GetJob(**conn, *id, "");
    if (!j.ok()) return Fail(j.status());
    if (!*j) return Fail(Status::NotFound("job " + std::to_string(*id) + " is gone"));
    const nlohmann::json js = JobJson(**j, SystemClock()->NowMillis());
    std::cerr << "\r" << (*j)->state << " " << ProgressText(js) << "      " << std::flush;
    if ((*j)->state == "succeeded" || (*j)->state == "dead" || (*j)->state == "cancelled") {
      std::cerr << "\n";
      std::cout << js.dump() << "\n";
      return (*j)->state == "succeeded" ? 0 : 1;
    }
  }
}

}  // namespace millrace::central
