#include "millrace/common/metrics.h"

#include <gtest/gtest.h>

#include <thread>

namespace millrace {
namespace {

TEST(MetricsTest, RendersCountersAndGaugesWithLabels) {
  MetricsRegistry reg;
  auto& req = reg.AddCounter("mes_http_requests_total", "HTTP requests", {"route", "status"});
  req.With({"/health", "200"}).Increment();
  req.With({"/health", "200"}).Increment(2);
  req.With({"/ready", "503"}).Increment();
  reg.AddGauge("mes_outbox_backlog_rows", "Rows waiting to sync").Get().Set(12.5);
  EXPECT_EQ(reg.Render(),
            "# HELP mes_http_requests_total HTTP requests\n"
            "# TYPE mes_http_requests_total counter\n"
            "mes_http_requests_total{route=\"/health\",status=\"200\"} 3\n"
            "mes_http_requests_total{route=\"/ready\",status=\"503\"} 1\n"
            "# HELP mes_outbox_backlog_rows Rows waiting to sync\n"
            "# TYPE mes_outbox_backlog_rows gauge\n"
            "mes_outbox_backlog_rows 12.5\n");
}

TEST(MetricsTest, HistogramHasCumulativeBucketsSumAndCount) {
  MetricsRegistry reg;
  auto& h = reg.AddHistogram("mes_apply_seconds", "Apply latency", {"site"}, {0.25, 0.5, 1});
  auto& child = h.With({"a"});
  child.Observe(0.125);
  child.Observe(0.25);  // le is inclusive
  child.Observe(0.75);
  child.Observe(7);
  EXPECT_EQ(reg.Render(),
            "# HELP mes_apply_seconds Apply latency\n"
            "# TYPE mes_apply_seconds histogram\n"
            "mes_apply_seconds_bucket{site=\"a\",le=\"0.25\"} 2\n"
            "mes_apply_seconds_bucket{site=\"a\",le=\"0.5\"} 2\n"
            "mes_apply_seconds_bucket{site=\"a\",le=\"1\"} 3\n"
            "mes_apply_seconds_bucket{site=\"a\",le=\"+Inf\"} 4\n"
            "mes_apply_seconds_sum{site=\"a\"} 8.125\n"
            "mes_apply_seconds_count{site=\"a\"} 4\n");
}

TEST(MetricsTest, EscapesLabelValuesAndHelp) {
  MetricsRegistry reg;
  reg.AddCounter("mes_rejects_total", "Rejected rows\\by reason\nper table", {"reason"})
      .With({"bad \"value\"\\\n"})
      .Increment();
  std::string out = reg.Render();
  EXPECT_NE(out.find("# HELP mes_rejects_total Rejected rows\\\\by reason\\nper table\n"),
            std::string::npos);
  EXPECT_NE(out.find("mes_rejects_total{reason=\"bad \\\"value\\\"\\\\\\n\"} 1\n"),
            std::string::npos)
      << out;
}

TEST(MetricsTest, ReRegisteringTheSameShapeReturnsTheSameFamily) {
  MetricsRegistry reg;
  auto& a = reg.AddCounter("mes_x_total", "x", {"l"});
  auto& b = reg.AddCounter("mes_x_total", "x", {"l"});
  EXPECT_EQ(&a, &b);
  EXPECT_THROW(reg.AddGauge("mes_x_total", "x", {"l"}), std::invalid_argument);
  EXPECT_THROW(reg.AddCounter("mes_x_total", "x", {"other"}), std::invalid_argument);
}

TEST(MetricsTest, RejectsBadNamesAndLabelCounts) {
  MetricsRegistry reg;
  EXPECT_THROW(reg.AddCounter("1bad", "x"), std::invalid_argument);
  EXPECT_THROW(reg.AddCounter("has-dash", "x"), std::invalid_argument);
  EXPECT_THROW(reg.AddCounter("ok_name", "x", {"le"}), std::invalid_argument);
  auto& c = reg.AddCounter("ok_total", "x", {"a", "b"});
  EXPECT_THROW(c.With({"only-one"}), std::invalid_argument);
  EXPECT_THROW(reg.AddHistogram("h", "x", {}, {1, 0.5}), std::invalid_argument);
}

TEST(MetricsTest, CollectorsRefreshGaugesBeforeRendering) {
  MetricsRegistry reg;
  auto& g = reg.AddGauge("mes_oldest_unacked_age_seconds", "Age").Get();
  double age = 0;
  reg.AddCollector([&] { g.Set(age); });
  age = 42;
  EXPECT_NE(reg.Render().find("mes_oldest_unacked_age_seconds 42\n"), std::string::npos);
}

TEST(MetricsTest, ConcurrentIncrementsAreNotLost) {
  MetricsRegistry reg;
  auto& fam = reg.AddCounter("mes_n_total", "n", {"t"});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 50000; ++i) fam.With({"x"}).Increment();
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(fam.With({"x"}).Value(), 200000);
}

}  // namespace
}  // namespace millrace
