// Central's report rollups and fact partitions on a real PostgreSQL: the rollups the
// triggers keep while facts arrive (late, out of order, stops closed later, shift
// instances after the facts they hold) equal a rebuild from the raw facts; stops are split
// at hours and shifts; shifts follow the site's time zone over daylight-saving changes;
// facts land in monthly partitions, each under row-level security.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "millrace/central/schema.h"
#include "millrace/common/ddl.h"
#include "test_pg.h"

namespace millrace::central {
namespace {

using catalog::QuoteLiteral;
using millrace::testing::TestDatabase;

constexpr const char* kTenant = "acme";
constexpr const char* kSite = "lyon";  // Europe/Paris
constexpr const char* kLine = "00000000-0000-7000-8000-00000000000a";
constexpr const char* kUnit1 = "00000000-0000-7000-8000-0000000000a1";  // ideal 30 s
constexpr const char* kUnit2 = "00000000-0000-7000-8000-0000000000a2";  // ideal 45 s
constexpr const char* kProduct = "00000000-0000-7000-8000-0000000000b1";
constexpr const char* kOrder = "00000000-0000-7000-8000-0000000000c1";
constexpr const char* kOp10 = "00000000-0000-7000-8000-0000000000c2";  // ideal 20 s on unit 1
constexpr const char* kOp20 = "00000000-0000-7000-8000-0000000000c3";  // no ideal: unit 2's
constexpr const char* kBreakdown = "00000000-0000-7000-8000-0000000000d1";
constexpr const char* kBreak = "00000000-0000-7000-8000-0000000000d2";
constexpr const char* kScratch = "00000000-0000-7000-8000-0000000000d3";
constexpr const char* kDiameter = "00000000-0000-7000-8000-0000000000e1";
constexpr std::int64_t kHourMs = 3600 * 1000;

// A local wall time at the site, as SQL.
std::string Local(const std::string& wall) {
  return "(timestamp " + QuoteLiteral(wall) + " AT TIME ZONE 'Europe/Paris')";
}

class PgRollupsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto central = millrace::testing::CreateCentralDatabase();
    ASSERT_TRUE(central.ok()) << central.status().ToString();
    db_ = std::move(central->db);
    admin_ = std::move(central->admin);
    app_ = std::move(central->app);
    // Ids whose first 48 bits are the time they name, as a site makes them (UUIDv7).
    ASSERT_TRUE(admin_
                    ->Exec("CREATE FUNCTION public.v7(t timestamptz) RETURNS uuid LANGUAGE sql "
                           "AS $$ SELECT (substr(millrace.uuid7_floor(t)::text, 1, 14) || '7' || "
                           "substr(md5(random()::text), 1, 3) || '-8' || "
                           "substr(md5(random()::text), 1, 3) || '-' || "
                           "substr(md5(random()::text), 1, 12))::uuid $$")
                    .ok());
    Tx("INSERT INTO millrace.sync_tenant (tenant_id, name) VALUES ('acme', 'Acme')");
    Tx("INSERT INTO millrace.sync_site (tenant_id, site_id, time_zone) VALUES ('acme', 'lyon', "
       "'Europe/Paris')");
    // Master data: a line with two work units, an order of two operations, reasons.
    Tx(std::string("INSERT INTO millrace.equipment (tenant_id, id, site_id, parent_id, level, code, "
                   "name, ideal_cycle_time_s, active, hlc, origin) VALUES ") +
       "('acme', '" + kLine + "', 'lyon', NULL, 'work_center', 'L1', 'Line 1', NULL, true, 1, 'central'), "
       "('acme', '" + kUnit1 + "', 'lyon', '" + kLine + "', 'work_unit', 'U1', 'Press', 30, true, 1, 'central'), "
       "('acme', '" + kUnit2 + "', 'lyon', '" + kLine + "', 'work_unit', 'U2', 'Lathe', 45, true, 1, 'central')");
    // Every shift has a 15-minute break half an hour in and a 20-minute one over its
    // second hour's end.
    Tx("INSERT INTO millrace.shift_pattern (tenant_id, id, site_id, code, name, start_minute, "
       "end_minute, weekdays, planned_breaks, hlc, origin) VALUES ('acme', "
       "'00000000-0000-7000-8000-0000000000f0', 'lyon', 'ANY', 'Any', 0, 0, 127, "
       "'[{\"start_minute\": 30, \"minutes\": 15}, {\"start_minute\": 110, \"minutes\": 20}]', 1, "
       "'central')");
    Tx(std::string("INSERT INTO millrace.work_order (tenant_id, id, site_id, number, material_id, "
                   "planned_quantity, priority, status, good_quantity, scrap_quantity, hlc, origin) "
                   "VALUES ('acme', '") + kOrder + "', 'lyon', 'WO-1', '" + kProduct +
       "', 100, 5, 'InProgress', 0, 0, 1, 'central')");
    Tx(std::string("INSERT INTO millrace.work_order_operation (tenant_id, id, site_id, work_order_id, "
                   "seq, op_code, work_unit_id, status, planned_quantity, good_quantity, "
                   "scrap_quantity, rework_quantity, ideal_cycle_time_s, hlc, origin) VALUES ") +
       "('acme', '" + kOp10 + "', 'lyon', '" + kOrder + "', 10, 'OP10', '" + kUnit1 +
       "', 'Running', 100, 0, 0, 0, 20, 1, 'central'), ('acme', '" + kOp20 + "', 'lyon', '" +
       kOrder + "', 20, 'OP20', '" + kUnit2 + "', 'Running', 100, 0, 0, 0, 0, 1, 'central')");
  }

  // Runs statements in one transaction of the tenant, as the application role.
  void Tx(const std::string& sql) {
    ASSERT_TRUE(app_->Exec("BEGIN").ok());
    ASSERT_TRUE(app_->Exec("SET LOCAL app.tenant_id = 'acme'").ok());
    Status s = app_->Exec(sql);
    EXPECT_TRUE(s.ok()) << s.ToString() << "\n" << sql;
    ASSERT_TRUE(app_->Exec(s.ok() ? "COMMIT" : "ROLLBACK").ok());
  }

  std::vector<std::vector<std::string>> Rows(const std::string& sql) {
    std::vector<std::vector<std::string>> out;
    EXPECT_TRUE(app_->Exec("BEGIN").ok());
    EXPECT_TRUE(app_->Exec("SET LOCAL app.tenant_id = 'acme'").ok());
    auto r = app_->Query(sql);
    EXPECT_TRUE(r.ok()) << r.status().ToString() << "\n" << sql;
    if (r.ok())
      for (int i = 0; i < r->rows(); ++i) {
        out.emplace_back();
        for (int j = 0; j < r->columns(); ++j) out.back().push_back(r->GetString(i, j));
      }
    EXPECT_TRUE(app_->Exec("COMMIT").ok());
    return out;
  }
  std::string One(const std::string& sql) {
    auto rows = Rows(sql);
    return rows.size() == 1 && rows[0].size() == 1 ? rows[0][0] : "<" + std::to_string(rows.size()) + " rows>";
  }

  // Every rollup row with a measure other than zero, as text, in key order (a row that a
  // subtraction left at zero is the same as no row).
  std::vector<std::string> Snapshot() {
    const std::vector<std::pair<std::string, std::string>> tables = {
        {"report_time_hour", "shift_ms <> 0 OR break_ms <> 0"},
        {"report_time_day", "shift_ms <> 0 OR break_ms <> 0"},
        {"report_output_hour", "events <> 0 OR good <> 0 OR scrap <> 0 OR rework <> 0 OR ideal_s <> 0 OR ideal_good_s <> 0"},
        {"report_output_day", "events <> 0 OR good <> 0 OR scrap <> 0 OR rework <> 0 OR ideal_s <> 0 OR ideal_good_s <> 0"},
        {"report_downtime_hour", "stop_ms <> 0 OR stops <> 0"},
        {"report_downtime_day", "stop_ms <> 0 OR stops <> 0"},
        {"report_quality_hour", "n <> 0"},
        {"report_quality_day", "n <> 0"},
        {"report_time_month", "shift_ms <> 0 OR break_ms <> 0"},
        {"report_output_month", "events <> 0 OR good <> 0 OR scrap <> 0 OR rework <> 0 OR ideal_s <> 0 OR ideal_good_s <> 0"},
        {"report_downtime_month", "stop_ms <> 0 OR stops <> 0"},
        {"report_quality_month", "n <> 0 OR within_ss <> 0 OR within_df <> 0"}};
    std::vector<std::string> out;
    for (const auto& [table, nonzero] : tables)
      for (const auto& row : Rows("SELECT r::text FROM millrace." + table + " r WHERE " + nonzero +
                                  " ORDER BY 1"))
        out.push_back(table + " " + row[0]);
    return out;
  }

  std::string Shift(const char* id, const std::string& date, const std::string& from,
                    const std::string& to) {
    return std::string("INSERT INTO millrace.shift_instance (tenant_id, id, site_id, shift_pattern_id, "
                       "business_date, starts_at, ends_at, hlc, origin) VALUES ('acme', '") +
           id + "', 'lyon', '00000000-0000-7000-8000-0000000000f0', '" + date + "', " + Local(from) +
           ", " + Local(to) + ", 1, 'lyon')";
  }
  std::string Event(const char* unit, const char* op, const std::string& at, double good,
                    double scrap, double rework, const std::string& shift,
                    const char* reason = nullptr) {
    return std::string("INSERT INTO millrace.production_event (tenant_id, id, site_id, kind, at, "
                       "work_order_id, operation_id, work_unit_id, shift_instance_id, good_quantity, "
                       "scrap_quantity, rework_quantity, scrap_reason_id, hlc, origin) VALUES ('acme', "
                       "public.v7(") + Local(at) + "), 'lyon', 'COUNT', " + Local(at) + ", '" + kOrder +
           "', '" + op + "', '" + unit + "', " + (shift.empty() ? "NULL" : "'" + shift + "'") + ", " +
           std::to_string(good) + ", " + std::to_string(scrap) + ", " + std::to_string(rework) + ", " +
           (reason ? "'" + std::string(reason) + "'" : "NULL") + ", 1, 'lyon')";
  }
  std::string Stop(const std::string& id, const char* unit, const std::string& from,
                   const std::string& to, const char* reason, bool planned) {
    return "INSERT INTO millrace.downtime_event (tenant_id, id, site_id, work_unit_id, started_at, "
           "ended_at, reason_id, planned, hlc, origin) VALUES ('acme', '" + id + "', 'lyon', '" + unit +
           "', " + Local(from) + ", " + (to.empty() ? "NULL" : Local(to)) + ", '" + reason + "', " +
           (planned ? "true" : "false") +
           ", 2, 'lyon') ON CONFLICT (tenant_id, id) DO UPDATE SET ended_at = EXCLUDED.ended_at, "
           "hlc = EXCLUDED.hlc";
  }
  std::string Measure(const std::string& at, double value, bool in_spec) {
    return "INSERT INTO millrace.measurement (tenant_id, id, site_id, characteristic_id, operation_id, "
           "value, in_spec, at, hlc, origin) VALUES ('acme', public.v7(" + Local(at) + "), 'lyon', '" +
           kDiameter + "', '" + kOp10 + "', " + std::to_string(value) + ", " +
           (in_spec ? "true" : "false") + ", " + Local(at) + ", 1, 'lyon')";
  }

  void Deliver();

  std::unique_ptr<TestDatabase> db_;
  std::unique_ptr<PgConnection> admin_;
  std::unique_ptr<PgConnection> app_;
};

constexpr const char* kEarly = "00000000-0000-7000-8000-000000000101";  // 10 Nov 06-14
constexpr const char* kLate = "00000000-0000-7000-8000-000000000102";   // 10 Nov 14-22
constexpr const char* kNight = "00000000-0000-7000-8000-000000000103";  // 10 Nov 22-06
constexpr const char* kOldEarly = "00000000-0000-7000-8000-000000000104";  // 7 Nov 06-14

// The floor of one day, delivered as a site that was offline would: shift instances after
// the facts they hold, a stop sent open and closed later, three-day-old facts last.
void PgRollupsTest::Deliver() {
  Tx(Event(kUnit1, kOp10, "2026-11-10 14:20", 10, 2, 0, kLate, kScratch) + "; " +
       Event(kUnit1, kOp10, "2026-11-10 15:05", 7, 0, 1, kLate) + "; " +
       Event(kUnit2, kOp20, "2026-11-10 13:10", 5, 0, 0, kEarly));
  Tx(Stop("00000000-0000-7000-8000-000000000201", kUnit1, "2026-11-10 13:30", "", kBreakdown, false));
  Tx(Stop("00000000-0000-7000-8000-000000000201", kUnit1, "2026-11-10 13:30", "2026-11-10 14:30",
              kBreakdown, false));
  Tx(Stop("00000000-0000-7000-8000-000000000202", kUnit2, "2026-11-10 21:50", "2026-11-11 00:20",
              kBreak, true));
  Tx(Shift(kEarly, "2026-11-10", "2026-11-10 06:00", "2026-11-10 14:00") + "; " +
       Shift(kLate, "2026-11-10", "2026-11-10 14:00", "2026-11-10 22:00"));
  Tx(Measure("2026-11-10 09:15", 10.02, true) + "; " + Measure("2026-11-10 09:40", 10.31, false));
  Tx(Shift(kNight, "2026-11-10", "2026-11-10 22:00", "2026-11-11 06:00"));
  Tx(Event(kUnit1, kOp10, "2026-11-11 01:00", 3, 0, 0, kNight));
  // Three days late: the old hours and day take them.
  Tx(Shift(kOldEarly, "2026-11-07", "2026-11-07 06:00", "2026-11-07 14:00") + "; " +
       Event(kUnit1, kOp10, "2026-11-07 08:00", 4, 1, 0, kOldEarly, kScratch) + "; " +
       Stop("00000000-0000-7000-8000-000000000203", kUnit2, "2026-11-07 07:00", "2026-11-07 07:10",
              kBreakdown, false));
}

TEST_F(PgRollupsTest, TriggersKeepTheSumsARebuildOfAnyRangeGives) {
  Deliver();
  const auto incremental = Snapshot();
  ASSERT_GT(incremental.size(), 20u);
  // The whole history, and one day only, rebuilt from the raw facts: nothing moves.
  Tx("SELECT millrace.report_rebuild('acme', 'lyon', '-infinity', 'infinity')");
  EXPECT_EQ(Snapshot(), incremental);
  Tx("SELECT millrace.report_rebuild('acme', 'lyon', " + Local("2026-11-10 00:00") + ", " +
     Local("2026-11-11 00:00") + ")");
  EXPECT_EQ(Snapshot(), incremental);
  Tx("SELECT millrace.report_rebuild('acme', 'lyon', " + Local("2026-11-10 13:45") + ", " +
     Local("2026-11-10 21:55") + ")");  // widened to whole hours
  EXPECT_EQ(Snapshot(), incremental);
  // A rebuild really recomputes: rollups wiped by hand come back.
  Tx("DELETE FROM millrace.report_output_hour; DELETE FROM millrace.report_output_day; "
     "DELETE FROM millrace.report_output_month");
  Tx("SELECT millrace.report_rebuild('acme', 'lyon', '-infinity', 'infinity')");
  EXPECT_EQ(Snapshot(), incremental);
}

TEST_F(PgRollupsTest, MonthsHoldTheSumsOfTheirDaysAndTheSpreadWithinTheirHours) {
  Deliver();
  const std::map<std::string, std::string> sums = {
      {"time", "sum(shift_ms), sum(break_ms)"},
      {"output", "product_id, op_code, scrap_reason_id, sum(events), sum(good), sum(scrap), sum(rework), sum(ideal_s), sum(ideal_good_s)"},
      {"downtime", "reason_id, planned, sum(stop_ms), sum(stops)"},
      {"quality", "characteristic_id, sum(n), sum(n_in_spec), sum(n_value), sum(sum_v), sum(sum_v2)"}};
  for (const auto& [kind, columns] : sums) {
    const std::string by = "site_id, work_unit_id, date_trunc('month', business_date)::date, "
                           "millrace.report_month_shift(shift_instance_id), ";
    const std::string group = kind == "time" ? "1, 2, 3, 4" : kind == "output" ? "1, 2, 3, 4, 5, 6, 7"
                                                          : kind == "downtime" ? "1, 2, 3, 4, 5, 6" : "1, 2, 3, 4, 5";
    auto days = Rows("SELECT " + by + columns + " FROM millrace.report_" + kind + "_day GROUP BY " + group + " ORDER BY 1, 2, 3, 4, 5");
    auto months = Rows("SELECT " + by + columns + " FROM millrace.report_" + kind + "_month GROUP BY " + group + " ORDER BY 1, 2, 3, 4, 5");
    ASSERT_FALSE(days.empty()) << kind;
    EXPECT_EQ(months, days) << kind;
  }
  // Both measurements lie in one hour: within it, (10.02 - 10.165)^2 + (10.31 - 10.165)^2.
  EXPECT_EQ(One("SELECT round(within_ss, 6) || ' ' || within_df FROM millrace.report_quality_month"), "0.042050 1");
  Tx(Measure("2026-11-10 09:50", 10.10, true));
  // Exactly the sum over its hours, after the change and after a rebuild alike.
  const std::string hours = "SELECT trim_scale(sum(millrace.report_within_ss(n_value, sum_v, sum_v2))) || ' ' || "
                            "sum(greatest(n_value - 1, 0)) FROM millrace.report_quality_hour";
  EXPECT_EQ(One("SELECT trim_scale(within_ss) || ' ' || within_df FROM millrace.report_quality_month"), One(hours));
  EXPECT_EQ(One("SELECT within_df FROM millrace.report_quality_month"), "2");
  Tx(Measure("2026-11-10 09:55", 10.123456789, true));
  Tx("SELECT millrace.report_rebuild('acme', 'lyon', " + Local("2026-11-10 09:00") + ", " + Local("2026-11-10 10:00") + ")");
  EXPECT_EQ(One("SELECT trim_scale(within_ss) || ' ' || within_df FROM millrace.report_quality_month"), One(hours));
}

TEST_F(PgRollupsTest, AStopIsSplitAtHoursAndShiftsAndCountedOnce) {
  Deliver();
  // Unit 1 down 13:30-14:30 over the 14:00 shift change: 30 min in the early shift's 13:00
  // hour (where it began and is counted), 30 min in the late shift's 14:00 hour.
  auto rows = Rows(std::string("SELECT to_char(bucket AT TIME ZONE 'Europe/Paris', 'HH24:MI'), "
                               "shift_instance_id, stop_ms, stops FROM millrace.report_downtime_hour "
                               "WHERE work_unit_id = '") + kUnit1 + "' ORDER BY bucket");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0], (std::vector<std::string>{"13:00", kEarly, "1800000", "1"}));
  EXPECT_EQ(rows[1], (std::vector<std::string>{"14:00", kLate, "1800000", "0"}));
  // Unit 2's planned stop 21:50-00:20 runs over the shift change and midnight: its
  // slices after 22:00 belong to the night shift, whose business date is the 10th.
  rows = Rows(std::string("SELECT business_date, shift_instance_id, stop_ms, stops FROM "
                          "millrace.report_downtime_day WHERE work_unit_id = '") + kUnit2 +
              "' AND planned ORDER BY 1, 2");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0], (std::vector<std::string>{"2026-11-10", kLate, "600000", "1"}));
  EXPECT_EQ(rows[1], (std::vector<std::string>{"2026-11-10", kNight, "8400000", "0"}));
}

TEST_F(PgRollupsTest, SumsFollowTheDefinitions) {
  Deliver();
  // Planned time: each of the two work units in each shift instance the site worked.
  EXPECT_EQ(One("SELECT sum(shift_ms) FROM millrace.report_time_day WHERE business_date = "
                "'2026-11-10'"),
            std::to_string(2 * 3 * 8 * kHourMs));
  EXPECT_EQ(One("SELECT sum(shift_ms) FROM millrace.report_time_day WHERE business_date = "
                "'2026-11-07'"),
            std::to_string(2 * 8 * kHourMs));
  // Planned breaks: 35 minutes of each shift, the second split over an hour's end.
  EXPECT_EQ(One("SELECT sum(break_ms) FROM millrace.report_time_day WHERE business_date = "
                "'2026-11-10'"),
            std::to_string(2 * 3 * 35 * 60000));
  auto breaks = Rows(std::string("SELECT to_char(bucket AT TIME ZONE 'Europe/Paris', 'HH24'), "
                                 "break_ms FROM millrace.report_time_hour WHERE work_unit_id = '") +
                     kUnit1 + "' AND shift_instance_id = '" + kEarly + "' AND break_ms > 0 ORDER BY bucket");
  EXPECT_EQ(breaks, (std::vector<std::vector<std::string>>{{"06", "900000"}, {"07", "600000"}, {"08", "600000"}}));
  // Ideal time = ideal cycle time x (good + scrap + rework): 20 s on OP10, and unit 2's
  // 45 s where OP20 has none. Late data sits in its own day.
  auto out = Rows("SELECT business_date, op_code, sum(good), sum(scrap), sum(rework), sum(ideal_s), "
                  "sum(ideal_good_s) FROM millrace.report_output_day GROUP BY 1, 2 ORDER BY 1, 2");
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0], (std::vector<std::string>{"2026-11-07", "OP10", "4", "1", "0", "100", "80"}));
  EXPECT_EQ(out[1], (std::vector<std::string>{"2026-11-10", "OP10", "20", "2", "1", "460", "400"}));
  EXPECT_EQ(out[2], (std::vector<std::string>{"2026-11-10", "OP20", "5", "0", "0", "225", "225"}));
  EXPECT_EQ(One(std::string("SELECT product_id FROM millrace.report_output_day GROUP BY 1")), kProduct);
  // Scrap by reason.
  EXPECT_EQ(One(std::string("SELECT sum(scrap) FROM millrace.report_output_day WHERE "
                            "scrap_reason_id = '") + kScratch + "'"),
            "3");
  // The 01:00 count of the night shift belongs to business date the 10th.
  EXPECT_EQ(One(std::string("SELECT business_date FROM millrace.report_output_hour WHERE "
                            "shift_instance_id = '") + kNight + "'"),
            "2026-11-10");
  // Measurements: in and out of spec, and the sums for mean and spread.
  auto q = Rows("SELECT n, n_in_spec, sum_v, sum_v2, min_v, max_v, work_unit_id FROM "
                "millrace.report_quality_hour");
  ASSERT_EQ(q.size(), 1u);
  EXPECT_EQ(q[0], (std::vector<std::string>{"2", "1", "20.33", "206.6965", "10.02", "10.31", kUnit1}));
}

TEST_F(PgRollupsTest, ShiftsOverDaylightSavingChangesPlanTheHoursWorked) {
  // Europe/Paris: the night of 24 October 2026 has 9 hours (03:00 CEST -> 02:00 CET), the
  // night of 28 March 2026 has 7 (02:00 CET -> 03:00 CEST).
  Tx(Shift("00000000-0000-7000-8000-000000000301", "2026-10-24", "2026-10-24 22:00",
           "2026-10-25 06:00") +
     "; " +
     Shift("00000000-0000-7000-8000-000000000302", "2026-03-28", "2026-03-28 22:00",
           "2026-03-29 06:00"));
  auto days = Rows("SELECT business_date, shift_ms FROM millrace.report_time_day WHERE "
                   "work_unit_id = '" + std::string(kUnit1) + "' ORDER BY 1");
  ASSERT_EQ(days.size(), 2u);
  EXPECT_EQ(days[0], (std::vector<std::string>{"2026-03-28", std::to_string(7 * kHourMs)}));
  EXPECT_EQ(days[1], (std::vector<std::string>{"2026-10-24", std::to_string(9 * kHourMs)}));
  // Nine hour buckets in October, two of them at 02:00 local (summer time, then winter).
  EXPECT_EQ(One("SELECT count(*) FROM millrace.report_time_hour WHERE work_unit_id = '" +
                std::string(kUnit1) + "' AND business_date = '2026-10-24'"),
            "9");
  EXPECT_EQ(One("SELECT count(*) FROM millrace.report_time_hour WHERE work_unit_id = '" +
                std::string(kUnit1) +
                "' AND to_char(bucket AT TIME ZONE 'Europe/Paris', 'HH24') = '02' AND "
                "business_date = '2026-10-24'"),
            "2");
  // Counts in the repeated hour land in two buckets, an hour apart.
  Tx(Event(kUnit1, kOp10, "2026-10-25 01:30", 1, 0, 0, "00000000-0000-7000-8000-000000000301"));
  Tx("INSERT INTO millrace.production_event (tenant_id, id, site_id, kind, at, work_order_id, "
     "operation_id, work_unit_id, shift_instance_id, good_quantity, scrap_quantity, "
     "rework_quantity, hlc, origin) VALUES ('acme', gen_random_uuid(), 'lyon', 'COUNT', "
     "timestamptz '2026-10-25 02:30+02', '" + std::string(kOrder) + "', '" + kOp10 + "', '" + kUnit1 +
     "', '00000000-0000-7000-8000-000000000301', 1, 0, 0, 1, 'lyon'), ('acme', gen_random_uuid(), "
     "'lyon', 'COUNT', timestamptz '2026-10-25 02:30+01', '" + kOrder + "', '" + kOp10 + "', '" +
     kUnit1 + "', '00000000-0000-7000-8000-000000000301', 1, 0, 0, 1, 'lyon')");
  auto buckets = Rows("SELECT to_char(bucket AT TIME ZONE 'UTC', 'HH24:MI'), good FROM "
                      "millrace.report_output_hour WHERE business_date = '2026-10-24' ORDER BY bucket");
  ASSERT_EQ(buckets.size(), 3u);
  EXPECT_EQ(buckets[0], (std::vector<std::string>{"23:00", "1"}));  // 01:30 CEST
  EXPECT_EQ(buckets[1], (std::vector<std::string>{"00:00", "1"}));  // 02:30 CEST
  EXPECT_EQ(buckets[2], (std::vector<std::string>{"01:00", "1"}));  // 02:30 CET
}

TEST_F(PgRollupsTest, FactsLandInMonthlyPartitionsEachUnderRowLevelSecurity) {
  // Now is in the history partition; three months on have a partition each; a site clock
  // two years ahead puts its fact in the default partition until its month gets one.
  Tx(Event(kUnit1, kOp10, "2026-11-10 10:00", 1, 0, 0, ""));
  Tx("INSERT INTO millrace.production_event (tenant_id, id, site_id, kind, at, work_order_id, "
     "operation_id, work_unit_id, good_quantity, scrap_quantity, rework_quantity, hlc, origin) "
     "SELECT 'acme', public.v7(t), 'lyon', 'COUNT', t, '" + std::string(kOrder) + "', '" + kOp10 +
     "', '" + kUnit1 + "', 1, 0, 0, 1, 'lyon' FROM (VALUES (date_trunc('month', now()) + interval "
     "'2 months 3 days'), (date_trunc('month', now()) + interval '24 months 3 days')) v(t)");
  auto where = Rows("SELECT tableoid::regclass::text FROM millrace.production_event ORDER BY id");
  ASSERT_EQ(where.size(), 3u);
  EXPECT_EQ(where[0][0], "millrace.production_event_history");
  EXPECT_EQ(where[1][0].rfind("millrace.production_event_p", 0), 0u) << where[1][0];
  EXPECT_EQ(where[2][0], "millrace.production_event_default");
  // Its month's partition takes it over, whoever asks for the partitions first.
  Tx("SELECT millrace.fact_partitions_ensure(25)");
  where = Rows("SELECT tableoid::regclass::text FROM millrace.production_event ORDER BY id");
  ASSERT_EQ(where.size(), 3u);
  EXPECT_EQ(where[2][0].rfind("millrace.production_event_p", 0), 0u) << where[2][0];
  EXPECT_EQ(One("SELECT count(*) FROM millrace.production_event"), "3");
  // Every partition of every fact table enforces the tenant policy, and the application
  // role may not read one behind its table's back.
  auto open = admin_->Query(
      "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON "
      "p.oid = i.inhparent JOIN pg_namespace n ON n.oid = p.relnamespace WHERE n.nspname = "
      "'millrace' AND c.relkind IN ('r', 'p') AND (NOT c.relrowsecurity OR NOT c.relforcerowsecurity OR NOT EXISTS (SELECT 1 "
      "FROM pg_policies WHERE schemaname = 'millrace' AND tablename = c.relname AND policyname = "
      "'tenant_isolation'))");
  ASSERT_TRUE(open.ok()) << open.status().ToString();
  EXPECT_EQ(open->rows(), 0) << open->GetString(0, 0);
  auto parts = admin_->Query(
      "SELECT count(*) FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = "
      "'audit_record'");
  ASSERT_TRUE(parts.ok());
  EXPECT_GE(std::stoi(parts->GetString(0, 0)), 5);  // history, default, three months and more
  ASSERT_TRUE(app_->Exec("BEGIN").ok());
  ASSERT_TRUE(app_->Exec("SET LOCAL app.tenant_id = 'acme'").ok());
  Status direct = app_->Exec("SELECT * FROM millrace.production_event_default");
  EXPECT_EQ(direct.code(), StatusCode::kPermissionDenied) << direct.ToString();
  ASSERT_TRUE(app_->Exec("ROLLBACK").ok());
  // The audit trail stays unchangeable through its partitions.
  Tx("INSERT INTO millrace.audit_record (tenant_id, id, site_id, actor_name, actor_role, action, "
     "table_name, at, hlc, origin) VALUES ('acme', public.v7(now()), 'lyon', 'A', 'supervisor', "
     "'x', 'work_order', now(), 1, 'lyon')");
  ASSERT_TRUE(app_->Exec("BEGIN").ok());
  ASSERT_TRUE(app_->Exec("SET LOCAL app.tenant_id = 'acme'").ok());
  Status change = app_->Exec("UPDATE millrace.audit_record SET action = 'y'");
  EXPECT_FALSE(change.ok());
  ASSERT_TRUE(app_->Exec("ROLLBACK").ok());
}

TEST_F(PgRollupsTest, ChangedRollupsAreAnnouncedWithTheirSiteAndDates) {
  auto listener = db_->Connect("millrace_app");
  ASSERT_TRUE(listener.ok());
  ASSERT_TRUE((*listener)->Exec("LISTEN millrace_reports").ok());
  Tx(Event(kUnit1, kOp10, "2026-11-10 14:20", 1, 0, 0, ""));
  auto notes = (*listener)->WaitForNotifications(2000);
  ASSERT_TRUE(notes.ok()) << notes.status().ToString();
  ASSERT_EQ(notes->size(), 1u);
  EXPECT_EQ(notes->front().second, "acme lyon 2026-11-08 2026-11-11");
  Tx("SELECT millrace.report_rebuild('acme', 'lyon', '-infinity', 'infinity')");
  notes = (*listener)->WaitForNotifications(2000);
  ASSERT_TRUE(notes.ok());
  ASSERT_EQ(notes->size(), 1u);
  EXPECT_EQ(notes->front().second, "acme lyon -infinity infinity");
}

TEST_F(PgRollupsTest, AnUnknownSiteTimeZoneIsRefusedByName) {
  ASSERT_TRUE(app_->Exec("BEGIN").ok());
  ASSERT_TRUE(app_->Exec("SET LOCAL app.tenant_id = 'acme'").ok());
  Status s = app_->Exec(
      "INSERT INTO millrace.sync_site (tenant_id, site_id, time_zone) VALUES ('acme', 'mars', "
      "'Mars/Olympus')");
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("Mars/Olympus"), std::string::npos) << s.ToString();
  ASSERT_TRUE(app_->Exec("ROLLBACK").ok());
}

}  // namespace
}  // namespace millrace::central
