// BackupStore: where central keeps the sites' backups, as objects named by keys
// ("<tenant>/<site>/<name>"). An object is written by a resumable upload: the upload
// appends to a part of its key at exactly the offset the part has reached (so a link cut
// mid-upload resumes where the part ends, and a chunk sent twice is refused rather than
// written twice), is checked by a SHA-256 over the whole part, and becomes the object by
// one commit. A crash leaves a part or a whole object, never half an object under the key.
//
// DirectoryBackupStore keeps objects as files under a directory (parts as "<key>.part");
// an S3-compatible store implements the same calls with a multipart upload per part.
//
// Thread-safety: every call from any thread; one key's part is written by one caller at a
// time (a site's sync requests are answered in order).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "millrace/common/status.h"

namespace millrace::central {

struct StoredObject {
  std::string key;
  std::uint64_t bytes = 0;
  std::int64_t modified_ms = 0;  // Unix ms
};

class BackupStore {
 public:
  virtual ~BackupStore() = default;

  // The bytes the key's part holds; 0 when there is none.
  virtual Result<std::uint64_t> PartSize(const std::string& key) = 0;
  // Appends `data` to the key's part (made when absent) and makes it durable.
  // FailedPrecondition, naming the part's size, when `offset` is not where the part ends.
  virtual Status AppendPart(const std::string& key, std::uint64_t offset,
                            std::string_view data) = 0;
  // The SHA-256 of the part as it stands, in lowercase hex. NotFound without a part.
  virtual Result<std::string> PartSha256(const std::string& key) = 0;
  // The part becomes the key's object (replacing one of the same key). NotFound without a
  // part.
  virtual Status CommitPart(const std::string& key) = 0;
  // Throws the key's part away (none: nothing to do).
  virtual Status DropPart(const std::string& key) = 0;

  // The objects whose keys start with `prefix` (parts are not objects), sorted by key.
  virtual Result<std::vector<StoredObject>> List(const std::string& prefix) = 0;
  // Copies the object to a local file (written whole or not at all). NotFound without it.
  virtual Status Fetch(const std::string& key, const std::string& local_path) = 0;
  // NotFound when there is no such object.
  virtual Status Delete(const std::string& key) = 0;
};

// InvalidArgument, naming what is wrong, unless `key` is 1 to 4 segments joined by '/',
// each of 1 to 128 characters from [A-Za-z0-9._-] and not starting with '.', and does not
// end in ".part". Every store checks the keys it is given.
Status CheckBackupKey(const std::string& key);

// A store under `dir` (created when missing, 0700).
Result<std::unique_ptr<BackupStore>> OpenDirectoryBackupStore(const std::string& dir);

}  // namespace millrace::central
