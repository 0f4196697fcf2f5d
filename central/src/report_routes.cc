#include "millrace/central/report_routes.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <optional>
#include <chrono>
#include <ctime>

#include "millrace/central/reports.h"
#include "millrace/common/digest.h"

namespace millrace::central {

namespace {

// Today where it is latest (UTC+14), so a default range ends on every site's today.
std::string TodayEverywhere(const Clock* clock) {
  const std::time_t t = static_cast<std::time_t>(clock->NowMillis() / 1000 + 14 * 3600);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char out[64];
  std::snprintf(out, sizeof out, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
  return out;
}

HttpResponse Refused(const Status& s, int retry_after_s) {
  HttpResponse r = HttpResponse::Error(s);
  if (retry_after_s > 0) r.headers["Retry-After"] = std::to_string(retry_after_s);
  return r;
}

HttpResponse Answer(const CachedReport& c, const HttpRequest& req) {
  HttpResponse r;
  r.headers["ETag"] = c.etag;
  r.headers["Cache-Control"] = "private, no-cache";
  if (!c.data_as_of.empty()) r.headers["X-Data-As-Of"] = c.data_as_of;
  if (!c.read_from.empty()) r.headers["X-Read-From"] = c.read_from;
  if (!c.disposition.empty()) r.headers["Content-Disposition"] = c.disposition;
  if (req.Header("if-none-match") == c.etag) {
    r.status = 304;
    r.content_type = c.content_type;
    return r;
  }
  r.status = 200;
  r.content_type = c.content_type;
  r.body = c.body;
  return r;
}

}  // namespace

void AddReportRoutes(Router& router, ReportRoutesOptions o) {
  Family<Counter>* requests = nullptr;
  Family<Histogram>* seconds = nullptr;
  if (o.metrics) {
    requests = &o.metrics->AddCounter("mes_central_report_requests_total",
                                      "Report requests by report and outcome (computed, cached, "
                                      "not_modified, refused)",
                                      {"report", "outcome"});
    seconds = &o.metrics->AddHistogram("mes_central_report_seconds",
                                       "Time to compute a report that was not cached", {"report"});
    ReportCache* cache = o.cache;
    auto& entries = o.metrics->AddGauge("mes_central_report_cache_entries", "Cached report answers", {});
    auto& hits = o.metrics->AddGauge("mes_central_report_cache_hits", "Report cache hits since start", {});
    auto& dropped = o.metrics->AddGauge("mes_central_report_cache_invalidated",
                                        "Cached answers dropped because their rollups changed", {});
    o.metrics->AddCollector([cache, &entries, &hits, &dropped] {
      const auto s = cache->stats();
      entries.With({}).Set(static_cast<double>(s.entries));
      hits.With({}).Set(static_cast<double>(s.hits));
      dropped.With({}).Set(static_cast<double>(s.invalidated));
    });
  }
  auto count = [requests](const std::string& report, const char* outcome) {
    if (requests) requests->With({report, outcome}).Increment();
  };

  router.Add("GET", "/api/v1/reports", [o](const HttpRequest& req) {
    auto who = o.authenticate(req);
    if (!who.ok()) return HttpResponse::Error(who.status());
    nlohmann::json list = nlohmann::json::array();
    for (const auto& r : Reports()) {
      nlohmann::json j{{"name", r.name}, {"title", r.title}, {"path", "/api/v1/reports/" + r.name}};
      if (!r.groups.empty()) j["group"] = r.groups;
      if (!r.bys.empty()) j["by"] = r.bys;
      if (!r.sorts.empty()) j["sort"] = r.sorts;
      if (!r.params.empty()) j["params"] = r.params;
      j["time_range"] = r.time_range;
      j["granularity"] = r.granular ? nlohmann::json{"hour", "shift", "day", "week", "month", "none"}
                                    : nlohmann::json(nullptr);
      list.push_back(std::move(j));
    }
    return HttpResponse::Json(200, nlohmann::json{{"reports", list}}.dump());
  });

  router.Add("GET", "/api/v1/reports/{report}", [o, count, seconds](const HttpRequest& req) {
    const std::string name = req.path_params.at("report");
    const ReportSpec* spec = FindReport(name);
    if (!spec) {
      std::string names;
      for (const auto& r : Reports()) names += (names.empty() ? "" : ", ") + r.name;
      return HttpResponse::Error(Status::NotFound("no report '" + name + "'; there are " + names));
    }
    auto who = o.authenticate(req);
    if (!who.ok()) return HttpResponse::Error(who.status());
    auto q = ParseReportQuery(*spec, req.query, req.Header("accept"), TodayEverywhere(o.clock),
                              who->tenant_id, who->tenant_id.empty());
    if (!q.ok()) return HttpResponse::Error(q.status());
    // A viewer limited to some sites sees only those, whatever the URL asks.
    if (!who->sites.empty()) {
      for (const auto& s : q->sites)
        if (std::find(who->sites.begin(), who->sites.end(), s) == who->sites.end())
          return HttpResponse::Error(Status::PermissionDenied("site " + s + " is not one of yours"));
      if (q->sites.empty()) q->sites = who->sites;
      q->allowed_sites = who->sites;
    }
    int retry = 0;
    if (Status s = o.limits->Admit(q->tenant_id, &retry); !s.ok()) {
      count(name, "refused");
      return Refused(s, retry);
    }
    const std::string key = q->CacheKey();
    if (auto hit = o.cache->Get(key)) {
      count(name, req.Header("if-none-match") == hit->etag ? "not_modified" : "cached");
      return Answer(*hit, req);
    }
    const auto started = std::chrono::steady_clock::now();
    const std::uint64_t generation = o.cache->generation();  // before the snapshot is taken
    std::optional<Result<ReportRead>> read_or;
    read_or.emplace(o.reads->Acquire());
    if (!read_or->ok()) {
      count(name, "refused");
      return Refused(read_or->status(), 1);
    }
    auto result = RunReport(*(*read_or)->lease, *q);
    if (!result.ok() && (*read_or)->replica && o.reads->ReplicaFailed(result.status())) {
      // The replica's fault (a broken connection, a query recovery cancelled): once more on
      // the primary, which the breaker now sends every report to for a while. The replica's
      // connection goes back first.
      read_or.reset();
      read_or.emplace(o.reads->Acquire());
      if (!read_or->ok()) {
        count(name, "refused");
        return Refused(read_or->status(), 1);
      }
      result = RunReport(*(*read_or)->lease, *q);
    }
    const ReportRead* read = &**read_or;
    if (!result.ok()) {
      // PostgreSQL refusing a report's own SQL is a fault of this server, not of the request.
      const bool ours = result.status().message().rfind("PostgreSQL", 0) == 0;
      if (ours || result.status().code() != StatusCode::kInvalidArgument)
        spdlog::warn("report {} for tenant {} ({}): {}", name, q->tenant_id, who->name,
                     result.status().ToString());
      if (ours && result.status().code() == StatusCode::kInvalidArgument)
        return HttpResponse::Error(Status::Internal("report " + name + " failed; see central's log"));
      return HttpResponse::Error(result.status());
    }
    o.limits->Charge(q->tenant_id, static_cast<std::int64_t>(result->rows.size()));
    result->read_from = read->replica ? "replica" : "primary";
    if (read->replica) result->staleness_s = read->staleness_s;
    result->replica_skipped = read->fallback;
    CachedReport c;
    c.body = q->csv ? RenderReportCsv(*result) : RenderReportJson(*q, *result);
    c.content_type = q->csv ? "text/csv; charset=utf-8" : "application/json";
    c.etag = "\"" + Sha256Hex(c.body).substr(0, 32) + "\"";
    c.data_as_of = result->data_as_of;
    c.tenant = q->tenant_id;
    c.sites = result->sites;
    c.from = q->from;
    c.to = q->to;
    // A replica may not yet hold what the rollups' invalidation announced: its answers only
    // live as long as answers not from rollups.
    c.from_rollups = spec->from_rollups && !read->replica;
    char staleness[48];
    std::snprintf(staleness, sizeof staleness, "replica; staleness=%.1fs", read->staleness_s);
    c.read_from = read->replica ? staleness : "primary";
    if (seconds)
      seconds->With({name}).Observe(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    count(name, "computed");
    if (q->csv)
      c.disposition =
          "attachment; filename=\"" + name + (q->from.empty() ? "" : "-" + q->from + "-" + q->to) + ".csv\"";
    HttpResponse r = Answer(c, req);
    o.cache->Put(key, std::move(c), generation);
    return r;
  });
}

}  // namespace millrace::central
