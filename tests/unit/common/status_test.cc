#include "millrace/common/status.h"

#include <gtest/gtest.h>

namespace millrace {
namespace {

TEST(StatusTest, OkCostsOnePointerAndHasNoMessage) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kOk);
  EXPECT_EQ(s.message(), "");
  EXPECT_EQ(s.ToString(), "OK");
  EXPECT_EQ(sizeof(Status), sizeof(void*));
}

TEST(StatusTest, ErrorCarriesCodeAndMessage) {
  Status s = Status::NotFound("work order 42 does not exist");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_EQ(s.ToString(), "not_found: work order 42 does not exist");
}

TEST(StatusTest, CopiesAreIndependentValues) {
  Status a = Status::Conflict("x");
  Status b = a;
  a = Status::Ok();
  EXPECT_TRUE(a.ok());
  EXPECT_EQ(b, Status::Conflict("x"));
}

TEST(StatusTest, WithContextPrefixesMessageAndKeepsOk) {
  EXPECT_EQ(Status::IOError("disk full").WithContext("backup").ToString(),
            "io_error: backup: disk full");
  EXPECT_TRUE(Status::Ok().WithContext("ignored").ok());
}

TEST(StatusTest, EveryCodeHasAStableNameAndHttpStatus) {
  struct Case {
    StatusCode code;
    const char* name;
    int http;
  } cases[] = {
      {StatusCode::kOk, "ok", 200},
      {StatusCode::kInvalidArgument, "invalid_argument", 400},
      {StatusCode::kNotFound, "not_found", 404},
      {StatusCode::kAlreadyExists, "already_exists", 409},
      {StatusCode::kConflict, "conflict", 409},
      {StatusCode::kFailedPrecondition, "failed_precondition", 422},
      {StatusCode::kPermissionDenied, "permission_denied", 403},
      {StatusCode::kUnauthenticated, "unauthenticated", 401},
      {StatusCode::kResourceExhausted, "resource_exhausted", 413},
      {StatusCode::kClockSkew, "clock_skew", 422},
      {StatusCode::kUnavailable, "unavailable", 503},
      {StatusCode::kTimeout, "timeout", 504},
      {StatusCode::kCorruption, "corruption", 500},
      {StatusCode::kIOError, "io_error", 500},
      {StatusCode::kInternal, "internal", 500},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(StatusCodeName(c.code), c.name);
    EXPECT_EQ(HttpStatusFor(c.code), c.http) << c.name;
  }
}

Result<int> Half(int x) {
  if (x % 2) return Status::InvalidArgument("odd");
  return x / 2;
}

Result<int> Quarter(int x) {
  MILLRACE_ASSIGN_OR_RETURN(int h, Half(x));
  MILLRACE_ASSIGN_OR_RETURN(int q, Half(h));
  return q;
}

Status CheckEven(int x) {
  MILLRACE_RETURN_IF_ERROR(Half(x).status());
  return Status::Ok();
}

TEST(ResultTest, HoldsValueOrError) {
  Result<int> ok = Half(8);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(*ok, 4);
  Result<int> bad = Half(7);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.value_or(-1), -1);
}

TEST(ResultTest, MacrosPropagateTheFirstError) {
  EXPECT_EQ(*Quarter(8), 2);
  EXPECT_EQ(Quarter(6).status().message(), "odd");  // 6 -> 3 -> odd
  EXPECT_TRUE(CheckEven(4).ok());
  EXPECT_EQ(CheckEven(5).code(), StatusCode::kInvalidArgument);
}

TEST(StatusTest, ARuleTravelsBesideTheMessageAndThroughContext) {
  Status s = Status::Conflict("counts need a running operation").WithRule("operation_not_running");
  EXPECT_EQ(s.rule(), "operation_not_running");
  EXPECT_EQ(s.message(), "counts need a running operation");
  EXPECT_EQ(s.ToString(), "conflict: operation_not_running: counts need a running operation");
  Status c = s.WithContext("batch 3");
  EXPECT_EQ(c.rule(), "operation_not_running");
  EXPECT_EQ(c.message(), "batch 3: counts need a running operation");
  EXPECT_FALSE(s == Status::Conflict("counts need a running operation"));
  EXPECT_TRUE(Status::Ok().WithRule("x").ok());
  EXPECT_EQ(Status::Ok().rule(), "");
}

TEST(ResultTest, ConstructingFromOkStatusIsAnInternalError) {
  Result<int> r = Status::Ok();
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInternal);
}

}  // namespace
}  // namespace millrace
