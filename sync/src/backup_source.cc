#include "millrace/sync/backup_source.h"

namespace millrace::sync {

namespace {

// A compressed store larger than this is not a site backup but a mistake.
constexpr std::uint64_t kMaxBackupBytes = 64ull << 30;

bool IsLowerHex(const std::string& s) {
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

}  // namespace

bool IsValidBackupId(const std::string& id) {
  if (id.empty() || id.size() > 64 || id[0] == '.') return false;
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

Status CheckBackupOffer(const v1::BackupOffer& o) {
  if (!IsValidBackupId(o.backup_id()))
    return Status::InvalidArgument("backup offer: backup_id \"" + o.backup_id() +
                                   "\" must be 1..64 of [A-Za-z0-9._-], not starting with '.'");
  if (o.bytes() == 0 || o.bytes() > kMaxBackupBytes)
    return Status::InvalidArgument("backup offer: bytes " + std::to_string(o.bytes()) +
                                   " is outside 1.." + std::to_string(kMaxBackupBytes));
  if (o.sha256().size() != 64 || !IsLowerHex(o.sha256()))
    return Status::InvalidArgument("backup offer: sha256 must be 64 lowercase hex digits");
  if (o.compression() != "gzip")
    return Status::InvalidArgument("backup offer: compression \"" + o.compression() +
                                   "\" is not supported (expected gzip)");
  if (o.taken_at_ms() <= 0)
    return Status::InvalidArgument("backup offer: taken_at_ms must be a Unix time in ms");
  if (o.store_epoch().empty())
    return Status::InvalidArgument("backup offer: store_epoch is required");
  if (o.schema_version() == 0)
    return Status::InvalidArgument("backup offer: schema_version is required");
  return Status::Ok();
}

}  // namespace millrace::sync
