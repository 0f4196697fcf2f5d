#include "millrace/common/config_command.h"

#include <unistd.h>

#include <iostream>

namespace millrace {

void AddConfigCommand(CLI::App& app, ConfigCommand* c) {
  c->root = app.add_subcommand("config", "Check a configuration file, or print every key");
  c->root->require_subcommand(1);
  c->check = c->root->add_subcommand(
      "check",
      "Check a configuration file as the daemon would read it at start (every key's type and "
      "range, unknown keys, the key and certificate files it names and their modes) and say "
      "what it would do; exit 0 when it is good, 2 when it is not");
  c->check->add_option("file", c->file, "The configuration file (TOML)")->required();
  c->reference = c->root->add_subcommand(
      "reference", "Print every configuration key with its type, default, range and meaning "
                   "(Markdown; the same text as deploy/config/README.md)");
}

int RunConfigCommand(const ConfigCommand& c, const std::string& program,
                     const std::function<Result<std::string>(const std::string&)>& check,
                     const std::function<Result<std::string>()>& reference) {
  auto out = *c.check ? check(c.file) : reference();
  if (!out.ok()) {
    std::cerr << program << ": " << out.status().ToString() << "\n";
    return *c.check || out.status().code() == StatusCode::kInvalidArgument ? 2 : 1;
  }
  if (*c.check) std::cout << c.file << ": ok\n";
  std::cout << *out;
  return 0;
}

Status CheckReadableFile(const std::string& config_name, const std::string& key,
                         const std::string& path) {
  if (::access(path.c_str(), R_OK) == 0) return Status::Ok();
  return Status::InvalidArgument("config " + config_name + ": key '" + key + "': " + path +
                                 (::access(path.c_str(), F_OK) == 0 ? " cannot be read"
                                                                    : " does not exist"));
}

}  // namespace millrace
