// `mes-central retention show|set|run`: a tenant's fact retention, the months exported so
// far, and a run now in this process (mes_central_main.cc wires it into the command line).
#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace millrace::central {

struct RetentionCommand {
  CLI::App* root = nullptr;
  CLI::App* show = nullptr;
  CLI::App* set = nullptr;
  CLI::App* run = nullptr;
  std::string config_path, tenant, actor, reason;
  int months = 0;
  bool keep_all = false, json = false;
};

void AddRetentionCommand(CLI::App& app, RetentionCommand* cmd);
int RunRetentionCommand(const RetentionCommand& cmd);

}  // namespace millrace::central
