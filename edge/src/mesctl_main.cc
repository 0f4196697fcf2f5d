// mesctl: the command line for operators, supervisors and site installers, speaking to a
// mes-edge over its HTTP API.
#include <cstdlib>
#include <iostream>
#include <nlohmann/json.hpp>

#include "millrace/common/cli.h"
#include "millrace/common/http_client.h"
#include "millrace/common/version.h"

namespace millrace {
namespace {

int Fail(const Status& s) {
  std::cerr << "mesctl: " << s.ToString() << "\n";
  return 1;
}

// GET /health and /ready of an edge; prints a table or JSON. Exit 0 only when ready.
int Status_(const std::string& url, bool json) {
  auto ep = ParseHttpUrl(url);
  if (!ep.ok()) return Fail(ep.status());
  auto health = HttpCall(*ep, "GET", "/health");
  if (!health.ok()) return Fail(health.status().WithContext("edge at " + url));
  auto ready = HttpCall(*ep, "GET", "/ready");
  if (!ready.ok()) return Fail(ready.status().WithContext("edge at " + url));
  nlohmann::json out;
  out["edge"] = url;
  out["alive"] = health->status == 200;
  out["ready"] = ready->status == 200;
  auto checks = nlohmann::json::parse(ready->body, nullptr, false);
  out["checks"] =
      checks.is_object() && checks.contains("checks") ? checks["checks"] : nlohmann::json::object();
  if (json) {
    std::cout << out.dump(2) << "\n";
  } else {
    std::cout << "edge    " << url << "\n"
              << "alive   " << (out["alive"].get<bool>() ? "yes" : "no") << "\n"
              << "ready   " << (out["ready"].get<bool>() ? "yes" : "no") << "\n";
    for (auto& [name, value] : out["checks"].items()) {
      std::cout << "  " << name << ": "
                << (value.is_string() ? value.get<std::string>() : value.dump()) << "\n";
    }
  }
  return out["ready"].get<bool>() ? 0 : 3;
}

int Metrics(const std::string& url) {
  auto ep = ParseHttpUrl(url);
  if (!ep.ok()) return Fail(ep.status());
  auto res = HttpCall(*ep, "GET", "/metrics");
  if (!res.ok()) return Fail(res.status().WithContext("edge at " + url));
  if (res->status != 200)
    return Fail(Status::Unavailable("edge answered HTTP " + std::to_string(res->status)));
  std::cout << res->body;
  return 0;
}

}  // namespace
}  // namespace millrace

int main(int argc, char** argv) {
  using namespace millrace;
  CLI::App app{"mesctl: talk to a Millrace edge (mes-edge) from the command line."};
  app.set_version_flag("--version", std::string("mesctl ") + kVersion);
  app.require_subcommand(1);
  const char* env_url = std::getenv("MILLRACE_EDGE_URL");
  std::string url = env_url && *env_url ? env_url : "http://127.0.0.1:8080";
  bool json = false;
  app.add_option("--edge", url,
                 "Base URL of the edge (default: $MILLRACE_EDGE_URL or http://127.0.0.1:8080)");
  app.add_flag("--json", json, "Print JSON for scripts instead of a readable table");
  app.footer("Exit status: 0 success, 1 error, 2 bad usage, 3 edge not ready.");

  auto* status = app.add_subcommand(
      "status", "Show whether the edge is alive and ready, with each readiness check");
  auto* metrics = app.add_subcommand("metrics", "Print the edge's Prometheus metrics");

  if (auto exit_code = ParseCommandLine(app, argc, argv)) return *exit_code;
  if (*status) return Status_(url, json);
  if (*metrics) return Metrics(url);
  return 2;
}
