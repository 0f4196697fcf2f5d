#include "millrace/common/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <stdexcept>

namespace millrace {
namespace {

bool ValidName(const std::string& name, bool allow_colon) {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
              (allow_colon && c == ':') || (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return name.rfind("__", 0) != 0;
}

std::string FormatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);  // shortest round-trip form
  return std::string(buf, end);
}

std::string EscapeHelp(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

std::string LabelSet(const std::vector<std::string>& names, const std::vector<std::string>& values,
                     const std::string& extra_name = "", const std::string& extra_value = "") {
  if (names.empty() && extra_name.empty()) return "";
  std::string out = "{";
  bool first = true;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (!first) out += ",";
    out += names[i] + "=\"" + EscapeLabelValue(values[i]) + "\"";
    first = false;
  }
  if (!extra_name.empty()) {
    if (!first) out += ",";
    out += extra_name + "=\"" + EscapeLabelValue(extra_value) + "\"";
  }
  return out + "}";
}

}  // namespace

std::string EscapeLabelValue(const std::string& v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

std::vector<double> LatencyBucketsSeconds() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
          0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
}

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)),
      buckets_(std::make_unique<std::atomic<std::uint64_t>[]>(bounds_.size())) {
  for (std::size_t i = 1; i < bounds_.size(); ++i) {
    if (!(bounds_[i] > bounds_[i - 1]))
      throw std::invalid_argument("histogram bounds must increase");
  }
  for (std::size_t i = 0; i < bounds_.size(); ++i) buckets_[i].store(0);
}

void Histogram::Observe(double v) {
  auto it = std::lower_bound(bounds_.begin(), bounds_.end(), v);  // first bound >= v ("le")
  if (it != bounds_.end()) buckets_[it - bounds_.begin()].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

std::vector<std::uint64_t> Histogram::CumulativeCounts() const {
  std::vector<std::uint64_t> out;
  std::uint64_t running = 0;
  for (std::size_t i = 0; i < bounds_.size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    out.push_back(running);
  }
  out.push_back(std::max(running, Count()));
  return out;
}

MetricsRegistry::Entry& MetricsRegistry::AddEntry(const std::string& name, MetricType type,
                                                  const std::vector<std::string>& labels) {
  if (!ValidName(name, true)) throw std::invalid_argument("invalid metric name '" + name + "'");
  for (const auto& l : labels) {
    if (!ValidName(l, false) || l == "le")
      throw std::invalid_argument("invalid label name '" + l + "'");
  }
  auto it = entries_.find(name);
  if (it != entries_.end()) {
    const std::vector<std::string>* existing =
        it->second.counter ? &it->second.counter->label_names()
        : it->second.gauge ? &it->second.gauge->label_names()
                           : &it->second.histogram->label_names();
    if (it->second.type != type || *existing != labels) {
      throw std::invalid_argument("metric '" + name + "' registered twice with different shape");
    }
    return it->second;
  }
  Entry& e = entries_[name];
  e.type = type;
  return e;
}

Family<Counter>& MetricsRegistry::AddCounter(const std::string& name, const std::string& help,
                                             std::vector<std::string> labels) {
  std::lock_guard lock(mu_);
  Entry& e = AddEntry(name, MetricType::kCounter, labels);
  if (!e.counter) {
    e.counter = std::make_unique<Family<Counter>>(name, help, std::move(labels),
                                                  [] { return std::make_unique<Counter>(); });
  }
  return *e.counter;
}

Family<Gauge>& MetricsRegistry::AddGauge(const std::string& name, const std::string& help,
                                         std::vector<std::string> labels) {
  std::lock_guard lock(mu_);
  Entry& e = AddEntry(name, MetricType::kGauge, labels);
  if (!e.gauge) {
    e.gauge = std::make_unique<Family<Gauge>>(name, help, std::move(labels),
                                              [] { return std::make_unique<Gauge>(); });
  }
  return *e.gauge;
}

Family<Histogram>& MetricsRegistry::AddHistogram(const std::string& name, const std::string& help,
                                                 std::vector<std::string> labels,
                                                 std::vector<double> bounds) {
  std::lock_guard lock(mu_);
  Entry& e = AddEntry(name, MetricType::kHistogram, labels);
  if (!e.histogram) {
    Histogram probe(bounds);  // validates the bounds now, not at first use
    e.histogram = std::make_unique<Family<Histogram>>(
        name, help, std::move(labels), [bounds] { return std::make_unique<Histogram>(bounds); });
  }
  return *e.histogram;
}

void MetricsRegistry::AddCollector(std::function<void()> collect) {
  std::lock_guard lock(mu_);
  collectors_.push_back(std::move(collect));
}

std::string MetricsRegistry::Render(const std::set<std::string>& hidden_labels) const {
  std::vector<std::function<void()>> collectors;
  {
    std::lock_guard lock(mu_);
    collectors = collectors_;
  }
  for (const auto& c : collectors) c();

  std::lock_guard lock(mu_);
  std::string out;
  for (const auto& entry : entries_) {
    // Plain references: lambdas below may not capture structured bindings (clang < 16).
    const std::string& name = entry.first;
    const Entry& e = entry.second;
    const std::vector<std::string>& label_names =
        e.type == MetricType::kCounter ? e.counter->label_names()
        : e.type == MetricType::kGauge ? e.gauge->label_names()
                                       : e.histogram->label_names();
    bool hidden = false;
    for (const auto& l : label_names) hidden = hidden || hidden_labels.count(l) > 0;
    if (hidden) continue;
    switch (e.type) {
      case MetricType::kCounter:
        out += "# HELP " + name + " " + EscapeHelp(e.counter->help()) + "\n# TYPE " + name +
               " counter\n";
        e.counter->ForEach([&](const std::vector<std::string>& labels, const Counter& c) {
          out += name + LabelSet(e.counter->label_names(), labels) + " " + FormatValue(c.Value()) +
                 "\n";
        });
        break;
      case MetricType::kGauge:
        out +=
            "# HELP " + name + " " + EscapeHelp(e.gauge->help()) + "\n# TYPE " + name + " gauge\n";
        e.gauge->ForEach([&](const std::vector<std::string>& labels, const Gauge& g) {
          out +=
              name + LabelSet(e.gauge->label_names(), labels) + " " + FormatValue(g.Value()) + "\n";
        });
        break;
      case MetricType::kHistogram:
        out += "# HELP " + name + " " + EscapeHelp(e.histogram->help()) + "\n# TYPE " + name +
               " histogram\n";
        e.histogram->ForEach([&](const std::vector<std::string>& labels, const Histogram& h) {
          const auto& names = e.histogram->label_names();
          auto counts = h.CumulativeCounts();
          for (std::size_t i = 0; i < h.bounds().size(); ++i) {
            out += name + "_bucket" + LabelSet(names, labels, "le", FormatValue(h.bounds()[i])) +
                   " " + FormatValue(static_cast<double>(counts[i])) + "\n";
          }
          out += name + "_bucket" + LabelSet(names, labels, "le", "+Inf") + " " +
                 FormatValue(static_cast<double>(counts.back())) + "\n";
          out += name + "_sum" + LabelSet(names, labels) + " " + FormatValue(h.Sum()) + "\n";
          out += name + "_count" + LabelSet(names, labels) + " " +
                 FormatValue(static_cast<double>(h.Count())) + "\n";
        });
        break;
    }
  }
  return out;
}

}  // namespace millrace
