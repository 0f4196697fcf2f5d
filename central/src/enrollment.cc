#include "millrace/central/enrollment.h"

#include <sodium.h>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>

#include "json_body.h"
#include "millrace/common/digest.h"
#include "millrace/central/central_store.h"
#include "millrace/sync/enrollment_box.h"
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

Result<Enrolled> Enroll(PgConnection& conn, std::string_view code, const std::string& site_id,
                        const std::string& public_key, const WriteContext& who) {
  MILLRACE_ASSIGN_OR_RETURN(std::string hash, EnrollmentCodeHash(code));
  if (!sync::IsCurvePublicKey(public_key))
    return Status::InvalidArgument("public_key is not a Curve public key (40 characters of Z85)");
  MILLRACE_RETURN_IF_ERROR(conn.Exec("BEGIN"));
  Enrolled e;
  Status s = [&]() -> Status {
    MILLRACE_ASSIGN_OR_RETURN(
        auto r, conn.Query("SELECT tenant_id, site_id, outcome FROM millrace.sync_enroll($1, $2, $3)",
                           {hash, site_id, public_key}));
    if (r.rows() != 1) return Status::Internal("sync_enroll answered " + std::to_string(r.rows()) + " rows");
    const std::string outcome = r.GetString(0, 2);
    if (outcome == "unknown" || outcome == "wrong_site")
      return Status::NotFound("no such enrollment code for site " + site_id);
    e.tenant_id = r.GetString(0, 0);
    e.site_id = r.GetString(0, 1);
    const std::string site = e.tenant_id + "/" + e.site_id;
    if (outcome == "used")
      return Status::Conflict("the enrollment code of site " + site + " was used already, by another key");
    if (outcome == "expired")
      return Status::FailedPrecondition("the enrollment code of site " + site +
                                        " has expired: mes-central enrollment-code gives the site another");
    if (outcome == "revoked") return Status::PermissionDenied("site " + site + " was revoked");
    if (outcome == "key_taken") return Status::Conflict("that public key belongs to a site already");
    if (outcome == "already") {
      e.already = true;
      return Status::Ok();
    }
    if (outcome != "enrolled") return Status::Internal("sync_enroll answered '" + outcome + "'");
    MILLRACE_RETURN_IF_ERROR(
        conn.Query("SELECT set_config('app.tenant_id', $1, true)", {e.tenant_id}).status());
    return RecordCentralAudit(conn, e.tenant_id, WallClockHlc(), who,
                              {"site.enroll", e.site_id, "sync_site_key", "", nullptr,
                               nlohmann::json{{"site_id", e.site_id}, {"public_key", public_key}}});
  }();
  if (!s.ok()) {
    (void)conn.Exec("ROLLBACK");
    return s;
  }
  MILLRACE_RETURN_IF_ERROR(conn.Exec("COMMIT"));
  return e;
}

Result<std::string> NewEnrollmentCodeFor(PgConnection& conn, const std::string& tenant_id,
                                         const std::string& site_id, int hours, const WriteContext& who) {
  if (hours < 1 || hours > 24 * 90) return Status::InvalidArgument("--hours must be 1 .. 2160");
  const std::string code = NewEnrollmentCode();
  MILLRACE_ASSIGN_OR_RETURN(std::string hash, EnrollmentCodeHash(code));
  MILLRACE_RETURN_IF_ERROR(InTenantTransaction(conn, tenant_id, [&]() -> Status {
    MILLRACE_ASSIGN_OR_RETURN(
        auto site, conn.Query("SELECT 1 FROM millrace.sync_site WHERE site_id = $1 AND active FOR UPDATE", {site_id}));
    if (site.rows() == 0) return Status::NotFound("no active site " + tenant_id + "/" + site_id);
    MILLRACE_ASSIGN_OR_RETURN(
        auto keys, conn.Query("SELECT 1 FROM millrace.sync_site_key WHERE site_id = $1 AND "
                              "(retire_at IS NULL OR retire_at > now())",
                              {site_id}));
    if (keys.rows() > 0)
      return Status::FailedPrecondition("site " + tenant_id + "/" + site_id +
                                        " has a key in use: it is enrolled (rotate-site-key changes a key)");
    MILLRACE_RETURN_IF_ERROR(
        conn.Query("INSERT INTO millrace.sync_enrollment (tenant_id, site_id, code_hash, expires_at) "
                   "VALUES ($1, $2, $3, now() + make_interval(hours => $4::int))",
                   {tenant_id, site_id, hash, std::to_string(hours)})
            .status());
    return RecordCentralAudit(conn, tenant_id, WallClockHlc(), who,
                              {"site.enrollment_code", site_id, "sync_enrollment", "", nullptr,
                               nlohmann::json{{"site_id", site_id}, {"hours", hours}}});
  }));
  return code;
}

void AddEnrollRoute(Router& router, PgPool* pool, std::string central_secret_key) {
  auto one_at_a_time = std::make_shared<std::mutex>();
  router.Add("POST", "/api/v1/enroll", [pool, one_at_a_time, secret = std::move(central_secret_key)](
                                           const HttpRequest& req) {
    auto refuse = [&req](const Status& s, const std::string& refusal) {
      spdlog::warn("enrollment from {} refused: {}", req.remote_address, s.ToString());
      HttpResponse r = HttpResponse::Json(
          HttpStatusFor(s.code()), nlohmann::json{{"error", s.message()}, {"refusal", refusal}}.dump());
      return r;
    };
    if (secret.empty())
      return HttpResponse::Error(Status::Unavailable("this central node takes no edges ([sync] is not configured)"));
    auto body = JsonObjectBody(req, {"site", "public_key", "nonce", "box"});
    if (!body.ok()) return HttpResponse::Error(body.status());
    for (const char* f : {"site", "public_key", "nonce", "box"})
      if (!body->contains(f) || !(*body)[f].is_string())
        return HttpResponse::Error(Status::InvalidArgument(std::string("field '") + f + "' (a string) is required"));
    const std::string key = (*body)["public_key"].get<std::string>();
    const std::string site = (*body)["site"].get<std::string>();
    if (!sync::IsCurvePublicKey(key))
      return HttpResponse::Error(Status::InvalidArgument("public_key is not a Curve public key (40 characters of Z85)"));
    auto code = sync::OpenBox({(*body)["nonce"].get<std::string>(), (*body)["box"].get<std::string>()}, key, secret);
    if (!code.ok()) return refuse(code.status(), "box");
    std::unique_lock<std::mutex> lock(*one_at_a_time, std::try_to_lock);
    if (!lock.owns_lock()) {
      HttpResponse r = HttpResponse::Error(Status::RateLimited("another enrollment is being checked; try again"));
      r.headers["Retry-After"] = "1";
      return r;
    }
    auto conn = pool->Acquire();
    if (!conn.ok()) return HttpResponse::Error(conn.status());
    auto e = Enroll(**conn, *code, site, key, {"enrollment from " + req.remote_address, "POST /api/v1/enroll"});
    if (!e.ok()) {
      const StatusCode c = e.status().code();
      const char* refusal = c == StatusCode::kNotFound ? "unknown"
                            : c == StatusCode::kConflict ? "used"
                            : c == StatusCode::kFailedPrecondition ? "expired"
                            : c == StatusCode::kPermissionDenied ? "revoked" : "";
      if (*refusal == '\0') return HttpResponse::Error(e.status());
      return refuse(e.status(), refusal);
    }
    if (!e->already)
      spdlog::info("site {}/{} enrolled from {} with key {}", e->tenant_id, e->site_id, req.remote_address, key);
    // Proof for the edge that central answered: only central's key makes this box.
    auto proof = sync::BoxFor("enrolled " + e->tenant_id + "/" + e->site_id + " " + key, key, secret);
    if (!proof.ok()) return HttpResponse::Error(proof.status());
    return HttpResponse::Json(200, nlohmann::json{{"tenant", e->tenant_id},
                                                  {"site", e->site_id},
                                                  {"nonce", proof->nonce_hex},
                                                  {"box", proof->box_hex}}
                                       .dump());
  });
}

}  // namespace millrace::central
