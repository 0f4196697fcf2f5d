// File helpers that never leave half a file behind.
#pragma once

#include <sys/types.h>

#include <string>

#include "millrace/common/status.h"

namespace millrace {

// Writes `content` to `path` via a temporary file in the same directory: write, fsync,
// chmod `mode`, rename, fsync the directory. A crash leaves the old file or the new one.
Status WriteFileAtomically(const std::string& path, const std::string& content, mode_t mode = 0644);

// fsyncs a file or directory.
Status FsyncPath(const std::string& path);
// fsyncs the directory holding `path`, making a rename or create in it durable.
Status FsyncParentDirectory(const std::string& path);

// Reads a whole file.
Result<std::string> ReadFile(const std::string& path);

}  // namespace millrace
