// The configuration reference: every key a daemon's loader reads, with its type, default
// and range taken from the loader's own calls (ConfigFile::reads()) and what it means from
// a table beside the loader. The reference cannot drift from the code: a key read but not
// described, or described but no longer read, is an error, and a test holds the published
// reference (deploy/config/README.md) to what the binaries print.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "millrace/common/config.h"
#include "millrace/common/status.h"

namespace millrace {

struct ConfigKeyDoc {
  constexpr ConfigKeyDoc(std::string_view k, std::string_view d, std::string_view def = {})
      : key(k), doc(d), default_text(def) {}
  std::string_view key;           // "backup.keep"
  std::string_view doc;           // what it does, its unit, any rule the range cannot say
  std::string_view default_text;  // says the default when the loader works it out (a path
                                  // beside the store); empty: the loader's fallback
};

// What [http] and [log] mean, for every daemon (daemon_config.h reads them).
std::span<const ConfigKeyDoc> DaemonSectionDocs();

// Markdown for one daemon: `heading` (a level-2 title), `intro`, then a level-3 section per
// TOML table in the order the loader reads them, one item per key. InvalidArgument naming
// every key read but not in `docs`, and every key in `docs` the loader never read.
Result<std::string> ConfigReference(std::string_view heading, std::string_view intro,
                                    const std::vector<ConfigKeyRead>& reads,
                                    const std::vector<std::span<const ConfigKeyDoc>>& docs);

}  // namespace millrace
