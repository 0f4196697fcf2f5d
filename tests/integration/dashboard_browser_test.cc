// The dashboard in a real browser against a real installation: mes-central over a fresh
// database, two provisioned edges of tenant acme (lyon in Paris time, porto in Lisbon's)
// worked by the floor simulator, and central users. Each site's OEE is worked out here from
// the raw facts by the ISO 22400 definitions (not from the rollups) and handed to the
// browser test (tests/browser/dashboard_test.mjs), which compares it with the API and with
// the screen.
// Usage: dashboard_browser_tests MES_CENTRAL MES_EDGE MES_SIM NODE_SCRIPT SCREENSHOT_DIR
#include <gtest/gtest.h>

#include <fstream>

#include "sync_cluster.h"

namespace millrace::testing {
namespace {

using json = nlohmann::json;
ClusterBinaries g_bins;
std::string g_sim, g_script, g_shots;

constexpr const char* kPassword = "dashboard-test-1";

// Per site, from the raw facts: every active work unit is planned for each shift instance
// the site worked, less its pattern's planned breaks; stops are closed downtime events;
// ideal time is the operation's ideal cycle time (else the unit's) x the count.
const char* kRawOee = R"(
WITH units AS (SELECT site_id, id, ideal_cycle_time_s FROM millrace.equipment WHERE tenant_id = 'acme' AND level = 'work_unit' AND active),
shifts AS (SELECT s.site_id, s.starts_at, s.ends_at, coalesce(p.planned_breaks::jsonb, '[]') AS breaks
           FROM millrace.shift_instance s LEFT JOIN millrace.shift_pattern p ON p.tenant_id = s.tenant_id AND p.id = s.shift_pattern_id
           WHERE s.tenant_id = 'acme' AND s.ends_at > s.starts_at),
planned AS (SELECT sh.site_id, sum(extract(epoch FROM sh.ends_at - sh.starts_at)) AS shift_s,
                   sum((SELECT coalesce(sum(greatest(0, extract(epoch FROM
                          least(sh.ends_at, sh.starts_at + make_interval(mins => (b->>'start_minute')::int + (b->>'minutes')::int)) -
                          greatest(sh.starts_at, sh.starts_at + make_interval(mins => (b->>'start_minute')::int))))), 0)
                        FROM jsonb_array_elements(sh.breaks) b)) AS break_s
            FROM shifts sh JOIN units u ON u.site_id = sh.site_id GROUP BY 1),
stops AS (SELECT d.site_id, coalesce(sum(extract(epoch FROM d.ended_at - d.started_at)) FILTER (WHERE d.planned), 0) AS planned_s,
                 coalesce(sum(extract(epoch FROM d.ended_at - d.started_at)) FILTER (WHERE NOT d.planned), 0) AS unplanned_s
          FROM millrace.downtime_event d WHERE d.tenant_id = 'acme' AND d.ended_at IS NOT NULL GROUP BY 1),
made AS (SELECT e.site_id, sum(e.good_quantity) AS good, sum(e.good_quantity + e.scrap_quantity + e.rework_quantity) AS total,
                sum((e.good_quantity + e.scrap_quantity + e.rework_quantity) * coalesce(nullif(o.ideal_cycle_time_s, 0), u.ideal_cycle_time_s, 0)) AS ideal,
                sum(e.good_quantity * coalesce(nullif(o.ideal_cycle_time_s, 0), u.ideal_cycle_time_s, 0)) AS ideal_good
         FROM millrace.production_event e
         LEFT JOIN millrace.work_order_operation o ON o.tenant_id = e.tenant_id AND o.id = e.operation_id
         LEFT JOIN millrace.equipment u ON u.tenant_id = e.tenant_id AND u.id = e.work_unit_id
         WHERE e.tenant_id = 'acme' GROUP BY 1)
SELECT p.site_id, p.shift_s, p.break_s, coalesce(s.planned_s, 0), coalesce(s.unplanned_s, 0),
       coalesce(m.good, 0), coalesce(m.total, 0), coalesce(m.ideal, 0), coalesce(m.ideal_good, 0)
FROM planned p LEFT JOIN stops s USING (site_id) LEFT JOIN made m USING (site_id) ORDER BY 1)";

TEST(DashboardBrowserTest, EveryPageShowsTheNumbersOfTheRawFactsAndNoOtherSite) {
  auto c = SyncCluster::Create(g_bins, "dashboard");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  SyncCluster& cluster = **c;
  ASSERT_TRUE(cluster.StartCentral().ok());
  ASSERT_TRUE(cluster.CreateTenant("acme").ok());
  ASSERT_TRUE(cluster.SeedDemo("acme", {"lyon", "porto"}).ok());
  cluster.SetTimeZone("lyon", "Europe/Paris");
  cluster.SetTimeZone("porto", "Europe/Lisbon");
  for (const char* site : {"lyon", "porto"}) {
    ASSERT_TRUE(cluster.AddSite("acme", site).ok());
    ASSERT_TRUE(cluster.StartEdge(site).ok());
  }
  std::string out;
  ASSERT_EQ(RunCommand({g_sim, "--edge", cluster.edge_url("lyon"), "--edge", cluster.edge_url("porto"),
                        "--duration", "20", "--seed", "11", "--cycle-ms", "150"},
                       &out),
            0)
      << out;
  Status s = cluster.WaitConverged(std::chrono::seconds(60));
  ASSERT_TRUE(s.ok()) << s.ToString() << "\n" << cluster.Diagnose();

  const std::string password_file = (cluster.dir() / "password").string();
  std::ofstream(password_file) << kPassword << "\n";
  for (std::vector<std::string> user : {std::vector<std::string>{"--login", "acme-admin", "--role", "tenant_admin"},
                                        {"--login", "porto-manager", "--role", "site_manager", "--sites", "porto"}}) {
    std::vector<std::string> args = {"create-user", "--tenant", "acme", "--name", user[1], "--password-file", password_file};
    args.insert(args.end(), user.begin(), user.end());
    s = cluster.CentralCommand(args, &out);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }

  // What the raw facts say, per site.
  auto raw = cluster.admin().Query(kRawOee);
  ASSERT_TRUE(raw.ok()) << raw.status().ToString();
  ASSERT_EQ(raw->rows(), 2);
  json expected;
  expected["password"] = kPassword;
  auto range = cluster.admin().Query("SELECT (now() - interval '7 days')::date::text, (now() + interval '1 day')::date::text");
  ASSERT_TRUE(range.ok());
  expected["from"] = range->GetString(0, 0);
  expected["to"] = range->GetString(0, 1);
  for (int i = 0; i < raw->rows(); ++i) {
    auto v = [&](int col) { return std::stod(raw->GetString(i, col)); };
    const double ppt = v(1) - v(2) - v(3), run = ppt - v(4);
    ASSERT_GT(v(6), 0) << "the floor made nothing at " << raw->GetString(i, 0);
    expected["sites"][raw->GetString(i, 0)] = {{"availability", run / ppt},
                                               {"performance", v(7) / run},
                                               {"quality", v(5) / v(6)},
                                               {"oee", v(8) / ppt}};
  }
  auto lot = cluster.admin().Query(
      "SELECT lot_no FROM millrace.material_lot WHERE tenant_id = 'acme' AND site_id = 'lyon' ORDER BY lot_no LIMIT 1");
  ASSERT_TRUE(lot.ok());
  expected["lot"] = lot->rows() ? lot->GetString(0, 0) : "none";
  const std::string expected_file = (cluster.dir() / "expected.json").string();
  std::ofstream(expected_file) << expected.dump(2);
  std::cout << "raw facts: " << expected.dump() << "\n";

  const std::string central = "http://127.0.0.1:" + std::to_string(cluster.central_http().port);
  const int rc = RunCommand({"/usr/bin/env", "node", g_script, central, expected_file, g_shots}, &out);
  std::cout << out;
  EXPECT_EQ(rc, 0) << out;
}

}  // namespace
}  // namespace millrace::testing

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (argc < 6) {
    fprintf(stderr, "usage: dashboard_browser_tests MES_CENTRAL MES_EDGE MES_SIM NODE_SCRIPT SCREENSHOT_DIR\n");
    return 2;
  }
  millrace::testing::g_bins = {argv[1], argv[2]};
  millrace::testing::g_sim = argv[3];
  millrace::testing::g_script = argv[4];
  millrace::testing::g_shots = argv[5];
  return RUN_ALL_TESTS();
}
