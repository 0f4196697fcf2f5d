#include "sync_cluster.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "millrace/central/central_store.h"
#include "millrace/central/pg_rows.h"
#include "millrace/common/catalog.h"
#include "millrace/common/ddl.h"
#include "millrace/common/files.h"
#include "millrace/common/sqlite.h"
#include "millrace/edge/store.h"
#include "millrace/edge/terminal_client.h"
#include "millrace/sync/content.h"
#include "millrace/sync/row_codec.h"

namespace millrace::testing {

namespace fs = std::filesystem;
using json = nlohmann::json;

ChildProcess::ChildProcess(std::vector<std::string> argv, fs::path log)
    : argv_(std::move(argv)), log_(std::move(log)) {}

ChildProcess::~ChildProcess() {
  if (pid_ > 0) Signal(SIGKILL);
}

Status ChildProcess::Start() {
  pid_ = fork();
  if (pid_ < 0) return Status::IOError("fork failed");
  if (pid_ == 0) {
    int fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    std::vector<char*> args;
    for (auto& a : argv_) args.push_back(a.data());
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  return Status::Ok();
}

int ChildProcess::Signal(int sig) {
  if (pid_ <= 0) return -1;
  kill(pid_, sig);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int RunCommand(const std::vector<std::string>& argv, std::string* output) {
  // CLOEXEC: a daemon the command starts (pg_ctl's server) must not inherit the write
  // end, or reading would never see the end of the output.
  int pipefd[2];
  if (pipe2(pipefd, O_CLOEXEC) != 0) return -1;
  pid_t pid = fork();
  if (pid == 0) {
    dup2(pipefd[1], 1);
    dup2(pipefd[1], 2);
    close(pipefd[0]);
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  close(pipefd[1]);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(pipefd[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
  close(pipefd[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (output) *output = out;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

namespace {

Result<std::string> WaitForFile(const fs::path& path, const ChildProcess& proc,
                                const fs::path& log) {
  for (int i = 0; i < 300; ++i) {
    if (fs::exists(path)) {
      std::ifstream in(path);
      std::string s;
      std::getline(in, s);
      if (!s.empty()) return s;
    }
    if (!proc.running()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  auto text = ReadFile(log.string());
  return Status::Unavailable("process did not write " + path.string() + "; log:\n" +
                             (text.ok() ? *text : std::string("(none)")));
}

}  // namespace

Result<std::unique_ptr<SyncCluster>> SyncCluster::Create(ClusterBinaries bins,
                                                         const std::string& name) {
  return CreateFromFixture(bins, name, "");
}

Result<std::unique_ptr<SyncCluster>> SyncCluster::CreateFromFixture(ClusterBinaries bins,
                                                                    const std::string& name,
                                                                    const std::string& fixture) {
  fs::path dir = fs::temp_directory_path() / ("millrace-" + name + "-" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::unique_ptr<SyncCluster> c(new SyncCluster(bins, dir));
  MILLRACE_ASSIGN_OR_RETURN(c->db_, TestDatabase::Create());
  MILLRACE_ASSIGN_OR_RETURN(c->admin_, c->db_->Connect("postgres"));
  std::string out;
  if (!fixture.empty()) {
    // A released database: its roles first (cluster-wide), then its dump.
    for (const auto& sql : catalog::PostgresAdminDdl({}))
      if (sql.find("CREATE SCHEMA") == std::string::npos) MILLRACE_RETURN_IF_ERROR(c->admin_->Exec(sql));
    if (RunCommand({"/usr/bin/psql", c->db_->ConnInfo("postgres"), "-q", "-v", "ON_ERROR_STOP=1",
                    "-f", (fs::path(fixture) / "central.sql").string()},
                   &out) != 0)
      return Status::Internal("loading " + fixture + "/central.sql: " + out);
  }
  if (RunCommand({bins.mes_central, "migrate", "--db", c->db_->ConnInfo("postgres")}, &out) != 0)
    return Status::Internal("mes-central migrate failed: " + out);
  if (fixture.empty()) {
    if (RunCommand({bins.mes_central, "keygen", "--secret", (dir / "central.key").string(),
                    "--public", (dir / "central.pub").string()},
                   &out) != 0)
      return Status::Internal("mes-central keygen failed: " + out);
  } else {
    for (const char* f : {"central.key", "central.pub"})
      fs::copy_file(fs::path(fixture) / f, dir / f, fs::copy_options::overwrite_existing);
    fs::permissions(dir / "central.key", fs::perms::owner_read | fs::perms::owner_write);
  }
  std::ofstream(dir / "central.toml")
      << "[database]\nurl = \"" << c->db_->ConnInfo("millrace_app") << "\"\n"
      << "[sync]\nbind = \"tcp://127.0.0.1:*\"\nsecret_key_file = \"central.key\"\n"
      << "store_takeover_grace_seconds = " << kStoreTakeoverGraceSeconds << "\n"
      << "[http]\nport = 0\n[log]\nlevel = \"warn\"\n";
  std::string token;
  MILLRACE_RETURN_IF_ERROR(
      c->CentralCommand({"token", "create", "--name", "tests"}, &token).WithContext("admin token"));
  while (!token.empty() && (token.back() == '\n' || token.back() == ' ')) token.pop_back();
  c->admin_token_ = token.substr(0, token.find('\n'));
  return c;
}

Status SyncCluster::AddFixtureSite(const std::string& tenant, const std::string& site,
                                   const std::string& fixture) {
  if (sync_endpoint_.empty()) return Status::FailedPrecondition("start central first");
  const fs::path d = site_dir(site);
  fs::create_directories(d);
  {
    MILLRACE_ASSIGN_OR_RETURN(auto db, SqliteDb::Open((d / "edge.db").string()));
    MILLRACE_ASSIGN_OR_RETURN(std::string dump, ReadFile((fs::path(fixture) / "edge.sql").string()));
    MILLRACE_RETURN_IF_ERROR(db.Exec(dump).WithContext("loading " + fixture + "/edge.sql"));
  }
  for (const char* f : {"site.key", "site.pub", "central.pub"})
    fs::copy_file(fs::path(fixture) / f, d / f, fs::copy_options::overwrite_existing);
  fs::permissions(d / "site.key", fs::perms::owner_read | fs::perms::owner_write);
  std::ofstream(d / "edge.toml") << "[site]\nid = \"" << site << "\"\n[store]\npath = \""
                                 << (d / "edge.db").string() << "\"\n[sync]\nendpoints = [\""
                                 << sync_endpoint_
                                 << "\"]\nsecret_key_file = \"site.key\"\n"
                                    "central_public_key_file = \"central.pub\"\n"
                                    "[http]\nport = 0\n[log]\nlevel = \"warn\"\n[backup]\n"
                                    "interval_minutes = 0\n[clock]\noffset_file = \"clock-offset-ms\"\n";
  site_tenant_[site] = tenant;
  return Status::Ok();
}

SyncCluster::~SyncCluster() {
  edges_.clear();
  central_.reset();
  admin_.reset();
  if (keep_) {
    setenv("MILLRACE_KEEP_TEST_DIRS", "1", 1);  // the database too (TestDatabase)
    std::cerr << "kept for a look: " << dir_.string() << " and database " << db_->name() << "\n";
  }
  db_.reset();
  if (!keep_ && !::getenv("MILLRACE_KEEP_TEST_DIRS")) fs::remove_all(dir_);
}

namespace {

std::string Tail(const fs::path& file, int lines) {
  auto text = ReadFile(file.string());
  if (!text.ok()) return "  (no " + file.string() + ")\n";
  std::vector<std::string> all;
  std::string line;
  for (char ch : *text) {
    if (ch == '\n') {
      all.push_back(line);
      line.clear();
    } else {
      line += ch;
    }
  }
  if (!line.empty()) all.push_back(line);
  std::string out;
  for (std::size_t i = all.size() > static_cast<std::size_t>(lines) ? all.size() - lines : 0;
       i < all.size(); ++i)
    out += "  | " + all[i] + "\n";
  return out.empty() ? "  (empty)\n" : out;
}

}  // namespace

std::string SyncCluster::Diagnose(std::chrono::milliseconds gap) {
  std::ostringstream out;
  for (int sample = 1; sample <= 2; ++sample) {
    if (sample == 2) std::this_thread::sleep_for(gap);
    out << "---- sample " << sample << " ----\n";
    for (const auto& [site, tenant] : site_tenant_) {
      out << "site " << tenant << "/" << site << (edges_.count(site) ? "" : " (edge not running)")
          << "\n";
      auto st = edges_.count(site) ? EdgeCall(site, "GET", "/api/v1/sync")
                                   : Result<json>(Status::Unavailable("not running"));
      if (st.ok()) {
        for (const char* k : {"state", "connected", "link_up", "endpoint", "backlog_rows",
                              "head_seq", "acked_seq", "in_flight_batches", "batches_sent",
                              "batches_acked", "nacks", "reconnects", "retry_in_ms",
                              "last_heard_ago_ms", "loop_steps", "feed_cursor", "feed_head",
                              "store_epoch", "last_error"})
          if (st->contains(k)) out << "  edge " << k << " = " << (*st)[k].dump() << "\n";
      } else {
        out << "  edge status: " << st.status().ToString() << "\n";
      }
      auto row = admin_->Query(
          "SELECT applied_seq, coalesce(store_epoch, '-'), coalesce(last_seen_at::text, '-'), "
          "coalesce(last_ack_at::text, '-'), batches_applied, active FROM millrace.sync_site "
          "WHERE tenant_id = $1 AND site_id = $2",
          {tenant, site});
      if (row.ok() && row->rows() == 1)
        out << "  central applied_seq = " << row->GetString(0, 0) << ", store_epoch "
            << row->GetString(0, 1) << ", last seen " << row->GetString(0, 2) << ", last ack "
            << row->GetString(0, 3) << ", batches " << row->GetString(0, 4) << ", active "
            << row->GetString(0, 5) << "\n";
      // Row counts where the two sides differ: which side is behind, and by how much.
      auto db = SqliteDb::OpenReadOnly(site_dir(site) + "/edge.db");
      for (const auto& t : catalog::MesCatalog().tables()) {
        if (!db.ok()) break;
        auto edge_n = db->QueryInt("SELECT count(*) FROM " + catalog::QuoteIdent(t.name) +
                                   (t.merge == catalog::MergePolicy::kCentralOwned
                                        ? std::string()
                                        : " WHERE site_id = " + catalog::QuoteLiteral(site)));
        auto central_n = admin_->Query("SELECT count(*) FROM millrace." + catalog::QuoteIdent(t.name) +
                                       " WHERE tenant_id = $1" +
                                       (t.merge == catalog::MergePolicy::kCentralOwned
                                            ? std::string(" AND (site_id IS NULL OR site_id = $2 OR $2 <> '')")
                                            : std::string(" AND site_id = $2")),
                                       {tenant, site});
        if (edge_n.ok() && central_n.ok() && std::to_string(*edge_n) != central_n->GetString(0, 0))
          out << "  rows of " << t.name << ": edge " << *edge_n << ", central "
              << central_n->GetString(0, 0) << "\n";
      }
      auto outbox = db.ok() ? db->QueryInt("SELECT count(*) FROM outbox") : Result<std::int64_t>(0);
      if (outbox.ok()) out << "  edge outbox rows = " << *outbox << "\n";
    }
    auto rejects = admin_->Query("SELECT count(*) FROM millrace.sync_reject");
    if (rejects.ok()) out << "central rejects = " << rejects->GetString(0, 0) << "\n";
    auto metrics = HttpCall(central_http_, "GET", "/metrics", "",
                            {{"authorization", "Bearer " + admin_token_}});
    if (metrics.ok()) {
      std::istringstream lines(metrics->body);
      for (std::string line; std::getline(lines, line);)
        if (line.rfind("mes_sync_handshakes_total", 0) == 0 ||
            line.rfind("mes_sync_frame_errors_total", 0) == 0 ||
            line.rfind("mes_sync_nacks_total", 0) == 0 ||
            line.rfind("mes_sync_store_refusals_total", 0) == 0 ||
            line.rfind("mes_sync_site_applied_seq", 0) == 0)
          out << "  " << line << "\n";
    } else {
      out << "central /metrics: " << metrics.status().ToString() << "\n";
    }
  }
  out << "---- central.log (end) ----\n" << Tail(dir_ / "central.log", 25);
  for (const auto& [site, tenant] : site_tenant_)
    out << "---- " << site << "/edge.log (end) ----\n" << Tail(fs::path(site_dir(site)) / "edge.log", 25);
  return out.str();
}

Status SyncCluster::StartCentral() {
  fs::remove(dir_ / "central.port");
  fs::remove(dir_ / "central.sync");
  central_ = std::make_unique<ChildProcess>(
      std::vector<std::string>{bins_.mes_central, "serve", "-c", (dir_ / "central.toml").string(),
                               "--port-file", (dir_ / "central.port").string(),
                               "--sync-endpoint-file", (dir_ / "central.sync").string()},
      dir_ / "central.log");
  MILLRACE_RETURN_IF_ERROR(central_->Start());
  MILLRACE_ASSIGN_OR_RETURN(std::string port,
                            WaitForFile(dir_ / "central.port", *central_, dir_ / "central.log"));
  MILLRACE_ASSIGN_OR_RETURN(sync_endpoint_,
                            WaitForFile(dir_ / "central.sync", *central_, dir_ / "central.log"));
  central_http_ = {"127.0.0.1", static_cast<std::uint16_t>(std::stoi(port))};
  // Pin the port for restarts.
  MILLRACE_ASSIGN_OR_RETURN(std::string toml, ReadFile((dir_ / "central.toml").string()));
  const auto at = toml.find("tcp://127.0.0.1:*");
  if (at != std::string::npos) {
    toml.replace(at, std::string("tcp://127.0.0.1:*").size(), sync_endpoint_);
    MILLRACE_RETURN_IF_ERROR(WriteFileAtomically((dir_ / "central.toml").string(), toml));
  }
  return Status::Ok();
}

int SyncCluster::StopCentral(int sig) { return central_ ? central_->Signal(sig) : -1; }

Status SyncCluster::CentralCommand(std::vector<std::string> args, std::string* out) {
  std::vector<std::string> argv = {bins_.mes_central};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.push_back("-c");
  argv.push_back((dir_ / "central.toml").string());
  std::string text;
  int rc = RunCommand(argv, &text);
  if (out) *out = text;
  if (rc != 0) return Status::Internal("mes-central " + args[0] + " exited " + std::to_string(rc) +
                                       ": " + text);
  return Status::Ok();
}

Status SyncCluster::CreateTenant(const std::string& tenant) {
  return CentralCommand({"create-tenant", "--tenant", tenant});
}

Status SyncCluster::SeedDemo(const std::string& tenant, const std::vector<std::string>& sites) {
  std::string list;
  for (const auto& s : sites) list += (list.empty() ? "" : ",") + s;
  return CentralCommand({"seed-demo", "--tenant", tenant, "--sites", list});
}

std::uint16_t SyncCluster::sync_port() const {
  return static_cast<std::uint16_t>(std::stoi(sync_endpoint_.substr(sync_endpoint_.rfind(':') + 1)));
}

Status SyncCluster::RestartPostgres() {
  MILLRACE_ASSIGN_OR_RETURN(std::string conninfo, TestServerConnInfo());
  const auto at = conninfo.find("host=");
  std::string host = conninfo.substr(at + 5, conninfo.find(' ', at) - at - 5);
  const std::string dir = host.substr(0, host.rfind("/run"));
  // -l: the server must not inherit our pipe as its stderr, or reading pg_ctl's output
  // would wait for the server to exit.
  std::vector<std::string> argv = {"/usr/lib/postgresql/15/bin/pg_ctl", "-D", dir + "/data",
                                   "-l", dir + "/server.log", "-m", "fast", "-w", "-t", "60",
                                   "restart"};
  if (::getuid() == 0) argv.insert(argv.begin(), {"/usr/sbin/runuser", "-u", "millrace-test", "--"});
  std::string out;
  if (RunCommand(argv, &out) != 0) return Status::Unavailable("pg_ctl restart: " + out);
  MILLRACE_ASSIGN_OR_RETURN(admin_, db_->Connect("postgres"));
  return Status::Ok();
}

Status SyncCluster::ReconnectAdmin() {
  MILLRACE_ASSIGN_OR_RETURN(admin_, db_->Connect("postgres"));
  return Status::Ok();
}

Status SyncCluster::SetEdgeClockOffset(const std::string& site, std::chrono::milliseconds offset) {
  // Atomically: the edge never reads half a number.
  return WriteFileAtomically((fs::path(site_dir(site)) / "clock-offset-ms").string(),
                             std::to_string(offset.count()) + "\n");
}

Status SyncCluster::Provision(const std::string& tenant, const std::string& site,
                              const std::string& endpoint) {
  if (sync_endpoint_.empty()) return Status::FailedPrecondition("start central first");
  auto zone = time_zones_.find(site);
  MILLRACE_RETURN_IF_ERROR(CentralCommand({"provision-site", "--tenant", tenant, "--site", site,
                                           "--out", site_dir(site), "--endpoint",
                                           endpoint.empty() ? sync_endpoint_ : endpoint,
                                           "--time-zone",
                                           zone == time_zones_.end() ? "UTC" : zone->second}));
  site_tenant_[site] = tenant;
  return Status::Ok();
}

Status SyncCluster::AddSite(const std::string& tenant, const std::string& site,
                            const std::string& endpoint) {
  MILLRACE_RETURN_IF_ERROR(Provision(tenant, site, endpoint));
  AppendEdgeSettings(site);
  std::string out;
  if (RunCommand({bins_.mes_edge, "seed", "-c", site_dir(site) + "/edge.toml"}, &out) != 0)
    return Status::Internal("mes-edge seed failed: " + out);
  return Status::Ok();
}

void SyncCluster::AppendEdgeSettings(const std::string& site) {
  std::ofstream(fs::path(site_dir(site)) / "edge.toml", std::ios::app)
      << "[log]\nlevel = \"warn\"\n[backup]\n"
      << (backup_sections_.count(site) ? backup_sections_[site] : "interval_minutes = 0\n")
      << "[clock]\noffset_file = \"clock-offset-ms\"\n";
  for (const auto& [section, toml] : edge_sections_[site])
    std::ofstream(fs::path(site_dir(site)) / "edge.toml", std::ios::app)
        << "[" << section << "]\n" << toml;
}

nlohmann::json SyncCluster::RunDriftCheck(const std::string& tenant, const std::string& site) {
  std::string out;
  const nlohmann::json payload{{"site", site}, {"wait_seconds", 120}};
  Status s = CentralCommand({"jobs", "enqueue", "drift_check", "--tenant", tenant, "--payload",
                             payload.dump(), "--wait"},
                            &out);
  if (!s.ok()) return nlohmann::json::object();
  std::string job_id;
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);)
    if (line.rfind("job ", 0) == 0) {
      job_id = line.substr(4, line.find(' ', 4) - 4);
      break;
    }
  std::string shown;
  if (!CentralCommand({"jobs", "show", job_id}, &shown).ok()) return nlohmann::json::object();
  auto j = nlohmann::json::parse(shown, nullptr, false);
  return j.is_object() ? j.value("result", nlohmann::json::object()) : nlohmann::json::object();
}

Status SyncCluster::ReplaceEdge(const std::string& tenant, const std::string& site,
                                const std::string& endpoint, const std::string& dead_dir) {
  std::string out;
  MILLRACE_RETURN_IF_ERROR(
      CentralCommand({"backups", "list", "--tenant", tenant, "--site", site, "--json"}, &out));
  if (out.find("\"state\":\"verified\"") == std::string::npos)
    return Status::FailedPrecondition("site " + tenant + "/" + site + " has no verified backup");
  StopEdge(site, SIGKILL);
  std::error_code ec;
  fs::remove_all(dead_dir, ec);
  fs::rename(site_dir(site), dead_dir, ec);
  if (ec) return Status::IOError("moving " + site_dir(site) + " aside: " + ec.message());
  MILLRACE_RETURN_IF_ERROR(CentralCommand({"restore-site", "--tenant", tenant, "--site", site,
                                           "--out", site_dir(site), "--endpoint", endpoint,
                                           "--force"},
                                          &out));
  AppendEdgeSettings(site);  // the new machine's clock is true: no offset file comes along
  return StartEdge(site);
}

Status SyncCluster::StartEdge(const std::string& site) {
  const fs::path d = site_dir(site);
  fs::remove(d / "port");
  // A restarted edge keeps its port, so terminals (and simulators) find it again.
  const auto known = edge_http_.find(site);
  const std::string port = known == edge_http_.end() ? "0" : std::to_string(known->second.port);
  auto p = std::make_unique<ChildProcess>(
      std::vector<std::string>{edge_bins_.count(site) ? edge_bins_.at(site) : bins_.mes_edge,
                               "serve", "-c", (d / "edge.toml").string(),
                               "--http-port", port, "--port-file", (d / "port").string()},
      d / "edge.log");
  MILLRACE_RETURN_IF_ERROR(p->Start());
  MILLRACE_ASSIGN_OR_RETURN(std::string bound, WaitForFile(d / "port", *p, d / "edge.log"));
  edge_http_[site] = {"127.0.0.1", static_cast<std::uint16_t>(std::stoi(bound))};
  edges_[site] = std::move(p);
  return Status::Ok();
}

int SyncCluster::StopEdge(const std::string& site, int sig) {
  auto it = edges_.find(site);
  if (it == edges_.end()) return -1;
  int rc = it->second->Signal(sig);
  edges_.erase(it);
  return rc;
}

Status SyncCluster::TenantSql(const std::string& tenant, const std::string& sql) {
  MILLRACE_RETURN_IF_ERROR(admin_->Exec("BEGIN"));
  Status s = admin_->Exec("SET LOCAL app.tenant_id = " + catalog::QuoteLiteral(tenant));
  if (s.ok()) s = admin_->Exec(sql);
  if (!s.ok()) {
    (void)admin_->Exec("ROLLBACK");
    return s;
  }
  return admin_->Exec("COMMIT");
}

Status SyncCluster::RevokeSite(const std::string& tenant, const std::string& site) {
  return CentralCommand({"revoke-site", "--tenant", tenant, "--site", site});
}

Result<json> SyncCluster::Put(const std::string& tenant, const std::string& table,
                              const json& rows) {
  const std::string file = (dir_ / "put.json").string();
  MILLRACE_RETURN_IF_ERROR(WriteFileAtomically(file, rows.dump()));
  std::string out;
  MILLRACE_RETURN_IF_ERROR(
      CentralCommand({"put", "--tenant", tenant, "--table", table, "--file", file}, &out));
  return json::parse(out, nullptr, false);
}

Result<json> SyncCluster::EdgeCall(const std::string& site, const std::string& method,
                                   const std::string& target, const json& body,
                                   const std::string& token) {
  auto it = edge_http_.find(site);
  if (it == edge_http_.end() || !edges_.count(site))
    return Status::FailedPrecondition("edge " + site + " is not running");
  edge::TerminalClient client(it->second, token);
  MILLRACE_ASSIGN_OR_RETURN(auto r, client.Send(method, target, body));
  if (r.status >= 300)
    return Status::FailedPrecondition("HTTP " + std::to_string(r.status) + " from " + site +
                                      " " + target + ": " + r.text);
  return std::move(r.body);
}

Result<std::string> SyncCluster::EdgeId(const std::string& site, const std::string& table,
                                        const std::string& column, const std::string& value) {
  MILLRACE_ASSIGN_OR_RETURN(auto db, SqliteDb::OpenReadOnly(site_dir(site) + "/edge.db"));
  edge::ReadTxn txn(&db);
  const auto* t = catalog::MesCatalog().Find(table);
  if (!t) return Status::InvalidArgument("no table " + table);
  MILLRACE_ASSIGN_OR_RETURN(auto rows, txn.Select(*t, column + " = ?", {value}, "", 1));
  if (rows.empty()) return Status::NotFound(table + " " + value + " at " + site);
  return rows.front().id();
}

Result<std::string> SyncCluster::BadgeIn(const std::string& site, const std::string& badge,
                                         const std::string& unit_code) {
  json body{{"badge_id", badge}, {"pin", "1234"}};
  if (!unit_code.empty()) body["work_unit"] = unit_code;
  MILLRACE_ASSIGN_OR_RETURN(json r, EdgeCall(site, "POST", "/api/v1/sessions", body));
  return r.value("token", "");
}

Result<std::string> SyncCluster::StartDemoWork(const std::string& site) {
  MILLRACE_ASSIGN_OR_RETURN(std::string sam, BadgeIn(site, "2001", "L1-PRESS"));
  MILLRACE_ASSIGN_OR_RETURN(std::string wo, EdgeId(site, "work_order", "number", "WO-1001"));
  MILLRACE_RETURN_IF_ERROR(
      EdgeCall(site, "POST", "/api/v1/work-orders/" + wo + "/release", json::object(), sam)
          .status());
  MILLRACE_ASSIGN_OR_RETURN(json order,
                            EdgeCall(site, "GET", "/api/v1/work-orders/" + wo, nullptr, sam));
  const std::string op = order["operations"][0]["id"];
  MILLRACE_ASSIGN_OR_RETURN(std::string ana, BadgeIn(site, "1001", "L1-CUT"));
  MILLRACE_RETURN_IF_ERROR(
      EdgeCall(site, "POST", "/api/v1/operations/" + op + "/start", json::object(), ana).status());
  return op;
}

Status SyncCluster::CountGood(const std::string& site, const std::string& operation, int n) {
  MILLRACE_ASSIGN_OR_RETURN(std::string ana, BadgeIn(site, "1001", "L1-CUT"));
  for (int i = 0; i < n; ++i)
    MILLRACE_RETURN_IF_ERROR(EdgeCall(site, "POST", "/api/v1/operations/" + operation + "/counts",
                                      {{"good", 1}}, ana)
                                 .status());
  return Status::Ok();
}

Result<std::map<std::string, std::string>> SyncCluster::EdgeContent(const std::string& site) {
  // A supervisor's desk session, made once per edge process (kept while it answers).
  auto token = supervisor_tokens_.find(site);
  if (token == supervisor_tokens_.end() || token->second.first != edge_pid(site)) {
    MILLRACE_ASSIGN_OR_RETURN(std::string t, BadgeIn(site, "2001", ""));
    token = supervisor_tokens_.insert_or_assign(site, std::make_pair(edge_pid(site), t)).first;
  }
  auto content_or = EdgeCall(site, "GET", "/api/v1/sync/content", nullptr, token->second.second);
  if (!content_or.ok()) {
    // A restored store forgot the session, or the edge's clock moved past its end: once
    // more with a new one.
    supervisor_tokens_.erase(site);
    MILLRACE_ASSIGN_OR_RETURN(std::string t, BadgeIn(site, "2001", ""));
    supervisor_tokens_.insert_or_assign(site, std::make_pair(edge_pid(site), t));
    content_or = EdgeCall(site, "GET", "/api/v1/sync/content", nullptr, t);
  }
  MILLRACE_ASSIGN_OR_RETURN(json content, std::move(content_or));
  if (!content.is_object()) return Status::Internal("edge " + site + " sent no content digests");
  return content.get<std::map<std::string, std::string>>();
}

Result<std::map<std::string, std::string>> SyncCluster::CentralContent(const std::string& tenant,
                                                                       const std::string& site) {
  // As the app role would see it: through row-level security in the tenant's context.
  MILLRACE_ASSIGN_OR_RETURN(auto app, db_->Connect("millrace_app"));
  return central::SiteContent(*app, tenant, site);
}

Status SyncCluster::WaitConverged(std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string diff;
  while (true) {
    diff.clear();
    for (const auto& [site, proc] : edges_) {
      MILLRACE_ASSIGN_OR_RETURN(auto edge, EdgeContent(site));
      MILLRACE_ASSIGN_OR_RETURN(auto central, CentralContent(site_tenant_.at(site), site));
      for (const auto& [table, hash] : edge)
        if (central[table] != hash)
          diff += " " + site + "." + table + " (edge " + hash + ", central " + central[table] + ")";
    }
    if (diff.empty()) return Status::Ok();
    if (std::chrono::steady_clock::now() > deadline) {
      std::string rejects;
      auto r = admin_->Query(
          "SELECT tenant_id || '/' || site_id || ' seq ' || seq || ' ' || table_name || ': ' || "
          "reason FROM millrace.sync_reject ORDER BY reject_id LIMIT 5");
      if (r.ok())
        for (int i = 0; i < r->rows(); ++i) rejects += "\n  parked at central: " + r->GetString(i, 0);
      return Status::Timeout("not converged:" + diff + rejects);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

Status SyncCluster::StartWithTenant(const std::string& tenant,
                                    const std::vector<std::string>& sites) {
  MILLRACE_RETURN_IF_ERROR(StartCentral());
  MILLRACE_RETURN_IF_ERROR(CreateTenant(tenant));
  return SeedDemo(tenant, sites);
}

double SyncCluster::CentralMetric(const std::string& prefix) {
  auto r = HttpCall(central_http_, "GET", "/metrics", "",
                    {{"authorization", "Bearer " + admin_token_}});
  if (!r.ok()) return -1;
  auto at = r->body.find("\n" + prefix);
  if (at == std::string::npos) return 0;
  auto end = r->body.find('\n', at + 1);
  auto line = r->body.substr(at + 1, end - at - 1);
  return std::stod(line.substr(line.rfind(' ') + 1));
}

}  // namespace millrace::testing
