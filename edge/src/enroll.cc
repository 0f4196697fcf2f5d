#include "millrace/edge/enroll.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "millrace/common/files.h"
#include "millrace/common/http_client.h"
#include "millrace/sync/enrollment_box.h"
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
  const bool have_key = std::filesystem::exists(o.secret_key_file, ec);
  if (ec) return Status::IOError("cannot look for " + o.secret_key_file + ": " + ec.message());
  const bool enrolled = std::filesystem::exists(Marker(o), ec);
  if (ec) return Status::IOError("cannot look for " + Marker(o) + ": " + ec.message());
  if (!have_key && enrolled)
    return Status::FailedPrecondition(o.secret_key_file + " is gone, but this site was enrolled with it (" +
                                      Marker(o) + "): restore the key, or give the site a new code "
                                      "(mes-central enrollment-code) and remove the marker");
  if (!have_key) {
    MILLRACE_ASSIGN_OR_RETURN(sync::CurveKeyPair keys, sync::GenerateCurveKeyPair());
    // The public half first: a crash between the two leaves no secret without its public key.
    MILLRACE_RETURN_IF_ERROR(sync::WriteKeyFile(PublicKeyFile(o.secret_key_file), keys.public_key, false));
    MILLRACE_RETURN_IF_ERROR(sync::WriteKeyFile(o.secret_key_file, keys.secret_key, true));
    spdlog::info("enrollment: made this site's key pair ({})", o.secret_key_file);
  }
  return !enrolled;
}

Status EnrollOnce(const EnrollOptions& o) {
  MILLRACE_ASSIGN_OR_RETURN(std::string secret, sync::ReadKeyFile(o.secret_key_file, true));
  MILLRACE_ASSIGN_OR_RETURN(std::string pub, sync::CurvePublicKey(secret));
  MILLRACE_ASSIGN_OR_RETURN(std::string central, sync::ReadKeyFile(o.central_public_key_file, false));
  MILLRACE_ASSIGN_OR_RETURN(HttpEndpoint endpoint, ParseHttpUrl(o.url));
  // Only central can read the code: a listener on the way learns nothing it can spend.
  MILLRACE_ASSIGN_OR_RETURN(sync::SealedBox boxed, sync::BoxFor(o.code, central, secret));
  const std::string body = nlohmann::json{{"site", o.site_id},
                                          {"public_key", pub},
                                          {"nonce", boxed.nonce_hex},
                                          {"box", boxed.box_hex}}
                               .dump();
  MILLRACE_ASSIGN_OR_RETURN(HttpResponse r, HttpCall(endpoint, "POST", "/api/v1/enroll", body,
                                                     {{"content-type", "application/json"}},
                                                     std::chrono::seconds(15)));
  const nlohmann::json answer = nlohmann::json::parse(r.body, nullptr, false);
  if (r.status != 200) {
    if (answer.is_object() && answer.contains("refusal"))
      return Status::PermissionDenied("central refused the enrollment (" + std::to_string(r.status) +
                                      "): " + answer.value("error", std::string()));
    return Status::Unavailable("central answered " + std::to_string(r.status));
  }
  // Only central's key makes this box: a server that is not central cannot end enrollment.
  if (!answer.is_object() || !answer.contains("nonce") || !answer.contains("box") ||
      !answer["nonce"].is_string() || !answer["box"].is_string())
    return Status::Unavailable("central's answer carries no proof");
  auto proof = sync::OpenBox({answer["nonce"].get<std::string>(), answer["box"].get<std::string>()}, central, secret);
  if (!proof.ok()) return Status::Unavailable("the answer was not central's: " + proof.status().message());
  const std::string expected = "enrolled " + answer.value("tenant", std::string()) + "/" + o.site_id + " " + pub;
  if (*proof != expected) return Status::Unavailable("central's proof is for something else: " + *proof);
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
    if (s.code() == StatusCode::kPermissionDenied) {
      // Not proven to be central's word, and a new code may come: asked again, slowly.
      if (state_ != State::kRefused)
        spdlog::error("enrollment: {} (asked again every 10 minutes; mes-central enrollment-code gives "
                      "the site a new code)",
                      s.ToString());
      state_ = State::kRefused;
      wait = std::chrono::seconds(600);
    } else {
      if (attempt == 1 || attempt % 10 == 0)
        spdlog::warn("enrollment: not yet ({}); trying again every {} s meanwhile", s.ToString(),
                     std::chrono::duration_cast<std::chrono::seconds>(wait).count());
    }
    std::unique_lock<std::mutex> lock(mu_);
    if (stop_cv_.wait_for(lock, wait, [this] { return stop_; })) return;
    if (s.code() != StatusCode::kPermissionDenied)
      wait = std::min<std::chrono::seconds>(wait * 2, std::chrono::seconds(30));
  }
}

}  // namespace millrace::edge
