#include "millrace/central/backup_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "millrace/common/digest.h"
#include "millrace/common/files.h"

namespace millrace::central {
namespace fs = std::filesystem;

namespace {

constexpr const char* kPartSuffix = ".part";

std::string Errno(const std::string& what) {
  return what + ": " + std::strerror(errno);
}

// Closes a descriptor when it goes out of scope.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

class DirectoryBackupStore final : public BackupStore {
 public:
  explicit DirectoryBackupStore(fs::path root) : root_(std::move(root)) {}

  Result<std::uint64_t> PartSize(const std::string& key) override {
    MILLRACE_RETURN_IF_ERROR(CheckBackupKey(key));
    std::error_code ec;
    const auto size = fs::file_size(Part(key), ec);
    if (ec == std::errc::no_such_file_or_directory) return std::uint64_t{0};
    if (ec) return Status::IOError("backup part " + key + ": " + ec.message());
    return static_cast<std::uint64_t>(size);
  }

  Status AppendPart(const std::string& key, std::uint64_t offset, std::string_view data) override {
    MILLRACE_RETURN_IF_ERROR(CheckBackupKey(key));
    const fs::path part = Part(key);
    std::error_code ec;
    fs::create_directories(part.parent_path(), ec);
    if (ec)
      return Status::IOError("cannot create " + part.parent_path().string() + ": " + ec.message());
    Fd f{::open(part.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600)};
    if (f.fd < 0) return Status::IOError(Errno("cannot open " + part.string()));
    struct stat st {};
    if (::fstat(f.fd, &st) != 0) return Status::IOError(Errno("cannot stat " + part.string()));
    if (static_cast<std::uint64_t>(st.st_size) != offset)
      return Status::FailedPrecondition("backup part " + key + " holds " +
                                        std::to_string(st.st_size) + " bytes, not " +
                                        std::to_string(offset));
    std::size_t written = 0;
    while (written < data.size()) {
      const ssize_t n = ::pwrite(f.fd, data.data() + written, data.size() - written,
                                 static_cast<off_t>(offset + written));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        const std::string why = Errno("writing " + part.string());
        (void)::ftruncate(f.fd, static_cast<off_t>(offset));  // the part ends where it did
        return Status::IOError(why);
      }
      written += static_cast<std::size_t>(n);
    }
    if (::fdatasync(f.fd) != 0) return Status::IOError(Errno("cannot sync " + part.string()));
    if (offset == 0) return FsyncParentDirectory(part.string());  // the new part's name too
    return Status::Ok();
  }

  Result<std::string> PartSha256(const std::string& key) override {
    MILLRACE_RETURN_IF_ERROR(CheckBackupKey(key));
    if (!fs::exists(Part(key))) return Status::NotFound("no backup part " + key);
    return FileSha256Hex(Part(key).string());
  }

  Status CommitPart(const std::string& key) override {
    MILLRACE_RETURN_IF_ERROR(CheckBackupKey(key));
    const fs::path part = Part(key), object = Object(key);
    if (!fs::exists(part)) return Status::NotFound("no backup part " + key);
    MILLRACE_RETURN_IF_ERROR(FsyncPath(part.string()));
    std::error_code ec;
    fs::rename(part, object, ec);
    if (ec) return Status::IOError("cannot commit backup " + key + ": " + ec.message());
    return FsyncParentDirectory(object.string());
  }

  Status DropPart(const std::string& key) override {
    MILLRACE_RETURN_IF_ERROR(CheckBackupKey(key));
    std::error_code ec;
    fs::remove(Part(key), ec);
    if (ec) return Status::IOError("cannot drop backup part " + key + ": " + ec.message());
    return Status::Ok();
  }

  Result<std::vector<StoredObject>> List(const std::string& prefix) override {
    std::vector<StoredObject> out;
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(root_, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (!it->is_regular_file(ec)) continue;
      const std::string key = fs::relative(it->path(), root_, ec).generic_string();
      if (key.rfind(prefix, 0) != 0 || !CheckBackupKey(key).ok()) continue;  // parts, strays
      StoredObject o;
      o.key = key;
      o.bytes = static_cast<std::uint64_t>(it->file_size(ec));
      struct stat st {};
      if (::stat(it->path().c_str(), &st) == 0)
        o.modified_ms =
            static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000 + st.st_mtim.tv_nsec / 1'000'000;
      out.push_back(std::move(o));
    }
    if (ec)
      return Status::IOError("cannot list backups in " + root_.string() + ": " + ec.message());
    std::sort(out.begin(), out.end(),
              [](const StoredObject& a, const StoredObject& b) { return a.key < b.key; });
    return out;
  }

  Status Fetch(const std::string& key, const std::string& local_path) override {
    MILLRACE_RETURN_IF_ERROR(CheckBackupKey(key));
    const fs::path object = Object(key);
    if (!fs::exists(object)) return Status::NotFound("no backup " + key);
    const std::string tmp = local_path + ".tmp";
    std::error_code ec;
    fs::copy_file(object, tmp, fs::copy_options::overwrite_existing, ec);
    if (ec) return Status::IOError("cannot copy backup " + key + ": " + ec.message());
    MILLRACE_RETURN_IF_ERROR(FsyncPath(tmp));
    fs::rename(tmp, local_path, ec);
    if (ec) return Status::IOError("cannot rename " + tmp + ": " + ec.message());
    return FsyncParentDirectory(local_path);
  }

  Status Delete(const std::string& key) override {
    MILLRACE_RETURN_IF_ERROR(CheckBackupKey(key));
    std::error_code ec;
    if (!fs::remove(Object(key), ec)) {
      if (ec) return Status::IOError("cannot delete backup " + key + ": " + ec.message());
      return Status::NotFound("no backup " + key);
    }
    return FsyncParentDirectory(Object(key).string());
  }

 private:
  fs::path Object(const std::string& key) const { return root_ / key; }
  fs::path Part(const std::string& key) const { return root_ / (key + kPartSuffix); }

  fs::path root_;
};

}  // namespace

Status CheckBackupKey(const std::string& key) {
  auto bad = [&](const std::string& why) {
    return Status::InvalidArgument("backup key '" + key + "': " + why);
  };
  if (key.size() > 5 && key.compare(key.size() - 5, 5, kPartSuffix) == 0)
    return bad("ends in .part, which names an upload in progress");
  int segments = 0;
  std::size_t start = 0;
  while (true) {
    const std::size_t end = key.find('/', start);
    const std::string seg =
        key.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (seg.empty() || seg.size() > 128) return bad("a segment must hold 1 to 128 characters");
    if (seg[0] == '.') return bad("a segment may not start with '.'");
    for (char c : seg)
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-'))
        return bad(std::string("character '") + c + "' is not one of A-Z a-z 0-9 . _ -");
    if (++segments > 4) return bad("more than 4 segments");
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return Status::Ok();
}

Result<std::unique_ptr<BackupStore>> OpenDirectoryBackupStore(const std::string& dir) {
  if (dir.empty()) return Status::InvalidArgument("a backup store needs a directory");
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Status::IOError("cannot create backup directory " + dir + ": " + ec.message());
  fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace, ec);
  if (ec) return Status::IOError("cannot restrict backup directory " + dir + ": " + ec.message());
  return std::unique_ptr<BackupStore>(new DirectoryBackupStore(fs::path(dir)));
}

}  // namespace millrace::central
