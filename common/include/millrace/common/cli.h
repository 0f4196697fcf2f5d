// Command-line parsing shared by the Millrace binaries (CLI11).
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <string>

#include "millrace/common/catalog.h"
#include "millrace/common/version.h"

namespace millrace {

// Parses argv. Returns nullopt to carry on, or the exit status to return from main:
// 0 after --help/--version, 2 after a usage error (CLI11 has printed the message).
inline std::optional<int> ParseCommandLine(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  return std::nullopt;
}

// What every daemon's `serve` subcommand takes.
struct ServeOptions {
  std::string config_path;
  int http_port = -1;  // -1: as configured
  std::string port_file;
};

// Sets up a daemon's command line: description, "--version" printing the build and the
// catalog fingerprint, a required subcommand, and `serve` with --config, --http-port and
// --port-file. Returns the `serve` subcommand.
inline CLI::App* SetUpDaemonCommandLine(CLI::App& app, const std::string& program,
                                        const std::string& serve_help,
                                        ServeOptions* serve_options) {
  app.set_version_flag("--version", program + " " + kVersion + " (catalog " +
                                        catalog::MesCatalog().FingerprintHex() + ")");
  app.require_subcommand(1);
  app.footer("Run '" + program + " SUBCOMMAND --help' for the options of each subcommand.");
  auto* serve = app.add_subcommand("serve", serve_help);
  serve->add_option("-c,--config", serve_options->config_path, "Configuration file (TOML)")
      ->required()
      ->check(CLI::ExistingFile);
  serve
      ->add_option("--http-port", serve_options->http_port,
                   "Override [http] port (0 picks a free port)")
      ->check(CLI::Range(0, 65535));
  serve->add_option("--port-file", serve_options->port_file,
                    "Write the bound HTTP port to this file once listening");
  return serve;
}

}  // namespace millrace
