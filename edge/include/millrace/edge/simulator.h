// The floor simulator: drives one or many edges through their real terminal API the way a
// shift of operators would. Per edge, a supervisor keeps each line's queue filled with
// released work orders; one operator per simulated work unit badges in and works through
// the unit's queue: starts operations, reports good and scrap (with a reason) at the
// cycle time, stops for downtime with a reason, records measurements (some out of spec),
// consumes material lots, and completes operations.
//
// Deterministic in its decisions for a given seed (what happens at which unit, in which
// order); wall-clock timing is not. Runs for a duration or until an event count.
//
// Thread-safety: Run() blocks; Stop() and Snapshot() may be called from other threads.
#pragma once

#include <atomic>
#include <cmath>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "millrace/common/status.h"

namespace millrace::edge {

struct SimulatorOptions {
  std::vector<std::string> edges;  // http://host:port of each edge
  std::uint64_t seed = 1;
  int units = 3;                   // work units driven per edge (whole lines first)
  std::chrono::milliseconds cycle{500};  // time between an operator's actions
  double scrap_rate = 0.05;
  double downtime_rate = 0.02;     // chance per action of a stop
  double measurement_rate = 0.10;  // chance per action at an inspected step
  double out_of_spec_rate = 0.10;  // of measurements
  std::chrono::seconds duration{0};  // 0: until `events`, or until Stop()
  std::uint64_t events = 0;          // 0: unlimited
  double work_order_quantity = 20;
  std::string pin = "1234";
};

// Answer times in log-spaced buckets 5% wide: percentiles to within 2.5%, in bounded
// memory however long the floor runs.
struct LatencyTally {
  void Add(double ms);
  // The p-quantile (0..1) in milliseconds; 0 when nothing was added.
  double Percentile(double p) const;
  std::uint64_t count = 0;
  std::map<int, std::uint64_t> buckets;  // bucket -> answers
};

struct SimulatorStats {
  std::map<std::string, std::uint64_t> events;  // by kind: count, scrap, start, complete, ...
  std::uint64_t total = 0;     // successful writes
  std::uint64_t refused = 0;   // 4xx answers (a rule said no; the simulator moves on)
  std::map<std::string, std::uint64_t> refusals;  // "<write kind>: <rule>" -> count
  std::uint64_t failed = 0;    // 5xx or no answer (the edge was down)
  std::map<std::string, std::uint64_t> by_edge;  // successful writes per edge URL
  LatencyTally write_ms;  // request to answer of every answered write
  LatencyTally read_ms;   // of every answered read (the queue, lists)
};

class Simulator {
 public:
  explicit Simulator(SimulatorOptions options);
  // Runs every edge's crew until the duration or event count is reached or Stop().
  // InvalidArgument for bad options; Unavailable when an edge cannot be set up at all.
  Status Run();
  void Stop() { stop_ = true; }
  SimulatorStats Snapshot() const;

  class Site;

 private:
  friend class Site;
  // Counts one answered write; false once the event budget is spent.
  bool Count(const std::string& edge, const std::string& kind, int http_status,
             const std::string& rule, double ms);
  void CountRead(double ms);

  SimulatorOptions options_;
  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;
  SimulatorStats stats_;
};

}  // namespace millrace::edge
