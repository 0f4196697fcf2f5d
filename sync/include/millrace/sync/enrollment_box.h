// The boxes of enrollment (a site's first contact with a one-time code instead of keys):
// the edge boxes the code for central with its new key pair, so only central can read it and
// only the holder of the new secret key can have made it; central answers with a box for
// the edge, so a server that is not central cannot make the edge believe it enrolled.
// Curve keys are X25519 keys (Z85 as everywhere in Millrace); a box is libsodium's
// crypto_box (X25519, XSalsa20-Poly1305) with a random nonce.
//
// Thread-safety: functions only.
#pragma once

#include <string>

#include "millrace/common/status.h"

namespace millrace::sync {

struct SealedBox {
  std::string nonce_hex;  // 24 bytes
  std::string box_hex;    // the message and its 16-byte tag
};

// `message` boxed for the holder of `to_public` (Z85) by the holder of `from_secret` (Z85).
Result<SealedBox> BoxFor(const std::string& message, const std::string& to_public,
                         const std::string& from_secret);
// The message of a box made for the holder of `to_secret` by the holder of `from_public`;
// PermissionDenied when it was not (or was changed on the way), InvalidArgument when it is
// not a box's shape.
Result<std::string> OpenBox(const SealedBox& box, const std::string& from_public,
                            const std::string& to_secret);

}  // namespace millrace::sync
