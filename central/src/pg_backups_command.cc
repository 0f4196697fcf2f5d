#include "pg_backups_command.h"

#include <ctime>
#include <iostream>
#include <nlohmann/json.hpp>

#include "millrace/central/central_config.h"
#include "millrace/central/pgbackrest.h"
#include "millrace/common/logging.h"

namespace millrace::central {
namespace {

int Fail(const Status& s) {
  std::cerr << "mes-central pg-backups: " << s.ToString() << "\n";
  return s.code() == StatusCode::kInvalidArgument ? 2 : 1;
}

std::string Utc(std::int64_t s) {
  const std::time_t t = s;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char out[32];
  std::strftime(out, sizeof out, "%Y-%m-%d %H:%M:%S+00", &tm);
  return out;
}

}  // namespace

void AddPgBackupsCommand(CLI::App& app, PgBackupsCommand* c) {
  c->root = app.add_subcommand(
      "pg-backups",
      "The backups pgBackRest keeps of central's PostgreSQL cluster ([pg_backup] in the config), "
      "oldest first: label, type, when it ran, its size and what it added to the repository; "
      "then the earliest time a point-in-time restore can reach");
  c->root->add_option("-c,--config", c->config_path, "mes-central configuration file (TOML)")
      ->required()
      ->check(CLI::ExistingFile);
  c->root->add_flag("--json", c->json, "The repository as one JSON object");
}

int RunPgBackupsCommand(const PgBackupsCommand& c) {
  (void)InitLogging({.level = "warn", .format = "human", .program = "mes-central"});
  auto config = LoadCentralConfig(c.config_path);
  if (!config.ok()) return Fail(config.status());
  if (!config->pg_backup.enabled)
    return Fail(Status::FailedPrecondition(c.config_path + " has no [pg_backup] section"));
  const PgBackRest pgbackrest(config->pg_backup.jobs.pgbackrest);
  auto repo = pgbackrest.Info();
  if (!repo.ok()) return Fail(repo.status());
  if (c.json) {
    nlohmann::json j = {{"status", repo->status},
                        {"status_code", repo->status_code},
                        {"backup_running", repo->backup_running},
                        {"wal_min", repo->wal_min},
                        {"wal_max", repo->wal_max},
                        {"backups", nlohmann::json::array()}};
    for (const PgBackup& b : repo->backups)
      j["backups"].push_back({{"label", b.label},
                              {"type", b.type},
                              {"prior", b.prior},
                              {"started_s", b.started_s},
                              {"stopped_s", b.stopped_s},
                              {"size_bytes", b.size_bytes},
                              {"repo_bytes", b.repo_bytes},
                              {"wal_start", b.wal_start},
                              {"wal_stop", b.wal_stop},
                              {"error", b.error}});
    std::cout << j.dump() << "\n";
    return 0;
  }
  for (const PgBackup& b : repo->backups)
    std::cout << b.label << "\t" << b.type << "\t" << Utc(b.started_s) << " .. " << Utc(b.stopped_s)
              << "\t" << b.size_bytes << " bytes (" << b.repo_bytes << " added)"
              << (b.error ? "\tCHECKSUM ERRORS" : "") << "\n";
  if (repo->backups.empty()) {
    std::cerr << "no backups (" << repo->status << ")\n";
    return 0;
  }
  std::cout << "a point-in-time restore reaches from " << Utc(repo->backups.front().stopped_s)
            << " to the newest archived WAL (" << repo->wal_max << ")"
            << (repo->backup_running ? "; a backup is running" : "") << "\n";
  return 0;
}

}  // namespace millrace::central
