#include "millrace/edge/enroll.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "millrace/common/files.h"
#include "millrace/common/http_client.h"
#include "millrace/sync/transport.h"

namespace millrace::edge {

namespace {

std::string PublicKeyFile(const std::string& secret) {
  if (secret.size() > 4 && secret.compare(secret.size() - 4, 4, ".key") == 0)
    return secret.substr(0, secret.size() - 4) + ".pub";
  return secret + ".pub";
}

std::string Marker(const EnrollOptions& o) { return o.secret_key_file + ".enrolled"; }

}  // namespace

Result<bool> PrepareEnrollment(const EnrollOptions& o) {
  std::error_code ec;
  if (!std::filesystem::exists(o.secret_key_file, ec)) {
    MILLRACE_ASSIGN_OR_RETURN(sync::CurveKeyPair keys, sync::GenerateCurveKeyPair());
    // The public half first: a crash between the two leaves no secret without its public key.
    MILLRACE_RETURN_IF_ERROR(sync::WriteKeyFile(PublicKeyFile(o.secret_key_file), keys.public_key, false));
    MILLRACE_RETURN_IF_ERROR(sync::WriteKeyFile(o.secret_key_file, keys.secret_key, true));
    spdlog::info("enrollment: made this site's key pair ({}); registering it at {}", o.secret_key_file, o.url);
  }
  return !std::filesystem::exists(Marker(o), ec);
}

Status EnrollOnce(const EnrollOptions& o) {
  MILLRACE_ASSIGN_OR_RETURN(std::string secret, sync::ReadKeyFile(o.secret_key_file, true));
  MILLRACE_ASSIGN_OR_RETURN(std::string pub, sync::CurvePublicKey(secret));
  MILLRACE_ASSIGN_OR_RETURN(HttpEndpoint endpoint, ParseHttpUrl(o.url));
  const std::string body = nlohmann::json{{"code", o.code}, {"public_key", pub}}.dump();
  MILLRACE_ASSIGN_OR_RETURN(HttpResponse r, HttpCall(endpoint, "POST", "/api/v1/enroll", body,
                                                     {{"content-type", "application/json"}},
                                                     std::chrono::seconds(15)));
  if (r.status >= 500) return Status::Unavailable("central answered " + std::to_string(r.status) + ": " + r.body);
  if (r.status != 200)
    return Status::PermissionDenied("central refused the enrollment (" + std::to_string(r.status) + "): " + r.body);
  return WriteFileAtomically(Marker(o), r.body + "\n", 0600);
}

Enroller::Enroller(EnrollOptions options) : o_(std::move(options)), thread_([this] { Run(); }) {}

Enroller::~Enroller() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  stop_cv_.notify_all();
  thread_.join();
}

void Enroller::Run() {
  auto wait = std::chrono::seconds(1);
  for (int attempt = 1;; ++attempt) {
    Status s = EnrollOnce(o_);
    if (s.ok()) {
      spdlog::info("enrollment: central registered this site's key ({}); the code is spent", o_.url);
      state_ = State::kEnrolled;
      return;
    }
    if (s.code() != StatusCode::kUnavailable && s.code() != StatusCode::kTimeout) {
      spdlog::error("enrollment: {} (not tried again: provision the site anew)", s.ToString());
      state_ = State::kRefused;
      return;
    }
    if (attempt == 1 || attempt % 10 == 0)
      spdlog::warn("enrollment: central not reached ({}); trying again every {} s meanwhile",
                   s.ToString(), std::chrono::duration_cast<std::chrono::seconds>(wait).count());
    std::unique_lock<std::mutex> lock(mu_);
    if (stop_cv_.wait_for(lock, wait, [this] { return stop_; })) return;
    wait = std::min<std::chrono::seconds>(wait * 2, std::chrono::seconds(30));
  }
}

}  // namespace millrace::edge
