// `<daemon> config check FILE` and `<daemon> config reference`, the same for every daemon:
// each supplies how to check a file and how to print its part of the reference.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>

#include "millrace/common/status.h"

namespace millrace {

struct ConfigCommand {
  CLI::App* root = nullptr;
  CLI::App* check = nullptr;
  CLI::App* reference = nullptr;
  std::string file;
};

void AddConfigCommand(CLI::App& app, ConfigCommand* cmd);

// Runs the subcommand given. `check(file)` returns a summary of what the daemon would do with
// the file (printed after "<file>: ok"), or the first thing wrong with it (exit 2).
// REQUIRES: *cmd.root.
int RunConfigCommand(const ConfigCommand& cmd, const std::string& program,
                     const std::function<Result<std::string>(const std::string&)>& check,
                     const std::function<Result<std::string>()>& reference);

// A file a config names must be there and readable; the error names the key and the file.
Status CheckReadableFile(const std::string& config_name, const std::string& key,
                         const std::string& path);

}  // namespace millrace
