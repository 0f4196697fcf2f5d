// `mes-central pg-backups`: the backups pgBackRest keeps of central's PostgreSQL cluster
// ([pg_backup] in the config), oldest first, and the span a point-in-time restore can reach
// (mes_central_main.cc wires it into the command line).
#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace millrace::central {

struct PgBackupsCommand {
  CLI::App* root = nullptr;
  std::string config_path;
  bool json = false;
};

void AddPgBackupsCommand(CLI::App& app, PgBackupsCommand* cmd);
int RunPgBackupsCommand(const PgBackupsCommand& cmd);

}  // namespace millrace::central
