// The HTTP handlers' connection pool on a real PostgreSQL: bounded, waits then refuses,
// rolls back what a handler left open, and replaces a connection the server dropped.
#include "millrace/central/pg_pool.h"

#include <gtest/gtest.h>

#include <thread>

#include "test_pg.h"

namespace millrace::central {
namespace {

using millrace::testing::TestDatabase;

class PgPoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = TestDatabase::Create();
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(db).value();
  }
  PgPoolOptions Options(int size) {
    PgPoolOptions o;
    o.conninfo = db_->ConnInfo();
    o.size = size;
    o.acquire_timeout = std::chrono::milliseconds(200);
    return o;
  }
  std::unique_ptr<TestDatabase> db_;
};

TEST_F(PgPoolTest, LendsAtMostItsSizeThenRefusesAfterTheWait) {
  MetricsRegistry metrics;
  PgPool pool(Options(2), &metrics);
  auto a = pool.Acquire();
  auto b = pool.Acquire();
  ASSERT_TRUE(a.ok() && b.ok());
  const auto t0 = std::chrono::steady_clock::now();
  auto c = pool.Acquire();
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(c.status().message().find("all 2 http database connections are busy"), std::string::npos);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(190));
  EXPECT_EQ(pool.stats().timed_out, 1u);
  // A connection given back in the meantime ends the wait.
  std::thread give_back([lease = std::move(*a)]() mutable {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    (void)lease;  // released when the thread's copy dies
  });
  auto d = pool.Acquire();
  give_back.join();
  EXPECT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(pool.stats().open, 2);
  const std::string text = metrics.Render();
  EXPECT_NE(text.find("mes_central_db_pool_connections{pool=\"http\",state=\"in_use\"} 2"),
            std::string::npos)
      << text;
}

TEST_F(PgPoolTest, WhatAHandlerLeftOpenIsRolledBackAndTheTimeoutHolds) {
  PgPool pool(Options(1));
  {
    auto a = pool.Acquire();
    ASSERT_TRUE(a.ok());
    ASSERT_TRUE((*a)->Exec("BEGIN; CREATE TABLE left_open (x int)").ok());
  }
  auto b = pool.Acquire();
  ASSERT_TRUE(b.ok());
  auto r = (*b)->Query("SELECT to_regclass('left_open') IS NULL, current_setting('statement_timeout')");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->GetString(0, 0), "t");
  EXPECT_EQ(r->GetString(0, 1), "30s");
  EXPECT_EQ(pool.stats().open, 1);
}

TEST_F(PgPoolTest, AConnectionTheServerDroppedIsReplacedBeforeItIsLent) {
  PgPoolOptions o = Options(1);
  o.check_after = std::chrono::milliseconds(0);
  PgPool pool(o);
  std::string pid;
  {
    auto a = pool.Acquire();
    ASSERT_TRUE(a.ok());
    pid = (*a)->Query("SELECT pg_backend_pid()")->GetString(0, 0);
  }
  auto admin = db_->Connect();
  ASSERT_TRUE(admin.ok());
  ASSERT_TRUE((*admin)->Query("SELECT pg_terminate_backend($1::int)", {pid}).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  auto b = pool.Acquire();
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  auto r = (*b)->Query("SELECT pg_backend_pid()");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_NE(r->GetString(0, 0), pid);
  EXPECT_EQ(pool.stats().replaced, 1u);
}

}  // namespace
}  // namespace millrace::central
