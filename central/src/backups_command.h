// `mes-central backups list`: the site backups central keeps, per site, with their state
// and verification (mes_central_main.cc wires it into the command line).
#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace millrace::central {

struct BackupsCommand {
  CLI::App* root = nullptr;
  CLI::App* list = nullptr;
  std::string config_path, tenant, site;
  bool json = false;
};

void AddBackupsCommand(CLI::App& app, BackupsCommand* cmd);
int RunBackupsCommand(const BackupsCommand& cmd);

}  // namespace millrace::central
