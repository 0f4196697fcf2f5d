#include "millrace/edge/backup_shipping.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <vector>

#include "millrace/common/digest.h"
#include "millrace/common/files.h"
#include "millrace/common/gzip.h"
#include "millrace/common/sqlite.h"
#include "millrace/edge/store_epoch.h"

namespace millrace::edge {
namespace fs = std::filesystem;

namespace {

// "edge-<site>-<stamp>.db" -> "<stamp>".
Result<std::string> IdOf(const std::string& backup_path) {
  std::string name = fs::path(backup_path).filename().string();
  const auto dash = name.rfind('-', name.size() >= 4 ? name.size() - 4 : 0);
  if (name.size() < 4 || name.rfind("edge-", 0) != 0 || name.substr(name.size() - 3) != ".db" ||
      dash == std::string::npos)
    return Status::InvalidArgument(backup_path + " is not named edge-<site>-<stamp>.db");
  std::string id = name.substr(dash + 1, name.size() - 3 - dash - 1);
  if (!sync::IsValidBackupId(id))
    return Status::InvalidArgument(backup_path + ": \"" + id + "\" cannot name a backup");
  return id;
}

}  // namespace

OutgoingBackups::OutgoingBackups(std::string dir) : dir_(std::move(dir)) {}

Result<sync::v1::BackupOffer> OutgoingBackups::Stage(const std::string& backup_path) {
  MILLRACE_ASSIGN_OR_RETURN(std::string id, IdOf(backup_path));
  sync::v1::BackupOffer offer;
  offer.set_backup_id(id);
  offer.set_compression("gzip");
  {
    MILLRACE_ASSIGN_OR_RETURN(SqliteDb db, SqliteDb::OpenReadOnly(backup_path));
    MILLRACE_ASSIGN_OR_RETURN(auto version, db.QueryInt("PRAGMA user_version"));
    MILLRACE_ASSIGN_OR_RETURN(StoreEpoch epoch, ReadStoreEpoch(db));
    offer.set_schema_version(static_cast<std::uint32_t>(version));
    offer.set_store_epoch(epoch.id);
  }
  std::error_code ec;
  offer.set_raw_bytes(static_cast<std::uint64_t>(fs::file_size(backup_path, ec)));
  if (ec) return Status::IOError("cannot stat " + backup_path + ": " + ec.message());
  // Staged as soon as it is written: the copy's time, to the second.
  offer.set_taken_at_ms(std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count());
  fs::create_directories(dir_, ec);
  if (ec) return Status::IOError("cannot create " + dir_ + ": " + ec.message());
  // Compressed and described outside the lock: the sync client keeps shipping meanwhile.
  MILLRACE_ASSIGN_OR_RETURN(std::uint64_t bytes, GzipFile(backup_path, GzPath(id) + ".staging"));
  MILLRACE_ASSIGN_OR_RETURN(std::string sha, FileSha256Hex(GzPath(id) + ".staging"));
  offer.set_bytes(bytes);
  offer.set_sha256(sha);
  std::lock_guard lock(mu_);
  fs::rename(GzPath(id) + ".staging", GzPath(id), ec);
  if (ec) return Status::IOError("cannot rename into " + GzPath(id) + ": " + ec.message());
  // The description last: a staged copy without one is not offered (and is cleared).
  MILLRACE_RETURN_IF_ERROR(WriteFileAtomically(OfferPath(id), offer.SerializeAsString(), 0600));
  for (const auto& entry : fs::directory_iterator(dir_, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(id + ".", 0) == 0 || (!shipping_.empty() && name.rfind(shipping_ + ".", 0) == 0))
      continue;
    fs::remove(entry.path(), ec);  // older staged copies: only the newest is worth shipping
  }
  return offer;
}

Result<std::optional<sync::v1::BackupOffer>> OutgoingBackups::Pending() {
  std::lock_guard lock(mu_);
  std::error_code ec;
  if (!fs::exists(dir_, ec)) return std::optional<sync::v1::BackupOffer>();
  std::vector<std::string> offers;
  for (const auto& entry : fs::directory_iterator(dir_, ec))
    if (entry.path().extension() == ".offer") offers.push_back(entry.path().stem().string());
  if (ec) return Status::IOError("cannot list " + dir_ + ": " + ec.message());
  std::sort(offers.begin(), offers.end());
  // The one being shipped first (its upload resumes), then the newest.
  if (auto it = std::find(offers.begin(), offers.end(), shipping_); it != offers.end())
    std::rotate(it, it + 1, offers.end());
  while (!offers.empty()) {
    const std::string id = offers.back();
    offers.pop_back();
    auto bytes = ReadFile(OfferPath(id));
    sync::v1::BackupOffer offer;
    if (bytes.ok() && offer.ParseFromString(*bytes) && offer.backup_id() == id &&
        fs::file_size(GzPath(id), ec) == offer.bytes() && !ec) {
      shipping_ = id;  // about to be offered: a backup staged meanwhile does not replace it
      return std::optional<sync::v1::BackupOffer>(std::move(offer));
    }
    spdlog::warn(
        "backup shipping: dropping staged backup {} in {} (its copy or description is "
        "damaged or missing)",
        id, dir_);
    Remove(id);
  }
  return std::optional<sync::v1::BackupOffer>();
}

Result<std::string> OutgoingBackups::Read(const std::string& id, std::uint64_t offset,
                                          std::size_t max) {
  if (!sync::IsValidBackupId(id)) return Status::InvalidArgument("no backup is named " + id);
  const std::string path = GzPath(id);
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::IOError("cannot open " + path + ": " + std::strerror(errno));
  std::string out(max, '\0');
  std::size_t got = 0;
  while (got < max) {
    const ssize_t r = ::pread(fd, out.data() + got, max - got, static_cast<off_t>(offset + got));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      const int err = errno;
      ::close(fd);
      return Status::IOError("cannot read " + path + ": " + std::strerror(err));
    }
    if (r == 0) break;
    got += static_cast<std::size_t>(r);
  }
  ::close(fd);
  out.resize(got);
  return out;
}

Status OutgoingBackups::Shipped(const std::string& id) {
  std::lock_guard lock(mu_);
  Remove(id);
  return Status::Ok();
}

Status OutgoingBackups::Refused(const std::string& id, const std::string& reason) {
  spdlog::error(
      "backup shipping: central refused site backup {} ({}); the next scheduled "
      "backup replaces it",
      id, reason);
  std::lock_guard lock(mu_);
  Remove(id);
  return Status::Ok();
}

void OutgoingBackups::Remove(const std::string& id) {
  if (id == shipping_) shipping_.clear();
  std::error_code ec;
  fs::remove(OfferPath(id), ec);
  fs::remove(GzPath(id), ec);
}

}  // namespace millrace::edge
