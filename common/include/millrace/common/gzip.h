// gzip files (zlib): a site backup travels and is kept compressed, and is expanded again
// to be opened. Both directions write through a temporary file beside the destination,
// fsynced and renamed, so a crash leaves no half file under the destination's name.
//
// Thread-safety: free functions.
#pragma once

#include <cstdint>
#include <string>

#include "millrace/common/status.h"

namespace millrace {

// Compresses `src` into `dest` (gzip format). Returns the compressed size.
Result<std::uint64_t> GzipFile(const std::string& src, const std::string& dest);

// Expands the gzip file `src` into `dest`, refusing to write more than `max_bytes`
// (ResourceExhausted). Corruption when `src` is not whole, valid gzip. Returns the size.
Result<std::uint64_t> GunzipFile(const std::string& src, const std::string& dest,
                                 std::uint64_t max_bytes);

}  // namespace millrace
