// Runs sync scenario files: readable scripts of what edges and central do, what the
// network does to them, and what must hold afterwards (tests/scenario/README.md has the
// language). Every scenario runs in a fresh SyncWorld (sync_world.h) on simulated time.
//
//   sync_scenarios FILE...     exit 0 when every file's expectations hold; otherwise
//                              prints FILE:LINE and what did not hold, and exits 1
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <fstream>
#include <iostream>
#include <sstream>

#include "catalog_rows.h"
#include "millrace/common/uuid.h"
#include "sync_world.h"

namespace millrace::testing {
namespace {

struct Alias {
  std::string table, id, site;
};

std::string Text(const Value& v) {
  if (IsNull(v)) return "null";
  if (auto* i = std::get_if<std::int64_t>(&v)) return std::to_string(*i);
  if (auto* d = std::get_if<double>(&v)) {
    std::ostringstream o;
    o << *d;
    return o.str();
  }
  return std::get<std::string>(v);
}

class Scenario {
 public:
  explicit Scenario(std::string file)
      : file_(std::move(file)),
        world_(std::filesystem::temp_directory_path() /
               ("millrace-scenario-" + std::to_string(::getpid()) + "-" +
                Uuid::NewV7().ToString().substr(24))) {}

  // Runs every line; the first that fails ends the scenario.
  bool Run() {
    std::ifstream in(file_);
    if (!in) return Fail(0, "cannot read the file");
    std::string line;
    for (int n = 1; std::getline(in, line); ++n) {
      if (auto hash = line.find('#'); hash != std::string::npos) line.resize(hash);
      std::istringstream words(line);
      std::vector<std::string> w;
      for (std::string s; words >> s;) w.push_back(s);
      if (w.empty()) continue;
      Status s;
      try {
        s = Step(w);
      } catch (const std::exception& e) {  // a number that is not one
        s = Status::InvalidArgument(std::string("cannot read this line: ") + e.what());
      }
      if (!s.ok()) return Fail(n, s.ToString());
    }
    return true;
  }

 private:
  bool Fail(int line, const std::string& why) {
    std::cerr << file_ << ":" << line << ": " << why << "\n";
    return false;
  }

  Status Need(const std::vector<std::string>& w, std::size_t n, const char* usage) {
    if (w.size() < n) return Status::InvalidArgument(std::string("usage: ") + usage);
    return Status::Ok();
  }

  Status Site(const std::string& site) {
    if (!world_.HasSite(site)) return Status::InvalidArgument("no site " + site);
    return Status::Ok();
  }

  // Written through `out` rather than returned as a Result<Value>: GCC 12 with the
  // sanitizers reports a false maybe-uninitialized on moving that variant.
  static Status Parse(const catalog::TableSpec& t, const std::string& column,
                      const std::string& text, Value* out) {
    const catalog::ColumnSpec* c = t.Find(column);
    if (!c) return Status::InvalidArgument(t.name + " has no column " + column);
    if (text == "null") {
      *out = Value();
      return Status::Ok();
    }
    switch (c->type) {
      case catalog::ColumnType::kInt:
      case catalog::ColumnType::kBool:
      case catalog::ColumnType::kTimestamp:
      case catalog::ColumnType::kHlc:
        *out = std::int64_t{std::stoll(text)};
        break;
      case catalog::ColumnType::kReal:
        *out = std::stod(text);
        break;
      default:
        *out = text;
    }
    return Status::Ok();
  }

  // col=value words from `from` on, parsed against the table.
  Result<std::map<std::string, Value>> Columns(const catalog::TableSpec& t,
                                              const std::vector<std::string>& w,
                                              std::size_t from) {
    std::map<std::string, Value> out;
    for (std::size_t i = from; i < w.size(); ++i) {
      const auto eq = w[i].find('=');
      if (eq == std::string::npos) return Status::InvalidArgument("expected col=value: " + w[i]);
      const std::string column = w[i].substr(0, eq);
      MILLRACE_RETURN_IF_ERROR(Parse(t, column, w[i].substr(eq + 1), &out[column]));
    }
    return out;
  }

  Result<const catalog::TableSpec*> Table(const std::string& name) {
    const catalog::TableSpec* t = catalog::MesCatalog().Find(name);
    if (!t) return Status::InvalidArgument("no table " + name);
    return t;
  }

  Result<std::optional<Row>> EdgeRow(const std::string& site, const Alias& a) {
    std::optional<Row> row;
    MILLRACE_ASSIGN_OR_RETURN(const catalog::TableSpec* t, Table(a.table));
    MILLRACE_RETURN_IF_ERROR(world_.store(site).Read([&](edge::ReadTxn& txn) -> Status {
      MILLRACE_ASSIGN_OR_RETURN(row, txn.Get(*t, a.id));
      return Status::Ok();
    }));
    return row;
  }

  Status Write(const std::vector<std::string>& w) {
    MILLRACE_RETURN_IF_ERROR(Need(w, 4, "write SITE TABLE ALIAS [col=value...]"));
    MILLRACE_RETURN_IF_ERROR(Site(w[1]));
    MILLRACE_ASSIGN_OR_RETURN(const catalog::TableSpec* t, Table(w[2]));
    MILLRACE_ASSIGN_OR_RETURN(auto cols, Columns(*t, w, 4));
    auto known = aliases_.find(w[3]);
    Row row = testing::SampleTypedRow(*t, w[1], ++rows_made_);
    if (known != aliases_.end()) {
      if (known->second.table != t->name) return Status::InvalidArgument(w[3] + " is a " + known->second.table);
      MILLRACE_ASSIGN_OR_RETURN(auto current, EdgeRow(w[1], known->second));
      if (!current) return Status::NotFound(w[1] + " holds no " + w[3]);
      row = *current;
    } else {
      aliases_[w[3]] = {t->name, row.id(), w[1]};
    }
    for (auto& [c, v] : cols) row.Set(c, v);
    return world_.store(w[1]).Write([&](edge::WriteTxn& txn) { return txn.Upsert(row); });
  }

  Status Delete(const std::vector<std::string>& w) {
    MILLRACE_RETURN_IF_ERROR(Need(w, 3, "delete SITE ALIAS"));
    MILLRACE_RETURN_IF_ERROR(Site(w[1]));
    auto a = aliases_.find(w[2]);
    if (a == aliases_.end()) return Status::InvalidArgument("no row named " + w[2]);
    MILLRACE_ASSIGN_OR_RETURN(const catalog::TableSpec* t, Table(a->second.table));
    return world_.store(w[1]).Write(
        [&](edge::WriteTxn& txn) { return txn.Delete(*t, a->second.id); });
  }

  Status CentralDelete(const std::vector<std::string>& w) {
    MILLRACE_RETURN_IF_ERROR(Need(w, 2, "central-delete ALIAS"));
    auto a = aliases_.find(w[1]);
    if (a == aliases_.end()) return Status::InvalidArgument("no row named " + w[1]);
    return world_.central().Delete(world_.tenant(), a->second.table, a->second.id);
  }

  Status Facts(const std::vector<std::string>& w) {
    MILLRACE_RETURN_IF_ERROR(Need(w, 4, "facts SITE TABLE COUNT"));
    MILLRACE_RETURN_IF_ERROR(Site(w[1]));
    MILLRACE_ASSIGN_OR_RETURN(const catalog::TableSpec* t, Table(w[2]));
    const int n = std::stoi(w[3]);
    for (int i = 0; i < n; ++i) {
      Row row = testing::SampleTypedRow(*t, w[1], ++rows_made_);
      MILLRACE_RETURN_IF_ERROR(
          world_.store(w[1]).Write([&](edge::WriteTxn& txn) { return txn.Insert(row); }));
    }
    return Status::Ok();
  }

  Status Publish(const std::vector<std::string>& w) {
    MILLRACE_RETURN_IF_ERROR(Need(w, 3, "publish TABLE ALIAS [SITE]"));
    MILLRACE_ASSIGN_OR_RETURN(const catalog::TableSpec* t, Table(w[1]));
    Row row = testing::SampleTypedRow(*t, w.size() > 3 ? w[3] : "", ++rows_made_);
    if (w.size() <= 3 && t->Find(catalog::kSiteColumn)->nullable) row.Set(catalog::kSiteColumn, Value());
    row.Set(catalog::kOriginColumn, std::string("central"));
    row.Set(catalog::kHlcColumn, static_cast<std::int64_t>(world_.central().Clocks().hlc->Now().packed()));
    MILLRACE_RETURN_IF_ERROR(row.Validate());
    aliases_[w[2]] = {t->name, row.id(), w.size() > 3 ? w[3] : ""};
    world_.central().Publish(world_.tenant(), row);
    return Status::Ok();
  }

  Status CentralEdit(const std::vector<std::string>& w) {
    MILLRACE_RETURN_IF_ERROR(Need(w, 3, "central-edit ALIAS col=value..."));
    auto a = aliases_.find(w[1]);
    if (a == aliases_.end()) return Status::InvalidArgument("no row named " + w[1]);
    MILLRACE_ASSIGN_OR_RETURN(const catalog::TableSpec* t, Table(a->second.table));
    MILLRACE_ASSIGN_OR_RETURN(auto cols, Columns(*t, w, 2));
    return world_.central().Edit(world_.tenant(), t->name, a->second.id, cols);
  }

  Status Expect(const std::vector<std::string>& w) {
    MILLRACE_RETURN_IF_ERROR(Need(w, 2, "expect WHAT ..."));
    const std::string& what = w[1];
    if (what == "converged") {
      std::vector<std::string> sites(w.begin() + 2, w.end());
      if (sites.empty()) sites = sites_;
      for (const auto& site : sites) {
        MILLRACE_RETURN_IF_ERROR(Site(site));
        MILLRACE_ASSIGN_OR_RETURN(auto edge, world_.EdgeContent(site));
        const auto central = world_.CentralContent(site);
        if (edge != central) {
          std::string diff;
          std::set<std::string> tables;
          for (auto& [t, d] : edge) tables.insert(t);
          for (auto& [t, d] : central) tables.insert(t);
          for (const auto& t : tables) {
            const std::string e = edge.count(t) ? edge.at(t) : "-";
            const std::string c = central.count(t) ? central.at(t) : "-";
            if (e != c) diff += " " + t + " (edge " + e + ", central " + c + ")";
          }
          return Status::FailedPrecondition(site + " and central differ:" + diff);
        }
      }
      return Status::Ok();
    }
    if (what == "rows") {
      MILLRACE_RETURN_IF_ERROR(Need(w, 5, "expect rows SITE|central TABLE N"));
      MILLRACE_ASSIGN_OR_RETURN(const catalog::TableSpec* t, Table(w[3]));
      std::int64_t n = 0;
      if (w[2] == "central") {
        n = static_cast<std::int64_t>(world_.central().Rows(world_.tenant(), t->name).size());
      } else {
        MILLRACE_RETURN_IF_ERROR(Site(w[2]));
        MILLRACE_RETURN_IF_ERROR(world_.store(w[2]).Read([&](edge::ReadTxn& txn) -> Status {
          MILLRACE_ASSIGN_OR_RETURN(n, txn.Count(*t));
          return Status::Ok();
        }));
      }
      if (n != std::stoll(w[4]))
        return Status::FailedPrecondition(w[2] + " holds " + std::to_string(n) + " " + t->name +
                                          " rows, expected " + w[4]);
      return Status::Ok();
    }
    if (what == "value") {
      MILLRACE_RETURN_IF_ERROR(Need(w, 6, "expect value SITE|central ALIAS COLUMN VALUE"));
      auto a = aliases_.find(w[3]);
      if (a == aliases_.end()) return Status::InvalidArgument("no row named " + w[3]);
      MILLRACE_ASSIGN_OR_RETURN(const catalog::TableSpec* t, Table(a->second.table));
      Value want;
      MILLRACE_RETURN_IF_ERROR(Parse(*t, w[4], w[5], &want));
      std::optional<Row> row;
      if (w[2] == "central") {
        auto rows = world_.central().Rows(world_.tenant(), t->name);
        if (auto it = rows.find(a->second.id); it != rows.end()) row = it->second;
      } else {
        MILLRACE_RETURN_IF_ERROR(Site(w[2]));
        MILLRACE_ASSIGN_OR_RETURN(row, EdgeRow(w[2], a->second));
      }
      if (!row) return Status::FailedPrecondition(w[2] + " holds no " + w[3]);
      if (row->Get(w[4]) != want)
        return Status::FailedPrecondition(w[2] + "'s " + w[3] + "." + w[4] + " is " +
                                          Text(row->Get(w[4])) + ", expected " + w[5]);
      return Status::Ok();
    }
    if (what == "gone") {
      MILLRACE_RETURN_IF_ERROR(Need(w, 4, "expect gone SITE|central ALIAS"));
      auto a = aliases_.find(w[3]);
      if (a == aliases_.end()) return Status::InvalidArgument("no row named " + w[3]);
      bool held = false;
      if (w[2] == "central") {
        held = world_.central().Rows(world_.tenant(), a->second.table).count(a->second.id) > 0;
      } else {
        MILLRACE_RETURN_IF_ERROR(Site(w[2]));
        MILLRACE_ASSIGN_OR_RETURN(auto row, EdgeRow(w[2], a->second));
        held = row.has_value();
      }
      if (held) return Status::FailedPrecondition(w[2] + " still holds " + w[3]);
      return Status::Ok();
    }
    if (what == "acked") {
      MILLRACE_RETURN_IF_ERROR(Need(w, 3, "expect acked SITE"));
      MILLRACE_RETURN_IF_ERROR(Site(w[2]));
      MILLRACE_ASSIGN_OR_RETURN(auto outbox, world_.store(w[2]).Outbox());
      const auto st = world_.Stats(w[2]);
      if (st.acked_seq != static_cast<std::uint64_t>(outbox.head_seq))
        return Status::FailedPrecondition(w[2] + " captured through seq " +
                                          std::to_string(outbox.head_seq) +
                                          " but central acknowledged " +
                                          std::to_string(st.acked_seq) + " (" + st.last_error + ")");
      return Status::Ok();
    }
    if (what == "rejects") {
      MILLRACE_RETURN_IF_ERROR(Need(w, 4, "expect rejects SITE N"));
      const auto n = world_.central().Site(world_.tenant(), w[2]).rejects.size();
      if (n != std::stoull(w[3]))
        return Status::FailedPrecondition("central parked " + std::to_string(n) + " of " + w[2] +
                                          "'s changes, expected " + w[3]);
      return Status::Ok();
    }
    if (what == "applied") {
      MILLRACE_RETURN_IF_ERROR(Need(w, 4, "expect applied SITE SEQ"));
      const auto applied = world_.central().Site(world_.tenant(), w[2]).applied;
      if (applied != std::stoull(w[3]))
        return Status::FailedPrecondition("central applied " + w[2] + " through seq " +
                                          std::to_string(applied) + ", expected " + w[3]);
      return Status::Ok();
    }
    if (what == "reconnects") {  // expect reconnects SITE >= N
      MILLRACE_RETURN_IF_ERROR(Need(w, 5, "expect reconnects SITE >= N"));
      const auto n = world_.Stats(w[2]).reconnects;
      if (w[3] != ">=") return Status::InvalidArgument("only >= is known");
      if (n < std::stoull(w[4]))
        return Status::FailedPrecondition(w[2] + " reconnected " + std::to_string(n) +
                                          " times, expected at least " + w[4]);
      return Status::Ok();
    }
    return Status::InvalidArgument("unknown expectation " + what);
  }

  Status Step(const std::vector<std::string>& w) {
    const std::string& verb = w[0];
    if (verb == "site") {
      MILLRACE_RETURN_IF_ERROR(Need(w, 2, "site NAME..."));
      for (std::size_t i = 1; i < w.size(); ++i) {
        MILLRACE_RETURN_IF_ERROR(world_.AddSite(w[i]));
        sites_.push_back(w[i]);
      }
      return Status::Ok();
    }
    if (verb == "write") return Write(w);
    if (verb == "facts") return Facts(w);
    if (verb == "publish") return Publish(w);
    if (verb == "central-edit") return CentralEdit(w);
    if (verb == "delete") return Delete(w);
    if (verb == "central-delete") return CentralDelete(w);
    if (verb == "cut" || verb == "heal") {
      MILLRACE_RETURN_IF_ERROR(Need(w, 2, "cut|heal SITE"));
      MILLRACE_RETURN_IF_ERROR(Site(w[1]));
      world_.SetLink(w[1], verb == "heal");
      return Status::Ok();
    }
    if (verb == "drop") {
      MILLRACE_RETURN_IF_ERROR(Need(w, 4, "drop SITE up|down N"));
      MILLRACE_RETURN_IF_ERROR(Site(w[1]));
      if (w[2] != "up" && w[2] != "down") return Status::InvalidArgument("drop: up or down");
      world_.Drop(w[1], w[2] == "up", std::stoi(w[3]));
      return Status::Ok();
    }
    if (verb == "drift") {
      MILLRACE_RETURN_IF_ERROR(Need(w, 3, "drift SITE MS"));
      MILLRACE_RETURN_IF_ERROR(Site(w[1]));
      world_.SetDrift(w[1], std::stoll(w[2]));
      return Status::Ok();
    }
    if (verb == "restart") {
      MILLRACE_RETURN_IF_ERROR(Need(w, 2, "restart SITE|central"));
      if (w[1] == "central") return world_.RestartCentral();
      MILLRACE_RETURN_IF_ERROR(Site(w[1]));
      return world_.RestartEdge(w[1]);
    }
    if (verb == "run") {
      MILLRACE_RETURN_IF_ERROR(Need(w, 2, "run MS"));
      return world_.Run(std::stoll(w[1]));
    }
    if (verb == "expect") return Expect(w);
    return Status::InvalidArgument("unknown command " + verb);
  }

  std::string file_;
  SyncWorld world_;
  std::vector<std::string> sites_;
  std::map<std::string, Alias> aliases_;
  int rows_made_ = 0;
};

}  // namespace
}  // namespace millrace::testing

int main(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) == "--help") {
    std::cerr << "usage: sync_scenarios FILE...   (tests/scenario/README.md)\n";
    return argc < 2 ? 2 : 0;
  }
  spdlog::set_level(spdlog::level::warn);  // migrations and reconnects are routine here
  int failed = 0;
  for (int i = 1; i < argc; ++i) {
    millrace::testing::Scenario s(argv[i]);
    const bool ok = s.Run();
    std::cout << (ok ? "ok     " : "FAILED ") << argv[i] << "\n";
    failed += ok ? 0 : 1;
  }
  return failed ? 1 : 0;
}
