// The libpq adapter turns PostgreSQL failures into the right Status codes.
#include <gtest/gtest.h>

#include "millrace/central/pg.h"
#include "test_pg.h"

namespace millrace::central {
namespace {

TEST(PgAdapterTest, QueriesWithParametersAndNulls) {
  auto db = millrace::testing::TestDatabase::Create();
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  auto conn = (*db)->Connect();
  ASSERT_TRUE(conn.ok());
  auto res = (*conn)->Query("SELECT $1::int + 1, $2::text IS NULL, $3::text",
                            {"41", std::nullopt, "it's"});
  ASSERT_TRUE(res.ok()) << res.status().ToString();
  EXPECT_EQ(res->GetString(0, 0), "42");
  EXPECT_EQ(res->GetString(0, 1), "t");
  EXPECT_EQ(res->GetString(0, 2), "it's");
}

TEST(PgAdapterTest, MapsSqlStatesToStatusCodes) {
  auto db = millrace::testing::TestDatabase::Create();
  ASSERT_TRUE(db.ok());
  auto conn = (*db)->Connect();
  ASSERT_TRUE(conn.ok());
  auto& c = **conn;
  ASSERT_TRUE(c.Exec("CREATE TABLE t (id int PRIMARY KEY, q int CHECK (q >= 0))").ok());
  ASSERT_TRUE(c.Exec("INSERT INTO t VALUES (1, 0)").ok());
  Status dup = c.Exec("INSERT INTO t VALUES (1, 0)");
  EXPECT_EQ(dup.code(), StatusCode::kAlreadyExists);
  EXPECT_NE(dup.message().find("23505"), std::string::npos);
  EXPECT_EQ(c.Exec("INSERT INTO t VALUES (2, -1)").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(c.Exec("SELECT * FROM missing_table").code(), StatusCode::kNotFound);
  EXPECT_EQ(c.Exec("SELEC 1").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(c.Exec("SET statement_timeout = 50; SELECT pg_sleep(2)").code(), StatusCode::kTimeout);
}

TEST(PgAdapterTest, UnreachableServerIsUnavailable) {
  auto r = PgConnection::Connect("host=/nonexistent-socket-dir port=1 dbname=x connect_timeout=2");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
}

TEST(PgAdapterTest, SqlStateClassesMapAsDocumented) {
  EXPECT_EQ(StatusCodeForSqlState("08006"), StatusCode::kUnavailable);
  EXPECT_EQ(StatusCodeForSqlState("40001"), StatusCode::kConflict);
  EXPECT_EQ(StatusCodeForSqlState("40P01"), StatusCode::kConflict);
  EXPECT_EQ(StatusCodeForSqlState("42501"), StatusCode::kPermissionDenied);
  EXPECT_EQ(StatusCodeForSqlState("22P02"), StatusCode::kInvalidArgument);
  EXPECT_EQ(StatusCodeForSqlState("XX001"), StatusCode::kCorruption);
  EXPECT_EQ(StatusCodeForSqlState("XX000"), StatusCode::kInternal);
  EXPECT_EQ(StatusCodeForSqlState("bad"), StatusCode::kInternal);
}

}  // namespace
}  // namespace millrace::central
