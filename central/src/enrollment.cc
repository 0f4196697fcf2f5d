#include "millrace/central/enrollment.h"

#include <sodium.h>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <nlohmann/json.hpp>

#include "json_body.h"
#include "millrace/common/digest.h"
#include "millrace/sync/transport.h"

namespace millrace::central {

namespace {

constexpr char kAlphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";  // Crockford's base32
constexpr std::size_t kCodeChars = 32;                               // 160 bits

}  // namespace

std::string NewEnrollmentCode() {
  // randombytes_buf needs libsodium initialised (0, or 1 when it already was). It does not
  // fail on a working system; if it did, no code is better than a weak one.
  if (sodium_init() < 0) {
    spdlog::critical("libsodium failed to initialise: no enrollment code can be made");
    std::abort();
  }
  unsigned char bytes[20];
  randombytes_buf(bytes, sizeof bytes);
  std::string out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (unsigned char b : bytes) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += kAlphabet[(acc >> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  std::string grouped;
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (i > 0 && i % 8 == 0) grouped += '-';
    grouped += out[i];
  }
  return grouped;
}

Result<std::string> EnrollmentCodeHash(std::string_view code) {
  std::string norm;
  for (char c : code) {
    if (c == '-' || c == ' ') continue;
    const char u = (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
    if (std::string_view(kAlphabet).find(u) == std::string_view::npos || norm.size() >= kCodeChars)
      return Status::InvalidArgument("not an enrollment code (32 characters of 0-9 and A-Z but I, L, O, U, in groups)");
    norm += u;
  }
  if (norm.size() != kCodeChars)
    return Status::InvalidArgument("not an enrollment code (32 characters of 0-9 and A-Z but I, L, O, U, in groups)");
  return Sha256Hex(norm);
}

Result<Enrolled> Enroll(PgConnection& conn, std::string_view code, const std::string& public_key,
                        const WriteContext& who) {
  MILLRACE_ASSIGN_OR_RETURN(std::string hash, EnrollmentCodeHash(code));
  if (!sync::IsCurvePublicKey(public_key))
    return Status::InvalidArgument("public_key is not a Curve public key (40 characters of Z85)");
  MILLRACE_RETURN_IF_ERROR(conn.Exec("BEGIN"));
  Status s = Status::Ok();
  Enrolled e;
  std::string outcome;
  s = [&]() -> Status {
    MILLRACE_ASSIGN_OR_RETURN(auto r, conn.Query("SELECT tenant_id, site_id, outcome FROM millrace.sync_enroll($1, $2)",
                                                 {hash, public_key}));
    if (r.rows() != 1) return Status::Internal("sync_enroll answered " + std::to_string(r.rows()) + " rows");
    outcome = r.GetString(0, 2);
    if (outcome == "unknown") return Status::NotFound("no such enrollment code");
    e.tenant_id = r.GetString(0, 0);
    e.site_id = r.GetString(0, 1);
    const std::string site = e.tenant_id + "/" + e.site_id;
    if (outcome == "used")
      return Status::Conflict("the enrollment code of site " + site + " was used already, by another key");
    if (outcome == "expired")
      return Status::FailedPrecondition("the enrollment code of site " + site +
                                        " has expired: provision the site again for a new one");
    if (outcome == "revoked") return Status::PermissionDenied("site " + site + " was revoked");
    if (outcome == "key_taken") return Status::Conflict("that public key belongs to a site already");
    if (outcome != "enrolled") return Status::Internal("sync_enroll answered '" + outcome + "'");
    MILLRACE_RETURN_IF_ERROR(
        conn.Query("SELECT set_config('app.tenant_id', $1, true)", {e.tenant_id}).status());
    return RecordCentralAudit(conn, e.tenant_id, WallClockHlc(), who,
                              {"site.enroll", e.site_id, "sync_site_key", "", nullptr,
                               nlohmann::json{{"site_id", e.site_id}, {"public_key", public_key}}});
  }();
  // A refusal commits nothing the function did not decide; a failure rolls back.
  if (!s.ok()) {
    (void)conn.Exec("ROLLBACK");
    return s;
  }
  MILLRACE_RETURN_IF_ERROR(conn.Exec("COMMIT"));
  return e;
}

void AddEnrollRoute(Router& router, PgPool* pool) {
  router.Add("POST", "/api/v1/enroll", [pool](const HttpRequest& req) {
    auto body = JsonObjectBody(req, {"code", "public_key"});
    if (!body.ok()) return HttpResponse::Error(body.status());
    for (const char* f : {"code", "public_key"})
      if (!body->contains(f) || !(*body)[f].is_string())
        return HttpResponse::Error(Status::InvalidArgument(std::string("field '") + f + "' (a string) is required"));
    auto conn = pool->Acquire();
    if (!conn.ok()) return HttpResponse::Error(conn.status());
    const std::string key = (*body)["public_key"].get<std::string>();
    auto e = Enroll(**conn, (*body)["code"].get<std::string>(), key,
                    {"enrollment from " + req.remote_address, "POST /api/v1/enroll"});
    if (!e.ok()) {
      spdlog::warn("enrollment from {} refused: {}", req.remote_address, e.status().ToString());
      return HttpResponse::Error(e.status());
    }
    spdlog::info("site {}/{} enrolled from {} with key {}", e->tenant_id, e->site_id, req.remote_address, key);
    return HttpResponse::Json(200, nlohmann::json{{"tenant", e->tenant_id}, {"site", e->site_id}}.dump());
  });
}

}  // namespace millrace::central
