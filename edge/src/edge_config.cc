#include "millrace/edge/edge_config.h"

#include "millrace/common/daemon_config.h"

namespace millrace::edge {

bool IsValidSiteId(const std::string& id) {
  if (id.empty() || id.size() > 32 || id.front() == '-') return false;
  for (char c : id) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return true;
}

Result<EdgeConfig> LoadEdgeConfig(const std::string& path) {
  MILLRACE_ASSIGN_OR_RETURN(ConfigFile file, ConfigFile::Load(path));
  EdgeConfig c;
  c.http.port = 8080;
  // Terminal handlers wait until their write is durable, and only requests in flight can
  // share a group commit: the thread count bounds both (measured: 2 threads 2.2k writes/s,
  // 16 threads 4.5k writes/s at 16 clients, tests/bench/edge_bench.cc).
  c.http.threads = 16;
  c.log.program = "mes-edge";
  MILLRACE_ASSIGN_OR_RETURN(c.site_id, file.GetString("site.id"));
  if (!IsValidSiteId(c.site_id)) {
    return file.Invalid("site.id",
                        "must be 1..32 characters of a-z, 0-9 and '-', got \"" + c.site_id + "\"");
  }
  MILLRACE_ASSIGN_OR_RETURN(c.store_path, file.GetString("store.path"));
  if (c.store_path.empty()) return file.Invalid("store.path", "must not be empty");
  std::string beside = c.store_path.find('/') == std::string::npos
                           ? "backups"
                           : c.store_path.substr(0, c.store_path.rfind('/')) + "/backups";
  MILLRACE_ASSIGN_OR_RETURN(c.backup_dir, file.GetString("backup.dir", beside));
  MILLRACE_ASSIGN_OR_RETURN(double interval, file.GetDouble("backup.interval_minutes", 60));
  if (interval < 0 || interval > 7 * 24 * 60) {
    return file.Invalid("backup.interval_minutes", "expected 0 (off) to 10080 minutes");
  }
  MILLRACE_ASSIGN_OR_RETURN(auto keep, file.GetInt("backup.keep", 24, 1, 10000));
  c.backup_interval_minutes = interval;
  c.backup_keep = static_cast<int>(keep);
  MILLRACE_RETURN_IF_ERROR(ReadHttpSection(file, &c.http));
  MILLRACE_RETURN_IF_ERROR(ReadLogSection(file, &c.log));
  MILLRACE_RETURN_IF_ERROR(file.Finish());
  return c;
}

}  // namespace millrace::edge
