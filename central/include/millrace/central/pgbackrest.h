// The boundary to pgBackRest, which backs up central's PostgreSQL cluster: WAL archiving
// (PostgreSQL's archive_command runs `pgbackrest archive-push`), full, differential and
// incremental backups into its repository, and the restore to a point in time (run by hand
// with the cluster stopped: see the README). Millrace runs its command line; nothing else
// here knows its options or output.
//
// The command (for example ["runuser", "-u", "postgres", "--", "pgbackrest"]) runs as the
// user that owns the cluster's data directory and the repository, with --config and
// --stanza from PgBackRestOptions.
//
// Thread-safety: a PgBackRest is immutable; calls on different threads are independent
// (pgBackRest itself lets one backup of a stanza run at a time, and refuses a second).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "millrace/common/status.h"

namespace millrace::central {

struct PgBackRestOptions {
  std::vector<std::string> command{"pgbackrest"};
  std::string config;  // pgbackrest.conf
  std::string stanza = "millrace";
  int timeout_minutes = 720;  // a backup running longer is stopped
};

// One backup in the repository, as `pgbackrest info` lists it.
struct PgBackup {
  std::string label;  // e.g. 20261203-124422F_20261203-124434I
  std::string type;   // full, diff or incr
  std::string prior;  // the backup an incremental or differential one builds on
  std::int64_t started_s = 0, stopped_s = 0;  // Unix seconds
  std::int64_t size_bytes = 0;                // the cluster as restored
  std::int64_t repo_bytes = 0;                // what this backup added to the repository
  std::string wal_start, wal_stop;            // its first and last WAL segment
  bool error = false;                         // pgBackRest found a page checksum error
};

struct PgBackupRepository {
  int status_code = 0;  // 0: ok; pgBackRest's stanza status otherwise
  std::string status;   // its message ("ok", "no valid backups", "missing stanza path")
  bool backup_running = false;
  std::vector<PgBackup> backups;  // oldest first
  std::string wal_min, wal_max;   // the archived WAL segments the repository holds
};

// Parses `pgbackrest info --output=json` for `stanza` (Corruption when it is not that).
Result<PgBackupRepository> ParsePgBackRestInfo(std::string_view json, const std::string& stanza);
// The share of a backup done, in percent, from one of its detail lines
// ("... backup file /path (118.4MB, 99.48%) checksum ..."); nullopt for other lines.
std::optional<double> ParsePgBackRestProgress(std::string_view line);
// pgBackRest's error from its output: the first "ERROR: [NNN]: ..." line, or the last line.
std::string PgBackRestError(std::string_view output);

class PgBackRest {
 public:
  explicit PgBackRest(PgBackRestOptions options) : o_(std::move(options)) {}

  // Creates the stanza if the repository has none yet (harmless when it has).
  Status EnsureStanza() const;
  // Backs up the cluster (type full, diff or incr; pgBackRest makes the first one full),
  // calling `progress` with the percent done; `stop` (asked every 200 ms) ends it early,
  // with Unavailable. Returns the backup as the repository lists it.
  Result<PgBackup> Backup(const std::string& type, const std::function<void(double)>& progress,
                          const std::function<bool()>& stop) const;
  Result<PgBackupRepository> Info() const;

  const PgBackRestOptions& options() const { return o_; }

 private:
  // Runs pgbackrest with --config, --stanza and `args`; Unavailable naming its error when it
  // fails.
  Result<std::string> Run(const std::vector<std::string>& args,
                          const std::function<void(std::string_view)>& on_line = nullptr,
                          const std::function<bool()>& stop = nullptr) const;

  PgBackRestOptions o_;
};

}  // namespace millrace::central
