// mesctl: the command line for operators, supervisors and site installers, speaking to a
// mes-edge over its HTTP API. Human references are resolved through the API:
//   work orders by number (WO-1001) or id; operations as WO-1001/10 (order/sequence) or
//   id; work units, reasons and lots by code or id.
// `mesctl login` keeps the session token in a 0600 file ($MILLRACE_TOKEN_FILE, default
// ~/.config/millrace/mesctl-token); --token or $MILLRACE_TOKEN override it.
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "millrace/common/cli.h"
#include "millrace/common/files.h"
#include "millrace/common/http_client.h"
#include "millrace/common/uuid.h"
#include "millrace/common/version.h"
#include "millrace/edge/backup.h"

namespace millrace {
namespace {

using json = nlohmann::json;

struct Options {
  std::string url;
  std::string token;
  bool json_output = false;
};

int Fail(const Status& s) {
  std::cerr << "mesctl: " << s.ToString() << "\n";
  switch (s.code()) {
    case StatusCode::kInvalidArgument:
      return 2;
    case StatusCode::kUnauthenticated:
      return 4;
    case StatusCode::kPermissionDenied:
    case StatusCode::kConflict:
    case StatusCode::kFailedPrecondition:
      return 5;
    default:
      return 1;
  }
}

std::string TokenFile() {
  if (const char* f = std::getenv("MILLRACE_TOKEN_FILE"); f && *f) return f;
  const char* home = std::getenv("HOME");
  return std::string(home && *home ? home : ".") + "/.config/millrace/mesctl-token";
}

class Client {
 public:
  explicit Client(Options o) : o_(std::move(o)) {}

  // Calls the edge; an HTTP error becomes a Status carrying the API's code, rule and message.
  Result<json> Call(const std::string& method, const std::string& target,
                    const json& body = nullptr) {
    MILLRACE_ASSIGN_OR_RETURN(auto ep, ParseHttpUrl(o_.url));
    std::map<std::string, std::string> headers;
    if (!o_.token.empty()) headers["authorization"] = "Bearer " + o_.token;
    auto r = HttpCall(ep, method, target, body.is_null() ? "" : body.dump(), headers);
    if (!r.ok()) return r.status().WithContext("edge at " + o_.url);
    json j = json::parse(r->body, nullptr, false);
    if (r->status >= 300) {
      std::string code = j.is_object() && j.contains("error") ? j["error"].value("code", "") : "";
      std::string message =
          j.is_object() && j.contains("error") ? j["error"].value("message", r->body) : r->body;
      std::string rule = j.is_object() && j.contains("error") ? j["error"].value("rule", "") : "";
      StatusCode sc = code == "unauthenticated"       ? StatusCode::kUnauthenticated
                      : code == "invalid_argument"    ? StatusCode::kInvalidArgument
                      : code == "not_found"           ? StatusCode::kNotFound
                      : code == "permission_denied"   ? StatusCode::kPermissionDenied
                      : code == "conflict"            ? StatusCode::kConflict
                      : code == "failed_precondition" ? StatusCode::kFailedPrecondition
                                                      : StatusCode::kUnavailable;
      return Status(sc, message).WithRule(rule);
    }
    return j;
  }

  // The first item of a list call, or NotFound.
  Result<json> First(const std::string& target, const std::string& what) {
    MILLRACE_ASSIGN_OR_RETURN(json page, Call("GET", target));
    if (page["items"].empty()) return Status::NotFound(what + " not found");
    return page["items"][0];
  }

  static bool IsId(const std::string& ref) { return Uuid::Parse(ref).ok(); }
  static std::string Enc(const std::string& s) {
    std::ostringstream out;
    for (unsigned char c : s) {
      if (std::isalnum(c) || c == '-' || c == '_' || c == '.')
        out << c;
      else
        out << '%' << std::uppercase << std::hex << std::setw(2) << std::setfill('0') << int(c);
    }
    return out.str();
  }

  Result<std::string> WorkOrderId(const std::string& ref) {
    if (IsId(ref)) return ref;
    MILLRACE_ASSIGN_OR_RETURN(json wo,
                              First("/api/v1/work-orders?number=" + Enc(ref), "work order " + ref));
    return wo["id"].get<std::string>();
  }
  Result<std::string> OperationId(const std::string& ref) {
    if (IsId(ref)) return ref;
    auto slash = ref.rfind('/');
    if (slash == std::string::npos) {
      return Status::InvalidArgument("operation '" + ref +
                                     "': give an id or WORK-ORDER/SEQ such as WO-1001/10");
    }
    MILLRACE_ASSIGN_OR_RETURN(std::string wo, WorkOrderId(ref.substr(0, slash)));
    MILLRACE_ASSIGN_OR_RETURN(json order, Call("GET", "/api/v1/work-orders/" + wo));
    for (const auto& op : order["operations"]) {
      if (std::to_string(op["seq"].get<std::int64_t>()) == ref.substr(slash + 1))
        return op["id"].get<std::string>();
    }
    return Status::NotFound("operation " + ref + " not found");
  }
  Result<std::string> ReasonId(const std::string& ref) {
    if (ref.empty() || IsId(ref)) return ref;
    MILLRACE_ASSIGN_OR_RETURN(json r, First("/api/v1/reasons?code=" + Enc(ref), "reason " + ref));
    return r["id"].get<std::string>();
  }
  Result<std::string> LotId(const std::string& ref) {
    if (ref.empty() || IsId(ref)) return ref;
    MILLRACE_ASSIGN_OR_RETURN(json l, First("/api/v1/lots?lot_no=" + Enc(ref), "lot " + ref));
    return l["id"].get<std::string>();
  }

  const Options& options() const { return o_; }

 private:
  Options o_;
};

std::string Cell(const json& v) {
  if (v.is_null()) return "-";
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_float()) {
    std::ostringstream out;
    out << v.get<double>();
    return out.str();
  }
  return v.dump();
}

// Prints rows as an aligned table of the given columns.
void Table(const json& rows, const std::vector<std::string>& columns) {
  std::vector<std::size_t> width(columns.size());
  for (std::size_t c = 0; c < columns.size(); ++c) width[c] = columns[c].size();
  for (const auto& r : rows)
    for (std::size_t c = 0; c < columns.size(); ++c)
      width[c] = std::max(width[c], Cell(r.value(columns[c], json())).size());
  auto line = [&](auto get) {
    for (std::size_t c = 0; c < columns.size(); ++c) {
      std::string v = get(c);
      std::cout << v << (c + 1 < columns.size() ? std::string(width[c] - v.size() + 2, ' ') : "");
    }
    std::cout << "\n";
  };
  line([&](std::size_t c) {
    std::string h = columns[c];
    for (auto& ch : h) ch = static_cast<char>(std::toupper(ch));
    return h;
  });
  for (const auto& r : rows) line([&](std::size_t c) { return Cell(r.value(columns[c], json())); });
}

int Show(const Options& o, const Result<json>& r, const std::vector<std::string>& columns = {}) {
  if (!r.ok()) return Fail(r.status());
  if (o.json_output) {
    std::cout << r->dump(2) << "\n";
  } else if (r->is_object() && r->contains("items")) {
    Table((*r)["items"], columns);
    if (!(*r)["next"].is_null())
      std::cout << "(more: --after " << (*r)["next"].get<std::string>() << ")\n";
  } else if (!columns.empty() && r->is_object()) {
    for (const auto& c : columns)
      std::cout << std::left << std::setw(20) << c << Cell(r->value(c, json())) << "\n";
  } else {
    std::cout << r->dump(2) << "\n";
  }
  return 0;
}

const std::vector<std::string> kOpColumns = {
    "seq", "op_code", "status", "planned_quantity", "good_quantity", "scrap_quantity", "id"};
const std::vector<std::string> kWoColumns = {"number",        "status",         "planned_quantity",
                                             "good_quantity", "scrap_quantity", "id"};

}  // namespace
}  // namespace millrace

int main(int argc, char** argv) {
  using namespace millrace;
  CLI::App app{"mesctl: talk to a Millrace edge (mes-edge) from the command line."};
  app.set_version_flag("--version", std::string("mesctl ") + kVersion);
  app.require_subcommand(1);
  Options o;
  const char* env_url = std::getenv("MILLRACE_EDGE_URL");
  o.url = env_url && *env_url ? env_url : "http://127.0.0.1:8080";
  app.add_option("--edge", o.url,
                 "Base URL of the edge (default: $MILLRACE_EDGE_URL or http://127.0.0.1:8080)");
  app.add_option("--token", o.token,
                 "Session token (default: $MILLRACE_TOKEN, then the file mesctl login wrote)");
  app.add_flag("--json", o.json_output, "Print JSON for scripts instead of readable tables");
  app.footer(
      "References: work orders by number or id; operations as WO-1001/10 or id; work units, "
      "reasons and lots by "
      "code or id.\nExit status: 0 success, 1 error, 2 bad usage or input, 3 edge not ready, 4 not "
      "badged in, 5 refused by a rule (role, state or guard).");

  // ---- administration ----
  auto* status = app.add_subcommand(
      "status", "Whether the edge is alive and ready, with each readiness check");
  auto* metrics = app.add_subcommand("metrics", "Print the edge's Prometheus metrics");
  auto* sync_cmd = app.add_subcommand("sync", "The edge's link to central");
  sync_cmd->require_subcommand(1);
  auto* sync_status = sync_cmd->add_subcommand(
      "status",
      "Link state, backlog (rows, bytes, age of the oldest unacknowledged change), watermarks, "
      "batches and the downstream feed position");
  int outbox_limit = 20;
  auto* outbox = app.add_subcommand(
      "outbox", "Changes waiting for central: backlog, watermarks, the oldest entries");
  outbox->add_option("--limit", outbox_limit, "Entries to list")->check(CLI::Range(0, 500));
  auto* backup = app.add_subcommand("backup", "Take an online backup of the edge's database now");
  std::string restore_from, restore_db;
  auto* restore = app.add_subcommand(
      "restore", "Replace a stopped edge's database with a backup (run on the edge host)");
  restore->add_option("--backup", restore_from, "Backup file to restore")
      ->required()
      ->check(CLI::ExistingFile);
  restore->add_option("--db", restore_db, "The edge's database file ([store] path)")->required();

  // ---- sessions ----
  std::string badge, pin, unit;
  auto* login = app.add_subcommand(
      "login", "Badge in at a work unit (a supervisor or quality engineer may leave it out); keeps "
               "the session token for later commands");
  login->add_option("--badge", badge, "Badge id")->required();
  login->add_option("--pin", pin, "PIN (read from standard input when omitted)");
  login->add_option("--work-unit", unit,
                    "Work unit code or id, e.g. L1-CUT (an operator needs one; a supervisor or "
                    "quality engineer may badge in at none)");
  auto* logout = app.add_subcommand("logout", "Badge out and forget the session token");
  auto* me = app.add_subcommand("whoami", "Who is badged in, where");

  // ---- reading ----
  std::string filter_status, ref, after;
  int limit = 50;
  auto* work_orders = app.add_subcommand("work-orders", "List work orders");
  work_orders->add_option("--status", filter_status,
                          "Only this status (Draft, Released, InProgress, ...)");
  work_orders->add_option("--limit", limit, "Page size")->check(CLI::Range(1, 500));
  work_orders->add_option("--after", after, "Continue after this id");
  auto* work_order = app.add_subcommand("work-order", "Show a work order and its operations");
  work_order->add_option("order", ref, "Work order number or id")->required();
  auto* queue =
      app.add_subcommand("queue", "Ready, running and paused operations of your work unit");

  // ---- actions ----
  std::string target;
  auto add_target = [&](CLI::App* c, const char* what) {
    c->add_option("target", target, what)->required();
  };
  std::vector<std::pair<CLI::App*, std::string>> order_actions, op_actions;
  // Why a supervisor or quality engineer acts: kept on the audit record (hold, cancel,
  // short-close and corrections need one).
  std::string why;
  for (const auto& [name, path, help] :
       std::vector<std::tuple<const char*, const char*, const char*>>{
           {"release", "release", "Release a Draft work order to the floor (supervisor)"},
           {"hold", "hold", "Put an in-progress work order on hold: pauses its running operations (supervisor, --why)"},
           {"unhold", "resume", "Take a work order off hold (supervisor)"},
           {"cancel", "cancel", "Cancel a Draft, Released or OnHold work order (supervisor, --why)"},
           {"close", "close", "Close a Completed work order after reconciliation (supervisor)"},
           {"short-close", "short-close",
            "Complete and close a work order early, cancelling what is left (supervisor, --why)"}}) {
    auto* c = app.add_subcommand(name, help);
    add_target(c, "Work order number or id");
    c->add_option("--why", why, "Why: kept on the audit record (needed to hold, cancel, short-close)");
    order_actions.emplace_back(c, path);
  }
  for (const auto& [name, help] : std::vector<std::pair<const char*, const char*>>{
           {"start", "Start a Ready operation on your work unit"},
           {"pause", "Pause a running operation"},
           {"resume", "Resume a paused operation"},
           {"complete", "Complete a running operation (the next one becomes Ready)"}}) {
    auto* c = app.add_subcommand(name, help);
    add_target(c, "Operation: WO-1001/10 or id");
    op_actions.emplace_back(c, name);
  }
  double good = 0, scrap = 0, rework = 0, qty = 0;
  std::string reason, comment, lot, characteristic, operation, disposition;
  auto* count = app.add_subcommand(
      "count", "Report good, scrap (with a reason) and rework on a running operation");
  add_target(count, "Operation: WO-1001/10 or id");
  count->add_option("--good", good, "Good units")->check(CLI::NonNegativeNumber);
  count->add_option("--scrap", scrap, "Scrapped units (needs --reason)")
      ->check(CLI::NonNegativeNumber);
  count->add_option("--rework", rework, "Units sent to rework")->check(CLI::NonNegativeNumber);
  count->add_option("--reason", reason, "Scrap reason code, e.g. SC-DIM");
  auto* consume =
      app.add_subcommand("consume", "Consume a lot on a running operation (must be on its BOM)");
  add_target(consume, "Operation: WO-1001/10 or id");
  consume->add_option("--lot", lot, "Lot number or id")->required();
  consume->add_option("--qty", qty, "Quantity")->required()->check(CLI::PositiveNumber);
  auto* produce = app.add_subcommand("produce", "Add output to the operation's lot");
  add_target(produce, "Operation: WO-1001/10 or id");
  produce->add_option("--qty", qty, "Quantity")->required()->check(CLI::PositiveNumber);
  auto* down =
      app.add_subcommand("down", "Stop your work unit for downtime (pauses the running operation)");
  down->add_option("--reason", reason, "Downtime reason code (may be given later with 'classify')");
  down->add_option("--comment", comment, "Free text");
  auto* classify = app.add_subcommand("classify", "Give a downtime its reason");
  add_target(classify, "Downtime id");
  classify->add_option("--reason", reason, "Downtime reason code")->required();
  auto* up = app.add_subcommand("up", "End a downtime (resumes the operation it paused)");
  add_target(up, "Downtime id");
  std::optional<double> value;
  bool pass = false, fail = false, no_hold = false;
  auto* measure =
      app.add_subcommand("measure", "Record a measurement; out of spec opens a non-conformance");
  measure->add_option("--characteristic", characteristic, "Characteristic id")->required();
  measure->add_option("--value", value, "Measured value");
  measure->add_flag("--pass", pass, "Pass (pass/fail characteristics)");
  measure->add_flag("--fail", fail, "Fail (pass/fail characteristics)");
  measure->add_option("--lot", lot, "Lot measured (number or id)");
  measure->add_option("--operation", operation, "Operation (WO-1001/10 or id)");
  measure->add_flag("--no-hold", no_hold, "Do not put the lot on hold when out of spec");
  std::string lot_status;
  double fix_good = 0, fix_scrap = 0, fix_rework = 0;
  std::string fix_scrap_reason;
  auto* correct = app.add_subcommand(
      "correct", "Correct an operation's counts by signed differences, with why (supervisor)");
  add_target(correct, "Operation: WO-1001/10 or id");
  correct->add_option("--good", fix_good, "Good units to add (negative: to take away)");
  correct->add_option("--scrap", fix_scrap, "Scrapped units to add or take away");
  correct->add_option("--rework", fix_rework, "Rework units to add or take away");
  correct->add_option("--scrap-reason", fix_scrap_reason, "Scrap reason code for added scrap");
  correct->add_option("--why", why, "Why the counts were wrong (kept on the audit record)")
      ->required();
  auto* audit = app.add_subcommand(
      "audit", "The site's audit trail: who did what, when, from what to what (supervisor, quality)");
  audit->add_option("--row", ref, "Only the records of this row (an id)");
  int audit_limit = 50;
  audit->add_option("--limit", audit_limit, "How many (1..500)")->check(CLI::Range(1, 500));
  auto* lot_status_cmd = app.add_subcommand(
      "lot-status", "Quarantine, hold, release or scrap a lot (quality or supervisor)");
  add_target(lot_status_cmd, "Lot number or id");
  lot_status_cmd->add_option("--status", lot_status, "available, quarantine, hold or scrapped")
      ->required();
  bool close = false;
  auto* dispose =
      app.add_subcommand("dispose", "Disposition a non-conformance (quality or supervisor)");
  add_target(dispose, "Non-conformance id");
  dispose->add_option("--disposition", disposition, "scrap, rework, use_as_is or return")
      ->required();
  dispose->add_flag("--close", close, "Close it as well");
  dispose->add_option("--why", why, "Why: kept on the audit record");
  lot_status_cmd->add_option("--why", why, "Why: kept on the audit record");

  if (auto exit_code = ParseCommandLine(app, argc, argv)) return *exit_code;

  if (o.token.empty()) {
    if (const char* t = std::getenv("MILLRACE_TOKEN"); t && *t)
      o.token = t;
    else if (auto saved = ReadFile(TokenFile()); saved.ok())
      o.token = *saved;
    while (!o.token.empty() && (o.token.back() == '\n' || o.token.back() == ' '))
      o.token.pop_back();
  }
  Client client(o);

  if (*status) {
    auto health = client.Call("GET", "/health");
    if (!health.ok()) return Fail(health.status());
    auto ep = ParseHttpUrl(o.url);
    auto ready = HttpCall(*ep, "GET", "/ready");
    if (!ready.ok()) return Fail(ready.status());
    json checks = json::parse(ready->body, nullptr, false);
    json out{{"edge", o.url},
             {"alive", true},
             {"ready", ready->status == 200},
             {"checks",
              checks.is_object() && checks.contains("checks") ? checks["checks"] : json::object()}};
    if (o.json_output) {
      std::cout << out.dump(2) << "\n";
    } else {
      std::cout << "edge    " << o.url << "\nalive   yes\nready   "
                << (out["ready"].get<bool>() ? "yes" : "no") << "\n";
      for (auto& [name, v] : out["checks"].items())
        std::cout << "  " << name << ": " << Cell(v) << "\n";
    }
    return out["ready"].get<bool>() ? 0 : 3;
  }
  if (*metrics) {
    auto ep = ParseHttpUrl(o.url);
    if (!ep.ok()) return Fail(ep.status());
    auto r = HttpCall(*ep, "GET", "/metrics");
    if (!r.ok()) return Fail(r.status().WithContext("edge at " + o.url));
    std::cout << r->body;
    return r->status == 200 ? 0 : 1;
  }
  if (*sync_status) {
    return Show(o, client.Call("GET", "/api/v1/sync"),
                {"site", "enabled", "connected", "endpoint", "backlog_rows", "backlog_bytes",
                 "oldest_unacked_age_s", "head_seq", "acked_seq", "last_ack_age_s", "batches_sent",
                 "batches_acked", "rows_sent", "nacks", "reconnects", "feed_cursor", "feed_head",
                 "feed_changes_applied", "rejected", "conflicts", "last_error"});
  }
  if (*outbox) {
    auto r = client.Call("GET", "/api/v1/outbox?limit=" + std::to_string(outbox_limit));
    if (!r.ok() || o.json_output) return Show(o, r);
    std::cout << "backlog " << (*r)["rows"] << " rows, " << (*r)["bytes"] << " bytes; head seq "
              << (*r)["head_seq"] << ", acknowledged through " << (*r)["acked_seq"] << "\n";
    Table((*r)["entries"], {"seq", "table", "row_id", "captured_at", "bytes"});
    return 0;
  }
  if (*backup) return Show(o, client.Call("POST", "/api/v1/backups"), {"path", "bytes", "millis"});
  if (*restore) {
    auto epoch = edge::RestoreStore(restore_from, restore_db);
    if (!epoch.ok()) return Fail(epoch.status());
    if (o.json_output) {
      std::cout << json{{"restored", restore_db},
                        {"from", restore_from},
                        {"store_epoch", epoch->id},
                        {"previous_epoch", epoch->parent},
                        {"resumes_after_seq", epoch->base_seq}}
                       .dump()
                << "\n";
      return 0;
    }
    std::cout << "restored " << restore_db << " from " << restore_from << "\nthe store starts epoch "
              << epoch->id << ": central resumes it after seq " << epoch->base_seq
              << " and sends back the site's rows the backup lacks when the edge next connects\n";
    return 0;
  }
  if (*login) {
    if (pin.empty()) std::getline(std::cin, pin);
    json body{{"badge_id", badge}, {"pin", pin}};
    if (Uuid::Parse(unit).ok())
      body["work_unit_id"] = unit;
    else if (!unit.empty())
      body["work_unit"] = unit;  // a code: the edge resolves it (listing units needs a session)
    auto r = client.Call("POST", "/api/v1/sessions", body);
    if (!r.ok()) return Fail(r.status());
    std::filesystem::create_directories(std::filesystem::path(TokenFile()).parent_path());
    if (Status s = WriteFileAtomically(TokenFile(), (*r)["token"].get<std::string>() + "\n", 0600);
        !s.ok()) {
      return Fail(s);
    }
    if (o.json_output) {
      json out = *r;
      out.erase("token");
      std::cout << out.dump(2) << "\n";
    } else {
      std::cout << "badged in as " << (*r)["user"]["name"].get<std::string>() << " ("
                << (*r)["user"]["role"].get<std::string>() << ") at " << unit << "\n";
    }
    return 0;
  }
  if (*logout) {
    auto r = client.Call("DELETE", "/api/v1/sessions/current");
    std::filesystem::remove(TokenFile());
    if (!r.ok()) return Fail(r.status());
    std::cout << "badged out\n";
    return 0;
  }
  if (*me)
    return Show(o, client.Call("GET", "/api/v1/me"),
                {"name", "role", "work_unit_id", "session_id"});
  if (*work_orders) {
    std::string q = "/api/v1/work-orders?limit=" + std::to_string(limit);
    if (!filter_status.empty()) q += "&status=" + Client::Enc(filter_status);
    if (!after.empty()) q += "&after=" + Client::Enc(after);
    return Show(o, client.Call("GET", q), kWoColumns);
  }
  if (*work_order) {
    auto id = client.WorkOrderId(ref);
    if (!id.ok()) return Fail(id.status());
    auto r = client.Call("GET", "/api/v1/work-orders/" + *id);
    if (!r.ok() || o.json_output) return Show(o, r);
    Show(o, r, {"number", "status", "planned_quantity", "good_quantity", "scrap_quantity", "id"});
    std::cout << "\n";
    Table((*r)["operations"], kOpColumns);
    return 0;
  }
  if (*queue) {
    auto who = client.Call("GET", "/api/v1/me");
    if (!who.ok()) return Fail(who.status());
    return Show(o,
                client.Call("GET", "/api/v1/work-units/" +
                                       (*who)["work_unit_id"].get<std::string>() + "/queue"),
                {"work_order_number", "seq", "op_code", "status", "product", "good_quantity",
                 "planned_quantity", "id"});
  }
  for (const auto& [cmd, path] : order_actions) {
    if (!*cmd) continue;
    auto id = client.WorkOrderId(target);
    if (!id.ok()) return Fail(id.status());
    json body = json::object();
    if (!why.empty()) body["reason"] = why;
    return Show(o, client.Call("POST", "/api/v1/work-orders/" + *id + "/" + path, body),
                kWoColumns);
  }
  for (const auto& [cmd, path] : op_actions) {
    if (!*cmd) continue;
    auto id = client.OperationId(target);
    if (!id.ok()) return Fail(id.status());
    return Show(o, client.Call("POST", "/api/v1/operations/" + *id + "/" + path), kOpColumns);
  }
  if (*count) {
    auto id = client.OperationId(target);
    auto reason_id = client.ReasonId(reason);
    if (!id.ok()) return Fail(id.status());
    if (!reason_id.ok()) return Fail(reason_id.status());
    json body{{"good", good}, {"scrap", scrap}, {"rework", rework}};
    if (!reason_id->empty()) body["scrap_reason_id"] = *reason_id;
    return Show(o, client.Call("POST", "/api/v1/operations/" + *id + "/counts", body), kOpColumns);
  }
  if (*consume) {
    auto id = client.OperationId(target);
    auto lot_id = client.LotId(lot);
    if (!id.ok()) return Fail(id.status());
    if (!lot_id.ok()) return Fail(lot_id.status());
    return Show(o,
                client.Call("POST", "/api/v1/operations/" + *id + "/consume",
                            {{"lot_id", *lot_id}, {"quantity", qty}}),
                {"parent_id", "child_id", "quantity", "id"});
  }
  if (*produce) {
    auto id = client.OperationId(target);
    if (!id.ok()) return Fail(id.status());
    return Show(o,
                client.Call("POST", "/api/v1/operations/" + *id + "/produce", {{"quantity", qty}}),
                {"lot_no", "quantity", "unit", "status", "id"});
  }
  if (*down) {
    auto reason_id = client.ReasonId(reason);
    if (!reason_id.ok()) return Fail(reason_id.status());
    json body = json::object();
    if (!reason_id->empty()) body["reason_id"] = *reason_id;
    if (!comment.empty()) body["comment"] = comment;
    return Show(o, client.Call("POST", "/api/v1/downtime", body),
                {"id", "started_at", "reason_id", "planned", "operation_id"});
  }
  if (*classify) {
    auto reason_id = client.ReasonId(reason);
    if (!reason_id.ok()) return Fail(reason_id.status());
    return Show(o,
                client.Call("POST", "/api/v1/downtime/" + target + "/classify",
                            {{"reason_id", *reason_id}}),
                {"id", "reason_id", "planned"});
  }
  if (*up)
    return Show(o, client.Call("POST", "/api/v1/downtime/" + target + "/end"),
                {"id", "started_at", "ended_at"});
  if (*measure) {
    if (pass && fail) return Fail(Status::InvalidArgument("give --pass or --fail, not both"));
    json body{{"characteristic_id", characteristic}, {"hold_lot", !no_hold}};
    if (value) body["value"] = *value;
    if (pass || fail) body["passed"] = pass;
    if (!lot.empty()) {
      auto lot_id = client.LotId(lot);
      if (!lot_id.ok()) return Fail(lot_id.status());
      body["lot_id"] = *lot_id;
    }
    if (!operation.empty()) {
      auto op_id = client.OperationId(operation);
      if (!op_id.ok()) return Fail(op_id.status());
      body["operation_id"] = *op_id;
    }
    auto r = client.Call("POST", "/api/v1/measurements", body);
    if (!r.ok() || o.json_output) return Show(o, r);
    std::cout << ((*r)["measurement"]["in_spec"].get<bool>() ? "in spec" : "OUT OF SPEC");
    if (!(*r)["non_conformance"].is_null()) {
      std::cout << ": non-conformance " << (*r)["non_conformance"]["id"].get<std::string>()
                << " opened";
    }
    std::cout << "\n";
    return 0;
  }
  if (*lot_status_cmd) {
    auto lot_id = client.LotId(target);
    if (!lot_id.ok()) return Fail(lot_id.status());
    json body{{"status", lot_status}};
    if (!why.empty()) body["reason"] = why;
    return Show(o, client.Call("POST", "/api/v1/lots/" + *lot_id + "/status", body),
                {"lot_no", "status", "quantity", "unit", "id"});
  }
  if (*dispose) {
    json body{{"disposition", disposition}, {"close", close}};
    if (!why.empty()) body["reason"] = why;
    return Show(o, client.Call("POST", "/api/v1/non-conformances/" + target + "/dispose", body),
                {"id", "status", "disposition", "lot_id"});
  }
  if (*correct) {
    auto id = client.OperationId(target);
    if (!id.ok()) return Fail(id.status());
    auto reason_id = client.ReasonId(fix_scrap_reason);
    if (!reason_id.ok()) return Fail(reason_id.status());
    json body{{"good", fix_good}, {"scrap", fix_scrap}, {"rework", fix_rework}, {"reason", why}};
    if (!reason_id->empty()) body["scrap_reason_id"] = *reason_id;
    return Show(o, client.Call("POST", "/api/v1/operations/" + *id + "/corrections", body),
                kOpColumns);
  }
  if (*audit) {
    std::string path = "/api/v1/audit?limit=" + std::to_string(audit_limit);
    if (!ref.empty()) path += "&row_id=" + ref;
    auto r = client.Call("GET", path);
    if (!r.ok()) return Fail(r.status());
    if (o.json_output) {
      std::cout << r->dump(2) << "\n";
      return 0;
    }
    Table((*r)["items"], {"at", "actor_name", "action", "table_name", "row_id", "old_value",
                          "new_value", "reason"});
    return 0;
  }
  return 2;
}
