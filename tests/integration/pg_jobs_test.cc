// The job queue against real PostgreSQL: claim order (priority, then fairness between
// tenants), concurrent claimers, backoff with jitter and the dead letter, leases that run
// out, cancel and retry, dedupe keys; and the runner: kinds run, retried, refused,
// cancelled while running, and given back when the node stops.
#include <gtest/gtest.h>

#include <atomic>
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "millrace/central/job_kinds.h"
#include "millrace/central/job_queue.h"
#include "millrace/central/job_runner.h"
#include "millrace/central/reports.h"
#include "millrace/common/clock.h"
#include "test_pg.h"

namespace millrace::central {
namespace {

using namespace std::chrono_literals;

class JobQueueTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = testing::CreateCentralDatabase();
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(*db);
  }
  PgConnection& app() { return *db_.app; }
  std::int64_t Enqueue(const std::string& tenant, const std::string& kind, int priority = 0,
                       int max_attempts = 5, int backoff_ms = 5000) {
    NewJob j;
    j.tenant_id = tenant;
    j.kind = kind;
    j.priority = priority;
    j.max_attempts = max_attempts;
    j.backoff_ms = backoff_ms;
    j.created_by = "test";
    auto id = EnqueueJob(app(), j);
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    return id.ok() ? *id : 0;
  }
  Job Claim(const std::string& worker, int lease_ms = 30000) {
    auto j = ClaimJob(app(), worker, lease_ms, {});
    EXPECT_TRUE(j.ok()) << j.status().ToString();
    EXPECT_TRUE(j.ok() && j->has_value()) << "nothing to claim";
    return j.ok() && *j ? **j : Job{};
  }
  Job Get(std::int64_t id) {
    auto j = GetJob(app(), id, "");
    EXPECT_TRUE(j.ok() && *j);
    return j.ok() && *j ? **j : Job{};
  }
  testing::CentralDatabase db_;
};

TEST_F(JobQueueTest, ClaimsByPriorityThenTakeTurnsBetweenTenants) {
  std::vector<std::int64_t> a, b;
  for (int i = 0; i < 4; ++i) a.push_back(Enqueue("acme", "export"));
  for (int i = 0; i < 2; ++i) b.push_back(Enqueue("bolt", "export"));
  const std::int64_t urgent = Enqueue("acme", "export", 10);
  // The urgent one first; then acme and bolt take turns (bolt had nothing claimed yet),
  // each in order of age; then the rest of acme.
  std::vector<std::int64_t> order;
  for (int i = 0; i < 7; ++i) {
    Job j = Claim("w");
    order.push_back(j.id);
    ASSERT_EQ(FinishJob(app(), j.id, "w", JobOutcome::kSucceeded, "")->value(), "succeeded");
  }
  EXPECT_EQ(order, (std::vector<std::int64_t>{urgent, b[0], a[0], b[1], a[1], a[2], a[3]}));
  auto none = ClaimJob(app(), "w", 1000, {});
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(*none);
}

TEST_F(JobQueueTest, ATenantWithJobsRunningWaitsBehindOneWithNone) {
  for (int i = 0; i < 3; ++i) Enqueue("acme", "export");
  Job first = Claim("w1");  // acme now has one running
  EXPECT_EQ(first.tenant_id, "acme");
  const std::int64_t bolt = Enqueue("bolt", "export");
  EXPECT_EQ(Claim("w2").id, bolt);
}

TEST_F(JobQueueTest, ConcurrentClaimersTakeEveryJobExactlyOnce) {
  for (int i = 0; i < 120; ++i) Enqueue(i % 3 ? "acme" : "bolt", "export");
  std::mutex mu;
  std::multiset<std::int64_t> seen;
  std::vector<std::thread> workers;
  for (int w = 0; w < 4; ++w) {
    workers.emplace_back([&, w] {
      auto conn = db_.db->Connect("millrace_app");
      ASSERT_TRUE(conn.ok());
      const std::string name = "w" + std::to_string(w);
      for (;;) {
        auto j = ClaimJob(**conn, name, 30000, {});
        ASSERT_TRUE(j.ok()) << j.status().ToString();
        if (!*j) return;
        {
          std::lock_guard<std::mutex> lock(mu);
          seen.insert((*j)->id);
        }
        ASSERT_TRUE(FinishJob(**conn, (*j)->id, name, JobOutcome::kSucceeded, "").ok());
      }
    });
  }
  for (auto& t : workers) t.join();
  EXPECT_EQ(seen.size(), 120u);
  EXPECT_EQ(std::set<std::int64_t>(seen.begin(), seen.end()).size(), 120u);
}

TEST_F(JobQueueTest, AFailureBacksOffWithJitterAndTheLastAttemptGoesToTheDeadLetter) {
  const std::int64_t id = Enqueue("acme", "export", 0, 2, 10'000);
  Claim("w");
  const std::int64_t before = SystemClock()->NowMillis();
  ASSERT_EQ(FinishJob(app(), id, "w", JobOutcome::kFailed, "disk full")->value(), "queued");
  Job j = Get(id);
  // The first retry waits backoff_ms times a jitter of 0.5 .. 1.5.
  EXPECT_GE(j.run_after_ms - before, 5'000 - 1'000);
  EXPECT_LE(j.run_after_ms - before, 15'000 + 1'000);
  EXPECT_EQ(j.last_error, "disk full");
  auto early = ClaimJob(app(), "w", 1000, {});
  ASSERT_TRUE(early.ok());
  EXPECT_FALSE(*early) << "a job backing off is not claimed";
  ASSERT_TRUE(db_.admin->Exec("UPDATE millrace.job SET run_after = now()").ok());
  EXPECT_EQ(Claim("w").attempts, 2);
  ASSERT_EQ(FinishJob(app(), id, "w", JobOutcome::kFailed, "disk still full")->value(), "dead");
  j = Get(id);
  EXPECT_EQ(j.state, "dead");
  EXPECT_EQ(j.last_error, "disk still full");
  EXPECT_GT(j.finished_ms, 0);
  // A permanent failure skips the remaining attempts.
  const std::int64_t bad = Enqueue("acme", "export", 0, 5);
  Claim("w");
  EXPECT_EQ(FinishJob(app(), bad, "w", JobOutcome::kPermanent, "no such site")->value(), "dead");
}

TEST_F(JobQueueTest, ALeaseThatRunsOutGivesTheJobToTheNextClaimer) {
  const std::int64_t id = Enqueue("acme", "export", 0, 2);
  EXPECT_EQ(Claim("node-a/1", 3000).id, id);
  // Renewed, it stays node-a's.
  std::this_thread::sleep_for(200ms);
  auto kept = RenewLeases(app(), {{id, "node-a/1", 5, 10, "rows"}}, 3000);
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ(*kept, (std::vector<std::pair<std::int64_t, bool>>{{id, true}}));
  auto none = ClaimJob(app(), "node-b/1", 3000, {});
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(*none);
  // node-a stops renewing (killed): past the lease node-b gets it, and the attempt counts.
  std::this_thread::sleep_for(3200ms);
  Job again = Claim("node-b/1", 300);
  EXPECT_EQ(again.id, id);
  EXPECT_EQ(again.attempts, 2);
  EXPECT_NE(Get(id).last_error.find("node-a/1 stopped renewing its lease"), std::string::npos);
  // node-a coming back can neither renew nor end it.
  kept = RenewLeases(app(), {{id, "node-a/1", 6, 10, "rows"}}, 3000);
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ(*kept, (std::vector<std::pair<std::int64_t, bool>>{{id, false}}));
  auto late = FinishJob(app(), id, "node-a/1", JobOutcome::kSucceeded, "");
  ASSERT_TRUE(late.ok());
  EXPECT_FALSE(*late);
  // Out of attempts, an expired lease is the dead letter.
  std::this_thread::sleep_for(400ms);
  ASSERT_TRUE(ReclaimExpiredLeases(app()).ok());
  EXPECT_EQ(Get(id).state, "dead");
}

TEST_F(JobQueueTest, CancelAndRetry) {
  const std::int64_t queued = Enqueue("acme", "export");
  EXPECT_EQ(*CancelJob(app(), queued, ""), "cancelled");
  EXPECT_EQ(RetryJob(app(), queued, "bolt").status().code(), StatusCode::kNotFound)
      << "another tenant's job is not found";
  EXPECT_EQ(*RetryJob(app(), queued, "acme"), "queued");
  EXPECT_EQ(Get(queued).attempts, 0);
  EXPECT_EQ(RetryJob(app(), queued, "").status().code(), StatusCode::kFailedPrecondition);
  Job running = Claim("w");
  EXPECT_EQ(running.id, queued);
  EXPECT_EQ(*CancelJob(app(), queued, ""), "running");
  auto kept = RenewLeases(app(), {{queued, "w", {}, {}, ""}}, 30000);
  ASSERT_TRUE(kept.ok());
  EXPECT_FALSE(kept->at(0).second) << "the worker is told to stop";
  // However the worker ends it, a job asked to stop ends cancelled.
  EXPECT_EQ(FinishJob(app(), queued, "w", JobOutcome::kFailed, "stopped")->value(), "cancelled");
  EXPECT_EQ(CancelJob(app(), 999999, "").status().code(), StatusCode::kNotFound);
}

TEST_F(JobQueueTest, TheAppRoleReachesTheQueueOnlyThroughItsFunctions) {
  Enqueue("acme", "export");
  for (const char* sql : {"SELECT count(*) FROM millrace.job", "UPDATE millrace.job SET state = 'dead'",
                          "DELETE FROM millrace.job_tenant_turn"})
    EXPECT_EQ(app().Query(sql).status().code(), StatusCode::kPermissionDenied) << sql;
}

TEST_F(JobQueueTest, ADedupeKeyMakesAnEnqueueIdempotentAndFieldsAreChecked) {
  NewJob j;
  j.kind = "partition_maintenance";
  j.dedupe_key = "partition_maintenance@42";
  const std::int64_t first = *EnqueueJob(app(), j);
  EXPECT_EQ(*EnqueueJob(app(), j), first);
  j.dedupe_key.clear();
  EXPECT_NE(*EnqueueJob(app(), j), first);
  j.tenant_id = "../..";
  auto odd = EnqueueJob(app(), j);
  EXPECT_EQ(odd.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(odd.status().message().find("a job's tenant is a tenant id"), std::string::npos);
  j.tenant_id = "*";
  j.priority = 101;
  auto bad = EnqueueJob(app(), j);
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("priority"), std::string::npos);
}

TEST(JobKindsTest, APayloadIsCheckedAgainstItsKindNamingWhatIsWrong) {
  const JobKinds kinds = CentralJobKinds();
  const auto check = [&](const std::string& tenant, const std::string& kind, const char* payload) {
    NewJob j;
    j.tenant_id = tenant;
    j.kind = kind;
    j.payload = nlohmann::json::parse(payload);
    return kinds.Check(j);
  };
  EXPECT_TRUE(check("acme", "rollup_rebuild", R"({"site":"lyon"})").ok());
  EXPECT_TRUE(check("*", "partition_maintenance", R"({"months_ahead":6})").ok());
  const auto refused = [&](Status s, const std::string& words) {
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(s.message().find(words), std::string::npos) << s.message();
  };
  refused(check("acme", "rollup_rebuld", "{}"), "unknown job kind 'rollup_rebuld'");
  refused(check("acme", "rollup_rebuild", R"({"site":"lyon","color":1})"), "unknown field 'color'");
  refused(check("acme", "rollup_rebuild", "{}"), "field 'site' is required");
  refused(check("acme", "rollup_rebuild", R"({"site":7})"), "rollup_rebuild.site must be a string");
  refused(check("acme", "rollup_rebuild", R"({"site":"lyon","from_ms":5})"), "rollup_rebuild.from_ms must be within");
  refused(check("*", "partition_maintenance", R"({"months_ahead":99})"), "months_ahead must be within 0 .. 24");
  refused(check("acme", "partition_maintenance", "{}"), "platform job");
  refused(check("*", "rollup_rebuild", R"({"site":"lyon"})"), "name the tenant");
}

// ---- the runner ----

class JobRunnerTest : public JobQueueTest {
 protected:
  JobRunnerOptions Options(int workers) {
    JobRunnerOptions o;
    o.db_url = db_.db->ConnInfo("millrace_app");
    o.node = "test";
    o.workers = workers;
    o.lease = 3000ms;  // renewed every second: a busy machine does not lose it
    o.poll = 50ms;
    return o;
  }
  std::int64_t Enqueue(const std::string& kind, nlohmann::json payload = nlohmann::json::object(),
                       int max_attempts = 3) {
    NewJob j;
    j.tenant_id = "acme";
    j.kind = kind;
    j.payload = std::move(payload);
    j.max_attempts = max_attempts;
    j.backoff_ms = 20;
    auto id = kinds_.Enqueue(app(), j);
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    return id.ok() ? *id : 0;
  }
  Job WaitFor(std::int64_t id, const std::string& state) {
    Job j;
    for (int i = 0; i < 300; ++i) {
      j = Get(id);
      if (j.state == state) return j;
      std::this_thread::sleep_for(20ms);
    }
    ADD_FAILURE() << "job " << id << " is " << j.state << ", not " << state << " (" << j.last_error << ")";
    return j;
  }
  JobKinds kinds_;
  std::atomic<int> flaky_calls_{0};
  std::atomic<bool> slow_started_{false};
};

TEST_F(JobRunnerTest, RunsRetriesRefusesAndStopsJobs) {
  kinds_.Add({"echo", "answers its payload", false,
              {{"word", JobField::Type::kString, true, 1, 20, ""}},
              [](JobContext& ctx) {
                ctx.result = {{"said", ctx.payload()["word"]}};
                return Status::Ok();
              }});
  kinds_.Add({"flaky", "fails once, then works", false, {}, [this](JobContext&) {
                return ++flaky_calls_ == 1 ? Status::Unavailable("the store is away") : Status::Ok();
              }});
  kinds_.Add({"bad", "refuses its input", false, {}, [](JobContext&) {
                return Status::InvalidArgument("no such site");
              }});
  kinds_.Add({"slow", "counts until told to stop", false, {}, [this](JobContext& ctx) {
                slow_started_ = true;
                for (std::int64_t i = 0; !ctx.Stopping(); ++i) {
                  ctx.Progress(i, 1'000'000, "steps");
                  std::this_thread::sleep_for(5ms);
                }
                return Status::Unavailable("stopped");
              }});
  MetricsRegistry metrics;
  JobRunner runner(Options(2), &kinds_, &metrics);
  const std::int64_t echo = Enqueue("echo", {{"word", "hello"}});
  const std::int64_t flaky = Enqueue("flaky");
  const std::int64_t bad = Enqueue("bad");
  runner.Wake();
  EXPECT_EQ(WaitFor(echo, "succeeded").result, (nlohmann::json{{"said", "hello"}}));
  EXPECT_EQ(WaitFor(flaky, "succeeded").attempts, 2) << "retried after the first failure";
  Job dead = WaitFor(bad, "dead");
  EXPECT_EQ(dead.attempts, 1) << "a refusal is not retried";
  EXPECT_NE(dead.last_error.find("no such site"), std::string::npos);

  const std::int64_t slow = Enqueue("slow");
  runner.Wake();
  Job running = WaitFor(slow, "running");
  for (int i = 0; i < 100 && !(running.progress_done && *running.progress_done > 0); ++i) {
    std::this_thread::sleep_for(50ms);
    running = Get(slow);
  }
  ASSERT_TRUE(running.progress_done) << "progress reaches the queue with the lease renewals";
  EXPECT_EQ(running.progress_total, 1'000'000);
  EXPECT_EQ(running.progress_unit, "steps");
  const nlohmann::json shown = JobJson(running, SystemClock()->NowMillis());
  EXPECT_TRUE(shown["progress"].contains("rate_per_s"));
  EXPECT_TRUE(shown["progress"].contains("eta_s"));
  ASSERT_TRUE(CancelJob(app(), slow, "acme").ok());
  EXPECT_EQ(WaitFor(slow, "cancelled").attempts, 1);
  // /metrics: the queue by kind and state, as the keeper last counted it.
  std::string text;
  for (int i = 0; i < 100; ++i) {
    text = metrics.Render();
    if (text.find("mes_central_jobs{kind=\"bad\",state=\"dead\"} 1") != std::string::npos) break;
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_NE(text.find("mes_central_jobs{kind=\"bad\",state=\"dead\"} 1"), std::string::npos) << text;
  EXPECT_NE(text.find("mes_central_job_attempts_total{kind=\"flaky\",state=\"queued\"} 1"), std::string::npos);
  EXPECT_NE(text.find("mes_central_job_attempts_total{kind=\"flaky\",state=\"succeeded\"} 1"), std::string::npos);
}

TEST_F(JobRunnerTest, ANodeThatStopsGivesItsRunningJobsBackWithoutCountingTheAttempt) {
  kinds_.Add({"slow", "runs until told to stop", false, {}, [this](JobContext& ctx) {
                slow_started_ = true;
                while (!ctx.Stopping()) std::this_thread::sleep_for(5ms);
                return Status::Unavailable("stopped");
              }});
  const std::int64_t id = Enqueue("slow");
  {
    MetricsRegistry metrics;
    JobRunner runner(Options(1), &kinds_, &metrics);
    WaitFor(id, "running");
  }
  Job j = Get(id);
  EXPECT_EQ(j.state, "queued");
  EXPECT_EQ(j.attempts, 0);
}

TEST_F(JobRunnerTest, PeriodicJobsAreEnqueuedOncePerPeriodOverAllNodes) {
  const JobKinds central = CentralJobKinds();
  JobRunnerOptions o = Options(1);
  o.schedules = CentralJobSchedules();
  {
    MetricsRegistry m1, m2;
    JobRunner a(o, &central, &m1);
    o.node = "other";
    JobRunner b(o, &central, &m2);
    for (int i = 0; i < 200; ++i) {
      auto done = ListJobs(app(), {.tenant_id = "*", .state = "succeeded", .kind = "partition_maintenance", .before = 0, .limit = 10});
      ASSERT_TRUE(done.ok());
      if (!done->empty()) break;
      std::this_thread::sleep_for(25ms);
    }
    std::this_thread::sleep_for(300ms);
  }
  auto jobs = ListJobs(app(), {.tenant_id = "*", .state = "", .kind = "partition_maintenance", .before = 0, .limit = 10});
  ASSERT_TRUE(jobs.ok());
  ASSERT_EQ(jobs->size(), 1u) << "two nodes, one period: one job";
  EXPECT_EQ((*jobs)[0].state, "succeeded");
  EXPECT_EQ((*jobs)[0].created_by, "schedule");
  EXPECT_TRUE((*jobs)[0].result.contains("partitions_made"));
}

TEST_F(JobRunnerTest, AReportExportWritesEveryPageOnceAsTheReportsCsv) {
  ASSERT_TRUE(db_.admin->Exec("INSERT INTO millrace.sync_tenant (tenant_id, name) VALUES ('acme', 'Acme');"
                              "INSERT INTO millrace.sync_site (tenant_id, site_id) SELECT 'acme', 'site-' || g "
                              "FROM generate_series(1, 5) g").ok());
  const std::string dir = ::testing::TempDir() + "/millrace-exports-" + std::to_string(getpid());
  std::filesystem::remove_all(dir);
  const JobKinds central = CentralJobKinds({dir, "node-x", 30, 2, {}, {}, std::nullopt, "", ""});  // pages of two sites
  const auto enqueue = [&](const char* payload) {
    NewJob j;
    j.tenant_id = "acme";
    j.kind = "report_export";
    j.payload = nlohmann::json::parse(payload);
    return central.Enqueue(app(), j);
  };
  for (auto [payload, words] : std::vector<std::pair<const char*, std::string>>{
           {R"({"report":"nope"})", "no report 'nope'"},
           {R"({"report":"sync-health","query":"limit=5"})", "'limit' is not taken"},
           {R"({"report":"oee","query":"colour=red"})", "colour"}}) {
    auto refused = enqueue(payload);
    EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument) << payload;
    EXPECT_NE(refused.status().message().find(words), std::string::npos) << refused.status().message();
  }
  auto id = enqueue(R"({"report":"sync-health"})");
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  MetricsRegistry metrics;
  {
    JobRunner runner(Options(1), &central, &metrics);
    Job done = WaitFor(*id, "succeeded");
    EXPECT_EQ(done.result["rows"], 5);
    EXPECT_EQ(done.result["node"], "node-x");
    EXPECT_EQ(done.progress_done, 5);
    auto path = ExportFilePath(dir, done);
    ASSERT_TRUE(path.ok()) << path.status().ToString();
    std::ifstream in(*path, std::ios::binary);
    const std::string file((std::istreambuf_iterator<char>(in)), {});
    // The same CSV as the whole report read at once.
    auto report = db_.db->Connect("millrace_app");
    ASSERT_TRUE(report.ok());
    ASSERT_TRUE((*report)->Exec("SET ROLE millrace_report").ok());
    auto q = ParseReportQuery(*FindReport("sync-health"), {}, "text/csv", "2026-12-02", "acme", false);
    ASSERT_TRUE(q.ok());
    q->limit = 1000;
    auto whole = RunReport(**report, *q);
    ASSERT_TRUE(whole.ok()) << whole.status().ToString();
    EXPECT_EQ(file, RenderReportCsv(*whole));
    EXPECT_EQ(std::count(file.begin(), file.end(), '\n'), 6) << file;
  }
  EXPECT_EQ(PruneExports(dir, 1), 0) << "a fresh export is kept";
  // Two days old, it goes.
  const auto file = std::filesystem::path(dir) / "acme" / (std::to_string(*id) + "-sync-health.csv");
  ASSERT_TRUE(std::filesystem::exists(file));
  std::filesystem::last_write_time(file, std::filesystem::file_time_type::clock::now() - std::chrono::hours(48));
  EXPECT_EQ(PruneExports(dir, 1), 1);
  EXPECT_FALSE(std::filesystem::exists(file));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace millrace::central
