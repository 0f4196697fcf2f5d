// mesctl: the command line for operators, supervisors and site installers, speaking to a
// mes-edge over its HTTP API (edge/terminal_client.h). Human references are resolved
// through the API: work orders by number (WO-1001) or id; operations as WO-1001/10
// (order/sequence) or id; work units, reasons and lots by code or id.
// `mesctl login` keeps the session token in a 0600 file ($MILLRACE_TOKEN_FILE, default
// ~/.config/millrace/mesctl-token); --token or $MILLRACE_TOKEN override it.
//
// Every command is one entry of the table in Commands(): its name, what it does, its
// options and what it runs.
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "millrace/common/cli.h"
#include "millrace/common/files.h"
#include "millrace/common/http_client.h"
#include "millrace/common/uuid.h"
#include "millrace/common/version.h"
#include "millrace/edge/backup.h"
#include "millrace/edge/terminal_client.h"

namespace millrace {
namespace {

using json = nlohmann::json;
using edge::TerminalClient;

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

// Every value a command's options may set.
struct Args {
  std::string target, ref, why, after, filter_status;
  int limit = 50, outbox_limit = 20, audit_limit = 50;
  std::string restore_from, restore_db;
  std::string badge, pin, unit;
  double good = 0, scrap = 0, rework = 0, qty = 0;
  std::string reason, comment, lot, characteristic, operation, disposition, lot_status;
  std::optional<double> value;
  bool pass = false, fail = false, no_hold = false, close = false;
  double fix_good = 0, fix_scrap = 0, fix_rework = 0;
  std::string fix_scrap_reason;
};

// What a command runs with.
struct Context {
  const Options& o;
  TerminalClient& client;
  const Args& a;
};

struct Command {
  const char* name;
  const char* help;
  std::function<void(CLI::App&, Args&)> options;  // its own options (may be empty)
  std::function<int(Context&)> run;
};

// The references a command names, resolved to ids; the first failure ends the command.
#define RESOLVE(var, expr) \
  auto var = (expr);       \
  if (!var.ok()) return Fail(var.status())

void Target(CLI::App& c, Args& a, const char* what) {
  c.add_option("target", a.target, what)->required();
}

// POST a work-order action ("release", "hold", ...) with the why on the audit record.
Command OrderAction(const char* name, const char* path, const char* help) {
  return {name, help,
          [](CLI::App& c, Args& a) {
            Target(c, a, "Work order number or id");
            c.add_option("--why", a.why,
                         "Why: kept on the audit record (needed to hold, cancel, short-close, delete)");
          },
          [path](Context& x) {
            RESOLVE(id, x.client.WorkOrderId(x.a.target));
            json body = json::object();
            if (!x.a.why.empty()) body["reason"] = x.a.why;
            return Show(x.o, x.client.Call("POST", "/api/v1/work-orders/" + *id + "/" + path, body),
                        kWoColumns);
          }};
}

// POST an operation action ("start", "pause", ...).
Command OperationAction(const char* name, const char* help) {
  return {name, help, [](CLI::App& c, Args& a) { Target(c, a, "Operation: WO-1001/10 or id"); },
          [name](Context& x) {
            RESOLVE(id, x.client.OperationId(x.a.target));
            return Show(
                x.o, x.client.Call("POST", "/api/v1/operations/" + *id + "/" + std::string(name)),
                kOpColumns);
          }};
}

int Status_(Context& x) {
  auto health = x.client.Call("GET", "/health");
  if (!health.ok()) return Fail(health.status().WithContext("edge at " + x.o.url));
  auto ready = x.client.Send("GET", "/ready");
  if (!ready.ok()) return Fail(ready.status());
  json out{
      {"edge", x.o.url},
      {"alive", true},
      {"ready", ready->status == 200},
      {"checks", ready->body.is_object() && ready->body.contains("checks") ? ready->body["checks"]
                                                                           : json::object()}};
  if (x.o.json_output) {
    std::cout << out.dump(2) << "\n";
  } else {
    std::cout << "edge    " << x.o.url << "\nalive   yes\nready   "
              << (out["ready"].get<bool>() ? "yes" : "no") << "\n";
    for (auto& [name, v] : out["checks"].items())
      std::cout << "  " << name << ": " << Cell(v) << "\n";
  }
  return out["ready"].get<bool>() ? 0 : 3;
}

int Restore(Context& x) {
  auto epoch = edge::RestoreStore(x.a.restore_from, x.a.restore_db);
  if (!epoch.ok()) return Fail(epoch.status());
  if (x.o.json_output) {
    std::cout << json{{"restored", x.a.restore_db},
                      {"from", x.a.restore_from},
                      {"store_epoch", epoch->id},
                      {"previous_epoch", epoch->parent},
                      {"resumes_after_seq", epoch->base_seq}}
                     .dump()
              << "\n";
    return 0;
  }
  std::cout << "restored " << x.a.restore_db << " from " << x.a.restore_from
            << "\nthe store starts epoch " << epoch->id << ": central resumes it after seq "
            << epoch->base_seq
            << " and sends back the site's rows the backup lacks when the edge next connects\n";
  return 0;
}

int Login(Context& x) {
  std::string pin = x.a.pin;
  if (pin.empty()) std::getline(std::cin, pin);
  json body{{"badge_id", x.a.badge}, {"pin", pin}};
  if (Uuid::Parse(x.a.unit).ok())
    body["work_unit_id"] = x.a.unit;
  else if (!x.a.unit.empty())
    body["work_unit"] = x.a.unit;  // a code: the edge resolves it (listing units needs a session)
  auto r = x.client.Call("POST", "/api/v1/sessions", body);
  if (!r.ok()) return Fail(r.status());
  std::filesystem::create_directories(std::filesystem::path(TokenFile()).parent_path());
  if (Status s = WriteFileAtomically(TokenFile(), (*r)["token"].get<std::string>() + "\n", 0600);
      !s.ok())
    return Fail(s);
  if (x.o.json_output) {
    json out = *r;
    out.erase("token");
    std::cout << out.dump(2) << "\n";
  } else {
    std::cout << "badged in as " << (*r)["user"]["name"].get<std::string>() << " ("
              << (*r)["user"]["role"].get<std::string>() << ") at " << x.a.unit << "\n";
  }
  return 0;
}

int Measure(Context& x) {
  if (x.a.pass && x.a.fail) return Fail(Status::InvalidArgument("give --pass or --fail, not both"));
  json body{{"characteristic_id", x.a.characteristic}, {"hold_lot", !x.a.no_hold}};
  if (x.a.value) body["value"] = *x.a.value;
  if (x.a.pass || x.a.fail) body["passed"] = x.a.pass;
  if (!x.a.lot.empty()) {
    RESOLVE(lot_id, x.client.LotId(x.a.lot));
    body["lot_id"] = *lot_id;
  }
  if (!x.a.operation.empty()) {
    RESOLVE(op_id, x.client.OperationId(x.a.operation));
    body["operation_id"] = *op_id;
  }
  auto r = x.client.Call("POST", "/api/v1/measurements", body);
  if (!r.ok() || x.o.json_output) return Show(x.o, r);
  std::cout << ((*r)["measurement"]["in_spec"].get<bool>() ? "in spec" : "OUT OF SPEC");
  if (!(*r)["non_conformance"].is_null())
    std::cout << ": non-conformance " << (*r)["non_conformance"]["id"].get<std::string>()
              << " opened";
  std::cout << "\n";
  return 0;
}

std::vector<Command> Commands() {
  std::vector<Command> c;
  // ---- administration ----
  c.push_back({"status", "Whether the edge is alive and ready, with each readiness check", nullptr,
               Status_});
  c.push_back({"metrics", "Print the edge's Prometheus metrics", nullptr, [](Context& x) {
                 auto r = x.client.Send("GET", "/metrics");
                 if (!r.ok()) return Fail(r.status().WithContext("edge at " + x.o.url));
                 std::cout << r->text;
                 return r->status == 200 ? 0 : 1;
               }});
  c.push_back({"sync", "The edge's link to central: 'mesctl sync status'",
               [](CLI::App& cmd, Args&) {
                 cmd.require_subcommand(1);
                 cmd.add_subcommand("status",
                                    "Link state, backlog (rows, bytes, age of the oldest "
                                    "unacknowledged change), watermarks, batches, the "
                                    "downstream feed position, and the store's size and the "
                                    "disk free beside it");
               },
               [](Context& x) {
                 return Show(x.o, x.client.Call("GET", "/api/v1/sync"),
                             {"site",
                              "enabled",
                              "connected",
                              "endpoint",
                              "backlog_rows",
                              "backlog_bytes",
                              "oldest_unacked_age_s",
                              "head_seq",
                              "acked_seq",
                              "store_bytes",
                              "disk_free_bytes",
                              "last_ack_age_s",
                              "batches_sent",
                              "batches_acked",
                              "rows_sent",
                              "nacks",
                              "reconnects",
                              "feed_cursor",
                              "feed_head",
                              "feed_changes_applied",
                              "rejected",
                              "conflicts",
                              "last_error"});
               }});
  c.push_back(
      {"outbox", "Changes waiting for central: backlog, watermarks, the oldest entries",
       [](CLI::App& cmd, Args& a) {
         cmd.add_option("--limit", a.outbox_limit, "Entries to list")->check(CLI::Range(0, 500));
       },
       [](Context& x) {
         auto r = x.client.Call("GET", "/api/v1/outbox?limit=" + std::to_string(x.a.outbox_limit));
         if (!r.ok() || x.o.json_output) return Show(x.o, r);
         std::cout << "backlog " << (*r)["rows"] << " rows, " << (*r)["bytes"]
                   << " bytes; head seq " << (*r)["head_seq"] << ", acknowledged through "
                   << (*r)["acked_seq"] << "\n";
         Table((*r)["entries"], {"seq", "table", "row_id", "captured_at", "bytes"});
         return 0;
       }});
  c.push_back(
      {"backup", "Take an online backup of the edge's database now", nullptr, [](Context& x) {
         return Show(x.o, x.client.Call("POST", "/api/v1/backups"), {"path", "bytes", "millis"});
       }});
  c.push_back({"restore", "Replace a stopped edge's database with a backup (run on the edge host)",
               [](CLI::App& cmd, Args& a) {
                 cmd.add_option("--backup", a.restore_from, "Backup file to restore")
                     ->required()
                     ->check(CLI::ExistingFile);
                 cmd.add_option("--db", a.restore_db, "The edge's database file ([store] path)")
                     ->required();
               },
               Restore});
  // ---- sessions ----
  c.push_back({"login",
               "Badge in at a work unit (a supervisor or quality engineer may leave it out); keeps "
               "the session token for later commands",
               [](CLI::App& cmd, Args& a) {
                 cmd.add_option("--badge", a.badge, "Badge id")->required();
                 cmd.add_option("--pin", a.pin, "PIN (read from standard input when omitted)");
                 cmd.add_option("--work-unit", a.unit,
                                "Work unit code or id, e.g. L1-CUT (an operator needs one; a "
                                "supervisor or quality engineer may badge in at none)");
               },
               Login});
  c.push_back({"logout", "Badge out and forget the session token", nullptr, [](Context& x) {
                 auto r = x.client.Call("DELETE", "/api/v1/sessions/current");
                 std::filesystem::remove(TokenFile());
                 if (!r.ok()) return Fail(r.status());
                 std::cout << "badged out\n";
                 return 0;
               }});
  c.push_back({"whoami", "Who is badged in, where", nullptr, [](Context& x) {
                 return Show(x.o, x.client.Call("GET", "/api/v1/me"),
                             {"name", "role", "work_unit_id", "session_id"});
               }});
  // ---- reading ----
  c.push_back({"work-orders", "List work orders",
               [](CLI::App& cmd, Args& a) {
                 cmd.add_option("--status", a.filter_status,
                                "Only this status (Draft, Released, InProgress, ...)");
                 cmd.add_option("--limit", a.limit, "Page size")->check(CLI::Range(1, 500));
                 cmd.add_option("--after", a.after, "Continue after this id");
               },
               [](Context& x) {
                 std::string q = "/api/v1/work-orders?limit=" + std::to_string(x.a.limit);
                 if (!x.a.filter_status.empty())
                   q += "&status=" + TerminalClient::Encode(x.a.filter_status);
                 if (!x.a.after.empty()) q += "&after=" + TerminalClient::Encode(x.a.after);
                 return Show(x.o, x.client.Call("GET", q), kWoColumns);
               }});
  c.push_back(
      {"work-order", "Show a work order and its operations",
       [](CLI::App& cmd, Args& a) {
         cmd.add_option("order", a.ref, "Work order number or id")->required();
       },
       [](Context& x) {
         RESOLVE(id, x.client.WorkOrderId(x.a.ref));
         auto r = x.client.Call("GET", "/api/v1/work-orders/" + *id);
         if (!r.ok() || x.o.json_output) return Show(x.o, r);
         Show(x.o, r,
              {"number", "status", "planned_quantity", "good_quantity", "scrap_quantity", "id"});
         std::cout << "\n";
         Table((*r)["operations"], kOpColumns);
         return 0;
       }});
  c.push_back(
      {"queue", "Ready, running and paused operations of your work unit", nullptr, [](Context& x) {
         RESOLVE(who, x.client.Call("GET", "/api/v1/me"));
         return Show(x.o,
                     x.client.Call("GET", "/api/v1/work-units/" +
                                              (*who)["work_unit_id"].get<std::string>() + "/queue"),
                     {"work_order_number", "seq", "op_code", "status", "product", "good_quantity",
                      "planned_quantity", "id"});
       }});
  // ---- actions ----
  c.push_back(
      OrderAction("release", "release", "Release a Draft work order to the floor (supervisor)"));
  c.push_back(OrderAction("hold", "hold",
                          "Put an in-progress work order on hold: pauses its running operations "
                          "(supervisor, --why)"));
  c.push_back(OrderAction("unhold", "resume", "Take a work order off hold (supervisor)"));
  c.push_back(OrderAction("cancel", "cancel",
                          "Cancel a Draft, Released or OnHold work order (supervisor, --why)"));
  c.push_back(OrderAction("close", "close",
                          "Close a Completed work order after reconciliation (supervisor)"));
  c.push_back(OrderAction("short-close", "short-close",
                          "Complete and close a work order early, cancelling what is left "
                          "(supervisor, --why)"));
  c.push_back(OrderAction("delete", "delete",
                          "Delete a Draft work order made in error; central deletes it too "
                          "(supervisor, --why)"));
  c.push_back(OperationAction("start", "Start a Ready operation on your work unit"));
  c.push_back(OperationAction("pause", "Pause a running operation"));
  c.push_back(OperationAction("resume", "Resume a paused operation"));
  c.push_back(
      OperationAction("complete", "Complete a running operation (the next one becomes Ready)"));
  c.push_back({"count", "Report good, scrap (with a reason) and rework on a running operation",
               [](CLI::App& cmd, Args& a) {
                 Target(cmd, a, "Operation: WO-1001/10 or id");
                 cmd.add_option("--good", a.good, "Good units")->check(CLI::NonNegativeNumber);
                 cmd.add_option("--scrap", a.scrap, "Scrapped units (needs --reason)")
                     ->check(CLI::NonNegativeNumber);
                 cmd.add_option("--rework", a.rework, "Units sent to rework")
                     ->check(CLI::NonNegativeNumber);
                 cmd.add_option("--reason", a.reason, "Scrap reason code, e.g. SC-DIM");
                 cmd.add_option("--note", a.comment,
                                "The operator's note on the count (at most 500 bytes)");
               },
               [](Context& x) {
                 RESOLVE(id, x.client.OperationId(x.a.target));
                 RESOLVE(reason_id, x.client.ReasonId(x.a.reason));
                 json body{{"good", x.a.good}, {"scrap", x.a.scrap}, {"rework", x.a.rework}};
                 if (!reason_id->empty()) body["scrap_reason_id"] = *reason_id;
                 if (!x.a.comment.empty()) body["note"] = x.a.comment;
                 return Show(x.o,
                             x.client.Call("POST", "/api/v1/operations/" + *id + "/counts", body),
                             kOpColumns);
               }});
  c.push_back({"consume", "Consume a lot on a running operation (must be on its BOM)",
               [](CLI::App& cmd, Args& a) {
                 Target(cmd, a, "Operation: WO-1001/10 or id");
                 cmd.add_option("--lot", a.lot, "Lot number or id")->required();
                 cmd.add_option("--qty", a.qty, "Quantity")->required()->check(CLI::PositiveNumber);
               },
               [](Context& x) {
                 RESOLVE(id, x.client.OperationId(x.a.target));
                 RESOLVE(lot_id, x.client.LotId(x.a.lot));
                 return Show(x.o,
                             x.client.Call("POST", "/api/v1/operations/" + *id + "/consume",
                                           {{"lot_id", *lot_id}, {"quantity", x.a.qty}}),
                             {"parent_id", "child_id", "quantity", "id"});
               }});
  c.push_back({"produce", "Add output to the operation's lot",
               [](CLI::App& cmd, Args& a) {
                 Target(cmd, a, "Operation: WO-1001/10 or id");
                 cmd.add_option("--qty", a.qty, "Quantity")->required()->check(CLI::PositiveNumber);
               },
               [](Context& x) {
                 RESOLVE(id, x.client.OperationId(x.a.target));
                 return Show(x.o,
                             x.client.Call("POST", "/api/v1/operations/" + *id + "/produce",
                                           {{"quantity", x.a.qty}}),
                             {"lot_no", "quantity", "unit", "status", "id"});
               }});
  c.push_back({"down", "Stop your work unit for downtime (pauses the running operation)",
               [](CLI::App& cmd, Args& a) {
                 cmd.add_option("--reason", a.reason,
                                "Downtime reason code (may be given later with 'classify')");
                 cmd.add_option("--comment", a.comment, "Free text");
               },
               [](Context& x) {
                 RESOLVE(reason_id, x.client.ReasonId(x.a.reason));
                 json body = json::object();
                 if (!reason_id->empty()) body["reason_id"] = *reason_id;
                 if (!x.a.comment.empty()) body["comment"] = x.a.comment;
                 return Show(x.o, x.client.Call("POST", "/api/v1/downtime", body),
                             {"id", "started_at", "reason_id", "planned", "operation_id"});
               }});
  c.push_back({"classify", "Give a downtime its reason",
               [](CLI::App& cmd, Args& a) {
                 Target(cmd, a, "Downtime id");
                 cmd.add_option("--reason", a.reason, "Downtime reason code")->required();
               },
               [](Context& x) {
                 RESOLVE(reason_id, x.client.ReasonId(x.a.reason));
                 return Show(x.o,
                             x.client.Call("POST", "/api/v1/downtime/" + x.a.target + "/classify",
                                           {{"reason_id", *reason_id}}),
                             {"id", "reason_id", "planned"});
               }});
  c.push_back({"up", "End a downtime (resumes the operation it paused)",
               [](CLI::App& cmd, Args& a) { Target(cmd, a, "Downtime id"); },
               [](Context& x) {
                 return Show(x.o, x.client.Call("POST", "/api/v1/downtime/" + x.a.target + "/end"),
                             {"id", "started_at", "ended_at"});
               }});
  c.push_back(
      {"measure", "Record a measurement; out of spec opens a non-conformance",
       [](CLI::App& cmd, Args& a) {
         cmd.add_option("--characteristic", a.characteristic, "Characteristic id")->required();
         cmd.add_option("--value", a.value, "Measured value");
         cmd.add_flag("--pass", a.pass, "Pass (pass/fail characteristics)");
         cmd.add_flag("--fail", a.fail, "Fail (pass/fail characteristics)");
         cmd.add_option("--lot", a.lot, "Lot measured (number or id)");
         cmd.add_option("--operation", a.operation, "Operation (WO-1001/10 or id)");
         cmd.add_flag("--no-hold", a.no_hold, "Do not put the lot on hold when out of spec");
       },
       Measure});
  c.push_back(
      {"correct", "Correct an operation's counts by signed differences, with why (supervisor)",
       [](CLI::App& cmd, Args& a) {
         Target(cmd, a, "Operation: WO-1001/10 or id");
         cmd.add_option("--good", a.fix_good, "Good units to add (negative: to take away)");
         cmd.add_option("--scrap", a.fix_scrap, "Scrapped units to add or take away");
         cmd.add_option("--rework", a.fix_rework, "Rework units to add or take away");
         cmd.add_option("--scrap-reason", a.fix_scrap_reason, "Scrap reason code for added scrap");
         cmd.add_option("--why", a.why, "Why the counts were wrong (kept on the audit record)")
             ->required();
       },
       [](Context& x) {
         RESOLVE(id, x.client.OperationId(x.a.target));
         RESOLVE(reason_id, x.client.ReasonId(x.a.fix_scrap_reason));
         json body{{"good", x.a.fix_good},
                   {"scrap", x.a.fix_scrap},
                   {"rework", x.a.fix_rework},
                   {"reason", x.a.why}};
         if (!reason_id->empty()) body["scrap_reason_id"] = *reason_id;
         return Show(x.o, x.client.Call("POST", "/api/v1/operations/" + *id + "/corrections", body),
                     kOpColumns);
       }});
  c.push_back(
      {"audit",
       "The site's audit trail: who did what, when, from what to what (supervisor, quality)",
       [](CLI::App& cmd, Args& a) {
         cmd.add_option("--row", a.ref, "Only the records of this row (an id)");
         cmd.add_option("--limit", a.audit_limit, "How many (1..500)")->check(CLI::Range(1, 500));
       },
       [](Context& x) {
         std::string path = "/api/v1/audit?limit=" + std::to_string(x.a.audit_limit);
         if (!x.a.ref.empty()) path += "&row_id=" + TerminalClient::Encode(x.a.ref);
         auto r = x.client.Call("GET", path);
         if (!r.ok()) return Fail(r.status());
         if (x.o.json_output) {
           std::cout << r->dump(2) << "\n";
           return 0;
         }
         Table((*r)["items"], {"at", "actor_name", "action", "table_name", "row_id", "old_value",
                               "new_value", "reason"});
         return 0;
       }});
  c.push_back({"lot-status", "Quarantine, hold, release or scrap a lot (quality or supervisor)",
               [](CLI::App& cmd, Args& a) {
                 Target(cmd, a, "Lot number or id");
                 cmd.add_option("--status", a.lot_status, "available, quarantine, hold or scrapped")
                     ->required();
                 cmd.add_option("--why", a.why, "Why: kept on the audit record");
               },
               [](Context& x) {
                 RESOLVE(lot_id, x.client.LotId(x.a.target));
                 json body{{"status", x.a.lot_status}};
                 if (!x.a.why.empty()) body["reason"] = x.a.why;
                 return Show(x.o,
                             x.client.Call("POST", "/api/v1/lots/" + *lot_id + "/status", body),
                             {"lot_no", "status", "quantity", "unit", "id"});
               }});
  c.push_back(
      {"dispose", "Disposition a non-conformance (quality or supervisor)",
       [](CLI::App& cmd, Args& a) {
         Target(cmd, a, "Non-conformance id");
         cmd.add_option("--disposition", a.disposition, "scrap, rework, use_as_is or return")
             ->required();
         cmd.add_flag("--close", a.close, "Close it as well");
         cmd.add_option("--why", a.why, "Why: kept on the audit record");
       },
       [](Context& x) {
         json body{{"disposition", x.a.disposition}, {"close", x.a.close}};
         if (!x.a.why.empty()) body["reason"] = x.a.why;
         return Show(
             x.o,
             x.client.Call("POST", "/api/v1/non-conformances/" + x.a.target + "/dispose", body),
             {"id", "status", "disposition", "lot_id"});
       }});
  return c;
}

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
      "reasons and lots by code or id.\nExit status: 0 success, 1 error, 2 bad usage or input, 3 "
      "edge not ready, 4 not badged in, 5 refused by a rule (role, state or guard).");

  const std::vector<Command> commands = Commands();
  Args args;
  std::vector<CLI::App*> subs;
  for (const Command& c : commands) {
    CLI::App* sub = app.add_subcommand(c.name, c.help);
    if (c.options) c.options(*sub, args);
    subs.push_back(sub);
  }
  if (auto exit_code = ParseCommandLine(app, argc, argv)) return *exit_code;

  if (o.token.empty()) {
    if (const char* t = std::getenv("MILLRACE_TOKEN"); t && *t)
      o.token = t;
    else if (auto saved = ReadFile(TokenFile()); saved.ok())
      o.token = *saved;
    while (!o.token.empty() && (o.token.back() == '\n' || o.token.back() == ' '))
      o.token.pop_back();
  }
  auto client = TerminalClient::ForUrl(o.url, o.token);
  if (!client.ok()) return Fail(client.status());
  for (std::size_t i = 0; i < commands.size(); ++i) {
    if (!*subs[i]) continue;
    Context x{o, *client, args};
    return commands[i].run(x);
  }
  return 2;
}
