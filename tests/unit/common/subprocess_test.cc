#include "millrace/common/subprocess.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <vector>

namespace millrace {
namespace {

TEST(SubprocessTest, OutputComesLineByLineAndTheExitCodeIsKept) {
  std::vector<std::string> lines;
  SubprocessOptions o;
  o.on_line = [&](std::string_view l) { lines.emplace_back(l); };
  auto r = RunSubprocess({"sh", "-c", "echo one; echo two >&2; printf three; exit 3"}, o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->exit_code, 3);
  EXPECT_FALSE(r->ok());
  EXPECT_EQ(r->signal, 0);
  EXPECT_EQ(lines, (std::vector<std::string>{"one", "two", "three"}));
  EXPECT_EQ(r->output, "one\ntwo\nthree");
}

TEST(SubprocessTest, TheChildReadsNothingFromStdin) {
  auto r = RunSubprocess({"sh", "-c", "cat; echo done"});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->ok());
  EXPECT_EQ(r->output, "done\n");
}

TEST(SubprocessTest, AProgramThatIsNotThereIsNotFound) {
  auto r = RunSubprocess({"millrace-no-such-program"});
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound) << r.status().ToString();
  EXPECT_EQ(RunSubprocess({}).status().code(), StatusCode::kInvalidArgument);
}

TEST(SubprocessTest, StopEndsTheChildWithSigterm) {
  std::atomic<bool> stop{false};
  SubprocessOptions o;
  o.stop = [&] { return stop.load(); };
  o.on_line = [&](std::string_view l) {
    if (l == "started") stop = true;
  };
  const auto t0 = std::chrono::steady_clock::now();
  auto r = RunSubprocess({"sh", "-c", "echo started; exec sleep 60"}, o);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->stopped);
  EXPECT_FALSE(r->timed_out);
  EXPECT_EQ(r->signal, SIGTERM);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(30));
}

// What the child started goes with it: the whole group is stopped, and the pipe its
// children hold does not keep the call waiting.
TEST(SubprocessTest, StoppingEndsWhatTheChildStartedToo) {
  std::atomic<bool> stop{false};
  SubprocessOptions o;
  o.stop = [&] { return stop.load(); };
  o.on_line = [&](std::string_view l) {
    if (l == "started") stop = true;
  };
  const auto t0 = std::chrono::steady_clock::now();
  auto r = RunSubprocess({"sh", "-c", "trap '' TERM; sleep 60 & sleep 60 & echo started; wait"}, o);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->stopped);
  EXPECT_EQ(r->signal, SIGKILL);  // the shell ignored SIGTERM; its sleeps did not
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(30));
}

TEST(SubprocessTest, TheDeadlineStopsTheChild) {
  SubprocessOptions o;
  o.timeout = std::chrono::milliseconds(300);
  auto r = RunSubprocess({"sleep", "60"}, o);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->stopped);
  EXPECT_TRUE(r->timed_out);
  EXPECT_EQ(r->exit_code, -1);
}

TEST(SubprocessTest, OnlyTheTailOfALongOutputIsKept) {
  SubprocessOptions o;
  o.keep_bytes = 100;
  int lines = 0;
  o.on_line = [&](std::string_view) { ++lines; };
  auto r = RunSubprocess({"sh", "-c", "seq 1 20000"}, o);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(lines, 20000);
  EXPECT_EQ(r->output.size(), 100u);
  EXPECT_EQ(r->output.substr(r->output.size() - 6), "20000\n");
}

}  // namespace
}  // namespace millrace
