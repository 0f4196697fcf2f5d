// Metrics: a Prometheus-style registry of counters, gauges and histograms with labels,
// and its text exposition format (version 0.0.4).
//
//   MetricsRegistry reg;
//   auto& requests = reg.AddCounter("mes_http_requests_total", "HTTP requests", {"route",
//   "status"}); requests.With({"/health", "200"}).Increment(); std::string body = reg.Render();
//
// Families and children live as long as the registry; references stay valid. Names and
// label names are checked when a family is added (a bad name is a bug: it throws).
//
// Thread-safety: everything is safe to call from many threads. Updating a child is a
// lock-free atomic; looking a child up by labels takes a short per-family lock, so hot
// paths should keep the child reference.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace millrace {

class Counter {
 public:
  // REQUIRES: delta >= 0 (counters only go up).
  void Increment(double delta = 1.0) { value_.fetch_add(delta, std::memory_order_relaxed); }
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

class Gauge {
 public:
  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  void Increment(double delta = 1.0) { value_.fetch_add(delta, std::memory_order_relaxed); }
  void Decrement(double delta = 1.0) { value_.fetch_sub(delta, std::memory_order_relaxed); }
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

class Histogram {
 public:
  // REQUIRES: bounds strictly increasing. +Inf is implicit.
  explicit Histogram(std::vector<double> bounds);
  void Observe(double v);
  const std::vector<double>& bounds() const { return bounds_; }
  // Cumulative counts per bound, then +Inf (== Count()).
  std::vector<std::uint64_t> CumulativeCounts() const;
  std::uint64_t Count() const { return count_.load(std::memory_order_relaxed); }
  double Sum() const { return sum_.load(std::memory_order_relaxed); }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;  // per bound, non-cumulative
  std::atomic<std::uint64_t> count_{0};
  std::atomic<double> sum_{0.0};
};

// Default latency buckets in seconds: 100 us .. 10 s.
std::vector<double> LatencyBucketsSeconds();

enum class MetricType { kCounter, kGauge, kHistogram };

// All children of one metric name, keyed by label values.
template <typename T>
class Family {
 public:
  Family(std::string name, std::string help, std::vector<std::string> label_names,
         std::function<std::unique_ptr<T>()> make)
      : name_(std::move(name)),
        help_(std::move(help)),
        label_names_(std::move(label_names)),
        make_(std::move(make)) {}

  // The child for these label values, created on first use.
  // REQUIRES: values.size() == label_names().size() (throws std::invalid_argument otherwise).
  T& With(const std::vector<std::string>& values);
  // The child of a family without labels.
  T& Get() { return With({}); }

  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  const std::vector<std::string>& label_names() const { return label_names_; }
  // Calls f(label_values, child) for every child, in label order.
  void ForEach(const std::function<void(const std::vector<std::string>&, const T&)>& f) const;

 private:
  std::string name_, help_;
  std::vector<std::string> label_names_;
  std::function<std::unique_ptr<T>()> make_;
  mutable std::mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<T>> children_;
};

class MetricsRegistry {
 public:
  MetricsRegistry() = default;
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  // Adding a name twice returns the existing family if type and labels match, and throws
  // std::invalid_argument otherwise.
  Family<Counter>& AddCounter(const std::string& name, const std::string& help,
                              std::vector<std::string> labels = {});
  Family<Gauge>& AddGauge(const std::string& name, const std::string& help,
                          std::vector<std::string> labels = {});
  Family<Histogram>& AddHistogram(const std::string& name, const std::string& help,
                                  std::vector<std::string> labels = {},
                                  std::vector<double> bounds = LatencyBucketsSeconds());

  // Runs before every Render(): refreshes gauges computed on demand (backlog, ages).
  void AddCollector(std::function<void()> collect);

  // The Prometheus text exposition of every family, sorted by name, leaving out whole
  // families that carry any label in `hidden_labels` (say, per-tenant series for a reader
  // without a credential).
  std::string Render(const std::set<std::string>& hidden_labels = {}) const;

 private:
  struct Entry {
    MetricType type;
    std::unique_ptr<Family<Counter>> counter;
    std::unique_ptr<Family<Gauge>> gauge;
    std::unique_ptr<Family<Histogram>> histogram;
  };
  Entry& AddEntry(const std::string& name, MetricType type, const std::vector<std::string>& labels);

  mutable std::mutex mu_;
  std::map<std::string, Entry> entries_;
  std::vector<std::function<void()>> collectors_;
};

// Escapes a label value for the exposition format (backslash, quote, newline).
std::string EscapeLabelValue(const std::string& v);

// ---- template implementation ----

template <typename T>
T& Family<T>::With(const std::vector<std::string>& values) {
  if (values.size() != label_names_.size()) {
    throw std::invalid_argument("metric " + name_ + " takes " +
                                std::to_string(label_names_.size()) + " label values, got " +
                                std::to_string(values.size()));
  }
  std::lock_guard lock(mu_);
  auto it = children_.find(values);
  if (it == children_.end()) it = children_.emplace(values, make_()).first;
  return *it->second;
}

template <typename T>
void Family<T>::ForEach(
    const std::function<void(const std::vector<std::string>&, const T&)>& f) const {
  std::lock_guard lock(mu_);
  for (const auto& [labels, child] : children_) f(labels, *child);
}

}  // namespace millrace
