// SiteKeys: where an edge keeps its Curve key pair, and the next one during a rotation.
//
// A rotation makes the next pair and keeps it (secret 0600) beside the current one until
// central has recorded the new public key; then the next pair replaces the current one by
// rename. A crash in between leaves the next pair pending; the client then tries the next
// pair whenever the current one cannot finish a handshake (central may hold the new key and
// have retired the old one meanwhile) and finishes the rotation once connected.
//
// Thread-safety: used by the sync client's thread only.
#pragma once

#include <string>

#include "millrace/common/status.h"
#include "millrace/sync/transport.h"

namespace millrace::sync {

class SiteKeys {
 public:
  virtual ~SiteKeys() = default;
  // The pair in use.
  virtual Result<CurveKeyPair> CurrentKeyPair() = 0;
  // The pending next pair, made and kept now if there is none.
  virtual Result<CurveKeyPair> NextKeyPair() = 0;
  // Whether a next pair waits (a rotation that did not finish).
  virtual bool HasNextKeyPair() const = 0;
  // Central holds the next public key: the next pair becomes the current one.
  virtual Status PromoteNextKeyPair() = 0;
};

// Key files: the secret key at `secret_path` (0600), the public key at `public_path` (may
// be empty: none kept), the next pair at the same paths plus ".next".
class FileSiteKeys final : public SiteKeys {
 public:
  FileSiteKeys(std::string secret_path, std::string public_path);
  Result<CurveKeyPair> CurrentKeyPair() override;
  Result<CurveKeyPair> NextKeyPair() override;
  bool HasNextKeyPair() const override;
  Status PromoteNextKeyPair() override;

 private:
  std::string secret_path_, public_path_;
};

}  // namespace millrace::sync
