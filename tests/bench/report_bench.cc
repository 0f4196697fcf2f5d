// The report benchmark runner. One run on one machine, against the suite's PostgreSQL,
// with every timing next to a baseline measured in the same run:
//
//   history    a year of thirty factories (report_history.h) COPYed into central with the
//              rollup triggers on: rows/s, and the size of facts and rollups.
//   baseline   a plain SELECT count(*) over one day of raw production events (every site),
//              run on its own connection: p50/p95.
//   dashboard  every query the dashboard makes from the rollups, over the whole year at
//              every site, through mes-central's reporting API (cache off, so each request
//              runs its SQL): p50/p95 against the baseline, target p95 < 100 ms.
//   drill      the drill-downs that list raw events behind a number: target p95 < 300 ms.
//   api        what the API answers but the dashboard does not ask over a year (a year by
//              day or by week reads the day rows): no target.
//   other      the reports that read current state rather than rollups (orders, WIP, ...).
//   freshness  mes-sim drives a floor edge as fast as it answers while a probe edge of the
//              same tenant commits single counts; time from the commit at the edge until the
//              count shows in the report API (cache on, invalidated by LISTEN/NOTIFY):
//              p50/p99, target p99 < 2 s.
//
// Prints a table and writes JSON. Usage:
//   report_bench --mes-central PATH --mes-edge PATH --mes-sim PATH [--sites N] [--lines N]
//                [--days N] [--counts N] [--samples N] [--probes N] [--json FILE] [--keep]
// (needs MILLRACE_TEST_PG: run through ctest -L bench, or tests/run --label bench)
#include <CLI/CLI.hpp>
#include <csignal>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <thread>

#include "bench_common.h"
#include "millrace/common/files.h"
#include "millrace/common/http_client.h"
#include "millrace/common/logging.h"
#include "millrace/common/time_zone.h"
#include "report_history.h"
#include "sync_cluster.h"

using namespace millrace;
using namespace millrace::bench;
using json = nlohmann::json;
using SteadyClock = std::chrono::steady_clock;

namespace {


double Ms(SteadyClock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

struct Options {
  std::string mes_central, mes_edge, mes_sim, json_path;
  int sites = 30, lines = 6, days = 365, counts = 256, samples = 30, probes = 100;
  int sim_units = 6;
  bool keep = false;
};

// The zones of the fleet: both hemispheres, half-hour offsets, zones with and without
// daylight saving.
const char* const kZones[] = {"Europe/Lisbon",   "Europe/Berlin",    "America/Chicago",
                              "America/Sao_Paulo", "Asia/Shanghai",  "Asia/Kolkata",
                              "Australia/Sydney", "America/New_York", "Europe/Warsaw",
                              "UTC"};

struct Timing {
  std::string name, group, target;
  std::vector<double> ms;
  std::size_t bytes = 0;
  int rows = 0;
};

std::string Query(const std::string& path, const std::string& tenant, const std::string& from,
                  const std::string& to, const std::string& extra) {
  return "/api/v1/reports/" + path + "?tenant=" + tenant +
         (from.empty() ? "" : "&from=" + from + "&to=" + to) + (extra.empty() ? "" : "&" + extra);
}

class Bench {
 public:
  explicit Bench(Options o) : o_(std::move(o)) {}

  int Run() {
    cluster_ = Must(testing::SyncCluster::Create({o_.mes_central, o_.mes_edge}, "reports"), "cluster");
    // A run that gives up stops what it started (exit skips the destructors).
    g_before_exit = [this] {
      if (sim_) sim_->Signal(SIGKILL);
      for (const char* site : {"floor", "probe"}) cluster_->StopEdge(site, SIGKILL);
      cluster_->StopCentral(SIGKILL);
    };
    if (o_.keep) cluster_->KeepAfterwards();
    SetCache(0);
    CHECK_OK(cluster_->StartCentral(), "start mes-central");
    CHECK_OK(cluster_->CreateTenant(tenant_), "create tenant");
    History();
    Queries();
    Freshness();
    Print();
    g_before_exit = nullptr;
    return 0;
  }

 private:
  // Central's [reports] section: the cache off while queries are timed (each request runs
  // its SQL), on for freshness (invalidation is part of what is measured); no rate limits.
  void SetCache(int mib) {
    const auto path = cluster_->dir() / "central.toml";
    std::string toml = Must(ReadFile(path.string()), "central.toml");
    const auto at = toml.find("[reports]");
    if (at != std::string::npos) toml.erase(at);
    toml += "[reports]\ncache_mib = " + std::to_string(mib) +
            "\nrequests_per_second = 100000\nrows_per_minute = 1000000000\n";
    CHECK_OK(WriteFileAtomically(path.string(), toml), "central.toml");
  }

  void History() {
    bench::HistoryShape shape;
    shape.tenant = tenant_;
    shape.lines = o_.lines, shape.days = o_.days, shape.counts = o_.counts;
    // Next month onwards: a database migrated now keeps everything before next month in
    // one history partition, so the year goes where a year of running puts it, one
    // partition per month.
    const CivilTime now = TimeZone::Utc().ToCivil(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                      std::chrono::system_clock::now().time_since_epoch())
                                                      .count());
    shape.year = now.year + (now.month == 12 ? 1 : 0);
    shape.month = now.month == 12 ? 1 : now.month + 1;
    std::vector<std::string> names;
    for (int i = 0; i < o_.sites; ++i) {
      char name[32];
      std::snprintf(name, sizeof name, "plant-%02d", i + 1);
      shape.sites.push_back({name, kZones[i % std::size(kZones)]});
      names.push_back(name);
      cluster_->SetTimeZone(name, kZones[i % std::size(kZones)]);
      CHECK_OK(cluster_->Provision(tenant_, name), std::string("provision ") + name);
    }
    CHECK_OK(cluster_->SeedDemo(tenant_, names), "seed-demo");
    auto& db = cluster_->admin();
    const int months_ahead = (shape.year - now.year) * 12 + shape.month - now.month + (o_.days + 30) / 30;
    CHECK_OK(db.Query("SELECT millrace.fact_partitions_ensure($1::integer)", {std::to_string(std::min(24, months_ahead))})
                 .status(),
             "partitions");
    from_ = bench::HistoryFirstDate(shape);
    to_ = bench::HistoryLastDate(shape);
    std::cout << "history: " << o_.sites << " sites x " << o_.lines << " lines x " << o_.days << " days ("
              << from_ << " .. " << to_ << ")\n";
    totals_ = Must(bench::FillHistory(db, shape,
                                      [&](int week, int weeks, const bench::HistoryTotals& t) {
                                        if (week % 4 && week != weeks) return;
                                        std::cout << "  week " << week << "/" << weeks << ": "
                                                  << t.production_events << " production events, "
                                                  << std::fixed << std::setprecision(0)
                                                  << t.production_events / std::max(t.seconds, 1e-9)
                                                  << " events/s\n"
                                                  << std::flush;
                                      }),
                   "history");
    // As autovacuum would after a load of this size.
    const auto a0 = SteadyClock::now();
    CHECK_OK(db.Exec("ANALYZE"), "analyze");
    analyze_s_ = Ms(SteadyClock::now() - a0) / 1000;
    auto size = Must(db.Query(R"(
      SELECT coalesce(sum(pg_total_relation_size(c.oid)) FILTER (WHERE c.relname ~ '^(production_event|downtime_event|measurement|shift_instance)_'), 0),
             coalesce(sum(pg_total_relation_size(c.oid)) FILTER (WHERE c.relname ~ '^report_'), 0),
             (SELECT count(*) FROM millrace.report_output_day), (SELECT count(*) FROM millrace.report_output_hour)
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'millrace' AND c.relkind = 'r')"),
                     "sizes");
    facts_bytes_ = std::stod(size.GetString(0, 0));
    rollup_bytes_ = std::stod(size.GetString(0, 1));
    output_day_rows_ = std::stol(size.GetString(0, 2));
    output_hour_rows_ = std::stol(size.GetString(0, 3));
  }

  void Queries() {
    // One day and one week in the middle of the history.
    auto date = [&](int days_after) {
      return Must(cluster_->admin().Query("SELECT ($1::date + $2::integer)::text", {from_, std::to_string(days_after)}),
                  "date").GetString(0, 0);
    };
    const std::string day = date(o_.days / 2), week_end = date(o_.days / 2 + 6);
    auto add = [&](std::string name, std::string group, std::string target, std::string path,
                   std::string from, std::string to, std::string extra) {
      timings_.push_back({std::move(name), std::move(group), std::move(target), {}, 0, 0});
      targets_.push_back(Query(path, tenant_, from, to, extra));
    };
    const std::string f = from_, t = to_;
    const std::string hole = Must(cluster_->admin().Query(
        "SELECT id FROM millrace.inspection_characteristic WHERE tenant_id = $1 AND kind = 'measured'", {tenant_}),
        "characteristic").GetString(0, 0);
    // What the dashboard's pages ask for (central/web/dashboard.js), over the whole year.
    add("fleet: OEE of every site, one day", "dashboard", "100", "oee", day, day, "group=site&granularity=none");
    add("oee: trend (by month over a year)", "dashboard", "100", "oee", f, t, "group=none&granularity=month");
    add("oee: monthly trend by site", "dashboard", "100", "oee", f, t, "group=site&granularity=month");
    add("oee: ranking of sites", "dashboard", "100", "oee", f, t, "group=site&granularity=none&sort=oee");
    add("oee: ranking of lines", "dashboard", "100", "oee", f, t, "group=line&granularity=none&sort=oee");
    add("oee: ranking of units", "dashboard", "100", "oee", f, t, "group=unit&granularity=none&sort=oee");
    add("oee: one site by shift, a week", "dashboard", "100", "oee", day, week_end,
        "sites=plant-01&group=unit&granularity=shift");
    add("throughput: by site and month", "dashboard", "100", "throughput", f, t, "group=site&granularity=month");
    add("downtime: Pareto by reason", "dashboard", "100", "downtime", f, t, "by=reason");
    add("downtime: Pareto by loss class", "dashboard", "100", "downtime", f, t, "by=loss_class");
    add("scrap: Pareto by reason", "dashboard", "100", "scrap", f, t, "by=reason");
    add("scrap: Pareto by product", "dashboard", "100", "scrap", f, t, "by=product");
    add("yield: FPY by product and site", "dashboard", "100", "yield", f, t, "");
    add("reliability: MTBF/MTTR", "dashboard", "100", "reliability", f, t, "");
    add("quality: out of spec, Cp/Cpk", "dashboard", "100", "quality", f, t, "");
    // Asked of the API, not by the dashboard over a year: a year by day or by week reads
    // the day rows (the dashboard draws more than a quarter by month).
    add("api: OEE trend by day over the year", "api", "", "oee", f, t, "group=none&granularity=day");
    add("api: OEE trend by week over the year", "api", "", "oee", f, t, "group=none&granularity=week");
    add("api: OEE by site, last 90 days by day", "api", "", "oee", date(o_.days - 90), t, "group=site&granularity=day");
    // The events behind a number.
    add("drill: stops of a failure reason, year", "drill", "300", "downtime-events", f, t, "reason=DT-MECH-HYD&limit=50");
    add("drill: stops of one site, one day", "drill", "300", "downtime-events", day, day, "sites=plant-01&limit=50");
    add("drill: scrap counts of a reason, year", "drill", "300", "scrap-events", f, t, "reason=SC-DIM&limit=50");
    add("drill: scrap counts of one line, a week", "drill", "300", "scrap-events", day, week_end,
        "sites=plant-02&lines=LINE-3&limit=50");
    add("spc: hole diameter, a week", "drill", "300", "spc", day, week_end, "characteristic=" + hole);
    // Current state, not rollups.
    add("orders: plan vs actual, a week", "other", "", "orders", day, week_end, "by=order");
    add("orders: adherence by site, year", "other", "", "orders", f, t, "by=site");
    add("lead time by product, year", "other", "", "lead-time", f, t, "by=product");
    add("sync health", "other", "", "sync-health", "", "", "");

    std::mt19937_64 rng(42);
    // The baseline: count(*) over one day of raw events (a different day each sample).
    auto& db = cluster_->admin();
    for (int s = 0; s < o_.samples; ++s) {
      const std::string d = date(static_cast<int>(rng() % static_cast<std::uint64_t>(o_.days)));
      const auto t0 = SteadyClock::now();
      auto r = Must(db.Query("SELECT count(*) FROM millrace.production_event WHERE tenant_id = $1 AND at >= $2::date AND at < $2::date + 1",
                             {tenant_, d}),
                    "baseline");
      baseline_.push_back(Ms(SteadyClock::now() - t0));
      baseline_rows_ = std::stol(r.GetString(0, 0));
    }
    // Every query once unmeasured (the server's first plan of each), then round robin.
    for (int s = -1; s < o_.samples; ++s)
      for (std::size_t i = 0; i < targets_.size(); ++i) {
        const auto t0 = SteadyClock::now();
        auto r = HttpCall(cluster_->central_http(), "GET", targets_[i], "",
                          {{"authorization", "Bearer " + cluster_->admin_token()}}, std::chrono::seconds(120));
        const double ms = Ms(SteadyClock::now() - t0);
        if (!r.ok()) Die(r.status(), targets_[i]);
        if (r->status != 200) Die(Status::Internal("HTTP " + std::to_string(r->status) + ": " + r->body), targets_[i]);
        if (s < 0) {
          auto body = json::parse(r->body);
          timings_[i].rows = static_cast<int>(body["rows"].size());
          timings_[i].bytes = r->body.size();
          if (timings_[i].rows == 0 && timings_[i].group != "other")
            Die(Status::Internal("no rows"), targets_[i]);  // a query over nothing proves nothing
          continue;
        }
        timings_[i].ms.push_back(ms);
      }
  }

  // The probe: one operator on the probe site's WO-1001, counting one good part at a time.
  void Freshness() {
    cluster_->StopCentral();
    SetCache(64);
    CHECK_OK(cluster_->StartCentral(), "restart mes-central");
    CHECK_OK(cluster_->SeedDemo(tenant_, {"floor", "probe"}), "seed-demo");
    for (const char* site : {"floor", "probe"}) {
      CHECK_OK(cluster_->AddSite(tenant_, site), std::string("add site ") + site);
      CHECK_OK(cluster_->StartEdge(site), std::string("start edge ") + site);
    }
    const std::string sam = Must(cluster_->BadgeIn("probe", "2001", "L1-PRESS"), "badge in");
    const std::string wo = Must(cluster_->EdgeId("probe", "work_order", "number", "WO-1001"), "WO-1001");
    json order = Must(cluster_->EdgeCall("probe", "GET", "/api/v1/work-orders/" + wo, nullptr, sam), "order");
    if (order["status"] == "Draft") {
      Must(cluster_->EdgeCall("probe", "POST", "/api/v1/work-orders/" + wo + "/release", json::object(), sam), "release");
      order = Must(cluster_->EdgeCall("probe", "GET", "/api/v1/work-orders/" + wo, nullptr, sam), "order");
    }
    const std::string op = order["operations"][0]["id"];
    const std::string ana = Must(cluster_->BadgeIn("probe", "1001", "L1-CUT"), "badge in");
    Must(cluster_->EdgeCall("probe", "POST", "/api/v1/operations/" + op + "/start", json::object(), ana), "start");

    testing::ChildProcess sim({o_.mes_sim, "--edge", cluster_->edge_url("floor"), "--units",
                               std::to_string(o_.sim_units), "--cycle-ms", "1", "--json"},
                              cluster_->dir() / "sim.log");
    CHECK_OK(sim.Start(), "mes-sim");
    sim_ = &sim;
    std::this_thread::sleep_for(std::chrono::seconds(3));  // the floor at speed first

    // Around today in every zone the probe site may be in.
    const std::int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                    std::chrono::system_clock::now().time_since_epoch()).count();
    const std::string from = TimeZone::Utc().ToCivil(now_ms - 86'400'000).Date();
    const std::string to = TimeZone::Utc().ToCivil(now_ms + 86'400'000).Date();
    const std::string report = Query("oee", tenant_, from, to, "sites=probe&group=none&granularity=none");
    auto good = [&]() -> double {
      auto r = HttpCall(cluster_->central_http(), "GET", report, "",
                        {{"authorization", "Bearer " + cluster_->admin_token()}}, std::chrono::seconds(30));
      if (!r.ok() || r->status != 200) return -1;
      auto body = json::parse(r->body);
      return body["rows"].empty() ? 0 : body["rows"][0]["good"].get<double>();
    };
    double seen = good();
    std::mt19937_64 rng(7);
    const auto sim_start = SteadyClock::now();
    for (int i = 0; i < o_.probes; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100 + rng() % 300));
      Must(cluster_->EdgeCall("probe", "POST", "/api/v1/operations/" + op + "/counts", json{{"good", 1}}, ana), "count");
      const auto committed = SteadyClock::now();
      const double want = seen + 1;
      while (true) {
        const double g = good();
        if (g >= want) {
          fresh_ms_.push_back(Ms(SteadyClock::now() - committed));
          seen = g;
          break;
        }
        if (SteadyClock::now() - committed > std::chrono::seconds(60))
          Die(Status::Timeout("count " + std::to_string(i) + " not in the report after 60 s"), "freshness");
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
    }
    sim_seconds_ = Ms(SteadyClock::now() - sim_start) / 1000 + 3;
    sim.Signal(SIGINT);
    sim_ = nullptr;
    std::ifstream in(cluster_->dir() / "sim.log");
    std::stringstream text;
    text << in.rdbuf();
    const std::string log = text.str();
    const auto brace = log.rfind("\n{");
    sim_summary_ = json::parse(brace == std::string::npos ? log : log.substr(brace + 1), nullptr, false);
    auto floor_rows = Must(cluster_->admin().Query(
                               "SELECT count(*) FROM millrace.production_event WHERE tenant_id = $1 AND site_id = 'floor'", {tenant_}),
                           "floor rows");
    floor_events_ = std::stol(floor_rows.GetString(0, 0));
    if (floor_events_ == 0)  // freshness on an idle central proves nothing
      Die(Status::FailedPrecondition("no count of the floor reached central; see " +
                                     (cluster_->dir() / "sim.log").string()),
          "freshness");
  }

  void Print() {
    using bench::Percentile;
    std::cout << std::fixed << std::setprecision(1);
    std::cout << "\nhistory: " << totals_.production_events << " production events, " << totals_.downtime_events
              << " stops, " << totals_.measurements << " measurements, " << totals_.shift_instances
              << " shift instances, " << totals_.work_orders << " work orders in " << totals_.seconds
              << " s (" << std::setprecision(0) << totals_.production_events / totals_.seconds
              << " events/s with rollups), ANALYZE " << std::setprecision(1) << analyze_s_ << " s\n"
              << "  facts " << facts_bytes_ / (1 << 30) << " GiB, rollups " << rollup_bytes_ / (1 << 30)
              << " GiB (" << output_hour_rows_ << " output hour rows, " << output_day_rows_ << " day rows)\n";
    const double base95 = Percentile(baseline_, 0.95), base50 = Percentile(baseline_, 0.5);
    std::cout << "baseline: count(*) over one day of raw events (" << baseline_rows_ << " rows): p50 " << base50
              << " ms, p95 " << base95 << " ms\n\n";
    std::cout << std::left << std::setw(44) << "query" << std::right << std::setw(7) << "rows" << std::setw(9)
              << "p50 ms" << std::setw(9) << "p95 ms" << std::setw(9) << "max ms" << std::setw(11) << "p95/base"
              << std::setw(9) << "target" << "\n";
    json out;
    out["history"] = {{"sites", o_.sites},
                      {"lines", o_.lines},
                      {"days", o_.days},
                      {"from", from_},
                      {"to", to_},
                      {"production_events", totals_.production_events},
                      {"downtime_events", totals_.downtime_events},
                      {"measurements", totals_.measurements},
                      {"shift_instances", totals_.shift_instances},
                      {"work_orders", totals_.work_orders},
                      {"seconds", totals_.seconds},
                      {"events_per_second", totals_.production_events / totals_.seconds},
                      {"facts_bytes", facts_bytes_},
                      {"rollup_bytes", rollup_bytes_},
                      {"output_hour_rows", output_hour_rows_},
                      {"output_day_rows", output_day_rows_}};
    out["baseline"] = {{"rows", baseline_rows_}, {"p50_ms", base50}, {"p95_ms", base95}};
    int missed = 0;
    for (const auto& t : timings_) {
      const double p50 = Percentile(t.ms, 0.5), p95 = Percentile(t.ms, 0.95), mx = Percentile(t.ms, 1.0);
      const bool ok = t.target.empty() || p95 < std::stod(t.target);
      missed += ok ? 0 : 1;
      std::cout << std::left << std::setw(44) << t.name << std::right << std::setw(7) << t.rows << std::setw(9) << p50
                << std::setw(9) << p95 << std::setw(9) << mx << std::setw(10) << std::setprecision(2)
                << p95 / base95 << "x" << std::setprecision(1) << std::setw(9)
                << (t.target.empty() ? "-" : "<" + t.target + (ok ? "" : " !")) << "\n";
      out["queries"].push_back({{"name", t.name}, {"group", t.group}, {"rows", t.rows}, {"bytes", t.bytes},
                                {"p50_ms", p50}, {"p95_ms", p95}, {"max_ms", mx}, {"p95_over_baseline", p95 / base95},
                                {"target_ms", t.target}});
    }
    const double f50 = Percentile(fresh_ms_, 0.5), f99 = Percentile(fresh_ms_, 0.99);
    std::cout << "\nfreshness: " << fresh_ms_.size() << " counts committed at an edge, seen in the report API after p50 "
              << f50 << " ms, p99 " << f99 << " ms, max " << Percentile(fresh_ms_, 1.0) << " ms (target p99 < 2000)\n"
              << "  while mes-sim drove the floor edge: " << floor_events_ << " production events at central in "
              << sim_seconds_ << " s";
    if (sim_summary_.is_object() && sim_summary_.contains("events_per_s"))
      std::cout << ", mes-sim " << std::setprecision(0) << sim_summary_["events_per_s"].get<double>()
                << " writes/s, " << sim_summary_.value("failed", 0) << " failed";
    std::cout << "\n";
    out["freshness"] = {{"samples", fresh_ms_.size()}, {"p50_ms", f50}, {"p99_ms", f99},
                        {"max_ms", Percentile(fresh_ms_, 1.0)}, {"floor_events", floor_events_},
                        {"floor_seconds", sim_seconds_}, {"sim", sim_summary_}};
    out["targets_missed"] = missed + (f99 < 2000 ? 0 : 1);
    out["machine"] = MachineJson();
    if (!o_.json_path.empty()) std::ofstream(o_.json_path) << out.dump(2) << "\n";
  }

  Options o_;
  const std::string tenant_ = "fleet";
  std::unique_ptr<testing::SyncCluster> cluster_;
  std::string from_, to_;
  bench::HistoryTotals totals_;
  double analyze_s_ = 0, facts_bytes_ = 0, rollup_bytes_ = 0;
  long output_day_rows_ = 0, output_hour_rows_ = 0, baseline_rows_ = 0, floor_events_ = 0;
  std::vector<double> baseline_, fresh_ms_;
  std::vector<Timing> timings_;
  std::vector<std::string> targets_;
  double sim_seconds_ = 0;
  testing::ChildProcess* sim_ = nullptr;  // while the floor runs
  json sim_summary_;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Millrace report benchmarks: a year of history, dashboard and drill-down queries, freshness"};
  Options o;
  app.add_option("--mes-central", o.mes_central, "mes-central binary")->required();
  app.add_option("--mes-edge", o.mes_edge, "mes-edge binary")->required();
  app.add_option("--mes-sim", o.mes_sim, "mes-sim binary")->required();
  app.add_option("--sites", o.sites, "Factories in the history")->check(CLI::Range(1, 200));
  app.add_option("--lines", o.lines, "Lines per factory (three work units each)")->check(CLI::Range(2, 20));
  app.add_option("--days", o.days, "Days of history")->check(CLI::Range(7, 730));
  app.add_option("--counts", o.counts, "COUNT events per work unit and day")->check(CLI::Range(1, 5000));
  app.add_option("--samples", o.samples, "Timed runs of each query")->check(CLI::Range(5, 1000));
  app.add_option("--probes", o.probes, "Counts timed from the edge to the report API")->check(CLI::Range(5, 10000));
  app.add_option("--sim-units", o.sim_units, "Work units mes-sim drives on the floor edge")->check(CLI::Range(1, 6));
  app.add_option("--json", o.json_path, "Also write the results here");
  app.add_flag("--keep", o.keep, "Keep the database and the cluster's directory afterwards");
  CLI11_PARSE(app, argc, argv);
  (void)InitLogging({.level = "error", .format = "human", .program = "report_bench"});
  g_program = "report_bench";
  return Bench(o).Run();
}
