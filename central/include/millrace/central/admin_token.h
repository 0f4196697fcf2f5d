// Admin tokens: the credential central's HTTP asks of a platform operator (per-tenant
// metrics, a site's content digests, the audit trail) until central has users of its own.
//
// A token is 32 random bytes, shown once (hex) when made; central keeps only its SHA-256,
// through SECURITY DEFINER functions (the application role cannot read the table).
// AdminTokenCache remembers a verified token (and a refused one) for `ttl`, so a scrape
// every few seconds costs no query: a revoked token stops working within that time. It
// checks on one connection of its own, whatever the number of requests.
//
// Thread-safety: the functions use one connection; AdminTokenCache is safe from any thread.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "millrace/central/central_audit.h"
#include "millrace/central/pg.h"
#include "millrace/common/http.h"

namespace millrace::central {

// The tenant id of the platform's own audit records (admin tokens): no tenant can be '*'.
inline constexpr const char* kPlatformTenant = "*";

// Makes a token named `name` (1..64 of letters, digits, '.', '_', '@', '-'); returns it.
// Both leave a record in central's audit trail under kPlatformTenant.
Result<std::string> CreateAdminToken(PgConnection& conn, const std::string& name,
                                     const WriteContext& who = {});
// NotFound when no token has that name.
Status RevokeAdminToken(PgConnection& conn, const std::string& name,
                        const WriteContext& who = {});
struct AdminTokenInfo {
  std::string name, created_at, revoked_at;  // revoked_at empty while valid
};
Result<std::vector<AdminTokenInfo>> ListAdminTokens(PgConnection& conn);
// The token's name, or nullopt when it is unknown or revoked.
Result<std::optional<std::string>> VerifyAdminToken(PgConnection& conn, const std::string& token);

// The bearer token of a request ("Authorization: Bearer <token>"), or "".
std::string BearerToken(const HttpRequest& req);

class AdminTokenCache {
 public:
  AdminTokenCache(std::string database_url, std::chrono::seconds ttl = std::chrono::seconds(30));
  // The name of the valid admin token the request carries, or Unauthenticated.
  Result<std::string> Check(const HttpRequest& req);

 private:
  std::string database_url_;
  std::chrono::seconds ttl_;
  std::mutex mu_;
  std::unique_ptr<PgConnection> conn_;
  // token -> (name, until); an empty name: refused.
  std::map<std::string, std::pair<std::string, std::chrono::steady_clock::time_point>> valid_;
};

}  // namespace millrace::central
