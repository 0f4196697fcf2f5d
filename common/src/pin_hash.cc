#include "millrace/common/pin_hash.h"

#include <sodium.h>

#include <semaphore>

namespace millrace {
namespace {
std::counting_semaphore<kPinChecksAtOnce> pin_slots(kPinChecksAtOnce);

class PinSlot {
 public:
  PinSlot() { pin_slots.acquire(); }
  ~PinSlot() { pin_slots.release(); }
  PinSlot(const PinSlot&) = delete;
  PinSlot& operator=(const PinSlot&) = delete;
};
}  // namespace

Result<std::string> HashPin(const std::string& pin) {
  if (sodium_init() < 0) return Status::Internal("libsodium failed to initialise");
  char out[crypto_pwhash_STRBYTES];
  PinSlot slot;
  if (crypto_pwhash_str(out, pin.data(), pin.size(), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                        crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
    return Status::ResourceExhausted("not enough memory to hash a PIN");
  }
  return std::string(out);
}

bool VerifyPin(const std::string& hash, const std::string& pin) {
  if (sodium_init() < 0) return false;
  PinSlot slot;
  return crypto_pwhash_str_verify(hash.c_str(), pin.data(), pin.size()) == 0;
}

}  // namespace millrace
