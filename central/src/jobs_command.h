// `mes-central jobs`: list, show, enqueue, retry and cancel jobs of the queue, and list the
// kinds (mes_central_main.cc wires it into the command line).
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>

namespace millrace::central {

struct JobsCommand {
  CLI::App* root = nullptr;
  CLI::App *list = nullptr, *show = nullptr, *enqueue = nullptr, *retry = nullptr,
           *cancel = nullptr, *kinds = nullptr;
  std::string config_path;
  std::string tenant, state, kind, payload = "{}", actor;
  std::int64_t id = 0, before = 0;
  int limit = 50, priority = 0, max_attempts = 0;
  bool json = false, wait = false;
};

// Adds `jobs` and its subcommands to `app`; `cmd` keeps what they parse.
void AddJobsCommand(CLI::App& app, JobsCommand* cmd);
// Runs the subcommand given; the process's exit code.
int RunJobsCommand(const JobsCommand& cmd);

}  // namespace millrace::central
