#include "millrace/sync/enrollment_box.h"

#include <sodium.h>
#include <zmq.h>

#include <vector>

namespace millrace::sync {

namespace {

Result<std::vector<unsigned char>> KeyBytes(const std::string& z85, const char* what) {
  std::vector<unsigned char> out(32);
  if (z85.size() != 40 || zmq_z85_decode(out.data(), z85.c_str()) == nullptr)
    return Status::InvalidArgument(std::string(what) + " is not a Curve key (40 characters of Z85)");
  return out;
}

Result<std::vector<unsigned char>> FromHex(const std::string& hex, const char* what) {
  std::vector<unsigned char> out(hex.size() / 2 + 1);
  std::size_t n = 0;
  if (hex.size() % 2 != 0 ||
      sodium_hex2bin(out.data(), out.size(), hex.c_str(), hex.size(), nullptr, &n, nullptr) != 0 ||
      n * 2 != hex.size())
    return Status::InvalidArgument(std::string(what) + " is not hexadecimal");
  out.resize(n);
  return out;
}

std::string ToHex(const unsigned char* data, std::size_t n) {
  std::string out(n * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), data, n);
  out.pop_back();
  return out;
}

}  // namespace

Result<SealedBox> BoxFor(const std::string& message, const std::string& to_public,
                         const std::string& from_secret) {
  if (sodium_init() < 0) return Status::Internal("libsodium failed to initialise");
  MILLRACE_ASSIGN_OR_RETURN(auto pk, KeyBytes(to_public, "the recipient's public key"));
  MILLRACE_ASSIGN_OR_RETURN(auto sk, KeyBytes(from_secret, "the sender's secret key"));
  unsigned char nonce[crypto_box_NONCEBYTES];
  randombytes_buf(nonce, sizeof nonce);
  std::vector<unsigned char> box(message.size() + crypto_box_MACBYTES);
  if (crypto_box_easy(box.data(), reinterpret_cast<const unsigned char*>(message.data()), message.size(),
                      nonce, pk.data(), sk.data()) != 0)
    return Status::InvalidArgument("the recipient's public key is not usable");
  sodium_memzero(sk.data(), sk.size());
  return SealedBox{ToHex(nonce, sizeof nonce), ToHex(box.data(), box.size())};
}

Result<std::string> OpenBox(const SealedBox& box, const std::string& from_public,
                            const std::string& to_secret) {
  if (sodium_init() < 0) return Status::Internal("libsodium failed to initialise");
  MILLRACE_ASSIGN_OR_RETURN(auto pk, KeyBytes(from_public, "the sender's public key"));
  MILLRACE_ASSIGN_OR_RETURN(auto sk, KeyBytes(to_secret, "the recipient's secret key"));
  MILLRACE_ASSIGN_OR_RETURN(auto nonce, FromHex(box.nonce_hex, "nonce"));
  MILLRACE_ASSIGN_OR_RETURN(auto sealed, FromHex(box.box_hex, "box"));
  if (nonce.size() != crypto_box_NONCEBYTES) return Status::InvalidArgument("nonce is not 24 bytes");
  if (sealed.size() < crypto_box_MACBYTES) return Status::InvalidArgument("box is too short");
  std::string out(sealed.size() - crypto_box_MACBYTES, '\0');
  const int opened = crypto_box_open_easy(reinterpret_cast<unsigned char*>(out.data()), sealed.data(),
                                          sealed.size(), nonce.data(), pk.data(), sk.data());
  sodium_memzero(sk.data(), sk.size());
  if (opened != 0) return Status::PermissionDenied("the box was not made by that key for this one, or was changed");
  return out;
}

}  // namespace millrace::sync
