// Digests and random tokens (libsodium): one place for the SHA-256 a stored secret is kept
// as, and the random bytes a bearer token is made of.
//
// Thread-safety: safe from any thread.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "millrace/common/status.h"

namespace millrace {

// SHA-256 of `data`, 64 lower-case hex digits.
std::string Sha256Hex(std::string_view data);
// SHA-256 of a file's content, read a MiB at a time, as Sha256Hex. IOError naming the file.
Result<std::string> FileSha256Hex(const std::string& path);
// `bytes` random bytes from the OS's generator, as 2*bytes hex digits.
std::string RandomHex(std::size_t bytes);

}  // namespace millrace
