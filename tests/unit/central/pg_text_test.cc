// The text forms central writes for libpq: connection strings with a timeout added in
// either form, and text[] literals.
#include <gtest/gtest.h>

#include "millrace/central/pg.h"

namespace millrace::central {
namespace {

TEST(PgTextTest, AConnectTimeoutGoesIntoKeywordFormAndIntoAUrisQuery) {
  EXPECT_EQ(WithConnectTimeout("host=/run/postgresql dbname=millrace", 3),
            "host=/run/postgresql dbname=millrace connect_timeout=3");
  EXPECT_EQ(WithConnectTimeout("", 3), "connect_timeout=3");
  EXPECT_EQ(WithConnectTimeout("postgresql://app@db.plant/millrace", 5),
            "postgresql://app@db.plant/millrace?connect_timeout=5");
  EXPECT_EQ(WithConnectTimeout("postgres://app@db/millrace?sslmode=require", 5),
            "postgres://app@db/millrace?sslmode=require&connect_timeout=5");
}

TEST(PgTextTest, ATextArrayQuotesEveryItemAndEscapesQuotesAndBackslashes) {
  EXPECT_EQ(PgTextArray({}), "{}");
  EXPECT_EQ(PgTextArray({"a", "b c", "say \"hi\"", "back\\slash", "NULL"}),
            "{\"a\",\"b c\",\"say \\\"hi\\\"\",\"back\\\\slash\",\"NULL\"}");
}

}  // namespace
}  // namespace millrace::central
