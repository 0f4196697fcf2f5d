// `mes-central put` and `mes-central delete`: central's writes of master data and shared
// rows from the command line (mes_central_main.cc wires them in and supplies who writes).
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

#include "millrace/central/central_audit.h"

namespace millrace::central {

struct RowsCommand {
  CLI::App* put = nullptr;
  CLI::App* del = nullptr;
  std::string tenant, table, rows_file;
  std::vector<std::string> ids;
};

// Adds both commands; `common` adds the options every central write takes (--config,
// --actor, --reason).
void AddRowsCommands(CLI::App& app, RowsCommand* cmd,
                     const std::function<void(CLI::App*)>& common);
// Runs whichever of them was given. REQUIRES: *cmd.put or *cmd.del.
int RunRowsCommand(const RowsCommand& cmd, const std::string& config_path,
                   const WriteContext& who);

}  // namespace millrace::central
