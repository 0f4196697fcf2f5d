#include "millrace/edge/disk_usage.h"

#include <sys/statvfs.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace millrace::edge {

Result<DiskUsage> StoreDiskUsage(const std::string& db_path) {
  namespace fs = std::filesystem;
  DiskUsage out;
  for (const char* suffix : {"", "-wal", "-shm"}) {
    std::error_code ec;
    const auto size = fs::file_size(db_path + suffix, ec);
    if (!ec) out.store_bytes += static_cast<std::int64_t>(size);
  }
  fs::path dir = fs::path(db_path).parent_path();
  if (dir.empty()) dir = ".";
  struct statvfs st {};
  if (statvfs(dir.c_str(), &st) != 0)
    return Status::IOError("cannot examine the file system of " + dir.string() + ": " +
                           std::strerror(errno));
  out.disk_free_bytes =
      static_cast<std::int64_t>(st.f_bavail) * static_cast<std::int64_t>(st.f_frsize);
  out.disk_total_bytes =
      static_cast<std::int64_t>(st.f_blocks) * static_cast<std::int64_t>(st.f_frsize);
  return out;
}

}  // namespace millrace::edge
