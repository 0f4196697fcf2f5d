// PIN hashes as stored in users.pin_hash: Argon2id (libsodium). Each hash or check takes
// 64 MiB for about 0.1 s, so at most kPinChecksAtOnce run at once in a process: a shift
// badging in together queues for a moment instead of growing the edge by 64 MiB a head.
//
// Thread-safety: both functions may be called from any thread.
#pragma once

#include <string>

#include "millrace/common/status.h"

namespace millrace {

inline constexpr int kPinChecksAtOnce = 2;
Result<std::string> HashPin(const std::string& pin);
// True when `pin` matches `hash`; false for a wrong PIN or a hash that is not one.
bool VerifyPin(const std::string& hash, const std::string& pin);

}  // namespace millrace
