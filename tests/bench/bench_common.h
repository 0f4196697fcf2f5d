// What the benchmark runners share: how they give up, the production event they write,
// percentiles, the resident size and CPU time of a process, the machine and commit a result
// was measured on, and comparing two result files.
#pragma once

#include <sys/types.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <functional>
#include <iomanip>
#include <iostream>
#include <iterator>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "millrace/common/catalog.h"
#include "millrace/common/row.h"
#include "millrace/common/status.h"
#include "millrace/common/uuid.h"

namespace millrace::bench {

// A runner that cannot go on says why, runs `g_before_exit` (stopping the processes it
// started) and exits 1.
inline const char* g_program = "bench";
inline std::function<void()> g_before_exit;
[[noreturn]] inline void Die(const Status& s, const std::string& what) {
  std::cerr << g_program << ": " << what << ": " << s.ToString() << "\n";
  if (auto before = std::exchange(g_before_exit, nullptr)) before();
  std::exit(1);
}
#define CHECK_OK(expr, what)                        \
  do {                                              \
    ::millrace::Status _s = (expr);                 \
    if (!_s.ok()) ::millrace::bench::Die(_s, what); \
  } while (0)
template <typename T>
T Must(Result<T> r, const std::string& what) {
  if (!r.ok()) Die(r.status(), what);
  return std::move(r).value();
}

inline const catalog::TableSpec& T(const char* name) { return *catalog::MesCatalog().Find(name); }

// The i-th COUNT event of a site, as a terminal would record it.
inline Row EventRow(const std::string& site, std::int64_t i) {
  Row r(T("production_event"));
  r.Set("id", Uuid::NewV7().ToString())
      .Set("site_id", site)
      .Set("kind", "COUNT")
      .Set("at", std::int64_t{1795413600000} + i)
      // Counts of a dozen running operations of six orders.
      .Set("work_order_id", "00000000-0000-7000-8000-0000000001" + std::to_string(10 + i % 12 / 2))
      .Set("operation_id", "00000000-0000-7000-8000-0000000002" + std::to_string(10 + i % 12))
      // A site's handful of work units, as on a floor (each its own rollup row).
      .Set("work_unit_id", "00000000-0000-7000-8000-00000000000" + std::to_string(i % 6))
      .Set("good_quantity", 1.0)
      .Set("scrap_quantity", 0.0)
      .Set("rework_quantity", 0.0)
      .Set("hlc", (std::int64_t{1795413600000} << 16) + i)
      .Set("origin", "edge:" + site);
  return r;
}

inline double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

// Resident and peak resident size of a process, in MiB (/proc/PID/status); 0 when gone.
struct Rss {
  double now_mib = 0, peak_mib = 0;
};
inline Rss ReadRss(pid_t pid) {
  Rss out;
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string key;
  while (in >> key) {
    if (key == "VmRSS:" || key == "VmHWM:") {
      double kib = 0;
      in >> kib;
      (key == "VmRSS:" ? out.now_mib : out.peak_mib) = kib / 1024;
    }
    in.ignore(std::numeric_limits<std::streamsize>::max(), '\n');
  }
  return out;
}

// CPU seconds a process has used (user + system), from /proc/PID/stat; 0 when gone.
inline double CpuSeconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto close = stat.rfind(')');  // the command may hold spaces
  if (close == std::string::npos) return 0;
  std::istringstream rest(stat.substr(close + 2));
  std::string field;
  double utime = 0, stime = 0;
  for (int i = 3; rest >> field; ++i) {
    if (i == 14) utime = std::stod(field);
    if (i == 15) {
      stime = std::stod(field);
      break;
    }
  }
  return (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// What a result was measured on: the machine (CPU model and count, memory, kernel) and
// the code (the commit of the source tree, with "-dirty" when it had uncommitted changes).
inline nlohmann::json MachineJson() {
  nlohmann::json m;
  std::ifstream cpu("/proc/cpuinfo");
  for (std::string line; std::getline(cpu, line);)
    if (line.rfind("model name", 0) == 0) {
      m["cpu"] = line.substr(line.find(':') + 2);
      break;
    }
  m["cores"] = sysconf(_SC_NPROCESSORS_ONLN);
  std::ifstream mem("/proc/meminfo");
  std::string key;
  double kib = 0;
  if (mem >> key >> kib) m["memory_gib"] = kib / 1024 / 1024;
  utsname u{};
  if (uname(&u) == 0) m["kernel"] = std::string(u.sysname) + " " + u.release;
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) == 0) m["host"] = host;
  std::string commit;
#ifdef MILLRACE_SOURCE_DIR
  if (FILE* p = popen("git -C " MILLRACE_SOURCE_DIR " describe --always --dirty --abbrev=12 2>/dev/null", "r")) {
    char buf[128] = {};
    if (fgets(buf, sizeof buf, p)) commit = buf;
    pclose(p);
  }
#endif
  while (!commit.empty() && std::isspace(static_cast<unsigned char>(commit.back()))) commit.pop_back();
  m["commit"] = commit.empty() ? "unknown" : commit;
  const auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  char when[32];
  std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  m["measured_at"] = when;
  return m;
}

// Prints two result files side by side: every number both hold, by its path, with the
// second as a ratio of the first. Returns a process exit status.
inline int CompareResults(const std::string& a_path, const std::string& b_path) {
  auto load = [](const std::string& path, nlohmann::json* out) {
    std::ifstream in(path);
    *out = nlohmann::json::parse(in, nullptr, false);
    if (out->is_discarded()) {
      std::cerr << "cannot read " << path << " as JSON\n";
      return false;
    }
    return true;
  };
  nlohmann::json a, b;
  if (!load(a_path, &a) || !load(b_path, &b)) return 2;
  const nlohmann::json fa = a.flatten(), fb = b.flatten();
  std::cout << "A: " << a_path << " (" << a.value("/machine/commit"_json_pointer, std::string("?"))
            << ", " << a.value("/machine/measured_at"_json_pointer, std::string("?")) << ")\n"
            << "B: " << b_path << " (" << b.value("/machine/commit"_json_pointer, std::string("?"))
            << ", " << b.value("/machine/measured_at"_json_pointer, std::string("?")) << ")\n";
  std::cout << std::left << std::setw(52) << "measure" << std::right << std::setw(16) << "A"
            << std::setw(16) << "B" << std::setw(10) << "B/A" << "\n";
  for (auto it = fa.begin(); it != fa.end(); ++it) {
    if (!it.value().is_number() || !fb.contains(it.key())) continue;
    const auto& other = fb.at(it.key());
    if (!other.is_number()) continue;
    const double x = it.value().get<double>(), y = other.get<double>();
    std::ostringstream ratio;
    if (x != 0) ratio << std::fixed << std::setprecision(2) << y / x << "x";
    std::cout << std::left << std::setw(52) << it.key() << std::right << std::setw(16) << x
              << std::setw(16) << y << std::setw(10) << ratio.str() << "\n";
  }
  for (const char* key : {"/machine/cpu", "/machine/cores", "/machine/host"}) {
    const nlohmann::json::json_pointer p(key);
    if (a.contains(p) && b.contains(p) && a.at(p) != b.at(p))
      std::cout << "note: the machines differ (" << key << "): " << a.at(p) << " vs " << b.at(p)
                << "\n";
  }
  return 0;
}

}  // namespace millrace::bench
