// Enrollment at the edge: a site directory provisioned with a one-time code instead of keys
// ([sync] enrollment_code, enroll_url). At the first start the edge makes its own Curve key
// pair and writes it where [sync] secret_key_file says (the public key beside it, .pub);
// the sync client starts with it at once (central refuses the key until it is registered,
// and the edge keeps trying like any edge offline), and an Enroller posts the public key
// and the site's id with the code, boxed for central's key (only central can read it), to
// central's POST /api/v1/enroll until central answers with a box only central's key can
// make. Accepted, it leaves `<secret_key_file>.enrolled`, so later starts do not ask again;
// central answers a repeat of the same code and key as accepted, so a crash between the two
// is harmless. Anything else is tried again: within seconds when central was not reached or
// not sure, every ten minutes after a refusal (unknown, spent or expired code, revoked
// site), since an unproven answer must not stop the edge for good; the refusal is logged and
// shown on /metrics. A key lost after enrollment is not made anew: the edge refuses to start.
//
// Thread-safety: the Enroller's thread is its own; state() may be read from any thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "millrace/common/status.h"

namespace millrace::edge {

struct EnrollOptions {
  std::string secret_key_file;
  std::string central_public_key_file;
  std::string site_id;
  std::string code;
  std::string url;  // http://host:port
};

// With no secret key yet, makes the pair and writes it (secret 0600). True when the key is
// not known to be enrolled (no .enrolled marker): an Enroller has to run. FailedPrecondition
// when the site was enrolled and its key is gone.
Result<bool> PrepareEnrollment(const EnrollOptions& options);

// One attempt. Ok: enrolled, proven by central's box (the marker is written).
// PermissionDenied: central refused, with its words. Anything else: try again soon.
Status EnrollOnce(const EnrollOptions& options);

class Enroller {
 public:
  enum class State { kPending, kEnrolled, kRefused };
  explicit Enroller(EnrollOptions options);  // starts trying at once
  ~Enroller();                                // stops trying
  Enroller(const Enroller&) = delete;
  Enroller& operator=(const Enroller&) = delete;
  State state() const { return state_.load(); }

 private:
  void Run();
  const EnrollOptions o_;
  std::atomic<State> state_{State::kPending};
  std::mutex mu_;
  std::condition_variable stop_cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace millrace::edge
