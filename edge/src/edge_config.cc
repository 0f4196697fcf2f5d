#include "millrace/edge/edge_config.h"

#include "millrace/common/daemon_config.h"
#include "millrace/common/http_client.h"

namespace millrace::edge {

Result<EdgeConfig> LoadEdgeConfig(const std::string& path) {
  MILLRACE_ASSIGN_OR_RETURN(ConfigFile file, ConfigFile::Load(path));
  return ReadEdgeConfig(file);
}

Result<EdgeConfig> ReadEdgeConfig(ConfigFile& file) {
  const std::string& path = file.name();
  EdgeConfig c;
  c.http.port = 8080;
  // No I/O thread waits for a commit (the store's writer answers writes) or a PIN hash (a
  // thread of its own): a few threads carry the reads, which run on them (measured at 16
  // clients: 2 threads 5.6k writes/s, 4 threads 5.2k, 16 threads 5.1k, with more CPU
  // spent switching between them; tests/bench/edge_bench.cc).
  c.http.threads = 4;
  c.log.program = "mes-edge";
  MILLRACE_ASSIGN_OR_RETURN(c.site_id, file.GetString("site.id"));
  if (!IsValidSiteId(c.site_id)) {
    return file.Invalid("site.id",
                        "must be 1..32 characters of a-z, 0-9 and '-', got \"" + c.site_id + "\"");
  }
  MILLRACE_ASSIGN_OR_RETURN(std::string zone, file.GetString("site.time_zone", "UTC"));
  auto loaded = TimeZone::Load(zone);
  if (!loaded.ok()) return file.Invalid("site.time_zone", loaded.status().message());
  c.time_zone = *loaded;
  // Files named in the config are relative to the config's directory.
  const std::string dir = path.find('/') == std::string::npos ? "." : path.substr(0, path.rfind('/'));
  auto resolve = [&](const std::string& p) { return p.empty() || p[0] == '/' ? p : dir + "/" + p; };
  MILLRACE_ASSIGN_OR_RETURN(c.store_path, file.GetString("store.path"));
  if (c.store_path.empty()) return file.Invalid("store.path", "must not be empty");
  c.store_path = resolve(c.store_path);
  std::string beside = c.store_path.find('/') == std::string::npos
                           ? "backups"
                           : c.store_path.substr(0, c.store_path.rfind('/')) + "/backups";
  MILLRACE_ASSIGN_OR_RETURN(c.backup_dir, file.GetString("backup.dir", beside));
  c.backup_dir = resolve(c.backup_dir);
  MILLRACE_ASSIGN_OR_RETURN(double interval, file.GetDouble("backup.interval_minutes", 60));
  if (interval < 0 || interval > 7 * 24 * 60) {
    return file.Invalid("backup.interval_minutes", "expected 0 (off) to 10080 minutes");
  }
  MILLRACE_ASSIGN_OR_RETURN(auto keep, file.GetInt("backup.keep", 24, 1, 10000));
  c.backup_interval_minutes = interval;
  c.backup_keep = static_cast<int>(keep);
  MILLRACE_ASSIGN_OR_RETURN(c.backup_ship, file.GetBool("backup.ship", true));
  MILLRACE_ASSIGN_OR_RETURN(auto chunk, file.GetInt("backup.ship_chunk_kib", 512, 4, 4096));
  c.backup_ship_chunk_kib = static_cast<int>(chunk);
  MILLRACE_ASSIGN_OR_RETURN(auto keep_facts,
                            file.GetInt("retention.keep_facts_days", 365, 0, 100 * 365));
  if (keep_facts > 0 && keep_facts < 7)
    return file.Invalid("retention.keep_facts_days",
                        "expected 0 (keep every fact) or at least 7 days");
  c.keep_facts_days = static_cast<int>(keep_facts);
  MILLRACE_ASSIGN_OR_RETURN(double purge_every,
                            file.GetDouble("retention.purge_interval_minutes", 60));
  if (purge_every <= 0 || purge_every > 7 * 24 * 60)
    return file.Invalid("retention.purge_interval_minutes", "expected more than 0, up to 10080");
  c.purge_interval_minutes = purge_every;
  MILLRACE_ASSIGN_OR_RETURN(c.clock_offset_file, file.GetString("clock.offset_file", ""));
  c.clock_offset_file = resolve(c.clock_offset_file);
  if (file.Has("sync")) {
    EdgeSyncConfig& y = c.sync;
    y.enabled = true;
    MILLRACE_ASSIGN_OR_RETURN(y.endpoints, file.GetStringList("sync.endpoints"));
    if (y.endpoints.empty()) return file.Invalid("sync.endpoints", "name at least one central");
    for (const auto& e : y.endpoints)
      if (e.rfind("tcp://", 0) != 0)
        return file.Invalid("sync.endpoints", "expected tcp://host:port, got \"" + e + "\"");
    MILLRACE_ASSIGN_OR_RETURN(y.insecure_development,
                              file.GetBool("sync.insecure_development", false));
    MILLRACE_ASSIGN_OR_RETURN(y.secret_key_file, file.GetString("sync.secret_key_file", ""));
    MILLRACE_ASSIGN_OR_RETURN(y.central_public_key_file,
                              file.GetString("sync.central_public_key_file", ""));
    MILLRACE_ASSIGN_OR_RETURN(y.snapshot_file, file.GetString("sync.snapshot_file", ""));
    y.snapshot_file = resolve(y.snapshot_file);
    y.secret_key_file = resolve(y.secret_key_file);
    y.central_public_key_file = resolve(y.central_public_key_file);
    if (!y.insecure_development && (y.secret_key_file.empty() || y.central_public_key_file.empty()))
      return file.Invalid("sync.secret_key_file",
                          "Curve keys are required (secret_key_file and central_public_key_file) "
                          "unless insecure_development = true");
    MILLRACE_ASSIGN_OR_RETURN(y.enrollment_code, file.GetString("sync.enrollment_code", ""));
    MILLRACE_ASSIGN_OR_RETURN(y.enroll_url, file.GetString("sync.enroll_url", ""));
    if (!y.enrollment_code.empty() && (y.enroll_url.rfind("http://", 0) != 0 || !ParseHttpUrl(y.enroll_url).ok()))
      return file.Invalid("sync.enroll_url",
                          "an enrollment code needs central's HTTP address, http://host:port, got \"" +
                              y.enroll_url + "\"");
    MILLRACE_ASSIGN_OR_RETURN(auto rows, file.GetInt("sync.batch_rows", 5000, 1, 50000));
    MILLRACE_ASSIGN_OR_RETURN(auto window, file.GetInt("sync.window", 4, 1, 64));
    y.batch_rows = static_cast<int>(rows);
    y.window = static_cast<int>(window);
    MILLRACE_ASSIGN_OR_RETURN(auto keep_acked,
                              file.GetInt("sync.keep_acked_hours", 24, 0, 24 * 90));
    y.keep_acked_hours = static_cast<int>(keep_acked);
  }
  MILLRACE_RETURN_IF_ERROR(ReadHttpSection(file, &c.http));
  MILLRACE_RETURN_IF_ERROR(ReadLogSection(file, &c.log));
  MILLRACE_RETURN_IF_ERROR(file.Finish());
  return c;
}

}  // namespace millrace::edge
