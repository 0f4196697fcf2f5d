// The reporting API over a real PostgreSQL: each report's numbers against a day worked out
// by hand by the ISO 22400 definitions, drill-downs, keyset paging, JSON and CSV, ETag and
// 304, per-tenant limits, a viewer held to its sites, and cached answers dropped when the
// rollups under them change (LISTEN/NOTIFY).
#include <gtest/gtest.h>

#include <cmath>
#include <sstream>
#include <thread>

#include "millrace/central/pg_listener.h"
#include "millrace/central/report_routes.h"
#include "millrace/central/reports.h"
#include "millrace/central/schema.h"
#include "millrace/common/ddl.h"
#include "test_pg.h"

namespace millrace::central {
namespace {

using json = nlohmann::json;
using catalog::QuoteLiteral;
using millrace::testing::TestDatabase;

constexpr const char* kLine = "00000000-0000-7000-8000-00000000000a";
constexpr const char* kUnit1 = "00000000-0000-7000-8000-0000000000a1";
constexpr const char* kUnit2 = "00000000-0000-7000-8000-0000000000a2";
constexpr const char* kOrder = "00000000-0000-7000-8000-0000000000c1";
constexpr const char* kOp = "00000000-0000-7000-8000-0000000000c2";
constexpr const char* kShift = "00000000-0000-7000-8000-000000000101";

std::string Local(const std::string& wall) {
  return "(timestamp " + QuoteLiteral(wall) + " AT TIME ZONE 'Europe/Paris')";
}

// One early shift at lyon on 10 November 2026 (06:00-14:00 Paris, a 15-minute break), two
// work units on line L1. Unit 1 runs OP10 (ideal 20 s): 600 good and 20 scrap (scratch),
// then 10 rework; it stops 10:00-10:30 for a planned meeting and 11:00-11:20 for a
// breakdown (a failure). Unit 2 is planned and makes nothing.
//   unit 1: PPT = 8 h - 15 min - 30 min = 26100 s; run = 26100 - 1200 = 24900 s
//           A = 24900/26100, P = 630 x 20/24900, Q = 600/630, OEE = 600 x 20/26100
//   unit 2: PPT = run = 27900 s, nothing made: P = 0, OEE = 0
//   line:   OEE = 12000/(26100 + 27900) = 0.2222...
class PgReportsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto central = millrace::testing::CreateCentralDatabase();
    ASSERT_TRUE(central.ok()) << central.status().ToString();
    db_ = std::move(central->db);
    admin_ = std::move(central->admin);
    app_ = std::move(central->app);
    // Reports run as central's report role, as mes-central's report pool does.
    auto report = db_->Connect("millrace_app");
    ASSERT_TRUE(report.ok());
    report_ = std::move(report).value();
    ASSERT_TRUE(report_->Exec("SET ROLE millrace_report").ok());
    for (const char* t : {"acme", "globex"}) {
      Tx(t, std::string("INSERT INTO millrace.sync_tenant (tenant_id, name) VALUES ('") + t + "', '" + t + "')");
    }
    Tx("acme", "INSERT INTO millrace.sync_site (tenant_id, site_id, time_zone) VALUES ('acme', 'lyon', "
               "'Europe/Paris'), ('acme', 'porto', 'Europe/Lisbon')");
    Tx("globex", "INSERT INTO millrace.sync_site (tenant_id, site_id) VALUES ('globex', 'tokyo')");
    Tx("acme", std::string("INSERT INTO millrace.equipment (tenant_id, id, site_id, parent_id, level, code, "
                           "name, ideal_cycle_time_s, active, hlc, origin) VALUES ") +
                   "('acme', '" + kLine + "', 'lyon', NULL, 'work_center', 'L1', 'Line 1', NULL, true, 1, 'central'), "
                   "('acme', '" + kUnit1 + "', 'lyon', '" + kLine + "', 'work_unit', 'U1', 'Press', 30, true, 1, 'central'), "
                   "('acme', '" + kUnit2 + "', 'lyon', '" + kLine + "', 'work_unit', 'U2', 'Lathe', 45, true, 1, 'central')");
    Tx("acme", "INSERT INTO millrace.material_definition (tenant_id, id, code, name, revision, unit, tracking, "
               "active, hlc, origin) VALUES ('acme', '00000000-0000-7000-8000-0000000000b1', 'BRACKET', "
               "'Bracket', 'A', 'pcs', 'lot', true, 1, 'central')");
    Tx("acme", "INSERT INTO millrace.reason_code (tenant_id, id, code, name, category, oee_bucket, loss_class, "
               "planned, is_failure, active, hlc, origin) VALUES "
               "('acme', '00000000-0000-7000-8000-0000000000d1', 'DT-BRK', 'Breakdown', 'downtime', "
               "'availability', 'breakdown', false, true, true, 1, 'central'), "
               "('acme', '00000000-0000-7000-8000-0000000000d2', 'DT-MEET', 'Meeting', 'downtime', NULL, "
               "'planned', true, false, true, 1, 'central'), "
               "('acme', '00000000-0000-7000-8000-0000000000d3', 'SC-SCR', 'Scratch', 'scrap', 'quality', "
               "'process_defect', false, false, true, 1, 'central')");
    Tx("acme", std::string("INSERT INTO millrace.work_order (tenant_id, id, site_id, number, material_id, "
                           "planned_quantity, priority, status, good_quantity, scrap_quantity, hlc, origin) "
                           "VALUES ('acme', '") + kOrder + "', 'lyon', 'WO-1', '00000000-0000-7000-8000-0000000000b1', "
                           "700, 5, 'InProgress', 0, 0, 1, 'central')");
    Tx("acme", std::string("INSERT INTO millrace.work_order_operation (tenant_id, id, site_id, work_order_id, "
                           "seq, op_code, work_unit_id, status, planned_quantity, good_quantity, scrap_quantity, "
                           "rework_quantity, ideal_cycle_time_s, hlc, origin) VALUES ('acme', '") + kOp +
                   "', 'lyon', '" + kOrder + "', 10, 'OP10', '" + kUnit1 + "', 'Running', 700, 0, 0, 0, 20, 1, 'central')");
    Tx("acme", "INSERT INTO millrace.shift_pattern (tenant_id, id, site_id, code, name, start_minute, end_minute, "
               "weekdays, planned_breaks, hlc, origin) VALUES ('acme', '00000000-0000-7000-8000-0000000000f0', "
               "'lyon', 'EARLY', 'Early', 360, 840, 127, '[{\"start_minute\": 120, \"minutes\": 15}]', 1, 'central')");
    Tx("acme", std::string("INSERT INTO millrace.shift_instance (tenant_id, id, site_id, shift_pattern_id, "
                           "business_date, starts_at, ends_at, hlc, origin) VALUES ('acme', '") + kShift +
                   "', 'lyon', '00000000-0000-7000-8000-0000000000f0', '2026-11-10', " + Local("2026-11-10 06:00") +
                   ", " + Local("2026-11-10 14:00") + ", 1, 'lyon')");
    Tx("acme", Count("2026-11-10 09:00", 600, 20, 0, "'00000000-0000-7000-8000-0000000000d3'") + "; " +
                   Count("2026-11-10 12:00", 0, 0, 10, "NULL"));
    Tx("acme", Stop("00000000-0000-7000-8000-000000000201", "2026-11-10 10:00", "2026-11-10 10:30",
                    "00000000-0000-7000-8000-0000000000d2", true) + "; " +
                   Stop("00000000-0000-7000-8000-000000000202", "2026-11-10 11:00", "2026-11-10 11:20",
                        "00000000-0000-7000-8000-0000000000d1", false));
  }

  void Tx(const std::string& tenant, const std::string& sql) {
    ASSERT_TRUE(app_->Exec("BEGIN").ok());
    ASSERT_TRUE(app_->Exec("SET LOCAL app.tenant_id = " + QuoteLiteral(tenant)).ok());
    Status s = app_->Exec(sql);
    EXPECT_TRUE(s.ok()) << s.ToString() << "\n" << sql;
    ASSERT_TRUE(app_->Exec(s.ok() ? "COMMIT" : "ROLLBACK").ok());
  }
  static std::string Count(const std::string& at, int good, int scrap, int rework, const std::string& reason,
                           const std::string& shift = std::string("'") + kShift + "'") {
    return std::string("INSERT INTO millrace.production_event (tenant_id, id, site_id, kind, at, work_order_id, "
                       "operation_id, work_unit_id, shift_instance_id, good_quantity, scrap_quantity, "
                       "rework_quantity, scrap_reason_id, hlc, origin) VALUES ('acme', gen_random_uuid(), 'lyon', "
                       "'COUNT', ") + Local(at) + ", '" + kOrder + "', '" + kOp + "', '" + kUnit1 + "', " + shift +
           ", " + std::to_string(good) + ", " + std::to_string(scrap) + ", " + std::to_string(rework) + ", " +
           reason + ", 1, 'lyon')";
  }
  static std::string Stop(const std::string& id, const std::string& from, const std::string& to,
                          const std::string& reason, bool planned) {
    return "INSERT INTO millrace.downtime_event (tenant_id, id, site_id, work_unit_id, started_at, ended_at, "
           "reason_id, planned, hlc, origin) VALUES ('acme', '" + id + "', 'lyon', '" + kUnit1 + "', " +
           Local(from) + ", " + Local(to) + ", '" + reason + "', " + (planned ? "true" : "false") + ", 1, 'lyon')";
  }

  // The report as JSON (through the same code as the HTTP route, without the cache).
  json Run(const std::string& report, std::map<std::string, std::string> params,
           const std::string& tenant = "acme", std::vector<std::string> allowed_sites = {}) {
    params.emplace("from", "2026-11-10");
    params.emplace("to", "2026-11-10");
    const ReportSpec* spec = FindReport(report);
    EXPECT_NE(spec, nullptr) << report;
    if (!spec) return nullptr;
    if (!spec->time_range) {
      params.erase("from");
      params.erase("to");
    }
    auto q = ParseReportQuery(*spec, params, "", "2026-11-30", tenant, false);
    EXPECT_TRUE(q.ok()) << q.status().ToString();
    if (!q.ok()) return nullptr;
    q->allowed_sites = allowed_sites;
    auto r = RunReport(*report_, *q);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok()) return nullptr;
    return json::parse(RenderReportJson(*q, *r));
  }

  std::unique_ptr<TestDatabase> db_;
  std::unique_ptr<PgConnection> admin_;
  std::unique_ptr<PgConnection> app_;
  std::unique_ptr<PgConnection> report_;
};

void ExpectNear(const json& v, double want, const std::string& what) {
  ASSERT_TRUE(v.is_number()) << what << ": " << v.dump();
  EXPECT_NEAR(v.get<double>(), want, 1e-9) << what;
}

TEST_F(PgReportsTest, OeeOfAWorkUnitIsTheDayWorkedOutByHand) {
  json r = Run("oee", {{"group", "unit"}});
  ASSERT_EQ(r["rows"].size(), 2u) << r.dump(2);
  const json* u1 = nullptr;
  const json* u2 = nullptr;
  for (const auto& row : r["rows"]) (row["unit_code"] == "U1" ? u1 : u2) = &row;
  ASSERT_TRUE(u1 && u2);
  EXPECT_EQ((*u1)["period"], "2026-11-10");
  ExpectNear((*u1)["shift_time_s"], 28800, "shift");
  ExpectNear((*u1)["planned_breaks_s"], 900, "breaks");
  ExpectNear((*u1)["planned_stops_s"], 1800, "planned stops");
  ExpectNear((*u1)["unplanned_stops_s"], 1200, "unplanned stops");
  ExpectNear((*u1)["planned_production_time_s"], 26100, "PPT");
  ExpectNear((*u1)["run_time_s"], 24900, "run");
  ExpectNear((*u1)["availability"], 24900.0 / 26100, "A");
  ExpectNear((*u1)["performance"], 630.0 * 20 / 24900, "P");
  ExpectNear((*u1)["quality"], 600.0 / 630, "Q");
  ExpectNear((*u1)["oee"], 600.0 * 20 / 26100, "OEE");
  ExpectNear((*u1)["availability"].get<double>() * (*u1)["performance"].get<double>() *
                 (*u1)["quality"].get<double>(),
             (*u1)["oee"].get<double>(), "A x P x Q");
  ExpectNear((*u2)["planned_production_time_s"], 27900, "unit 2 PPT");
  ExpectNear((*u2)["oee"], 0, "unit 2 OEE");
  EXPECT_EQ((*u2)["quality"], nullptr);  // nothing made: no quality, not 0 or 100 %
  // The line sums its units before dividing: never an average of percentages.
  json line = Run("oee", {{"group", "line"}, {"granularity", "none"}});
  ASSERT_EQ(line["rows"].size(), 1u);
  EXPECT_EQ(line["rows"][0]["line_code"], "L1");
  ExpectNear(line["rows"][0]["oee"], 12000.0 / 54000, "line OEE");
  // By shift, by hour: the same day, cut finer, adds up to the same.
  json shifts = Run("oee", {{"group", "none"}, {"granularity", "shift"}});
  ASSERT_EQ(shifts["rows"].size(), 1u);
  EXPECT_EQ(shifts["rows"][0]["shift"], "2026-11-10 EARLY");
  ExpectNear(shifts["rows"][0]["oee"], 12000.0 / 54000, "shift OEE");
  json hours = Run("oee", {{"group", "unit"}, {"granularity", "hour"}, {"units", "U1"}});
  ASSERT_EQ(hours["rows"].size(), 8u);
  double ppt = 0;
  for (const auto& h : hours["rows"]) ppt += h["planned_production_time_s"].get<double>();
  EXPECT_NEAR(ppt, 26100, 1e-9);
  EXPECT_EQ(hours["rows"][0]["period"], "2026-11-10T05:00Z");  // 06:00 in Paris
  // Ranking: best first.
  json ranking = Run("oee", {{"group", "unit"}, {"granularity", "none"}, {"sort", "oee"}});
  ASSERT_EQ(ranking["rows"].size(), 2u);
  EXPECT_EQ(ranking["rows"][0]["unit_code"], "U1");
  // Another tenant sees none of it.
  json other = Run("oee", {{"group", "unit"}}, "globex");
  EXPECT_EQ(other["rows"].size(), 0u);
}

// A viewer held to porto, asking with no site filter at all (as a handler that forgot
// one would): the database itself shows it nothing of lyon, in any report.
TEST_F(PgReportsTest, TheDatabaseHoldsAViewerToItsSitesWhateverTheQuery) {
  for (const ReportSpec& spec : Reports()) {
    std::map<std::string, std::string> p;
    if (spec.name == "spc") p["characteristic"] = "x";
    if (spec.name == "genealogy") p["lot"] = "x";
    const json mine = Run(spec.name, p, "acme", {"porto"});
    ASSERT_TRUE(mine.is_object()) << spec.name;
    EXPECT_EQ(mine["rows"].dump().find("lyon"), std::string::npos) << spec.name << ": " << mine.dump();
    EXPECT_EQ(mine["sites_as_of"].size(), 1u) << spec.name;
  }
  EXPECT_EQ(Run("oee", {{"group", "unit"}}, "acme", {"porto"})["rows"].size(), 0u);
  EXPECT_EQ(Run("oee", {{"group", "unit"}}, "acme", {"lyon"})["rows"].size(), 2u);
  // Nor can it read the facts directly.
  ASSERT_TRUE(report_->Exec("BEGIN").ok());
  ASSERT_TRUE(report_->Exec("SET LOCAL app.tenant_id = 'acme'; SET LOCAL app.sites = 'porto'").ok());
  auto n = report_->Query("SELECT count(*) FROM millrace.production_event");
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(n->GetString(0, 0), "0");
  EXPECT_FALSE(report_->Exec("SELECT * FROM millrace.users").ok());  // PIN hashes: never
  ASSERT_TRUE(report_->Exec("ROLLBACK").ok());
  ASSERT_TRUE(report_->Exec("BEGIN").ok());
  EXPECT_FALSE(report_->Exec("DELETE FROM millrace.production_event").ok());  // reads only
  ASSERT_TRUE(report_->Exec("ROLLBACK").ok());
}

TEST_F(PgReportsTest, ParetosOfStopsAndScrapAndTheEventsBehindThem) {
  json d = Run("downtime", {{"by", "reason"}});
  ASSERT_EQ(d["rows"].size(), 2u) << d.dump(2);
  EXPECT_EQ(d["rows"][0]["reason_code"], "DT-MEET");
  ExpectNear(d["rows"][0]["stop_time_s"], 1800, "meeting");
  ExpectNear(d["rows"][0]["share"], 0.6, "share");
  EXPECT_EQ(d["rows"][1]["reason_code"], "DT-BRK");
  ExpectNear(d["rows"][1]["cumulative_share"], 1.0, "cumulative");
  json unplanned = Run("downtime", {{"by", "loss_class"}, {"planned", "false"}});
  ASSERT_EQ(unplanned["rows"].size(), 1u);
  EXPECT_EQ(unplanned["rows"][0]["loss_class"], "breakdown");
  json events = Run("downtime-events", {{"reason", "DT-BRK"}});
  ASSERT_EQ(events["rows"].size(), 1u);
  EXPECT_EQ(events["rows"][0]["started_at"], "2026-11-10T10:00:00.000Z");
  ExpectNear(events["rows"][0]["duration_s"], 1200, "duration");

  json s = Run("scrap", {{"by", "reason"}});
  ASSERT_EQ(s["rows"].size(), 2u) << s.dump(2);
  EXPECT_EQ(s["rows"][0]["reason_code"], "SC-SCR");
  ExpectNear(s["rows"][0]["scrap"], 20, "scrap");
  ExpectNear(s["rows"][0]["share"], 20.0 / 30, "share");
  ExpectNear(s["rows"][1]["rework"], 10, "rework");
  json by_product = Run("scrap", {{"by", "product"}});
  ASSERT_EQ(by_product["rows"].size(), 1u);
  EXPECT_EQ(by_product["rows"][0]["product_code"], "BRACKET");
  ExpectNear(by_product["rows"][0]["scrap_ratio"], 20.0 / 630, "scrap ratio");
  json scrap_events = Run("scrap-events", {{"reason", "SC-SCR"}});
  ASSERT_EQ(scrap_events["rows"].size(), 1u);
  EXPECT_EQ(scrap_events["rows"][0]["work_order"], "WO-1");
  // A product filter keeps to what that product made.
  EXPECT_EQ(Run("scrap", {{"by", "site"}, {"products", "NOPE"}})["rows"].size(), 0u);
}

TEST_F(PgReportsTest, ReliabilityAndSyncHealth) {
  json r = Run("reliability", {});
  ASSERT_EQ(r["rows"].size(), 2u) << r.dump(2);
  EXPECT_EQ(r["rows"][0]["unit_code"], "U1");  // the only one that failed: worst first
  ExpectNear(r["rows"][0]["operating_time_s"], 24900, "operating");
  EXPECT_EQ(r["rows"][0]["failures"], 1);
  ExpectNear(r["rows"][0]["mtbf_s"], 24900, "MTBF");
  ExpectNear(r["rows"][0]["mttr_s"], 1200, "MTTR");
  EXPECT_EQ(r["rows"][1]["mtbf_s"], nullptr);

  json h = Run("sync-health", {});
  ASSERT_EQ(h["rows"].size(), 2u);
  EXPECT_EQ(h["rows"][0]["site"], "lyon");
  EXPECT_EQ(h["rows"][0]["online"], "false");
  EXPECT_EQ(h["rows"][0]["time_zone"], "Europe/Paris");
  EXPECT_EQ(h["data_as_of"], nullptr);  // nothing has been synced in this test
}

TEST_F(PgReportsTest, KeysetPagesCoverEveryRowOnce) {
  // Four days of a count each: pages of one.
  for (const char* day : {"2026-11-11", "2026-11-12", "2026-11-13"})
    Tx("acme", Count(std::string(day) + " 09:00", 5, 0, 0, "NULL", "NULL"));
  std::vector<std::string> seen;
  std::string after;
  for (int page = 0; page < 10; ++page) {
    std::map<std::string, std::string> p = {{"group", "unit"}, {"units", "U1"}, {"limit", "1"},
                                            {"from", "2026-11-10"}, {"to", "2026-11-13"}};
    if (!after.empty()) p["after"] = after;
    json r = Run("oee", p);
    ASSERT_EQ(r["rows"].size(), 1u) << r.dump();
    seen.push_back(r["rows"][0]["period"]);
    if (r["next"].is_null()) break;
    after = r["next"];
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"2026-11-10", "2026-11-11", "2026-11-12", "2026-11-13"}));
}

TEST_F(PgReportsTest, YieldThroughputAndWorkInProgress) {
  // A second operation on unit 2: 90 good and 10 scrap.
  Tx("acme", std::string("INSERT INTO millrace.work_order_operation (tenant_id, id, site_id, work_order_id, seq, "
                         "op_code, work_unit_id, status, planned_quantity, good_quantity, scrap_quantity, "
                         "rework_quantity, ideal_cycle_time_s, hlc, origin) VALUES ('acme', "
                         "'00000000-0000-7000-8000-0000000000c3', 'lyon', '") + kOrder + "', 20, 'OP20', '" + kUnit2 +
                 "', 'Pending', 700, 0, 0, 0, 30, 1, 'central')");
  Tx("acme", std::string("INSERT INTO millrace.production_event (tenant_id, id, site_id, kind, at, work_order_id, "
                         "operation_id, work_unit_id, shift_instance_id, good_quantity, scrap_quantity, "
                         "rework_quantity, hlc, origin) VALUES ('acme', gen_random_uuid(), 'lyon', 'COUNT', ") +
                 Local("2026-11-10 13:00") + ", '" + kOrder + "', '00000000-0000-7000-8000-0000000000c3', '" + kUnit2 +
                 "', '" + kShift + "', 90, 10, 0, 1, 'lyon')");
  json y = Run("yield", {});
  ASSERT_EQ(y["rows"].size(), 1u) << y.dump(2);
  EXPECT_EQ(y["rows"][0]["product_code"], "BRACKET");
  EXPECT_EQ(y["rows"][0]["operations"], 2);
  ExpectNear(y["rows"][0]["fpy"], 690.0 / 730, "FPY");
  ExpectNear(y["rows"][0]["rty"], (600.0 / 630) * (90.0 / 100), "RTY");

  json t = Run("throughput", {{"group", "unit"}, {"units", "U1"}, {"granularity", "none"}});
  ASSERT_EQ(t["rows"].size(), 1u);
  ExpectNear(t["rows"][0]["good_per_run_hour"], 600.0 * 3600 / 24900, "throughput");
  ExpectNear(t["rows"][0]["good_per_planned_hour"], 600.0 * 3600 / 26100, "per planned hour");

  json w = Run("wip", {{"group", "unit"}});
  ASSERT_EQ(w["rows"].size(), 1u) << w.dump(2);  // OP10 runs; OP20 is pending
  EXPECT_EQ(w["rows"][0]["unit_code"], "U1");
  ExpectNear(w["rows"][0]["wip"], 700, "WIP");
}

TEST_F(PgReportsTest, CapabilityAndControlChartFromHourlySubgroups) {
  Tx("acme", "INSERT INTO millrace.inspection_characteristic (tenant_id, id, plan_id, seq, name, kind, unit, "
             "nominal, lsl, usl, hlc, origin) VALUES ('acme', '00000000-0000-7000-8000-0000000000e1', "
             "'00000000-0000-7000-8000-0000000000e0', 1, 'Diameter', 'measured', 'mm', 10, 9.9, 10.1, 1, 'central')");
  const std::vector<std::pair<std::string, double>> values = {
      {"09:10", 10.00}, {"09:20", 10.02}, {"09:40", 9.98}, {"10:10", 10.04}, {"10:20", 10.06}, {"10:30", 10.12}};
  std::string sql;
  for (const auto& [at, v] : values)
    sql += "INSERT INTO millrace.measurement (tenant_id, id, site_id, characteristic_id, operation_id, value, "
           "in_spec, at, hlc, origin) VALUES ('acme', gen_random_uuid(), 'lyon', "
           "'00000000-0000-7000-8000-0000000000e1', '" + std::string(kOp) + "', " + std::to_string(v) + ", " +
           (v <= 10.1 ? "true" : "false") + ", " + Local("2026-11-10 " + at) + ", 1, 'lyon');";
  Tx("acme", sql);
  // By hand: the spread within each hour's subgroup, pooled, and overall.
  auto subgroup = [](std::vector<double> xs, double* sum, double* ss) {
    double mean = 0;
    for (double x : xs) mean += x / static_cast<double>(xs.size());
    for (double x : xs) *ss += (x - mean) * (x - mean);
    for (double x : xs) *sum += x;
  };
  double sum = 0, ss = 0;
  subgroup({10.00, 10.02, 9.98}, &sum, &ss);
  subgroup({10.04, 10.06, 10.12}, &sum, &ss);
  const double mean = sum / 6, sigma_within = std::sqrt(ss / 4);
  json q = Run("quality", {});
  ASSERT_EQ(q["rows"].size(), 1u) << q.dump(2);
  const json& d = q["rows"][0];
  EXPECT_EQ(d["characteristic"], "Diameter");
  EXPECT_EQ(d["measurements"], 6);
  EXPECT_EQ(d["out_of_spec"], 1);
  ExpectNear(d["out_of_spec_rate"], 1.0 / 6, "out of spec");
  EXPECT_NEAR(d["mean"].get<double>(), mean, 1e-12);
  EXPECT_NEAR(d["sigma_within"].get<double>(), sigma_within, 1e-12);
  EXPECT_NEAR(d["cp"].get<double>(), 0.2 / (6 * sigma_within), 1e-9);
  EXPECT_NEAR(d["cpk"].get<double>(), std::min(10.1 - mean, mean - 9.9) / (3 * sigma_within), 1e-9);
  json c = Run("spc", {{"characteristic", "Diameter"}});
  ASSERT_EQ(c["rows"].size(), 2u) << c.dump(2);
  EXPECT_EQ(c["rows"][0]["hour"], "2026-11-10T08:00:00.000Z");
  EXPECT_NEAR(c["rows"][0]["mean"].get<double>(), 10.0, 1e-12);
  EXPECT_NEAR(c["rows"][1]["range"].get<double>(), 0.08, 1e-12);
  EXPECT_NEAR(c["rows"][0]["ucl"].get<double>(), mean + 3 * sigma_within / std::sqrt(3.0), 1e-9);
  EXPECT_EQ(c["rows"][0]["usl"], 10.1);
}

// A range of whole months reads the month rows, and the days around them the day rows: a
// month, and two months cut mid-month, answer what the one day of facts answers.
TEST_F(PgReportsTest, WholeMonthsReadFromMonthRowsAnswerWhatTheirDaysAnswer) {
  Tx("acme", "INSERT INTO millrace.inspection_characteristic (tenant_id, id, plan_id, seq, name, kind, unit, "
             "nominal, lsl, usl, hlc, origin) VALUES ('acme', '00000000-0000-7000-8000-0000000000e1', "
             "'00000000-0000-7000-8000-0000000000e0', 1, 'Diameter', 'measured', 'mm', 10, 9.9, 10.1, 1, 'central')");
  std::string sql;
  for (const auto& [at, v] : std::vector<std::pair<std::string, double>>{
           {"09:10", 10.00}, {"09:20", 10.02}, {"09:40", 9.98}, {"10:10", 10.04}, {"10:20", 10.06}})
    sql += "INSERT INTO millrace.measurement (tenant_id, id, site_id, characteristic_id, operation_id, value, "
           "in_spec, at, hlc, origin) VALUES ('acme', gen_random_uuid(), 'lyon', "
           "'00000000-0000-7000-8000-0000000000e1', '" + std::string(kOp) + "', " + std::to_string(v) +
           ", true, " + Local("2026-11-10 " + at) + ", 1, 'lyon');";
  Tx("acme", sql);
  const std::vector<std::pair<std::string, std::map<std::string, std::string>>> reports = {
      {"oee", {{"group", "unit"}, {"granularity", "none"}}},
      {"oee", {{"group", "site"}, {"granularity", "month"}}},
      {"throughput", {{"group", "line"}, {"granularity", "none"}}},
      {"downtime", {{"by", "reason"}}},
      {"scrap", {{"by", "product"}}},
      {"yield", {}},
      {"reliability", {}},
      {"quality", {}}};
  for (const auto& [report, params] : reports) {
    auto day = params, month = params, around = params;
    day.emplace("from", "2026-11-10"), day.emplace("to", "2026-11-10");
    month.emplace("from", "2026-11-01"), month.emplace("to", "2026-11-30");
    around.emplace("from", "2026-10-15"), around.emplace("to", "2026-12-15");
    json a = Run(report, day), b = Run(report, month), c = Run(report, around);
    ASSERT_FALSE(a["rows"].empty()) << report;
    if (params.count("granularity") && params.at("granularity") == "month") {
      // The period of a month is its name, whatever the range.
      EXPECT_EQ(a["rows"][0]["period"], "2026-11");
    }
    EXPECT_EQ(b["rows"], a["rows"]) << report << " over November";
    EXPECT_EQ(c["rows"], a["rows"]) << report << " from mid-October to mid-December";
  }
}

TEST_F(PgReportsTest, OrdersLeadTimeNonConformancesAndGenealogyAcrossSites) {
  Tx("acme", "INSERT INTO millrace.work_order (tenant_id, id, site_id, number, material_id, planned_quantity, "
             "priority, status, due_at, actual_start, actual_end, good_quantity, scrap_quantity, hlc, origin) VALUES "
             "('acme', '00000000-0000-7000-8000-0000000000c5', 'lyon', 'WO-2', "
             "'00000000-0000-7000-8000-0000000000b1', 100, 5, 'Completed', " + Local("2026-11-10 12:00") + ", " +
             Local("2026-11-09 08:00") + ", " + Local("2026-11-10 11:00") + ", 100, 0, 1, 'lyon'), "
             "('acme', '00000000-0000-7000-8000-0000000000c6', 'lyon', 'WO-3', "
             "'00000000-0000-7000-8000-0000000000b1', 100, 5, 'InProgress', " + Local("2026-11-10 18:00") +
             ", NULL, NULL, 40, 0, 1, 'lyon')");
  json o = Run("orders", {{"by", "site"}});
  ASSERT_EQ(o["rows"].size(), 1u) << o.dump(2);
  EXPECT_EQ(o["rows"][0]["due"], 2);
  EXPECT_EQ(o["rows"][0]["on_time_in_full"], 1);
  ExpectNear(o["rows"][0]["schedule_adherence"], 0.5, "adherence");
  json list = Run("orders", {{"by", "order"}});
  ASSERT_EQ(list["rows"].size(), 2u);
  EXPECT_EQ(list["rows"][0]["number"], "WO-2");
  EXPECT_EQ(list["rows"][0]["on_time"], "true");
  ExpectNear(list["rows"][1]["attainment"], 0.4, "attainment");
  json lead = Run("lead-time", {{"by", "site"}});
  ASSERT_EQ(lead["rows"].size(), 1u);
  ExpectNear(lead["rows"][0]["median_h"], 27, "lead time");

  Tx("acme", "INSERT INTO millrace.non_conformance (tenant_id, id, site_id, source, quantity, defect_code, status, "
             "opened_at, hlc, origin) VALUES "
             "('acme', '00000000-0000-7000-8000-000000000401', 'lyon', 'operator', 3, 'DIM', 'open', now() - interval "
             "'40 days', 1, 'lyon'), ('acme', '00000000-0000-7000-8000-000000000402', 'lyon', 'measurement', 1, "
             "'DIM', 'investigating', now() - interval '2 days', 1, 'lyon'), ('acme', "
             "'00000000-0000-7000-8000-000000000403', 'lyon', 'operator', 9, 'SCR', 'closed', now() - interval "
             "'100 days', 1, 'lyon')");
  json aging = Run("nonconformances", {{"by", "aging"}});
  ASSERT_EQ(aging["rows"].size(), 2u) << aging.dump(2);
  EXPECT_EQ(aging["rows"][0]["age_days"], "0-7");
  EXPECT_EQ(aging["rows"][1]["age_days"], "31-90");
  EXPECT_EQ(Run("nonconformances", {{"by", "list"}})["rows"][0]["quantity"], 3);  // oldest first

  // Steel lot R at lyon went into bracket lot B at lyon, which went into assembly F at porto.
  Tx("acme", "INSERT INTO millrace.material_lot (tenant_id, id, site_id, lot_no, material_id, quantity, unit, status, "
             "hlc, origin) VALUES ('acme', '00000000-0000-7000-8000-000000000501', 'lyon', 'R-1', "
             "'00000000-0000-7000-8000-0000000000b9', 50, 'kg', 'available', 1, 'lyon'), ('acme', "
             "'00000000-0000-7000-8000-000000000502', 'lyon', 'B-1', '00000000-0000-7000-8000-0000000000b1', 20, "
             "'pcs', 'available', 1, 'lyon'), ('acme', '00000000-0000-7000-8000-000000000503', 'porto', 'F-1', "
             "'00000000-0000-7000-8000-0000000000b9', 4, 'pcs', 'available', 1, 'porto')");
  Tx("acme", "INSERT INTO millrace.genealogy_link (tenant_id, id, site_id, parent_kind, parent_id, child_kind, "
             "child_id, quantity, at, hlc, origin) VALUES ('acme', gen_random_uuid(), 'lyon', 'lot', "
             "'00000000-0000-7000-8000-000000000501', 'lot', '00000000-0000-7000-8000-000000000502', 5, now(), 1, "
             "'lyon'), ('acme', gen_random_uuid(), 'porto', 'lot', '00000000-0000-7000-8000-000000000502', 'lot', "
             "'00000000-0000-7000-8000-000000000503', 8, now(), 1, 'porto')");
  json back = Run("genealogy", {{"lot", "F-1"}, {"by", "backward"}});
  ASSERT_EQ(back["rows"].size(), 3u) << back.dump(2);
  EXPECT_EQ(back["rows"][0]["number"], "F-1");
  EXPECT_EQ(back["rows"][1]["number"], "B-1");
  EXPECT_EQ(back["rows"][1]["linked_at_site"], "porto");
  EXPECT_EQ(back["rows"][2]["number"], "R-1");
  EXPECT_EQ(back["rows"][2]["depth"], 2);
  json fwd = Run("genealogy", {{"lot", "R-1"}, {"by", "forward"}});
  ASSERT_EQ(fwd["rows"].size(), 3u);
  EXPECT_EQ(fwd["rows"][2]["site"], "porto");
  EXPECT_EQ(Run("genealogy", {{"lot", "NOPE"}})["rows"].size(), 0u);
}

// The HTTP route: formats, ETag, limits, a viewer's sites, and the cache kept honest by
// the rollups' notifications.
TEST_F(PgReportsTest, TheHttpRouteAnswersCachesAndRefusesAsDocumented) {
  PgPoolOptions po;
  po.conninfo = db_->ConnInfo("millrace_app");
  po.name = "reports";
  po.size = 2;
  po.role = "millrace_report";
  PgPool pool(po);
  ReportReads reads({&pool});
  ReportCache cache(8 << 20);
  ReportLimits limits({5, 1'000'000});
  Router router;
  AddReportRoutes(router, {&reads, &cache, &limits,
                           [](const HttpRequest& req) -> Result<Viewer> {
                             if (req.Header("authorization") == "Bearer platform") return Viewer{"p", "", Role::kPlatformOperator, {}};
                             if (req.Header("authorization") == "Bearer porto-manager")
                               return Viewer{"m", "acme", Role::kSiteManager, {"porto"}};
                             return Status::Unauthenticated("no credential");
                           }});
  PgListener listener(db_->ConnInfo("millrace_app"), {"millrace_reports"},
                      [&cache](const std::string&, const std::string& payload) {
                        std::istringstream in(payload);
                        std::string t, s, f, to;
                        in >> t >> s >> f >> to;
                        cache.Invalidate(t, s, f, to);
                      });
  auto get = [&](const std::string& target, std::map<std::string, std::string> headers = {}) {
    HttpRequest req;
    req.method = "GET";
    req.target = target;
    EXPECT_TRUE(req.ParseTarget());
    req.headers = std::move(headers);
    if (!req.headers.count("authorization")) req.headers["authorization"] = "Bearer platform";
    return router.Handle(req);
  };
  EXPECT_EQ(get("/api/v1/reports/oee?tenant=acme", {{"authorization", "Bearer x"}}).status, 401);
  auto bad = get("/api/v1/reports/oee?tenant=acme&colour=red");
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("unknown parameter 'colour'"), std::string::npos) << bad.body;
  EXPECT_EQ(get("/api/v1/reports/oee").status, 400);  // a platform credential names the tenant
  EXPECT_EQ(get("/api/v1/reports/nope?tenant=acme").status, 404);

  const std::string target = "/api/v1/reports/oee?tenant=acme&group=unit&from=2026-11-10&to=2026-11-10";
  auto first = get(target);
  ASSERT_EQ(first.status, 200) << first.body;
  const std::string etag = first.headers["ETag"];
  ASSERT_FALSE(etag.empty());
  EXPECT_EQ(get(target, {{"if-none-match", etag}}).status, 304);
  auto csv = get(target, {{"accept", "text/csv"}});
  ASSERT_EQ(csv.status, 200);
  EXPECT_EQ(csv.content_type, "text/csv; charset=utf-8");
  EXPECT_EQ(csv.body.rfind("period,site,line_code,unit_code,unit_name,shift_time_s", 0), 0u) << csv.body;
  EXPECT_NE(csv.headers["Content-Disposition"].find("oee-2026-11-10-2026-11-10.csv"), std::string::npos);
  EXPECT_EQ(get(target + "&format=csv").body, csv.body);
  EXPECT_GE(cache.stats().hits, 2u);

  // New counts for that day: the cached answer goes, the next one has them.
  Tx("acme", Count("2026-11-10 13:00", 100, 0, 0, "NULL"));
  std::string after_change;
  for (int i = 0; i < 50 && after_change.empty(); ++i) {
    auto r = get(target);
    if (r.headers["ETag"] != etag) after_change = r.body;
    else std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_FALSE(after_change.empty()) << "the cached answer outlived the change under it";
  EXPECT_NE(after_change.find("\"good\":700"), std::string::npos) << after_change;
  // A change on another day leaves it cached.
  const auto dropped = cache.stats().invalidated;
  Tx("acme", Count("2026-11-20 09:00", 1, 0, 0, "NULL", "NULL"));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(cache.stats().invalidated, dropped);

  // A site manager of porto sees porto only, whatever the URL says.
  auto mine = get("/api/v1/reports/oee?group=unit&from=2026-11-10&to=2026-11-10",
                  {{"authorization", "Bearer porto-manager"}});
  ASSERT_EQ(mine.status, 200);
  EXPECT_EQ(json::parse(mine.body)["rows"].size(), 0u);
  EXPECT_EQ(get("/api/v1/reports/oee?sites=lyon", {{"authorization", "Bearer porto-manager"}}).status, 403);

  // Over the tenant's rate: 429 with Retry-After.
  int limited = 0;
  std::string retry;
  for (int i = 0; i < 30; ++i) {
    auto r = get("/api/v1/reports/sync-health?tenant=acme");
    if (r.status == 429) {
      ++limited;
      retry = r.headers["Retry-After"];
    }
  }
  EXPECT_GT(limited, 0);
  EXPECT_FALSE(retry.empty());
}

}  // namespace
}  // namespace millrace::central
