#include "millrace/central/central_config.h"

#include "millrace/common/daemon_config.h"

namespace millrace::central {

Result<CentralConfig> LoadCentralConfig(const std::string& path) {
  MILLRACE_ASSIGN_OR_RETURN(ConfigFile file, ConfigFile::Load(path));
  CentralConfig c;
  c.http.port = 8090;
  c.http.threads = 2;
  c.log.program = "mes-central";
  MILLRACE_ASSIGN_OR_RETURN(c.database_url, file.GetString("database.url"));
  if (c.database_url.empty()) return file.Invalid("database.url", "must not be empty");
  MILLRACE_RETURN_IF_ERROR(ReadHttpSection(file, &c.http));
  MILLRACE_RETURN_IF_ERROR(ReadLogSection(file, &c.log));
  MILLRACE_RETURN_IF_ERROR(file.Finish());
  return c;
}

}  // namespace millrace::central
