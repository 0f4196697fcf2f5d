#include "millrace/common/logging.h"

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>
#include <stdlib.h>

#include <nlohmann/json.hpp>
#include <sstream>

namespace millrace {
namespace {

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(line);
  return out;
}

class LoggingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    unsetenv("MILLRACE_LOG_LEVEL");
    unsetenv("MILLRACE_LOG_FORMAT");
  }
};

TEST_F(LoggingTest, JsonLinesCarryTheScopedContextAndEscapeTheMessage) {
  ASSERT_TRUE(InitLogging({.level = "info", .format = "json", .program = "mes-test"}).ok());
  ::testing::internal::CaptureStderr();
  {
    ScopedLogContext outer({{"tenant", "acme"}, {"site", "plant-lyon"}});
    ScopedLogContext inner(std::vector<LogField>{{"batch", "17"}});
    spdlog::warn("applied \"batch\"\nwith newline");
  }
  spdlog::info("after");
  spdlog::debug("below the level");
  spdlog::default_logger()->flush();
  auto lines = Lines(::testing::internal::GetCapturedStderr());
  ASSERT_EQ(lines.size(), 2u);
  auto first = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(first["level"], "warning");
  EXPECT_EQ(first["program"], "mes-test");
  EXPECT_EQ(first["msg"], "applied \"batch\"\nwith newline");
  EXPECT_EQ(first["tenant"], "acme");
  EXPECT_EQ(first["site"], "plant-lyon");
  EXPECT_EQ(first["batch"], "17");
  EXPECT_TRUE(first["ts"].get<std::string>().ends_with("Z"));
  auto second = nlohmann::json::parse(lines[1]);
  EXPECT_FALSE(second.contains("tenant"));  // the context ended with its scope
}

TEST_F(LoggingTest, HumanLinesAppendContextAsKeyValues) {
  ASSERT_TRUE(InitLogging({.level = "debug", .format = "human", .program = "mes-test"}).ok());
  ::testing::internal::CaptureStderr();
  {
    ScopedLogContext ctx({{"site", "plant-a"}, {"seq", "42"}});
    spdlog::info("outbox purged");
  }
  spdlog::default_logger()->flush();
  auto lines = Lines(::testing::internal::GetCapturedStderr());
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("mes-test: outbox purged site=plant-a seq=42"), std::string::npos)
      << lines[0];
}

TEST_F(LoggingTest, EnvironmentOverridesConfig) {
  setenv("MILLRACE_LOG_LEVEL", "error", 1);
  ASSERT_TRUE(InitLogging({.level = "info", .format = "human", .program = "mes-test"}).ok());
  EXPECT_EQ(spdlog::default_logger()->level(), spdlog::level::err);
}

TEST_F(LoggingTest, RejectsUnknownLevelAndFormat) {
  EXPECT_EQ(InitLogging({.level = "loud", .format = "human", .program = "x"}).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(InitLogging({.level = "info", .format = "xml", .program = "x"}).code(),
            StatusCode::kInvalidArgument);
  EXPECT_TRUE(InitLogging({.level = "off", .format = "human", .program = "x"}).ok());
}

}  // namespace
}  // namespace millrace
