#include "millrace/central/pgbackrest.h"

#include <cstdlib>
#include <nlohmann/json.hpp>

#include "millrace/common/subprocess.h"

namespace millrace::central {
namespace {

std::int64_t Int(const nlohmann::json& j, const char* a, const char* b = nullptr) {
  const nlohmann::json* v = j.contains(a) ? &j[a] : nullptr;
  if (v && b) v = v->is_object() && v->contains(b) ? &(*v)[b] : nullptr;
  return v && v->is_number_integer() ? v->get<std::int64_t>() : 0;
}

std::string Text(const nlohmann::json& j, const char* a, const char* b = nullptr) {
  const nlohmann::json* v = j.contains(a) ? &j[a] : nullptr;
  if (v && b) v = v->is_object() && v->contains(b) ? &(*v)[b] : nullptr;
  return v && v->is_string() ? v->get<std::string>() : std::string();
}

}  // namespace

Result<PgBackupRepository> ParsePgBackRestInfo(std::string_view text, const std::string& stanza) {
  const nlohmann::json all = nlohmann::json::parse(text, nullptr, false);
  if (!all.is_array()) return Status::Corruption("pgbackrest info: not a JSON list");
  for (const auto& s : all) {
    if (!s.is_object() || Text(s, "name") != stanza) continue;
    PgBackupRepository r;
    if (s.contains("status") && s["status"].is_object()) {
      const auto& st = s["status"];
      r.status_code = static_cast<int>(Int(st, "code"));
      r.status = Text(st, "message");
      if (st.contains("lock") && st["lock"].is_object() && st["lock"].contains("backup"))
        r.backup_running = st["lock"]["backup"].value("held", false);
    }
    if (s.contains("archive") && s["archive"].is_array())
      for (const auto& a : s["archive"]) {
        if (!a.is_object()) continue;
        const std::string lo = Text(a, "min"), hi = Text(a, "max");
        if (!lo.empty() && (r.wal_min.empty() || lo < r.wal_min)) r.wal_min = lo;
        if (hi > r.wal_max) r.wal_max = hi;
      }
    if (s.contains("backup") && s["backup"].is_array())
      for (const auto& b : s["backup"]) {
        if (!b.is_object()) continue;
        PgBackup p;
        p.label = Text(b, "label");
        p.type = Text(b, "type");
        p.prior = Text(b, "prior");
        p.started_s = Int(b, "timestamp", "start");
        p.stopped_s = Int(b, "timestamp", "stop");
        if (b.contains("info") && b["info"].is_object()) {
          p.size_bytes = Int(b["info"], "size");
          p.repo_bytes = Int(b["info"], "repository", "delta");
        }
        p.wal_start = Text(b, "archive", "start");
        p.wal_stop = Text(b, "archive", "stop");
        p.error = b.value("error", false);
        if (p.label.empty()) return Status::Corruption("pgbackrest info: a backup without a label");
        r.backups.push_back(std::move(p));
      }
    return r;
  }
  return Status::Corruption("pgbackrest info lists no stanza '" + stanza + "'");
}

std::optional<double> ParsePgBackRestProgress(std::string_view line) {
  if (line.find("backup file ") == std::string_view::npos) return std::nullopt;
  const auto pct = line.find("%)");
  if (pct == std::string_view::npos) return std::nullopt;
  const auto comma = line.rfind(", ", pct);
  if (comma == std::string_view::npos) return std::nullopt;
  const std::string number(line.substr(comma + 2, pct - comma - 2));
  char* end = nullptr;
  const double v = std::strtod(number.c_str(), &end);
  if (end == number.c_str() || *end != '\0' || v < 0 || v > 100) return std::nullopt;
  return v;
}

std::string PgBackRestError(std::string_view output) {
  std::string_view last;
  for (std::size_t at = 0; at < output.size();) {
    std::size_t nl = output.find('\n', at);
    if (nl == std::string_view::npos) nl = output.size();
    std::string_view line = output.substr(at, nl - at);
    at = nl + 1;
    if (line.empty()) continue;
    const auto err = line.find("ERROR: [");
    if (err != std::string_view::npos) return std::string(line.substr(err));
    last = line;
  }
  return last.empty() ? "no output" : std::string(last);
}

Result<std::string> PgBackRest::Run(const std::vector<std::string>& args,
                                    const std::function<void(std::string_view)>& on_line,
                                    const std::function<bool()>& stop) const {
  if (o_.command.empty()) return Status::InvalidArgument("pgbackrest: no command configured");
  std::vector<std::string> argv = o_.command;
  if (!o_.config.empty()) argv.push_back("--config=" + o_.config);
  argv.push_back("--stanza=" + o_.stanza);
  argv.push_back("--log-level-file=off");
  argv.insert(argv.end(), args.begin(), args.end());
  SubprocessOptions so;
  so.timeout = std::chrono::minutes(o_.timeout_minutes);
  so.on_line = on_line;
  so.stop = stop;
  so.keep_bytes = 256 * 1024;
  MILLRACE_ASSIGN_OR_RETURN(SubprocessResult r, RunSubprocess(argv, so));
  const std::string what = "pgbackrest " + args.back();
  if (r.timed_out)
    return Status::Timeout(what + " ran longer than " + std::to_string(o_.timeout_minutes) +
                           " minutes and was stopped");
  if (r.stopped) return Status::Unavailable(what + " was stopped");
  if (!r.ok())
    return Status::Unavailable(
        what + " failed (exit " +
        (r.signal ? "by signal " + std::to_string(r.signal) : std::to_string(r.exit_code)) +
        "): " + PgBackRestError(r.output));
  return std::move(r.output);
}

Status PgBackRest::EnsureStanza() const {
  MILLRACE_ASSIGN_OR_RETURN(PgBackupRepository repo, Info());
  if (repo.status_code == 0 || repo.status_code == 2) return Status::Ok();  // 2: no backups yet
  return Run({"--log-level-console=warn", "stanza-create"}).status();
}

Result<PgBackupRepository> PgBackRest::Info() const {
  // Only the JSON on the output (a warning would come before it); an error still shows.
  MILLRACE_ASSIGN_OR_RETURN(
      std::string out,
      Run({"--log-level-console=off", "--log-level-stderr=error", "--output=json", "info"}));
  return ParsePgBackRestInfo(out, o_.stanza);
}

Result<PgBackup> PgBackRest::Backup(const std::string& type,
                                    const std::function<void(double)>& progress,
                                    const std::function<bool()>& stop) const {
  if (type != "full" && type != "diff" && type != "incr")
    return Status::InvalidArgument("pgbackrest backup type '" + type +
                                   "': expected full, diff or incr");
  std::string label;
  MILLRACE_RETURN_IF_ERROR(Run(
                               {"--log-level-console=detail", "--type=" + type, "backup"},
                               [&](std::string_view line) {
                                 if (auto p = ParsePgBackRestProgress(line); p && progress)
                                   progress(*p);
                                 const auto at = line.find("new backup label = ");
                                 if (at != std::string_view::npos)
                                   label = std::string(line.substr(at + 19));
                               },
                               stop)
                               .status());
  if (label.empty())
    return Status::Corruption("pgbackrest backup succeeded but named no new backup");
  MILLRACE_ASSIGN_OR_RETURN(PgBackupRepository repo, Info());
  for (const PgBackup& b : repo.backups)
    if (b.label == label) return b;
  return Status::NotFound("pgbackrest info does not list the new backup " + label +
                          " (expired at once? see repo1-retention-full)");
}

}  // namespace millrace::central
