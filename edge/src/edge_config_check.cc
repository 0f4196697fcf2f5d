// `mes-edge config check`: the file as serve would read it, and the files it names.
#include <filesystem>

#include "millrace/common/config_command.h"
#include "millrace/edge/edge_config.h"
#include "millrace/sync/transport.h"

namespace millrace::edge {

Result<std::string> CheckEdgeConfig(const std::string& path) {
  MILLRACE_ASSIGN_OR_RETURN(EdgeConfig c, LoadEdgeConfig(path));
  const auto store_dir = std::filesystem::path(c.store_path).parent_path();
  if (!store_dir.empty() && !std::filesystem::is_directory(store_dir))
    return Status::InvalidArgument("config " + path + ": key 'store.path': the directory " +
                                   store_dir.string() + " does not exist");
  for (const auto& [key, file] : {std::pair{"http.tls_cert_file", c.http.tls_cert_file},
                                  std::pair{"http.tls_key_file", c.http.tls_key_file},
                                  std::pair{"sync.snapshot_file", c.sync.snapshot_file}})
    if (!file.empty()) MILLRACE_RETURN_IF_ERROR(CheckReadableFile(path, key, file));
  std::string out = "site " + c.site_id + ", store " + c.store_path + "\nhttp " +
                    (c.http.tls_cert_file.empty() ? "http://" : "https://") + c.http.address +
                    ":" + std::to_string(c.http.port) + "\n";
  if (!c.sync.enabled) return out + "sync: none (the edge works alone)\n";
  std::error_code missing;
  const bool enrolling = !c.sync.enrollment_code.empty() &&
                         !std::filesystem::exists(c.sync.secret_key_file, missing);
  if (enrolling)
    out += "enrollment: the first start makes " + c.sync.secret_key_file +
           " and registers it with the one-time code at " + c.sync.enroll_url + "\n";
  if (!c.sync.insecure_development) {
    auto secret = enrolling ? Result<std::string>(std::string()) : sync::ReadKeyFile(c.sync.secret_key_file, /*secret=*/true);
    if (!secret.ok()) return secret.status().WithContext("config " + path + ": key 'sync.secret_key_file'");
    auto central = sync::ReadKeyFile(c.sync.central_public_key_file, /*secret=*/false);
    if (!central.ok())
      return central.status().WithContext("config " + path + ": key 'sync.central_public_key_file'");
  }
  out += "sync to";
  for (const auto& e : c.sync.endpoints) out += " " + e;
  return out + (c.sync.insecure_development ? " without Curve (development)\n" : " over Curve\n");
}

}  // namespace millrace::edge
