// mes-sim: the Millrace floor simulator (edge/simulator.h). Drives edges through their
// terminal API like a shift of operators; prints progress every five seconds and a summary.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "millrace/common/cli.h"
#include "millrace/common/logging.h"
#include "millrace/common/signals.h"
#include "millrace/edge/simulator.h"

namespace {

nlohmann::json ToJson(const millrace::edge::SimulatorStats& s, double seconds) {
  return {{"events", s.events},     {"total", s.total},   {"refused", s.refused},
          {"refusals", s.refusals},
          {"failed", s.failed},     {"by_edge", s.by_edge}, {"seconds", seconds},
          {"events_per_s", seconds > 0 ? static_cast<double>(s.total) / seconds : 0.0},
          {"write_ms", {{"p50", s.write_ms.Percentile(0.5)}, {"p99", s.write_ms.Percentile(0.99)}}},
          {"read_ms", {{"p50", s.read_ms.Percentile(0.5)}, {"p99", s.read_ms.Percentile(0.99)}}}};
}

}  // namespace

int main(int argc, char** argv) {
  using namespace millrace;
  BlockShutdownSignals();
  CLI::App app{
      "mes-sim: a simulated shop floor. Per edge, a supervisor keeps the lines supplied with "
      "released work orders and one operator per work unit (badges 1101, 1102, ... PIN 1234) "
      "starts operations, counts good and scrap, stops for downtime, measures and completes, "
      "all through the edge's terminal API."};
  edge::SimulatorOptions o;
  int cycle_ms = 500;
  int duration_s = 0;
  bool json_out = false;
  app.add_option("--edge", o.edges, "Edge base URL, e.g. http://127.0.0.1:8091 (repeatable)")
      ->required();
  app.add_option("--seed", o.seed, "Seed of every decision (same seed, same choices)");
  app.add_option("--units", o.units, "Work units driven per edge")->check(CLI::Range(1, 64));
  app.add_option("--cycle-ms", cycle_ms, "Time between an operator's actions")
      ->check(CLI::Range(1, 600000));
  app.add_option("--duration", duration_s, "Stop after this many seconds (0: see --events)")
      ->check(CLI::Range(0, 7 * 24 * 3600));
  app.add_option("--events", o.events, "Stop after this many successful writes (0: no limit)");
  app.add_option("--scrap-rate", o.scrap_rate, "Share of counts that are scrap")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--downtime-rate", o.downtime_rate, "Chance per action of a stop")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--out-of-spec-rate", o.out_of_spec_rate, "Share of measurements out of spec")
      ->check(CLI::Range(0.0, 1.0));
  app.add_flag("--json", json_out, "Print the summary as JSON");
  app.footer("Runs until --duration, --events or Ctrl-C. Exit status: 0 done, 1 an edge could "
             "not be set up, 2 bad usage.");
  if (auto code = ParseCommandLine(app, argc, argv)) return *code;
  if (duration_s == 0 && o.events == 0)
    std::cerr << "mes-sim: no --duration or --events: running until Ctrl-C\n";
  o.cycle = std::chrono::milliseconds(cycle_ms);
  o.duration = std::chrono::seconds(duration_s);
  (void)InitLogging({.level = "warn", .format = "human", .program = "mes-sim"});

  edge::Simulator sim(o);
  Status result;
  std::atomic<bool> finished{false};
  const auto started = std::chrono::steady_clock::now();
  std::thread runner([&] {
    result = sim.Run();
    sim.Stop();
    finished = true;
  });
  auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  };
  double last_report = 0;
  while (!finished) {
    if (WaitForShutdownSignal(std::chrono::milliseconds(200)) > 0) sim.Stop();
    if (elapsed() - last_report >= 5) {
      last_report = elapsed();
      const auto s = sim.Snapshot();
      std::cerr << "mes-sim: " << std::fixed << std::setprecision(0) << elapsed() << " s, "
                << s.total << " writes (" << s.refused << " refused by a rule, " << s.failed
                << " unanswered)\n";
    }
  }
  runner.join();
  if (!result.ok()) {
    std::cerr << "mes-sim: " << result.ToString() << "\n";
    return result.code() == StatusCode::kInvalidArgument ? 2 : 1;
  }
  const auto s = sim.Snapshot();
  const double seconds = elapsed();
  if (json_out) {
    std::cout << ToJson(s, seconds).dump(2) << "\n";
  } else {
    std::cout << "mes-sim: " << s.total << " writes in " << std::fixed << std::setprecision(1)
              << seconds << " s (" << (seconds > 0 ? s.total / seconds : 0) << "/s); "
              << s.refused << " refused by a rule, " << s.failed << " unanswered\n"
              << std::setprecision(2) << "  write answered in p50 " << s.write_ms.Percentile(0.5)
              << " ms, p99 " << s.write_ms.Percentile(0.99) << " ms; read p50 "
              << s.read_ms.Percentile(0.5) << " ms, p99 " << s.read_ms.Percentile(0.99) << " ms\n";
    for (const auto& [kind, n] : s.events) std::cout << "  " << std::left << std::setw(26) << kind << n << "\n";
    for (const auto& [edge, n] : s.by_edge) std::cout << "  " << std::left << std::setw(26) << edge << n << "\n";
    if (!s.refusals.empty()) std::cout << "  refused (write: rule):\n";
    for (const auto& [why, n] : s.refusals) std::cout << "    " << std::left << std::setw(40) << why << n << "\n";
  }
  return 0;
}
