// Command-line parsing shared by the Millrace binaries (CLI11).
#pragma once

#include <CLI/CLI.hpp>
#include <optional>

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

}  // namespace millrace
