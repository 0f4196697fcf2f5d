#include "millrace/common/gzip.h"

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

#include "millrace/common/files.h"

namespace millrace {
namespace {

constexpr std::size_t kBuffer = 256 * 1024;

// An open file descriptor, closed when it goes.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  Status Close(const std::string& path) {
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0)
      return Status::IOError("cannot close " + path + ": " + std::strerror(errno));
    return Status::Ok();
  }

 private:
  int fd_;
};

Status Errno(const std::string& what, const std::string& path) {
  return Status::IOError(what + " " + path + ": " + std::strerror(errno));
}

Status WriteAll(int fd, const unsigned char* data, std::size_t n, const std::string& path) {
  while (n > 0) {
    const ssize_t w = ::write(fd, data, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return Errno("cannot write", path);
    }
    data += w;
    n -= static_cast<std::size_t>(w);
  }
  return Status::Ok();
}

// Runs `body(in, out)` from `src` into a temporary beside `dest`, then fsync and rename.
template <typename Body>
Result<std::uint64_t> Transform(const std::string& src, const std::string& dest, Body body) {
  Fd in(::open(src.c_str(), O_RDONLY | O_CLOEXEC));
  if (in.get() < 0) return Errno("cannot open", src);
  const std::string tmp = dest + ".tmp";
  Fd out(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (out.get() < 0) return Errno("cannot create", tmp);
  Result<std::uint64_t> written = body(in.get(), out.get(), tmp);
  Status done = written.ok() ? Status::Ok() : written.status();
  if (done.ok() && ::fsync(out.get()) != 0) done = Errno("cannot fsync", tmp);
  if (Status c = out.Close(tmp); done.ok() && !c.ok()) done = c;
  if (done.ok() && std::rename(tmp.c_str(), dest.c_str()) != 0) done = Errno("cannot rename", tmp);
  if (!done.ok()) {
    std::remove(tmp.c_str());
    return done;
  }
  MILLRACE_RETURN_IF_ERROR(FsyncParentDirectory(dest));
  return written;
}

}  // namespace

Result<std::uint64_t> GzipFile(const std::string& src, const std::string& dest) {
  return Transform(
      src, dest, [&](int in, int out, const std::string& tmp) -> Result<std::uint64_t> {
        z_stream z{};
        // 15 window bits + 16: a gzip header and trailer (CRC-32 and size) rather than zlib's.
        if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
            Z_OK)
          return Status::Internal("zlib: deflateInit2 failed");
        std::vector<unsigned char> ibuf(kBuffer), obuf(kBuffer);
        std::uint64_t total = 0;
        Status s = Status::Ok();
        for (bool eof = false; s.ok() && !eof;) {
          const ssize_t r = ::read(in, ibuf.data(), ibuf.size());
          if (r < 0) {
            if (errno == EINTR) continue;
            s = Errno("cannot read", src);
            break;
          }
          eof = r == 0;
          z.next_in = ibuf.data();
          z.avail_in = static_cast<uInt>(r);
          do {
            z.next_out = obuf.data();
            z.avail_out = static_cast<uInt>(obuf.size());
            deflate(&z, eof ? Z_FINISH : Z_NO_FLUSH);
            const std::size_t n = obuf.size() - z.avail_out;
            total += n;
            s = WriteAll(out, obuf.data(), n, tmp);
          } while (s.ok() && z.avail_out == 0);
        }
        deflateEnd(&z);
        if (!s.ok()) return s;
        return total;
      });
}

Result<std::uint64_t> GunzipFile(const std::string& src, const std::string& dest,
                                 std::uint64_t max_bytes) {
  return Transform(
      src, dest, [&](int in, int out, const std::string& tmp) -> Result<std::uint64_t> {
        z_stream z{};
        if (inflateInit2(&z, 15 + 16) != Z_OK) return Status::Internal("zlib: inflateInit2 failed");
        std::vector<unsigned char> ibuf(kBuffer), obuf(kBuffer);
        std::uint64_t total = 0;
        int rc = Z_OK;
        Status s = Status::Ok();
        while (s.ok() && rc != Z_STREAM_END) {
          const ssize_t r = ::read(in, ibuf.data(), ibuf.size());
          if (r < 0) {
            if (errno == EINTR) continue;
            s = Errno("cannot read", src);
            break;
          }
          if (r == 0) {
            s = Status::Corruption(src + " ends before its gzip stream does");
            break;
          }
          z.next_in = ibuf.data();
          z.avail_in = static_cast<uInt>(r);
          do {  // while input is left, or the last call filled the output (more may be pending)
            z.next_out = obuf.data();
            z.avail_out = static_cast<uInt>(obuf.size());
            rc = inflate(&z, Z_NO_FLUSH);
            if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) {
              s = Status::Corruption(src + " is not valid gzip: " + (z.msg ? z.msg : "zlib error"));
              break;
            }
            const std::size_t n = obuf.size() - z.avail_out;
            total += n;
            if (total > max_bytes) {
              s = Status::ResourceExhausted(src + " expands to more than " +
                                            std::to_string(max_bytes) + " bytes");
              break;
            }
            s = WriteAll(out, obuf.data(), n, tmp);
            if (rc == Z_BUF_ERROR && n == 0) break;  // needs more input
          } while (s.ok() && rc != Z_STREAM_END && (z.avail_in > 0 || z.avail_out == 0));
        }
        if (s.ok() && (z.avail_in > 0 || ::read(in, ibuf.data(), 1) > 0))
          s = Status::Corruption(src + " has bytes after its gzip stream");
        inflateEnd(&z);
        if (!s.ok()) return s;
        return total;
      });
}

}  // namespace millrace
