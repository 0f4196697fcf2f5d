#include "millrace/central/people.h"

#include <sodium.h>

#include <set>
#include <stdexcept>

#include "millrace/central/admin_token.h"
#include "millrace/central/central_store.h"
#include "millrace/common/digest.h"

namespace millrace::central {

namespace {

using json = nlohmann::json;

void InitSodium() {
  if (sodium_init() < 0) throw std::runtime_error("libsodium failed to initialise");
}

// text[] as PostgreSQL prints it: {a,b} (site ids need no quoting).
std::vector<std::string> ParseArray(std::string_view text) {
  std::vector<std::string> out;
  if (text.size() < 2) return out;
  std::string item;
  for (char c : text.substr(1, text.size() - 2)) {
    if (c == ',') {
      out.push_back(item);
      item.clear();
    } else if (c != '"') {
      item += c;
    }
  }
  if (!item.empty()) out.push_back(item);
  return out;
}

std::string ArrayLiteral(const std::vector<std::string>& v) {
  std::string out = "{";
  for (std::size_t i = 0; i < v.size(); ++i) out += (i ? "," : "") + v[i];
  return out + "}";
}

// 1..64 characters: the first of `first`, the rest of `first` or `rest`.
bool NameOf(const std::string& s, bool upper, const std::string& rest) {
  auto plain = [upper](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (upper && c >= 'A' && c <= 'Z');
  };
  if (s.empty() || s.size() > 64 || !plain(s[0])) return false;
  for (char c : s)
    if (!plain(c) && rest.find(c) == std::string::npos) return false;
  return true;
}

Status CheckLogin(const std::string& login) {
  if (!NameOf(login, false, "._@-"))
    return Status::InvalidArgument("login \"" + login +
                                   "\": expected 1..64 of a-z, 0-9, '.', '_', '@', '-', starting "
                                   "with a letter or digit");
  return Status::Ok();
}

// A tenant role with its sites: a site manager names sites of the tenant, the others none.
Status CheckRoleAndSites(PgConnection& conn, const std::string& tenant_id, Role role,
                         const std::vector<std::string>& sites) {
  if (role == Role::kPlatformOperator)
    return Status::InvalidArgument("role platform_operator belongs to no tenant");
  if (role == Role::kSiteManager && sites.empty())
    return Status::InvalidArgument("a site_manager needs sites (the sites it may see)");
  if (role != Role::kSiteManager && !sites.empty())
    return Status::InvalidArgument(std::string("sites are for a site_manager; a ") + RoleName(role) +
                                   " sees every site of the tenant");
  for (const auto& site : sites) {
    MILLRACE_ASSIGN_OR_RETURN(auto r, conn.Query("SELECT 1 FROM millrace.sync_site WHERE tenant_id = "
                                                 "$1 AND site_id = $2",
                                                 {tenant_id, site}));
    if (r.rows() == 0) return Status::InvalidArgument("no site " + site + " in tenant " + tenant_id);
  }
  return Status::Ok();
}

Person PersonOf(const PgResult& r, int row, int user_id, int login, int name, int tenant, int role,
                int sites, int active) {
  Person p;
  p.user_id = r.GetString(row, user_id);
  if (login >= 0) p.login = r.GetString(row, login);
  p.name = r.GetString(row, name);
  p.tenant_id = r.IsNull(row, tenant) ? "" : r.GetString(row, tenant);
  auto parsed = ParseRole(r.GetString(row, role));
  p.role = parsed.ok() ? *parsed : Role::kViewer;
  p.sites = ParseArray(r.Get(row, sites));
  p.active = active < 0 || r.GetString(row, active) == "t";
  return p;
}

json PersonJson(const Person& p) {
  return {{"login", p.login}, {"name", p.name}, {"role", RoleName(p.role)},
          {"sites", p.sites}, {"active", p.active}};
}

}  // namespace

const char* RoleName(Role role) {
  switch (role) {
    case Role::kViewer: return "viewer";
    case Role::kSiteManager: return "site_manager";
    case Role::kTenantAdmin: return "tenant_admin";
    case Role::kPlatformOperator: return "platform_operator";
  }
  return "viewer";
}

Result<Role> ParseRole(const std::string& name) {
  for (Role r : {Role::kViewer, Role::kSiteManager, Role::kTenantAdmin, Role::kPlatformOperator})
    if (name == RoleName(r)) return r;
  return Status::InvalidArgument("role \"" + name +
                                 "\": expected viewer, site_manager, tenant_admin or platform_operator");
}

Result<std::string> HashPassword(const std::string& password) {
  InitSodium();
  if (password.size() < 10)
    return Status::InvalidArgument("the password is too short: at least 10 characters");
  if (password.size() > 1024) return Status::InvalidArgument("the password is too long: at most 1024");
  char hash[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str_alg(hash, password.data(), password.size(), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                            crypto_pwhash_MEMLIMIT_INTERACTIVE, crypto_pwhash_ALG_ARGON2ID13) != 0)
    return Status::Internal("out of memory hashing a password");
  return std::string(hash);
}

bool VerifyPassword(const std::string& hash, const std::string& password) {
  InitSodium();
  return crypto_pwhash_str_verify(hash.c_str(), password.data(), password.size()) == 0;
}

Result<std::string> CreateUser(PgConnection& conn, const NewUser& u, const WriteContext& who) {
  MILLRACE_RETURN_IF_ERROR(CheckLogin(u.login));
  if (u.name.empty() || u.name.size() > 200)
    return Status::InvalidArgument("name: 1..200 characters");
  MILLRACE_ASSIGN_OR_RETURN(std::string hash, HashPassword(u.password));
  const bool platform = u.role == Role::kPlatformOperator;
  if (platform != u.tenant_id.empty())
    return Status::InvalidArgument(platform ? "a platform_operator belongs to no tenant (no --tenant)"
                                            : "a tenant's user needs its tenant");
  std::string id;
  Status s = InTenantTransaction(conn, platform ? kPlatformTenant : u.tenant_id, [&]() -> Status {
    if (platform) {
      MILLRACE_ASSIGN_OR_RETURN(auto r, conn.Query("SELECT millrace.people_platform_user_create($1, $2, $3)",
                                                   {u.login, u.name, hash}));
      id = r.GetString(0, 0);
    } else {
      MILLRACE_RETURN_IF_ERROR(CheckRoleAndSites(conn, u.tenant_id, u.role, u.sites));
      MILLRACE_ASSIGN_OR_RETURN(
          auto r, conn.Query("INSERT INTO millrace.central_user (tenant_id, login, name, role, sites, "
                             "password_hash) VALUES ($1, $2, $3, $4, $5::text[], $6) RETURNING user_id",
                             {u.tenant_id, u.login, u.name, RoleName(u.role), ArrayLiteral(u.sites), hash}));
      id = r.GetString(0, 0);
    }
    return RecordCentralAudit(conn, platform ? kPlatformTenant : u.tenant_id, WallClockHlc(), who,
                              {"user.create", "", "central_user", id, nullptr,
                               json{{"login", u.login}, {"name", u.name}, {"role", RoleName(u.role)},
                                    {"sites", u.sites}}});
  });
  if (s.code() == StatusCode::kAlreadyExists)
    return Status::AlreadyExists("login " + u.login + " is taken");
  if (s.code() == StatusCode::kInvalidArgument && s.message().find("sync_tenant") != std::string::npos)
    return Status::NotFound("no tenant " + u.tenant_id);
  MILLRACE_RETURN_IF_ERROR(s);
  return id;
}

Result<std::vector<Person>> ListUsers(PgConnection& conn, const std::string& tenant_id) {
  std::vector<Person> out;
  MILLRACE_RETURN_IF_ERROR(InTenantTransaction(conn, tenant_id, [&]() -> Status {
    MILLRACE_ASSIGN_OR_RETURN(
        auto r, conn.Query("SELECT user_id, login, name, tenant_id, role, sites, active FROM "
                           "millrace.central_user WHERE tenant_id = $1 ORDER BY login",
                           {tenant_id}));
    for (int i = 0; i < r.rows(); ++i) out.push_back(PersonOf(r, i, 0, 1, 2, 3, 4, 5, 6));
    return Status::Ok();
  }));
  return out;
}

Status UpdateUser(PgConnection& conn, const std::string& tenant_id, const std::string& login,
                  const json& changes, const WriteContext& who) {
  if (!changes.is_object() || changes.empty())
    return Status::InvalidArgument("expected an object of changes: name, role, sites, active, password");
  static const std::set<std::string> kFields = {"name", "role", "sites", "active", "password"};
  for (const auto& [k, v] : changes.items())
    if (!kFields.count(k))
      return Status::InvalidArgument("unknown field '" + k + "' (name, role, sites, active and password are known)");
  std::string new_hash;
  if (changes.contains("password")) {
    if (!changes["password"].is_string()) return Status::InvalidArgument("password: expected a string");
    MILLRACE_ASSIGN_OR_RETURN(new_hash, HashPassword(changes["password"].get<std::string>()));
  }
  return InTenantTransaction(conn, tenant_id, [&]() -> Status {
    MILLRACE_ASSIGN_OR_RETURN(
        auto r, conn.Query("SELECT user_id, login, name, tenant_id, role, sites, active FROM "
                           "millrace.central_user WHERE tenant_id = $1 AND login = $2 FOR UPDATE",
                           {tenant_id, login}));
    if (r.rows() == 0) return Status::NotFound("no user " + login + " in tenant " + tenant_id);
    const Person before = PersonOf(r, 0, 0, 1, 2, 3, 4, 5, 6);
    Person after = before;
    if (changes.contains("name")) {
      if (!changes["name"].is_string() || changes["name"].get<std::string>().empty() ||
          changes["name"].get<std::string>().size() > 200)
        return Status::InvalidArgument("name: expected 1..200 characters");
      after.name = changes["name"];
    }
    if (changes.contains("role")) {
      if (!changes["role"].is_string()) return Status::InvalidArgument("role: expected a string");
      MILLRACE_ASSIGN_OR_RETURN(after.role, ParseRole(changes["role"]));
      if (after.role != Role::kSiteManager && !changes.contains("sites")) after.sites.clear();
    }
    if (changes.contains("sites")) {
      if (!changes["sites"].is_array()) return Status::InvalidArgument("sites: expected an array of site ids");
      after.sites.clear();
      for (const auto& s : changes["sites"]) {
        if (!s.is_string()) return Status::InvalidArgument("sites: expected an array of site ids");
        after.sites.push_back(s);
      }
    }
    if (changes.contains("active")) {
      if (!changes["active"].is_boolean()) return Status::InvalidArgument("active: expected true or false");
      after.active = changes["active"];
    }
    MILLRACE_RETURN_IF_ERROR(CheckRoleAndSites(conn, tenant_id, after.role, after.sites));
    MILLRACE_RETURN_IF_ERROR(
        conn.Query("UPDATE millrace.central_user SET name = $3, role = $4, sites = $5::text[], active = $6, "
                   "password_hash = coalesce($7, password_hash), password_changed_at = CASE WHEN $7 IS "
                   "NULL THEN password_changed_at ELSE now() END WHERE tenant_id = $1 AND login = $2",
                   {tenant_id, login, after.name, RoleName(after.role), ArrayLiteral(after.sites),
                    after.active ? "true" : "false", new_hash.empty() ? PgParam() : PgParam(new_hash)})
            .status());
    // What it could do has changed: its sessions end.
    if (after.role != before.role || after.sites != before.sites || !after.active || !new_hash.empty())
      MILLRACE_RETURN_IF_ERROR(
          conn.Query("SELECT millrace.people_sessions_end_for($1)", {before.user_id}).status());
    json new_value = PersonJson(after);
    if (!new_hash.empty()) new_value["password"] = "changed";
    return RecordCentralAudit(conn, tenant_id, WallClockHlc(), who,
                              {"user.update", "", "central_user", before.user_id, PersonJson(before),
                               new_value});
  });
}

Result<Session> Login(PgPool& pool, const std::string& login, const std::string& password,
                      const std::string& address, int idle_seconds) {
  const Status wrong = Status::Unauthenticated("wrong login or password");
  if (!CheckLogin(login).ok() || password.empty() || password.size() > 1024) return wrong;
  std::optional<PgResult> r;
  {
    MILLRACE_ASSIGN_OR_RETURN(auto conn, pool.Acquire());
    MILLRACE_ASSIGN_OR_RETURN(r, conn->Query("SELECT user_id, name, tenant_id, role, sites, password_hash, "
                                             "active FROM millrace.people_login($1)",
                                             {login}));
  }  // the connection goes back before the slow hash
  // As long for an unknown login or an inactive user as for a wrong password: no hint.
  const bool known = r->rows() > 0;
  const bool right = known ? VerifyPassword(r->GetString(0, 5), password)
                           : (HashPassword("a password nobody has, to take as long").ok() && false);
  if (!known || !right || r->GetString(0, 6) != "t") return wrong;
  Session s;
  s.person = PersonOf(*r, 0, 0, -1, 1, 2, 3, 4, 6);
  s.person.login = login;
  s.token = RandomHex(32);
  s.csrf = CsrfToken(s.token);
  MILLRACE_ASSIGN_OR_RETURN(auto conn, pool.Acquire());
  MILLRACE_ASSIGN_OR_RETURN(
      auto made, conn->Query("SELECT to_char(millrace.people_session_create($1, $2, $3, $4, $5) AT TIME ZONE "
                             "'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')",
                             {s.person.user_id, Sha256Hex(s.token), Sha256Hex(s.csrf),
                              std::to_string(idle_seconds), address}));
  if (made.rows() == 0 || made.IsNull(0, 0)) return wrong;
  s.expires_at = made.GetString(0, 0);
  return s;
}

Result<std::optional<LiveSession>> FindSession(PgConnection& conn, const std::string& token,
                                               int idle_seconds) {
  if (token.size() != 64) return std::optional<LiveSession>();
  MILLRACE_ASSIGN_OR_RETURN(auto r, conn.Query("SELECT user_id, login, name, tenant_id, role, sites, csrf_hash "
                                               "FROM millrace.people_session_find($1, $2)",
                                               {Sha256Hex(token), std::to_string(idle_seconds)}));
  if (r.rows() == 0) return std::optional<LiveSession>();
  return std::optional<LiveSession>(LiveSession{PersonOf(r, 0, 0, 1, 2, 3, 4, 5, -1), r.GetString(0, 6)});
}

std::string CsrfToken(const std::string& session_token) { return Sha256Hex(session_token + ":csrf"); }

Status EndSession(PgConnection& conn, const std::string& token) {
  return conn.Query("SELECT millrace.people_session_end($1)", {Sha256Hex(token)}).status();
}

Result<std::string> CreateApiToken(PgConnection& conn, const std::string& tenant_id,
                                   const std::string& name, Role role,
                                   const std::vector<std::string>& sites, const WriteContext& who) {
  if (!NameOf(name, true, "._@-"))
    return Status::InvalidArgument("token name \"" + name + "\": 1..64 of letters, digits, '.', '_', '@', '-'");
  const std::string token = std::string(kApiTokenPrefix) + RandomHex(32);
  Status s = InTenantTransaction(conn, tenant_id, [&]() -> Status {
    MILLRACE_RETURN_IF_ERROR(CheckRoleAndSites(conn, tenant_id, role, sites));
    MILLRACE_ASSIGN_OR_RETURN(
        auto r, conn.Query("INSERT INTO millrace.api_token (tenant_id, name, role, sites, token_hash, "
                           "created_by) VALUES ($1, $2, $3, $4::text[], $5, $6) RETURNING token_id",
                           {tenant_id, name, RoleName(role), ArrayLiteral(sites), Sha256Hex(token), who.actor}));
    return RecordCentralAudit(conn, tenant_id, WallClockHlc(), who,
                              {"api_token.create", "", "api_token", r.GetString(0, 0), nullptr,
                               json{{"name", name}, {"role", RoleName(role)}, {"sites", sites}}});
  });
  if (s.code() == StatusCode::kAlreadyExists)
    return Status::AlreadyExists("tenant " + tenant_id + " has a token named " + name);
  MILLRACE_RETURN_IF_ERROR(s);
  return token;
}

Status RevokeApiToken(PgConnection& conn, const std::string& tenant_id, const std::string& name,
                      const WriteContext& who) {
  return InTenantTransaction(conn, tenant_id, [&]() -> Status {
    MILLRACE_ASSIGN_OR_RETURN(
        auto r, conn.Query("UPDATE millrace.api_token SET revoked_at = now() WHERE tenant_id = $1 AND name = "
                           "$2 AND revoked_at IS NULL RETURNING token_id",
                           {tenant_id, name}));
    if (r.rows() == 0) return Status::NotFound("no live token named " + name + " in tenant " + tenant_id);
    return RecordCentralAudit(conn, tenant_id, WallClockHlc(), who,
                              {"api_token.revoke", "", "api_token", r.GetString(0, 0), json{{"name", name}},
                               nullptr});
  });
}

Result<std::vector<ApiTokenInfo>> ListApiTokens(PgConnection& conn, const std::string& tenant_id) {
  std::vector<ApiTokenInfo> out;
  MILLRACE_RETURN_IF_ERROR(InTenantTransaction(conn, tenant_id, [&]() -> Status {
    MILLRACE_ASSIGN_OR_RETURN(
        auto r, conn.Query("SELECT name, role, sites, created_by, to_char(created_at AT TIME ZONE 'UTC', "
                           "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), coalesce(to_char(revoked_at AT TIME ZONE "
                           "'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), '') FROM millrace.api_token WHERE "
                           "tenant_id = $1 ORDER BY name",
                           {tenant_id}));
    for (int i = 0; i < r.rows(); ++i) {
      auto role = ParseRole(r.GetString(i, 1));
      out.push_back({r.GetString(i, 0), role.ok() ? *role : Role::kViewer, ParseArray(r.Get(i, 2)),
                     r.GetString(i, 3), r.GetString(i, 4), r.GetString(i, 5)});
    }
    return Status::Ok();
  }));
  return out;
}

Result<std::optional<TokenGrant>> FindApiToken(PgConnection& conn, const std::string& token) {
  if (token.rfind(kApiTokenPrefix, 0) != 0) return std::optional<TokenGrant>();
  MILLRACE_ASSIGN_OR_RETURN(auto r, conn.Query("SELECT tenant_id, name, role, sites FROM "
                                               "millrace.people_api_token_find($1)",
                                               {Sha256Hex(token)}));
  if (r.rows() == 0) return std::optional<TokenGrant>();
  auto role = ParseRole(r.GetString(0, 2));
  if (!role.ok()) return std::optional<TokenGrant>();
  return std::optional<TokenGrant>(TokenGrant{r.GetString(0, 0), r.GetString(0, 1), *role, ParseArray(r.Get(0, 3))});
}

}  // namespace millrace::central
