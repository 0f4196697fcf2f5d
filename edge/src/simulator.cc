#include "millrace/edge/simulator.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <thread>

#include "millrace/common/http_client.h"
#include "millrace/edge/terminal_client.h"

namespace millrace::edge {
namespace {

using json = nlohmann::json;
using SteadyClock = std::chrono::steady_clock;

// The order of a line's steps: cut, then press, then pack.
int StepRank(const std::string& code) {
  if (code.ends_with("-CUT")) return 0;
  if (code.ends_with("-PRESS")) return 1;
  if (code.ends_with("-PACK")) return 2;
  return 3;
}

}  // namespace

class Simulator::Site {
 public:
  Site(Simulator* sim, std::string url, HttpEndpoint ep, int site_index)
      : sim_(sim), url_(std::move(url)), ep_(std::move(ep)), index_(site_index) {}

  Status Setup();
  void RunUnit(std::size_t u);
  void RunPlanner();
  std::size_t units() const { return units_.size(); }

 private:
  struct Unit {
    std::string id, code, line_id;
  };
  struct Answer {
    int status = 0;  // 0: no answer
    json body;
  };

  // One request on the calling thread's connection (each thread keeps its own alive).
  Answer Call(TerminalClient& c, const std::string& method, const std::string& target,
              const json& body = nullptr, double* ms = nullptr) {
    const auto t0 = SteadyClock::now();
    auto r = c.Send(method, target, body);
    const double took = std::chrono::duration<double, std::milli>(SteadyClock::now() - t0).count();
    if (ms) *ms = took;
    if (!r.ok()) return {};
    if (method == "GET") sim_->CountRead(took);
    return {r->status, std::move(r->body)};
  }
  // A write: counted by kind. True when it succeeded.
  bool Write(TerminalClient& c, const std::string& kind, const std::string& target,
             const json& body, json* out = nullptr, std::string* rule_out = nullptr) {
    double ms = 0;
    Answer a = Call(c, "POST", target, body, &ms);
    std::string rule;
    if (a.status >= 400 && a.status < 500 && a.body.is_object() && a.body.contains("error") &&
        a.body["error"].is_object())
      rule = a.body["error"].value("rule", a.body["error"].value("code", ""));
    if (!sim_->Count(url_, kind, a.status, rule, ms)) sim_->Stop();
    if (rule_out) *rule_out = rule;
    if (out) *out = a.body;
    return a.status >= 200 && a.status < 300;
  }
  // Badges in at the work unit with this id ("" for a desk session: supervisors); the
  // client then speaks with the session's token. False when refused or unanswered.
  bool BadgeIn(TerminalClient& c, const std::string& badge, const std::string& unit_id) {
    json body{{"badge_id", badge}, {"pin", sim_->options_.pin}};
    if (!unit_id.empty()) body["work_unit_id"] = unit_id;
    c.set_token("");
    Answer a = Call(c, "POST", "/api/v1/sessions", body);
    const std::string token =
        a.status == 201 || a.status == 200 ? a.body.value("token", std::string()) : "";
    c.set_token(token);
    return !token.empty();
  }
  void Pause(int cycles = 1) {
    const auto until = SteadyClock::now() + cycles * sim_->options_.cycle;
    while (!sim_->stop_ && SteadyClock::now() < until)
      std::this_thread::sleep_for(std::min<SteadyClock::duration>(until - SteadyClock::now(),
                                                                  std::chrono::milliseconds(50)));
  }
  json Items(const Answer& a) {
    return a.status == 200 && a.body.is_object() && a.body.contains("items") ? a.body["items"]
                                                                             : json::array();
  }

  Simulator* sim_;
  std::string url_;
  HttpEndpoint ep_;
  int index_;
  std::vector<Unit> units_;
  std::map<std::string, std::string> product_of_line_;
  std::vector<std::string> scrap_reasons_, downtime_reasons_;
  json characteristic_;  // one measured characteristic, or null
  std::vector<std::string> lots_;
  std::atomic<int> wo_counter_{0};
  std::string run_id_;
};

Status Simulator::Site::Setup() {
  // The supervisor (badge 2001) at a desk learns the floor: units, orders, reasons, lots.
  TerminalClient c(ep_);
  if (!BadgeIn(c, "2001", ""))
    return Status::Unauthenticated("the supervisor (badge 2001) cannot badge in at " + url_);
  Answer units = Call(c, "GET", "/api/v1/work-units?limit=500");
  if (units.status != 200)
    return Status::Unavailable("edge " + url_ + " did not list its work units (HTTP " +
                               std::to_string(units.status) + ")");
  std::vector<Unit> all;
  for (const auto& u : Items(units))
    all.push_back(
        {u["id"], u["code"], u["parent_id"].is_string() ? u["parent_id"].get<std::string>() : ""});
  // Line by line ("L1-..." before "L2-..."), each in process order.
  auto line_key = [](const Unit& u) { return u.code.substr(0, u.code.find('-')); };
  std::sort(all.begin(), all.end(), [&](const Unit& a, const Unit& b) {
    if (line_key(a) != line_key(b)) return line_key(a) < line_key(b);
    return StepRank(a.code) < StepRank(b.code);
  });
  if (all.empty()) return Status::FailedPrecondition("edge " + url_ + " has no work units");
  Answer orders = Call(c, "GET", "/api/v1/work-orders?limit=500");
  for (const auto& wo : Items(orders))
    if (wo["line_id"].is_string()) product_of_line_[wo["line_id"]] = wo["material_id"];
  // Only lines the planner can feed are simulated.
  for (const Unit& u : all)
    if (product_of_line_.count(u.line_id) && static_cast<int>(units_.size()) < sim_->options_.units)
      units_.push_back(u);
  if (units_.empty())
    return Status::FailedPrecondition("edge " + url_ +
                                      " has no work order to learn a line's product from");
  for (const auto& r : Items(Call(c, "GET", "/api/v1/reasons?category=scrap&limit=500")))
    scrap_reasons_.push_back(r["id"]);
  for (const auto& r : Items(Call(c, "GET", "/api/v1/reasons?category=downtime&limit=500")))
    if (r["planned"] == false) downtime_reasons_.push_back(r["id"]);
  for (const auto& ch : Items(Call(c, "GET", "/api/v1/characteristics?limit=500")))
    if (ch["kind"] == "measured" && ch["lsl"].is_number() && ch["usl"].is_number()) {
      characteristic_ = ch;
      break;
    }
  for (const auto& l : Items(Call(c, "GET", "/api/v1/lots?status=available&limit=500")))
    lots_.push_back(l["id"]);
  (void)Call(c, "DELETE", "/api/v1/sessions/current");
  run_id_ = std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count() %
                           100000000);
  return Status::Ok();
}

void Simulator::Site::RunPlanner() {
  TerminalClient c(ep_);
  bool badged = false;
  while (!sim_->stop_) {
    if (!badged) badged = BadgeIn(c, "2001", units_.front().id);
    if (!badged) {
      Pause(4);
      continue;
    }
    std::map<std::string, bool> lines;
    for (const Unit& u : units_) lines[u.line_id] = true;
    for (const auto& [line, _] : lines) {
      const std::string& product = product_of_line_.at(line);
      int open = 0;
      bool unauthorized = false;
      for (const char* status : {"Released", "InProgress"}) {
        Answer a = Call(c, "GET",
                        "/api/v1/work-orders?limit=500&status=" + std::string(status) +
                            "&material_id=" + product);
        unauthorized = unauthorized || a.status == 401;
        open += static_cast<int>(Items(a).size());
      }
      if (unauthorized) {
        badged = false;
        break;
      }
      if (open >= 2) continue;
      json wo;
      const std::string number =
          "SIM-" + run_id_ + "-" + std::to_string(index_) + "-" + std::to_string(++wo_counter_);
      if (Write(c, "work_order_create", "/api/v1/work-orders",
                {{"number", number},
                 {"material_id", product},
                 {"quantity", sim_->options_.work_order_quantity}},
                &wo) &&
          wo.contains("id"))
        Write(c, "work_order_release",
              "/api/v1/work-orders/" + wo["id"].get<std::string>() + "/release", json::object());
    }
    Pause(4);
  }
}

void Simulator::Site::RunUnit(std::size_t u) {
  const SimulatorOptions& o = sim_->options_;
  const Unit& unit = units_[u];
  std::mt19937_64 rng(o.seed * 1000003 + static_cast<std::uint64_t>(index_) * 101 + u);
  std::uniform_real_distribution<double> coin(0, 1);
  const std::string badge = std::to_string(1101 + u);  // the demo's crew operators
  TerminalClient c(ep_);
  bool badged = false;
  std::string consumed_for;          // the operation this unit last consumed material for
  std::set<std::string> not_on_bom;  // lots a consume was refused for: material_not_on_bom
  while (!sim_->stop_) {
    Pause();
    if (!badged) badged = BadgeIn(c, badge, unit.id);
    if (!badged) continue;  // the edge is down or refuses; try again next cycle
    Answer queue = Call(c, "GET", "/api/v1/work-units/" + unit.id + "/queue?limit=20");
    if (queue.status == 401) {
      badged = false;
      continue;
    }
    json items = Items(queue);
    json op;
    for (const char* want : {"Running", "Paused", "Ready"}) {
      for (const auto& it : items)
        if (it["status"] == want && it["work_unit_id"] == unit.id) {
          op = it;
          break;
        }
      if (!op.is_null()) break;
    }
    if (op.is_null()) continue;
    const std::string base = "/api/v1/operations/" + op["id"].get<std::string>();
    if (op["status"] == "Ready") {
      if (!Write(c, "start", base + "/start", json::object())) continue;
    } else if (op["status"] == "Paused") {
      // A stop left open (its end never reached the edge: the edge restarted, the answer
      // was lost) holds the unit down; the operator ends it first, as on a real floor.
      for (const auto& d :
           Items(Call(c, "GET", "/api/v1/downtime?open=true&work_unit_id=" + unit.id)))
        Write(c, "downtime_end", "/api/v1/downtime/" + d["id"].get<std::string>() + "/end",
              json::object());
      if (!Write(c, "resume", base + "/resume", json::object())) continue;
    }
    const double done = op.value("good_quantity", 0.0) + op.value("scrap_quantity", 0.0);
    if (done >= op.value("planned_quantity", 1.0)) {
      Write(c, "complete", base + "/complete", json::object());
      continue;
    }
    if (consumed_for != op["id"] && StepRank(unit.code) == 0 && !lots_.empty()) {
      consumed_for = op["id"];  // the first step draws material once per order
      for (std::size_t i = 0; i < lots_.size(); ++i) {
        const std::string& lot = lots_[(u + i) % lots_.size()];
        if (not_on_bom.count(lot)) continue;  // learnt: this line's BOMs do not use it
        std::string rule;
        if (Write(c, "consume", base + "/consume", {{"lot_id", lot}, {"quantity", 1.0}}, nullptr,
                  &rule))
          break;
        if (rule == "material_not_on_bom") not_on_bom.insert(lot);
      }
    }
    const double roll = coin(rng);
    if (roll < o.downtime_rate && !downtime_reasons_.empty()) {
      json stop;
      const std::string& reason =
          downtime_reasons_[static_cast<std::size_t>(coin(rng) * downtime_reasons_.size())];
      if (Write(c, "downtime_start", "/api/v1/downtime",
                {{"work_unit_id", unit.id}, {"reason_id", reason}}, &stop) &&
          stop.contains("id")) {
        Pause(2 + static_cast<int>(coin(rng) * 4));
        Write(c, "downtime_end", "/api/v1/downtime/" + stop["id"].get<std::string>() + "/end",
              json::object());
      }
    } else if (roll < o.downtime_rate + o.measurement_rate && StepRank(unit.code) == 1 &&
               !characteristic_.is_null()) {
      const double lsl = characteristic_["lsl"], usl = characteristic_["usl"];
      const bool out = coin(rng) < o.out_of_spec_rate;
      const double value = out ? usl + (usl - lsl) * 0.25 : lsl + (usl - lsl) * coin(rng);
      Write(c, out ? "measurement_out_of_spec" : "measurement", "/api/v1/measurements",
            {{"characteristic_id", characteristic_["id"]},
             {"operation_id", op["id"]},
             {"value", value}});
    } else if (coin(rng) < o.scrap_rate && !scrap_reasons_.empty()) {
      Write(c, "scrap", base + "/counts",
            {{"scrap", 1},
             {"scrap_reason_id",
              scrap_reasons_[static_cast<std::size_t>(coin(rng) * scrap_reasons_.size())]}});
    } else {
      Write(c, "good", base + "/counts", {{"good", 1}});
    }
  }
  if (badged) (void)Call(c, "DELETE", "/api/v1/sessions/current");
}

Simulator::Simulator(SimulatorOptions options) : options_(std::move(options)) {}

namespace {
constexpr double kTallyBase = 0.001;  // ms at bucket 0
const double kTallyStep = std::log(1.05);
}  // namespace

void LatencyTally::Add(double ms) {
  ++count;
  ++buckets[ms <= kTallyBase ? 0
                             : static_cast<int>(std::ceil(std::log(ms / kTallyBase) / kTallyStep))];
}

double LatencyTally::Percentile(double p) const {
  if (count == 0) return 0;
  const auto rank = static_cast<std::uint64_t>(std::ceil(p * static_cast<double>(count)));
  std::uint64_t seen = 0;
  for (const auto& [bucket, n] : buckets) {
    seen += n;
    if (seen >= std::max<std::uint64_t>(rank, 1))  // the bucket's middle
      return kTallyBase * std::exp((bucket - 0.5) * kTallyStep);
  }
  return kTallyBase * std::exp((buckets.rbegin()->first - 0.5) * kTallyStep);
}

void Simulator::CountRead(double ms) {
  std::lock_guard lock(mu_);
  stats_.read_ms.Add(ms);
}

bool Simulator::Count(const std::string& edge, const std::string& kind, int http_status,
                      const std::string& rule, double ms) {
  std::lock_guard lock(mu_);
  if (http_status != 0) stats_.write_ms.Add(ms);
  if (http_status >= 200 && http_status < 300) {
    stats_.events[kind]++;
    stats_.by_edge[edge]++;
    stats_.total++;
  } else if (http_status >= 400 && http_status < 500) {
    stats_.refused++;
    stats_.refusals[kind + ": " + (rule.empty() ? std::to_string(http_status) : rule)]++;
  } else {
    stats_.failed++;
  }
  return options_.events == 0 || stats_.total < options_.events;
}

SimulatorStats Simulator::Snapshot() const {
  std::lock_guard lock(mu_);
  return stats_;
}

Status Simulator::Run() {
  if (options_.edges.empty()) return Status::InvalidArgument("name at least one edge");
  if (options_.units < 1) return Status::InvalidArgument("--units must be at least 1");
  if (options_.cycle.count() < 1) return Status::InvalidArgument("the cycle must be at least 1 ms");
  std::vector<std::unique_ptr<Site>> sites;
  for (std::size_t i = 0; i < options_.edges.size(); ++i) {
    MILLRACE_ASSIGN_OR_RETURN(HttpEndpoint ep, ParseHttpUrl(options_.edges[i]));
    auto site = std::make_unique<Site>(this, options_.edges[i], ep, static_cast<int>(i));
    MILLRACE_RETURN_IF_ERROR(site->Setup());
    sites.push_back(std::move(site));
  }
  std::vector<std::thread> threads;
  for (auto& site : sites) {
    Site* s = site.get();
    threads.emplace_back([s] { s->RunPlanner(); });
    for (std::size_t u = 0; u < s->units(); ++u) threads.emplace_back([s, u] { s->RunUnit(u); });
  }
  const auto started = SteadyClock::now();
  while (!stop_) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (options_.duration.count() > 0 && SteadyClock::now() - started >= options_.duration)
      stop_ = true;
  }
  for (auto& t : threads) t.join();
  return Status::Ok();
}

}  // namespace millrace::edge
