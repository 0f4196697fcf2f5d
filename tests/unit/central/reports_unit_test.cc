// The reporting API's pure parts: parameters checked and named when wrong, the cache's
// invalidation by site and date, and the per-tenant limits.
#include <gtest/gtest.h>

#include "millrace/central/report_cache.h"
#include "millrace/central/report_limits.h"
#include "millrace/central/reports.h"

namespace millrace::central {
namespace {

Result<ReportQuery> Parse(const std::string& report, std::map<std::string, std::string> q,
                          const std::string& accept = "", bool platform = false) {
  const ReportSpec* spec = FindReport(report);
  EXPECT_NE(spec, nullptr);
  return ParseReportQuery(*spec, q, accept, "2026-11-30", platform ? "" : "acme", platform);
}

std::string Error(const Result<ReportQuery>& r) { return r.ok() ? "ok" : r.status().message(); }

TEST(ReportQueryTest, DefaultsAreTheLastSevenDaysByDayInJson) {
  auto q = Parse("oee", {});
  ASSERT_TRUE(q.ok()) << q.status().ToString();
  EXPECT_EQ(q->from, "2026-11-24");
  EXPECT_EQ(q->to, "2026-11-30");
  EXPECT_EQ(q->granularity, Granularity::kDay);
  EXPECT_EQ(q->group, "site");
  EXPECT_EQ(q->limit, 100);
  EXPECT_FALSE(q->csv);
  EXPECT_TRUE(Parse("oee", {}, "text/csv")->csv);
  EXPECT_TRUE(Parse("oee", {{"format", "csv"}})->csv);
  auto year = Parse("oee", {{"from", "2026-03-01"}, {"to", "2026-03-31"}});
  ASSERT_TRUE(year.ok());
  EXPECT_EQ(year->from, "2026-03-01");
}

TEST(ReportQueryTest, EveryBadParameterIsRefusedByName) {
  EXPECT_NE(Error(Parse("oee", {{"colour", "red"}})).find("unknown parameter 'colour'"), std::string::npos);
  EXPECT_NE(Error(Parse("oee", {{"by", "reason"}})).find("unknown parameter 'by'"), std::string::npos);
  EXPECT_NE(Error(Parse("oee", {{"from", "2026-02-30"}})).find("from must be a date"), std::string::npos);
  EXPECT_NE(Error(Parse("oee", {{"to", "yesterday"}})).find("to must be a date"), std::string::npos);
  EXPECT_NE(Error(Parse("oee", {{"from", "2026-12-01"}})).find("is after to"), std::string::npos);
  EXPECT_NE(Error(Parse("oee", {{"from", "2026-01-01"}, {"granularity", "hour"}})).find("at most 31 days"),
            std::string::npos);
  EXPECT_NE(Error(Parse("oee", {{"granularity", "fortnight"}})).find("granularity must be one of"),
            std::string::npos);
  EXPECT_NE(Error(Parse("oee", {{"group", "planet"}})).find("group must be one of site,line,unit,none"),
            std::string::npos);
  EXPECT_NE(Error(Parse("oee", {{"limit", "0"}})).find("limit must be 1..1000"), std::string::npos);
  EXPECT_NE(Error(Parse("oee", {{"limit", "5000"}})).find("limit must be 1..1000"), std::string::npos);
  EXPECT_NE(Error(Parse("oee", {{"sites", "lyon,'; DROP TABLE x"}})).find("is not an id or code"),
            std::string::npos);
  EXPECT_NE(Error(Parse("downtime-events", {{"reason", "a b"}})).find("reason: \"a b\""), std::string::npos);
  EXPECT_NE(Error(Parse("oee", {{"format", "xml"}})).find("format must be one of json,csv"), std::string::npos);
  EXPECT_NE(Error(Parse("oee", {}, "", true)).find("tenant= is required"), std::string::npos);
  EXPECT_NE(Error(Parse("oee", {{"tenant", "globex"}})).find("unknown parameter 'tenant'"), std::string::npos);
  EXPECT_EQ(Parse("oee", {{"tenant", "globex"}}, "", true)->tenant_id, "globex");
  EXPECT_NE(Error(Parse("sync-health", {{"from", "2026-11-01"}})).find("unknown parameter 'from'"),
            std::string::npos);
}

TEST(ReportQueryTest, TheCacheKeyIgnoresTheOrderOfListsButNotTheirContent) {
  auto a = Parse("oee", {{"sites", "porto,lyon"}});
  auto b = Parse("oee", {{"sites", "lyon,porto,lyon"}});
  auto c = Parse("oee", {{"sites", "lyon"}});
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ(a->CacheKey(), b->CacheKey());
  EXPECT_NE(a->CacheKey(), c->CacheKey());
  EXPECT_NE(a->CacheKey(), Parse("oee", {{"sites", "lyon,porto"}}, "text/csv")->CacheKey());
}

CachedReport Answer(const std::string& tenant, std::set<std::string> sites, const std::string& from,
                    const std::string& to, bool from_rollups = true) {
  CachedReport r;
  r.body = "{}";
  r.etag = "\"x\"";
  r.tenant = tenant;
  r.sites = std::move(sites);
  r.from = from;
  r.to = to;
  r.from_rollups = from_rollups;
  return r;
}

TEST(ReportCacheTest, AChangeDropsOnlyTheAnswersThatCoverItsSiteAndDates) {
  ManualClock clock(0);
  ReportCache cache(1 << 20, &clock);
  cache.Put("november lyon", Answer("acme", {"lyon"}, "2026-11-01", "2026-11-30"), cache.generation());
  cache.Put("october lyon", Answer("acme", {"lyon"}, "2026-10-01", "2026-10-31"), cache.generation());
  cache.Put("november porto", Answer("acme", {"porto"}, "2026-11-01", "2026-11-30"), cache.generation());
  cache.Put("november globex", Answer("globex", {"lyon"}, "2026-11-01", "2026-11-30"), cache.generation());
  EXPECT_EQ(cache.Invalidate("acme", "lyon", "2026-11-08", "2026-11-11"), 1);
  EXPECT_FALSE(cache.Get("november lyon"));
  EXPECT_TRUE(cache.Get("october lyon"));
  EXPECT_TRUE(cache.Get("november porto"));
  EXPECT_TRUE(cache.Get("november globex"));
  EXPECT_EQ(cache.Invalidate("acme", "lyon", "-infinity", "infinity"), 1);  // a rebuild of all
  EXPECT_FALSE(cache.Get("october lyon"));
  // An answer computed while a change was announced is not kept: it may predate the change.
  const auto before = cache.generation();
  cache.Invalidate("acme", "porto", "2026-11-02", "2026-11-02");
  cache.Put("raced", Answer("acme", {"porto"}, "2026-11-01", "2026-11-30"), before);
  EXPECT_FALSE(cache.Get("raced"));
}

TEST(ReportQueryTest, TheCacheKeyNamesWhoMaySeeWhat) {
  auto all = Parse("oee", {{"sites", "porto"}});
  auto limited = Parse("oee", {{"sites", "porto"}});
  ASSERT_TRUE(all.ok() && limited.ok());
  limited->allowed_sites = {"porto"};
  EXPECT_NE(all->CacheKey(), limited->CacheKey());
}

TEST(ReportCsvTest, TextThatASpreadsheetWouldRunStaysText) {
  ReportResult r;
  r.columns = {{"comment", ReportColumn::Type::kText}, {"n", ReportColumn::Type::kNumber}};
  r.rows = {{"=HYPERLINK(\"x\")", -3}, {"plain, with comma", 2}};
  EXPECT_EQ(RenderReportCsv(r), "comment,n\r\n\"'=HYPERLINK(\"\"x\"\")\",-3\r\n\"plain, with comma\",2\r\n");
}

TEST(ReportCacheTest, AnswersNotFromRollupsAgeOutAndTheLeastUsedGoFirst) {
  ManualClock clock(0);
  ReportCache cache(4000, &clock, 5000);
  cache.Put("health", Answer("acme", {"lyon"}, "", "", false), cache.generation());
  clock.Advance(4999);
  EXPECT_TRUE(cache.Get("health"));
  clock.Advance(2);
  EXPECT_FALSE(cache.Get("health"));
  CachedReport big = Answer("acme", {"lyon"}, "2026-11-01", "2026-11-30");
  big.body.assign(700, 'x');
  for (int i = 0; i < 6; ++i) cache.Put("answer " + std::to_string(i), big, cache.generation());
  EXPECT_FALSE(cache.Get("answer 0"));  // evicted to stay within 4000 bytes
  EXPECT_TRUE(cache.Get("answer 5"));
  EXPECT_LE(cache.stats().bytes, 4000u);
}

TEST(ReportLimitsTest, ATenantOverItsRateWaitsAndOthersDoNot) {
  ManualClock clock(0);
  ReportLimits limits({2, 100}, &clock);
  int retry = 0;
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(limits.Admit("acme", &retry).ok()) << i;  // a burst of 2x
  Status s = limits.Admit("acme", &retry);
  EXPECT_EQ(s.code(), StatusCode::kRateLimited);
  EXPECT_EQ(retry, 1);
  EXPECT_TRUE(limits.Admit("globex", &retry).ok());
  clock.Advance(500);
  EXPECT_TRUE(limits.Admit("acme", &retry).ok());
  // Rows per minute.
  limits.Charge("acme", 100);
  clock.Advance(10'000);
  s = limits.Admit("acme", &retry);
  EXPECT_EQ(s.code(), StatusCode::kRateLimited);
  EXPECT_NE(s.message().find("report rows this minute"), std::string::npos);
  EXPECT_EQ(retry, 50);
  clock.Advance(50'000);
  EXPECT_TRUE(limits.Admit("acme", &retry).ok());
}

}  // namespace
}  // namespace millrace::central
