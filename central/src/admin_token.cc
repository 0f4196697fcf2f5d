#include "millrace/central/admin_token.h"


#include "millrace/central/central_store.h"
#include "millrace/common/digest.h"
#include "millrace/common/hlc.h"

namespace millrace::central {
namespace {


}  // namespace

Result<std::string> CreateAdminToken(PgConnection& conn, const std::string& name,
                                     const WriteContext& who) {
  const std::string token = RandomHex(32);
  // The platform's own records go under tenant '*' (no tenant id can be '*').
  MILLRACE_RETURN_IF_ERROR(InTenantTransaction(conn, kPlatformTenant, [&]() -> Status {
    auto r = conn.Query("SELECT millrace.admin_token_create($1, $2)", {name, Sha256Hex(token)});
    if (r.status().code() == StatusCode::kAlreadyExists)
      return Status::AlreadyExists("an admin token named " + name + " exists already");
    if (!r.ok() && r.status().message().find("admin_token_name_check") != std::string::npos)
      return Status::InvalidArgument(
          "token name must be 1..64 of letters, digits, '.', '_', '@', '-'");
    MILLRACE_RETURN_IF_ERROR(r.status());
    return RecordCentralAudit(conn, kPlatformTenant, WallClockHlc(), who,
                              {"admin_token.create", "", "admin_token", name, nullptr,
                               nlohmann::json{{"name", name}}});
  }));
  return token;
}

Status RevokeAdminToken(PgConnection& conn, const std::string& name, const WriteContext& who) {
  return InTenantTransaction(conn, kPlatformTenant, [&]() -> Status {
    MILLRACE_ASSIGN_OR_RETURN(auto r,
                              conn.Query("SELECT millrace.admin_token_revoke($1)", {name}));
    if (r.rows() == 0 || r.IsNull(0, 0)) return Status::NotFound("no admin token named " + name);
    return RecordCentralAudit(conn, kPlatformTenant, WallClockHlc(), who,
                              {"admin_token.revoke", "", "admin_token", name,
                               nlohmann::json{{"revoked", false}},
                               nlohmann::json{{"revoked", true}}});
  });
}

Result<std::vector<AdminTokenInfo>> ListAdminTokens(PgConnection& conn) {
  MILLRACE_ASSIGN_OR_RETURN(
      auto r, conn.Query("SELECT name, created_at::text, coalesce(revoked_at::text, '') FROM "
                         "millrace.admin_token_list()"));
  std::vector<AdminTokenInfo> out;
  for (int i = 0; i < r.rows(); ++i)
    out.push_back({r.GetString(i, 0), r.GetString(i, 1), r.GetString(i, 2)});
  return out;
}

Result<std::optional<std::string>> VerifyAdminToken(PgConnection& conn, const std::string& token) {
  if (token.empty()) return std::optional<std::string>();
  MILLRACE_ASSIGN_OR_RETURN(auto r,
                            conn.Query("SELECT millrace.admin_token_valid($1)", {Sha256Hex(token)}));
  if (r.rows() == 0 || r.IsNull(0, 0)) return std::optional<std::string>();
  return std::optional<std::string>(r.GetString(0, 0));
}

std::string BearerToken(const HttpRequest& req) {
  const std::string h = req.Header("authorization");
  const std::string prefix = "Bearer ";
  return h.rfind(prefix, 0) == 0 ? h.substr(prefix.size()) : "";
}

AdminTokenCache::AdminTokenCache(std::string database_url, std::chrono::seconds ttl)
    : database_url_(std::move(database_url)), ttl_(ttl) {}

Result<std::string> AdminTokenCache::Check(const HttpRequest& req) {
  const std::string token = BearerToken(req);
  if (token.empty())
    return Status::Unauthenticated(
        "an admin token is required (Authorization: Bearer ...; make one with 'mes-central "
        "token create')");
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(mu_);
  if (auto it = valid_.find(token); it != valid_.end() && it->second.second > now) {
    if (it->second.first.empty()) return Status::Unauthenticated("the admin token is unknown or revoked");
    return it->second.first;
  }
  // One connection for all checks (a flood of bad tokens costs queries on it, never new
  // connections), and bad answers are remembered as long as good ones.
  if (!conn_ || PQstatus(conn_->raw()) != CONNECTION_OK) {
    MILLRACE_ASSIGN_OR_RETURN(conn_, PgConnection::Connect(database_url_));
  }
  auto name = VerifyAdminToken(*conn_, token);
  if (!name.ok()) {
    conn_.reset();
    return name.status();
  }
  if (valid_.size() > 10000) valid_.clear();
  valid_[token] = {name->value_or(""), now + ttl_};
  if (!*name) return Status::Unauthenticated("the admin token is unknown or revoked");
  return **name;
}

}  // namespace millrace::central
