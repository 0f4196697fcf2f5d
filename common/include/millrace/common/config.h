// ConfigFile: reads a TOML file and hands out typed, validated values by dotted key.
//
// Every error names the file and the key ("edge.toml: key 'http.port': expected an
// integer in 1..65535, got 70000"). Finish() reports keys nobody asked for, so a typo
// such as 'htpp.port' is an error instead of a silently ignored setting.
//
// Every key a getter is asked for is recorded with its type, default and range (reads()),
// so the configuration reference is made from the very calls that read the file
// (config_reference.h).
//
// Thread-safety: not thread-safe; load config once at start-up.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "millrace/common/status.h"

namespace millrace {

// One key as a loader asked for it.
struct ConfigKeyRead {
  std::string key;       // "http.port"
  std::string type;      // "integer", "number", "string", "boolean", "list of strings"
  std::string fallback;  // the default, as TOML text; empty when required
  bool required = false;
  std::string allowed;   // "0..65535", or "human, json"; empty when any value of the type
};

// `s` as a TOML basic string, quoted and escaped (for files Millrace writes).
std::string TomlQuote(std::string_view s);

class ConfigFile {
 public:
  ~ConfigFile();
  ConfigFile(ConfigFile&&) noexcept;
  ConfigFile& operator=(ConfigFile&&) noexcept;
  ConfigFile(const ConfigFile&) = delete;
  ConfigFile& operator=(const ConfigFile&) = delete;

  static Result<ConfigFile> Load(const std::string& path);
  // `name` stands in for the file name in messages.
  static Result<ConfigFile> Parse(std::string_view toml_text, const std::string& name);

  const std::string& name() const { return name_; }
  bool Has(std::string_view key) const;
  // The names directly under table `key` (sorted; none when it is absent or not a table),
  // for files whose keys are data, such as a map of tenants. Reading them does not mark
  // them read: each still has to be asked for with a getter.
  std::vector<std::string> Keys(std::string_view key) const;

  // Each getter returns the value, the fallback when the key is absent, or an error
  // naming file and key when the value has the wrong type or is out of range.
  Result<std::string> GetString(std::string_view key, std::optional<std::string> fallback = {});
  Result<std::int64_t> GetInt(std::string_view key, std::optional<std::int64_t> fallback,
                              std::int64_t min, std::int64_t max);
  Result<double> GetDouble(std::string_view key, std::optional<double> fallback);
  Result<bool> GetBool(std::string_view key, std::optional<bool> fallback = {});
  Result<std::vector<std::string>> GetStringList(
      std::string_view key, std::optional<std::vector<std::string>> fallback = {});
  // A string that must be one of `allowed`.
  Result<std::string> GetEnum(std::string_view key, const std::vector<std::string>& allowed,
                              std::optional<std::string> fallback = {});

  // An error for `key` in this file's voice, for checks the getters cannot express.
  Status Invalid(std::string_view key, std::string_view why) const;
  // InvalidArgument if the file holds keys that were never read.
  Status Finish() const;
  // The keys asked for so far, first read first (a key asked for again keeps its first entry).
  const std::vector<ConfigKeyRead>& reads() const { return reads_; }

 private:
  struct Impl;
  ConfigFile(std::string name, std::unique_ptr<Impl> impl);
  std::string name_;
  std::unique_ptr<Impl> impl_;
  void Record(ConfigKeyRead r);
  std::set<std::string, std::less<>> read_;
  std::vector<ConfigKeyRead> reads_;
};

}  // namespace millrace
