// People at central on a real PostgreSQL, through the HTTP routes a browser and an
// integration use: logins with Argon2id and a throttle, HttpOnly SameSite cookies, CSRF on
// every state-changing request, logout and expiry, roles (a site manager held to its sites,
// a viewer who may not manage people), API tokens shown once and revocable, and every
// bad input refused by name.
#include <gtest/gtest.h>

#include "millrace/central/central_store.h"
#include "millrace/central/people.h"
#include "millrace/central/people_routes.h"
#include "millrace/central/report_routes.h"
#include "millrace/central/schema.h"
#include "test_pg.h"

namespace millrace::central {
namespace {

using json = nlohmann::json;
using millrace::testing::TestDatabase;

class PgPeopleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto central = millrace::testing::CreateCentralDatabase();
    ASSERT_TRUE(central.ok()) << central.status().ToString();
    db_ = std::move(central->db);
    app_ = std::move(central->app);
    for (const char* sql : {"INSERT INTO millrace.sync_tenant (tenant_id, name) VALUES ('acme', 'Acme')",
                            "INSERT INTO millrace.sync_site (tenant_id, site_id) VALUES ('acme', 'lyon'), "
                            "('acme', 'porto')"}) {
      ASSERT_TRUE(InTenantTransaction(*app_, "acme", [&] { return app_->Exec(sql); }).ok()) << sql;
    }
    ASSERT_TRUE(InTenantTransaction(*app_, "globex", [&] {
                  return app_->Exec("INSERT INTO millrace.sync_tenant (tenant_id, name) VALUES ('globex', "
                                    "'Globex'); INSERT INTO millrace.sync_site (tenant_id, site_id) VALUES "
                                    "('globex', 'tokyo')");
                }).ok());
    for (const NewUser& u : {NewUser{"acme", "ada", "Ada Admin", Role::kTenantAdmin, {}, kPassword},
                             NewUser{"acme", "pia", "Pia Porto", Role::kSiteManager, {"porto"}, kPassword},
                             NewUser{"acme", "vic", "Vic Viewer", Role::kViewer, {}, kPassword},
                             NewUser{"globex", "gus", "Gus", Role::kTenantAdmin, {}, kPassword},
                             NewUser{"", "ops", "Platform", Role::kPlatformOperator, {}, kPassword}}) {
      auto id = CreateUser(*app_, u, {"test", ""});
      ASSERT_TRUE(id.ok()) << u.login << ": " << id.status().ToString();
    }
    PgPoolOptions po;
    po.conninfo = db_->ConnInfo("millrace_app");
    po.size = 2;
    pool_ = std::make_unique<PgPool>(po);
    po.role = "millrace_report";
    report_pool_ = std::make_unique<PgPool>(po);
    report_reads_ = std::make_unique<ReportReads>(ReportReadsOptions{report_pool_.get()});
    admin_tokens_ = std::make_unique<AdminTokenCache>(db_->ConnInfo("millrace_app"));
    LoginThrottleOptions to;
    to.key_free = 3;
    to.base_delay_ms = 60'000;
    throttle_ = std::make_unique<LoginThrottle>(to, &clock_);
    auth_ = std::make_unique<CentralAuth>(CentralAuthOptions{pool_.get(), admin_tokens_.get(), throttle_.get(), 3600, true, nullptr});
    auth_->AddRoutes(router_);
    AddReportRoutes(router_, {report_reads_.get(), &cache_, &limits_,
                              [this](const HttpRequest& r) { return auth_->Authenticate(r); }});
  }

  HttpResponse Call(const std::string& method, const std::string& target, const json& body = nullptr,
                    std::map<std::string, std::string> headers = {}, const std::string& address = "10.0.0.1") {
    HttpRequest req;
    req.method = method;
    req.target = target;
    EXPECT_TRUE(req.ParseTarget());
    req.headers = std::move(headers);
    req.body = body.is_null() ? "" : body.dump();
    req.remote_address = address;
    return router_.Handle(req);
  }
  // Logs in; returns the cookie header and the CSRF token.
  std::pair<std::string, std::string> LogIn(const std::string& login) {
    auto r = Call("POST", "/api/v1/session", {{"login", login}, {"password", kPassword}});
    EXPECT_EQ(r.status, 200) << r.body;
    const std::string cookie = r.headers["Set-Cookie"];
    return {cookie.substr(0, cookie.find(';')), json::parse(r.body).value("csrf_token", "")};
  }

  static constexpr const char* kPassword = "correct horse battery";
  std::unique_ptr<TestDatabase> db_;
  std::unique_ptr<PgConnection> app_;
  std::unique_ptr<PgPool> pool_, report_pool_;
  std::unique_ptr<ReportReads> report_reads_;
  std::unique_ptr<AdminTokenCache> admin_tokens_;
  ManualClock clock_{0};
  std::unique_ptr<LoginThrottle> throttle_;
  std::unique_ptr<CentralAuth> auth_;
  ReportCache cache_{1 << 20};
  ReportLimits limits_{{1000, 1'000'000}};
  Router router_;
};

TEST_F(PgPeopleTest, PasswordsAreArgon2idAndBadUsersAreRefusedByName) {
  auto hash = HashPassword(kPassword);
  ASSERT_TRUE(hash.ok());
  EXPECT_EQ(hash->rfind("$argon2id$", 0), 0u) << *hash;
  EXPECT_TRUE(VerifyPassword(*hash, kPassword));
  EXPECT_FALSE(VerifyPassword(*hash, "correct horse battery!"));
  auto refused = [&](NewUser u, const std::string& why) {
    auto id = CreateUser(*app_, u, {});
    ASSERT_FALSE(id.ok()) << u.login;
    EXPECT_NE(id.status().message().find(why), std::string::npos) << id.status().ToString();
  };
  refused({"acme", "Bad Login", "x", Role::kViewer, {}, kPassword}, "login \"Bad Login\"");
  refused({"acme", "short", "x", Role::kViewer, {}, "12345"}, "too short");
  refused({"acme", "sm", "x", Role::kSiteManager, {}, kPassword}, "needs sites");
  refused({"acme", "sm", "x", Role::kSiteManager, {"tokyo"}, kPassword}, "no site tokyo in tenant acme");
  refused({"acme", "vw", "x", Role::kViewer, {"lyon"}, kPassword}, "sites are for a site_manager");
  refused({"acme", "ada", "x", Role::kViewer, {}, kPassword}, "login ada is taken");
  refused({"globex", "ada", "x", Role::kViewer, {}, kPassword}, "login ada is taken");  // across tenants
  refused({"acme", "op2", "x", Role::kPlatformOperator, {}, kPassword}, "belongs to no tenant");
  EXPECT_FALSE(ParseRole("superuser").ok());
  // Each tenant sees only its own users.
  auto acme = ListUsers(*app_, "acme");
  ASSERT_TRUE(acme.ok());
  EXPECT_EQ(acme->size(), 3u);
  EXPECT_EQ(ListUsers(*app_, "globex")->size(), 1u);
}

TEST_F(PgPeopleTest, ASessionIsAnHttpOnlyStrictCookieAndChangesNeedItsCsrfToken) {
  auto r = Call("POST", "/api/v1/session", {{"login", "ada"}, {"password", kPassword}});
  ASSERT_EQ(r.status, 200) << r.body;
  const std::string set_cookie = r.headers["Set-Cookie"];
  EXPECT_EQ(set_cookie.rfind("millrace_session=", 0), 0u);
  for (const char* flag : {"HttpOnly", "SameSite=Strict", "Secure", "Path=/", "Max-Age=86400"})
    EXPECT_NE(set_cookie.find(flag), std::string::npos) << flag << " in " << set_cookie;
  const std::string cookie = set_cookie.substr(0, set_cookie.find(';'));
  const std::string csrf = json::parse(r.body)["csrf_token"];
  EXPECT_EQ(json::parse(r.body)["role"], "tenant_admin");
  auto me = Call("GET", "/api/v1/session", nullptr, {{"cookie", "x=1; " + cookie}});
  ASSERT_EQ(me.status, 200);
  EXPECT_EQ(json::parse(me.body)["csrf_token"], csrf);  // the page can ask for it again
  // A change without the token (a forged cross-site form) is refused; with it, done.
  const json user = {{"login", "newbie"}, {"name", "New"}, {"role", "viewer"}, {"password", kPassword}};
  EXPECT_EQ(Call("POST", "/api/v1/users", user, {{"cookie", cookie}}).status, 403);
  EXPECT_EQ(Call("POST", "/api/v1/users", user, {{"cookie", cookie}, {"x-csrf-token", "nope"}}).status, 403);
  EXPECT_EQ(Call("POST", "/api/v1/users", user, {{"cookie", cookie}, {"x-csrf-token", csrf}}).status, 201);
  // Logout ends it.
  EXPECT_EQ(Call("DELETE", "/api/v1/session", nullptr, {{"cookie", cookie}, {"x-csrf-token", csrf}}).status, 200);
  EXPECT_EQ(Call("GET", "/api/v1/session", nullptr, {{"cookie", cookie}}).status, 401);
  EXPECT_EQ(Call("GET", "/api/v1/session").status, 401);
  // A session idle past its time has ended.
  auto [again, again_csrf] = LogIn("ada");
  EXPECT_EQ(Call("GET", "/api/v1/session", nullptr, {{"cookie", again}}).status, 200);
  auto admin = db_->Connect("postgres");
  ASSERT_TRUE(admin.ok());
  ASSERT_TRUE((*admin)->Exec("UPDATE millrace.central_session SET expires_at = now() - interval '1 second'").ok());
  EXPECT_EQ(Call("GET", "/api/v1/session", nullptr, {{"cookie", again}}).status, 401);
}

TEST_F(PgPeopleTest, WrongPasswordsLockTheLoginEvenForTheRightOne) {
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(Call("POST", "/api/v1/session", {{"login", "vic"}, {"password", "wrong password!"}}).status, 401);
  auto locked = Call("POST", "/api/v1/session", {{"login", "vic"}, {"password", kPassword}});
  EXPECT_EQ(locked.status, 429) << locked.body;
  EXPECT_EQ(locked.headers["Retry-After"], "60");
  // Another login from another address is not held up; this one is, until the delay passes.
  EXPECT_EQ(Call("POST", "/api/v1/session", {{"login", "ada"}, {"password", kPassword}}, {}, "10.0.0.2").status, 200);
  clock_.Advance(60'001);
  EXPECT_EQ(Call("POST", "/api/v1/session", {{"login", "vic"}, {"password", kPassword}}).status, 200);
  // Unknown login and wrong password answer alike.
  auto unknown = Call("POST", "/api/v1/session", {{"login", "nobody"}, {"password", kPassword}}, {}, "10.0.0.3");
  auto wrong = Call("POST", "/api/v1/session", {{"login", "ada"}, {"password", "wrong password!"}}, {}, "10.0.0.3");
  EXPECT_EQ(unknown.status, 401);
  EXPECT_EQ(unknown.body, wrong.body);
  auto extra = Call("POST", "/api/v1/session", {{"login", "ada"}, {"password", kPassword}, {"remember", true}});
  EXPECT_EQ(extra.status, 400);
  EXPECT_NE(extra.body.find("unknown field 'remember'"), std::string::npos);
}

TEST_F(PgPeopleTest, RolesDecideWhoManagesPeopleAndWhoSeesWhichSite) {
  auto [viewer, viewer_csrf] = LogIn("vic");
  EXPECT_EQ(Call("GET", "/api/v1/users", nullptr, {{"cookie", viewer}}).status, 403);
  EXPECT_EQ(Call("POST", "/api/v1/users", {{"login", "x1"}, {"name", "X"}, {"role", "viewer"}, {"password", kPassword}},
                 {{"cookie", viewer}, {"x-csrf-token", viewer_csrf}})
                .status,
            403);
  auto [admin, admin_csrf] = LogIn("ada");
  auto list = Call("GET", "/api/v1/users", nullptr, {{"cookie", admin}});
  ASSERT_EQ(list.status, 200);
  EXPECT_EQ(json::parse(list.body)["items"].size(), 3u);
  EXPECT_EQ(Call("GET", "/api/v1/users?tenant=globex", nullptr, {{"cookie", admin}}).status, 403);
  EXPECT_EQ(Call("POST", "/api/v1/users", {{"login", "root"}, {"name", "R"}, {"role", "platform_operator"}, {"password", kPassword}},
                 {{"cookie", admin}, {"x-csrf-token", admin_csrf}})
                .status,
            403);
  auto bad = Call("PATCH", "/api/v1/users/vic", {{"colour", "red"}}, {{"cookie", admin}, {"x-csrf-token", admin_csrf}});
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("unknown field 'colour'"), std::string::npos);
  // Making vic a site manager of lyon ends vic's session (it could do more than it may now).
  ASSERT_EQ(Call("PATCH", "/api/v1/users/vic", {{"role", "site_manager"}, {"sites", {"lyon"}}},
                 {{"cookie", admin}, {"x-csrf-token", admin_csrf}})
                .status,
            200);
  EXPECT_EQ(Call("GET", "/api/v1/session", nullptr, {{"cookie", viewer}}).status, 401);
  // A site manager sees its sites only, however it asks.
  auto [pia, pia_csrf] = LogIn("pia");
  auto health = Call("GET", "/api/v1/reports/sync-health", nullptr, {{"cookie", pia}});
  ASSERT_EQ(health.status, 200) << health.body;
  const json rows = json::parse(health.body)["rows"];
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0]["site"], "porto");
  EXPECT_EQ(Call("GET", "/api/v1/reports/sync-health?sites=lyon", nullptr, {{"cookie", pia}}).status, 403);
  EXPECT_EQ(Call("GET", "/api/v1/reports/sync-health?tenant=globex", nullptr, {{"cookie", pia}}).status, 400);
  // A platform operator names the tenant.
  auto [ops, ops_csrf] = LogIn("ops");
  EXPECT_EQ(Call("GET", "/api/v1/reports/sync-health?tenant=globex", nullptr, {{"cookie", ops}}).status, 200);
  EXPECT_EQ(Call("GET", "/api/v1/users?tenant=globex", nullptr, {{"cookie", ops}}).status, 200);
}

TEST_F(PgPeopleTest, ApiTokensAreShownOnceScopedAndRevocable) {
  auto [admin, csrf] = LogIn("ada");
  auto made = Call("POST", "/api/v1/api-tokens", {{"name", "erp"}, {"role", "site_manager"}, {"sites", {"lyon"}}},
                   {{"cookie", admin}, {"x-csrf-token", csrf}});
  ASSERT_EQ(made.status, 201) << made.body;
  const std::string token = json::parse(made.body)["token"];
  EXPECT_EQ(token.rfind("mrt_", 0), 0u);
  auto listed = Call("GET", "/api/v1/api-tokens", nullptr, {{"cookie", admin}});
  EXPECT_EQ(listed.body.find(token), std::string::npos);  // never shown again
  const std::map<std::string, std::string> bearer = {{"authorization", "Bearer " + token}};
  auto health = Call("GET", "/api/v1/reports/sync-health", nullptr, bearer);
  ASSERT_EQ(health.status, 200) << health.body;
  EXPECT_EQ(json::parse(health.body)["rows"].size(), 1u);  // lyon only
  EXPECT_EQ(Call("GET", "/api/v1/users", nullptr, bearer).status, 403);  // a site manager's token
  EXPECT_EQ(Call("POST", "/api/v1/api-tokens", {{"name", "erp"}, {"role", "viewer"}},
                 {{"cookie", admin}, {"x-csrf-token", csrf}})
                .status,
            409);
  EXPECT_EQ(Call("DELETE", "/api/v1/api-tokens/erp", nullptr, {{"cookie", admin}, {"x-csrf-token", csrf}}).status, 200);
  EXPECT_EQ(Call("GET", "/api/v1/reports/sync-health", nullptr, bearer).status, 401);
  EXPECT_EQ(Call("DELETE", "/api/v1/api-tokens/erp", nullptr, {{"cookie", admin}, {"x-csrf-token", csrf}}).status, 404);
}

}  // namespace
}  // namespace millrace::central
