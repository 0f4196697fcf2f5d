// Reports through a pooler and from a replica, over a real PostgreSQL: a pool for a pooler in
// transaction mode sets its role and statement timeout per transaction and nothing per
// session; ReportReads reads a replica while it answers and keeps up, and falls back to the
// primary (a circuit breaker) when it does not, saying so in the answer and on /metrics.
// (A real streaming replica falling behind and going down is in tests/integration/
// cluster_test.sh, label long.)
#include <gtest/gtest.h>

#include <thread>

#include "millrace/central/central_store.h"
#include "millrace/central/replica_reads.h"
#include "millrace/central/report_routes.h"
#include "test_pg.h"

namespace millrace::central {
namespace {

using json = nlohmann::json;
using millrace::testing::TestDatabase;

class PgReplicaReadsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto central = millrace::testing::CreateCentralDatabase();
    ASSERT_TRUE(central.ok()) << central.status().ToString();
    db_ = std::move(central->db);
    admin_ = std::move(central->admin);
    ASSERT_TRUE(admin_->Exec("INSERT INTO millrace.sync_tenant (tenant_id, name) VALUES ('acme', 'Acme'); "
                             "INSERT INTO millrace.sync_site (tenant_id, site_id) VALUES ('acme', 'lyon')")
                    .ok());
  }

  PgPoolOptions Options(const std::string& conninfo, bool pooler) {
    PgPoolOptions o;
    o.conninfo = conninfo;
    o.name = "reports";
    o.size = 2;
    o.role = "millrace_report";
    o.statement_timeout_ms = 1234;
    o.transaction_pooler = pooler;
    return o;
  }

  std::string Get(PgConnection& conn, const std::string& sql) {
    auto r = conn.Query(sql);
    EXPECT_TRUE(r.ok()) << sql << ": " << r.status().ToString();
    return r.ok() ? r->GetString(0, 0) : "";
  }

  std::unique_ptr<TestDatabase> db_;
  std::unique_ptr<PgConnection> admin_;
};

// Through PgBouncer in transaction mode a session's SET lands on whichever server connection
// the pooler lent and stays there for its next client: a pool for a pooler sets nothing per
// session, and each transaction it opens has the role and timeout.
TEST_F(PgReplicaReadsTest, APoolForATransactionPoolerSetsRoleAndTimeoutPerTransactionOnly) {
  PgPool pooled(Options(db_->ConnInfo("millrace_app"), true));
  auto lease = pooled.Acquire();
  ASSERT_TRUE(lease.ok()) << lease.status().ToString();
  EXPECT_EQ(Get(**lease, "SELECT current_user"), "millrace_app");
  EXPECT_EQ(Get(**lease, "SHOW statement_timeout"), "0");
  ASSERT_TRUE(BeginTenant(**lease, "acme").ok());
  EXPECT_EQ(Get(**lease, "SELECT current_user"), "millrace_report");
  EXPECT_EQ(Get(**lease, "SHOW statement_timeout"), "1234ms");
  EXPECT_EQ(Get(**lease, "SELECT current_setting('app.tenant_id')"), "acme");
  ASSERT_TRUE((*lease)->Exec("COMMIT").ok());
  EXPECT_EQ(Get(**lease, "SELECT current_user"), "millrace_app");

  // Without a pooler the session has them as well (statements outside a transaction too).
  PgPool direct(Options(db_->ConnInfo("millrace_app"), false));
  auto d = direct.Acquire();
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(Get(**d, "SELECT current_user"), "millrace_report");
  EXPECT_EQ(Get(**d, "SHOW statement_timeout"), "1234ms");
}

// A round trip with a deadline gives up in time and cancels what it started; within it, it
// answers as Query does, errors included.
TEST_F(PgReplicaReadsTest, ARoundTripWithADeadlineGivesUpAndCancels) {
  auto conn = db_->Connect("postgres");
  ASSERT_TRUE(conn.ok());
  auto fast = (*conn)->QueryWithin("SELECT 1; SELECT 'last'", std::chrono::milliseconds(5000));
  ASSERT_TRUE(fast.ok()) << fast.status().ToString();
  EXPECT_EQ(fast->GetString(0, 0), "last");
  auto bad = (*conn)->QueryWithin("SELECT 1/0", std::chrono::milliseconds(5000));
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument) << bad.status().ToString();
  const auto started = std::chrono::steady_clock::now();
  auto slow = (*conn)->QueryWithin("SELECT pg_sleep(30)", std::chrono::milliseconds(200));
  const auto took = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(slow.status().code(), StatusCode::kTimeout) << slow.status().ToString();
  EXPECT_LT(took, std::chrono::seconds(10));
  auto watcher = db_->Connect("postgres");
  ASSERT_TRUE(watcher.ok());
  std::string sleeping = "1";
  for (int i = 0; i < 50 && sleeping != "0"; ++i) {
    sleeping = Get(**watcher, "SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(30)' "
                              "AND state = 'active'");
    if (sleeping != "0") std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(sleeping, "0") << "the timed-out query was not cancelled";

  // A pool closes a connection a deadline gave up on, without waiting for its query.
  PgPool pool(Options(db_->ConnInfo("postgres"), false));
  {
    auto lease = pool.Acquire();
    ASSERT_TRUE(lease.ok());
    EXPECT_EQ((*lease)->QueryWithin("SELECT pg_sleep(30)", std::chrono::milliseconds(100)).status().code(),
              StatusCode::kTimeout);
    const auto released = std::chrono::steady_clock::now();
    { auto gone = std::move(*lease); }
    EXPECT_LT(std::chrono::steady_clock::now() - released, std::chrono::seconds(5));
  }
  EXPECT_EQ(pool.stats().replaced, 1u);
  EXPECT_EQ(pool.stats().open, 0);
}

// A replica that cannot be reached: reports read the primary and say why; the breaker stays
// open for `retry` (the replica is not tried again) and then tries it again.
TEST_F(PgReplicaReadsTest, AnUnreachableReplicaSendsReportsToThePrimaryUntilItIsTriedAgain) {
  MetricsRegistry metrics;
  PgPool primary(Options(db_->ConnInfo("millrace_app"), false));
  // Port 1 on loopback: refused at once.
  PgPool replica(Options("host=127.0.0.1 port=1 dbname=x user=x connect_timeout=2", false));
  ReportReads reads({&primary, &replica, std::chrono::seconds(30), std::chrono::milliseconds(300)}, &metrics);
  {
    auto first = reads.Acquire();
    ASSERT_TRUE(first.ok()) << first.status().ToString();
    EXPECT_FALSE(first->replica);
    EXPECT_NE(first->fallback.find("the replica is unreachable"), std::string::npos) << first->fallback;
    EXPECT_TRUE(reads.state().open);
  }
  {
    auto second = reads.Acquire();  // within retry: the replica is not tried
    ASSERT_TRUE(second.ok());
    EXPECT_FALSE(second->replica);
  }
  std::string text = metrics.Render();
  EXPECT_NE(text.find("mes_central_replica_fallbacks_total{reason=\"unreachable\"} 1"), std::string::npos) << text;
  EXPECT_NE(text.find("mes_central_replica_breaker_open 1"), std::string::npos) << text;
  EXPECT_NE(text.find("mes_central_report_reads_total{source=\"primary\"} 2"), std::string::npos) << text;
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  auto third = reads.Acquire();  // after retry: tried, and still down
  ASSERT_TRUE(third.ok());
  EXPECT_FALSE(third->replica);
  text = metrics.Render();
  EXPECT_NE(text.find("mes_central_replica_fallbacks_total{reason=\"unreachable\"} 2"), std::string::npos) << text;
}

// A replica that answers is read, and the answer says so; a failure that is the replica's
// opens the breaker, one that is the report's does not.
TEST_F(PgReplicaReadsTest, AnAnsweringReplicaIsReadAndTheAnswerSaysWhereAndHowStale) {
  MetricsRegistry metrics;
  PgPool primary(Options(db_->ConnInfo("millrace_app"), false));
  // The fixture has no standby: the "replica" is the primary itself, which is as current as
  // can be (staleness 0). A standby's own staleness is measured in the cluster test.
  PgPool replica(Options(db_->ConnInfo("millrace_app"), true));
  ReportReads reads({&primary, &replica, std::chrono::seconds(30), std::chrono::seconds(30)}, &metrics);
  ReportCache cache(1 << 20);
  ReportLimits limits({100, 1'000'000});
  Router router;
  AddReportRoutes(router, {&reads, &cache, &limits, [](const HttpRequest&) -> Result<Viewer> {
                             return Viewer{"p", "", Role::kPlatformOperator, {}};
                           }});
  HttpRequest req;
  req.method = "GET";
  req.target = "/api/v1/reports/sync-health?tenant=acme";
  ASSERT_TRUE(req.ParseTarget());
  HttpResponse r = router.Handle(req);
  ASSERT_EQ(r.status, 200) << r.body;
  const json body = json::parse(r.body);
  EXPECT_EQ(body["read_from"], "replica");
  EXPECT_EQ(body["staleness_seconds"], 0.0);
  EXPECT_EQ(r.headers["X-Read-From"], "replica; staleness=0.0s");
  EXPECT_NE(metrics.Render().find("mes_central_report_reads_total{source=\"replica\"} 1"), std::string::npos);

  EXPECT_FALSE(reads.ReplicaFailed(Status::InvalidArgument("a report's own mistake")));
  EXPECT_FALSE(reads.state().open);
  EXPECT_TRUE(reads.ReplicaFailed(Status::Unavailable("server closed the connection unexpectedly")));
  EXPECT_TRUE(reads.state().open);
  auto next = reads.Acquire();
  ASSERT_TRUE(next.ok());
  EXPECT_FALSE(next->replica);
  EXPECT_NE(next->fallback.find("a report failed on the replica"), std::string::npos) << next->fallback;
}

}  // namespace
}  // namespace millrace::central
