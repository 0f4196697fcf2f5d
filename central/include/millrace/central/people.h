// People at central (central migration 7): users of a tenant (viewer, site manager held to
// named sites, tenant admin) and of the platform (platform operator, every tenant), their
// sessions, and API tokens for integrations (a tenant, a role, and for a site manager's
// role its sites).
//
// Passwords are kept as Argon2id hashes (libsodium crypto_pwhash_str). Sessions and API
// tokens are 32 random bytes shown once; central keeps their SHA-256. A session lasts
// `idle` past its last use and never more than a day; a user's sessions end when it is
// deactivated or its password, role or sites change. Every change leaves a record in
// central's audit trail.
//
// Thread-safety: functions over one connection, used by one thread.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "millrace/central/central_audit.h"
#include "millrace/central/pg.h"
#include "millrace/central/pg_pool.h"

namespace millrace::central {

enum class Role { kViewer, kSiteManager, kTenantAdmin, kPlatformOperator };
const char* RoleName(Role role);
Result<Role> ParseRole(const std::string& name);

// Roles are ordered: each may do what the ones before it may.
inline bool RoleAtLeast(Role have, Role need) {
  return static_cast<int>(have) >= static_cast<int>(need);
}

struct Person {
  std::string user_id, login, name;
  std::string tenant_id;  // "" for a platform operator
  Role role = Role::kViewer;
  std::vector<std::string> sites;  // a site manager's; empty otherwise
  bool active = true;
};

// Who asks central's HTTP: a tenant's user or token, or the platform (every tenant; a
// request names the tenant it is about).
struct Viewer {
  std::string name;       // for logs and the audit trail: "user:ana", "token:etl", ...
  std::string tenant_id;  // "" for the platform
  Role role = Role::kViewer;
  std::vector<std::string> sites;  // empty: every site of the tenant; else only these
};

// Argon2id, libsodium's interactive limits. InvalidArgument for a password shorter than
// 10 or longer than 1024 characters.
Result<std::string> HashPassword(const std::string& password);
bool VerifyPassword(const std::string& hash, const std::string& password);

struct NewUser {
  std::string tenant_id;  // "" with Role::kPlatformOperator
  std::string login;      // 1..64 of a-z, 0-9, '.', '_', '@', '-'
  std::string name;
  Role role = Role::kViewer;
  std::vector<std::string> sites;  // required for, and only for, a site manager: its sites
  std::string password;
};
// Checks everything (the sites exist in the tenant) and names what is wrong. Returns the
// new user's id. AlreadyExists when the login is taken (in any tenant).
Result<std::string> CreateUser(PgConnection& conn, const NewUser& user, const WriteContext& who);
Result<std::vector<Person>> ListUsers(PgConnection& conn, const std::string& tenant_id);
// Changes a tenant's user: `changes` may hold name, role, sites, active and password, and
// nothing else (an unknown field is refused by name). NotFound for an unknown login.
Status UpdateUser(PgConnection& conn, const std::string& tenant_id, const std::string& login,
                  const nlohmann::json& changes, const WriteContext& who);

struct Session {
  std::string token;  // the cookie's value
  std::string csrf;   // sent back with every state-changing request
  std::string expires_at;
  Person person;
};
// Unauthenticated ("wrong login or password") for an unknown login, a wrong password or an
// inactive user alike, after as long a time. Holds no pooled connection while it hashes.
Result<Session> Login(PgPool& pool, const std::string& login, const std::string& password,
                      const std::string& address, int idle_seconds);
struct LiveSession {
  Person person;
  std::string csrf_hash;  // SHA-256 of the session's CSRF token
};
// The live session of a token (its expiry moved forward), or nullopt.
Result<std::optional<LiveSession>> FindSession(PgConnection& conn, const std::string& token,
                                               int idle_seconds);
Status EndSession(PgConnection& conn, const std::string& token);
// A session's CSRF token: derived from the session's own (so the page can ask for it again
// with GET /api/v1/session); a request from another origin can read neither.
std::string CsrfToken(const std::string& session_token);

struct ApiTokenInfo {
  std::string name;
  Role role = Role::kViewer;
  std::vector<std::string> sites;
  std::string created_by, created_at, revoked_at;
};
// Makes a token of the tenant; returns it (shown once). A token cannot be a platform
// operator's.
Result<std::string> CreateApiToken(PgConnection& conn, const std::string& tenant_id,
                                   const std::string& name, Role role,
                                   const std::vector<std::string>& sites, const WriteContext& who);
Status RevokeApiToken(PgConnection& conn, const std::string& tenant_id, const std::string& name,
                      const WriteContext& who);
Result<std::vector<ApiTokenInfo>> ListApiTokens(PgConnection& conn, const std::string& tenant_id);
// What a valid (not revoked) token may do, or nullopt.
struct TokenGrant {
  std::string tenant_id, name;
  Role role = Role::kViewer;
  std::vector<std::string> sites;
};
Result<std::optional<TokenGrant>> FindApiToken(PgConnection& conn, const std::string& token);

// API tokens are told from admin tokens by this prefix.
inline constexpr const char* kApiTokenPrefix = "mrt_";

}  // namespace millrace::central
