#include "millrace/sync/site_keys.h"

#include <cstdio>
#include <filesystem>

#include "millrace/common/files.h"

namespace millrace::sync {

FileSiteKeys::FileSiteKeys(std::string secret_path, std::string public_path)
    : secret_path_(std::move(secret_path)), public_path_(std::move(public_path)) {}

bool FileSiteKeys::HasNextKeyPair() const {
  std::error_code ec;
  return std::filesystem::exists(secret_path_ + ".next", ec);
}

Result<CurveKeyPair> FileSiteKeys::CurrentKeyPair() {
  MILLRACE_ASSIGN_OR_RETURN(std::string secret, ReadKeyFile(secret_path_, true));
  MILLRACE_ASSIGN_OR_RETURN(std::string pub, CurvePublicKey(secret));
  return CurveKeyPair{pub, secret};
}

Result<CurveKeyPair> FileSiteKeys::NextKeyPair() {
  if (HasNextKeyPair()) {
    MILLRACE_ASSIGN_OR_RETURN(std::string secret, ReadKeyFile(secret_path_ + ".next", true));
    MILLRACE_ASSIGN_OR_RETURN(std::string pub, CurvePublicKey(secret));
    return CurveKeyPair{pub, secret};
  }
  MILLRACE_ASSIGN_OR_RETURN(CurveKeyPair next, GenerateCurveKeyPair());
  MILLRACE_RETURN_IF_ERROR(WriteKeyFile(secret_path_ + ".next", next.secret_key, true));
  return next;
}

Status FileSiteKeys::PromoteNextKeyPair() {
  MILLRACE_ASSIGN_OR_RETURN(CurveKeyPair next, NextKeyPair());
  // The public key first: it is derived from the secret, so a crash between the two leaves
  // a site.pub that matches the pending secret, which is promoted at the next attempt.
  if (!public_path_.empty()) MILLRACE_RETURN_IF_ERROR(WriteKeyFile(public_path_, next.public_key, false));
  if (std::rename((secret_path_ + ".next").c_str(), secret_path_.c_str()) != 0)
    return Status::IOError("cannot replace " + secret_path_ + " with the next key");
  return FsyncParentDirectory(secret_path_);
}

}  // namespace millrace::sync
