// The terminal API as pure request -> response handlers (no socket): paging, genealogy,
// authentication and error bodies.
#include "millrace/edge/api.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "millrace/common/uuid.h"
#include "millrace/edge/seed.h"

namespace millrace::edge {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

class ApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("millrace-api-" + std::to_string(::getpid()) + "-" +
                                        Uuid::NewV7().ToString().substr(24));
    fs::create_directories(dir_);
    EdgeStoreOptions o;
    o.path = (dir_ / "edge.db").string();
    o.site_id = "plant-a";
    auto store = EdgeStore::Open(o);
    ASSERT_TRUE(store.ok());
    store_ = std::move(store).value();
    ASSERT_TRUE(SeedDemoSite(*store_).ok());
    svc_ = std::make_unique<MesService>(store_.get());
    ApiOptions api;
    api.backup_dir = (dir_ / "backups").string();
    api.backup_keep = 3;
    api.metrics = &metrics_;
    api.pin_throttle.base_delay_ms = 1500;  // short, so a test can wait a lock out
    AddTerminalApi(router_, *svc_, api);
    sam_ = Login("2001", "L1-PRESS");
    ana_ = Login("1001", "L1-CUT");
  }
  void TearDown() override {
    svc_.reset();
    store_.reset();
    fs::remove_all(dir_);
  }

  HttpResponse Call(const std::string& method, const std::string& target,
                    const json& body = nullptr, const std::string& token = "") {
    HttpRequest req;
    req.method = method;
    req.target = target;
    EXPECT_TRUE(req.ParseTarget());
    if (!body.is_null()) req.body = body.dump();
    if (!token.empty()) req.headers["authorization"] = "Bearer " + token;
    return router_.Handle(req);
  }
  json Ok(const HttpResponse& r, int status = 200) {
    EXPECT_EQ(r.status, status) << r.body;
    return json::parse(r.body);
  }
  std::string Login(const char* badge, const char* unit) {
    auto r = Call("POST", "/api/v1/sessions",
                  {{"badge_id", badge},
                   {"pin", kDemoPin},
                   {"work_unit_id", SeedId("plant-a", "equipment", unit)}});
    return Ok(r, 201)["token"];
  }
  std::string Id(const char* kind, const char* code) { return SeedId("plant-a", kind, code); }

  fs::path dir_;
  MetricsRegistry metrics_;
  std::unique_ptr<EdgeStore> store_;
  std::unique_ptr<MesService> svc_;
  Router router_;
  std::string sam_, ana_;
};

TEST_F(ApiTest, ListsPageWithAKeysetCursor) {
  json first = Ok(Call("GET", "/api/v1/work-units?limit=4", nullptr, ana_));
  ASSERT_EQ(first["items"].size(), 4u);
  ASSERT_TRUE(first["next"].is_string());
  json second =
      Ok(Call("GET", "/api/v1/work-units?limit=4&after=" + first["next"].get<std::string>(),
              nullptr, ana_));
  ASSERT_EQ(second["items"].size(), 2u);
  EXPECT_TRUE(second["next"].is_null());
  std::set<std::string> codes;
  for (const auto* page : {&first, &second})
    for (const auto& u : (*page)["items"]) codes.insert(u["code"].get<std::string>());
  EXPECT_EQ(codes.size(), 6u);  // no unit twice, none skipped
  EXPECT_LT(first["items"][3]["id"].get<std::string>(),
            second["items"][0]["id"].get<std::string>());
  auto bad = Call("GET", "/api/v1/work-units?limit=0", nullptr, ana_);
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(json::parse(bad.body)["error"]["rule"], "bad_limit");
}

TEST_F(ApiTest, GenealogyWalksBackwardAndForward) {
  std::string wo = Id("work_order", "WO-1001");
  Ok(Call("POST", "/api/v1/work-orders/" + wo + "/release", nullptr, sam_));
  std::string op =
      Ok(Call("GET", "/api/v1/work-orders/" + wo, nullptr, sam_))["operations"][0]["id"];
  Ok(Call("POST", "/api/v1/operations/" + op + "/start", nullptr, ana_));
  Ok(Call("POST", "/api/v1/operations/" + op + "/consume",
          {{"lot_id", Id("lot", "S-0001")}, {"quantity", 10}}, ana_),
     201);
  Ok(Call("POST", "/api/v1/operations/" + op + "/consume",
          {{"lot_id", Id("lot", "S-0002")}, {"quantity", 5}}, ana_),
     201);
  json output =
      Ok(Call("POST", "/api/v1/operations/" + op + "/produce", {{"quantity", 20}}, ana_), 201);
  std::string out_id = output["id"];

  json back =
      Ok(Call("GET", "/api/v1/lots/" + out_id + "/genealogy?direction=backward", nullptr, ana_));
  std::set<std::string> parents;
  for (const auto& l : back["links"]) parents.insert(l["parent_id"].get<std::string>());
  EXPECT_EQ(parents, (std::set<std::string>{Id("lot", "S-0001"), Id("lot", "S-0002")}));
  json forward =
      Ok(Call("GET", "/api/v1/lots/" + Id("lot", "S-0001") + "/genealogy?direction=forward",
              nullptr, ana_));
  ASSERT_EQ(forward["links"].size(), 1u);
  EXPECT_EQ(forward["links"][0]["child_id"], out_id);
  EXPECT_EQ(forward["links"][0]["quantity"], 10.0);
  EXPECT_EQ(
      Call("GET", "/api/v1/lots/" + out_id + "/genealogy?direction=sideways", nullptr, ana_).status,
      400);
}

TEST_F(ApiTest, ErrorsCarryCodeRuleAndMessage) {
  auto anon = Call("GET", "/api/v1/work-orders");
  EXPECT_EQ(anon.status, 401);
  json e = json::parse(anon.body)["error"];
  EXPECT_EQ(e["code"], "unauthenticated");
  EXPECT_EQ(e["rule"], "session_required");
  auto bad_json = Call("POST", "/api/v1/downtime", nullptr, ana_);
  EXPECT_EQ(bad_json.status, 201);  // no body is an empty object: a stop without a reason
  HttpRequest raw;
  raw.method = "POST";
  raw.target = "/api/v1/work-orders";
  ASSERT_TRUE(raw.ParseTarget());
  raw.body = "{not json";
  raw.headers["authorization"] = "Bearer " + sam_;
  auto r = router_.Handle(raw);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(json::parse(r.body)["error"]["rule"], "bad_json");
  auto missing = Call("POST", "/api/v1/work-orders", {{"number", "WO-9"}}, sam_);
  EXPECT_EQ(json::parse(missing.body)["error"]["rule"], "field_required");
  auto wrong_type = Call("POST", "/api/v1/operations/x/counts", {{"good", "five"}}, ana_);
  EXPECT_EQ(json::parse(wrong_type.body)["error"]["rule"], "bad_field");
}

TEST_F(ApiTest, OutOfRangeNumbersAndUnknownFieldsAreRefusedByName) {
  std::string wo = Id("work_order", "WO-1001");
  Ok(Call("POST", "/api/v1/work-orders/" + wo + "/release", nullptr, sam_));
  std::string op =
      Ok(Call("GET", "/api/v1/work-orders/" + wo, nullptr, sam_))["operations"][0]["id"];
  Ok(Call("POST", "/api/v1/operations/" + op + "/start", nullptr, ana_));
  const std::string counts = "/api/v1/operations/" + op + "/counts";
  auto refused = [&](const HttpResponse& r, const std::string& names) {
    EXPECT_EQ(r.status, 400) << r.body;
    EXPECT_NE(r.body.find(names), std::string::npos) << r.body;
  };
  // Numbers no count can be: each is refused with the column it would have gone into.
  refused(Call("POST", counts, json::parse(R"({"good": 1e308})"), ana_), "good_quantity");
  refused(Call("POST", counts, json::parse(R"({"good": 9223372036854775808})"), ana_),
          "good_quantity");  // 2^63
  refused(Call("POST", counts, json::parse(R"({"good": 18446744073709551615})"), ana_),
          "good_quantity");  // 2^64-1
  auto reason = Id("reason", "SC-DIM");
  refused(Call("POST", counts, {{"scrap", 1e300}, {"scrap_reason_id", reason}}, ana_),
          "scrap_quantity");
  // A misspelt field is not dropped: the request is refused and the field named.
  auto typo = Call("POST", counts, {{"good", 1}, {"scrapp", 3}}, ana_);
  refused(typo, "'scrapp'");
  EXPECT_EQ(json::parse(typo.body)["error"]["rule"], "unknown_field");
  refused(Call("POST", counts, {{"good", 1}, {"unit", "pcs"}}, ana_), "'unit'");
  refused(Call("POST", "/api/v1/downtime", {{"commment", "jam"}}, ana_), "'commment'");
  refused(Call("POST", "/api/v1/sessions",
               {{"badge_id", "1001"}, {"pin", "1234"}, {"work_unit_id", "x"}, {"role", "admin"}}),
          "'role'");
  // A note longer than its column allows is refused, naming the column.
  refused(Call("POST", counts, {{"good", 1}, {"note", std::string(501, 'x')}}, ana_),
          "production_event.note");
  refused(Call("POST", counts, {{"good", 1}, {"note", 7}}, ana_), "'note'");
  // None of those changed the operation; a sane count still does, with its note.
  json after = Ok(Call("POST", counts, {{"good", 2}, {"note", "two from the rework bin"}}, ana_),
                  201);
  EXPECT_EQ(after["good_quantity"], 2.0);
  std::vector<Row> events;
  ASSERT_TRUE(store_->Read([&](ReadTxn& txn) -> Status {
                      MILLRACE_ASSIGN_OR_RETURN(
                          events, txn.Select(*catalog::MesCatalog().Find("production_event"),
                                             "kind = 'COUNT'"));
                      return Status::Ok();
                    })
                  .ok());
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].Text("note"), "two from the rework bin");
  // A measurement of 1e308 mm is not stored.
  std::string characteristic;
  const json list = Ok(Call("GET", "/api/v1/characteristics", nullptr, ana_));
  for (const auto& c : list["items"])
    if (c["kind"] == "measured") characteristic = c["id"];
  ASSERT_FALSE(characteristic.empty());
  refused(Call("POST", "/api/v1/measurements",
               {{"characteristic_id", characteristic}, {"operation_id", op}, {"value", 1e308}},
               ana_),
          "measurement.value");
}

// Every endpoint that reads the site's data or changes anything needs a session; the
// administrative ones a supervisor's.
TEST_F(ApiTest, DoorsNeedACredentialAndAdministrationASupervisor) {
  for (const auto& [method, target] : std::vector<std::pair<std::string, std::string>>{
           {"GET", "/api/v1/outbox"},
           {"POST", "/api/v1/backups"},
           {"GET", "/api/v1/work-units"},
           {"GET", "/api/v1/reasons"},
           {"GET", "/api/v1/work-orders"},
           {"GET", "/api/v1/lots"}}) {
    EXPECT_EQ(Call(method, target).status, 401) << method << " " << target;
    EXPECT_EQ(Call(method, target, nullptr, "not-a-token").status, 401) << method << " " << target;
  }
  // The administrative endpoints registered beside the API (the content digests) sit
  // behind the same supervisor check.
  router_.Add("GET", "/test/digests", SupervisorOnly(*svc_, [](const HttpRequest&) {
                return HttpResponse::Json(200, "{}");
              }));
  EXPECT_EQ(Call("GET", "/test/digests").status, 401);
  EXPECT_EQ(Call("GET", "/test/digests", nullptr, ana_).status, 403);
  EXPECT_EQ(Call("GET", "/test/digests", nullptr, sam_).status, 200);
  // The audit trail is a supervisor's or quality engineer's.
  EXPECT_EQ(Call("GET", "/api/v1/audit").status, 401);
  EXPECT_EQ(Call("GET", "/api/v1/audit", nullptr, ana_).status, 403);
  EXPECT_EQ(Call("GET", "/api/v1/audit", nullptr, sam_).status, 200);
  // An operator is not a supervisor.
  EXPECT_EQ(Call("GET", "/api/v1/outbox", nullptr, ana_).status, 403);
  EXPECT_EQ(Call("POST", "/api/v1/backups", nullptr, ana_).status, 403);
  EXPECT_EQ(Call("GET", "/api/v1/outbox", nullptr, sam_).status, 200);
  EXPECT_FALSE(fs::exists(dir_ / "backups") && !fs::is_empty(dir_ / "backups"))
      << "a refused backup request wrote nothing";
  // A supervisor may badge in at a desk (no work unit); an operator may not.
  auto desk = Call("POST", "/api/v1/sessions", {{"badge_id", "2001"}, {"pin", kDemoPin}});
  EXPECT_EQ(desk.status, 201) << desk.body;
  auto op = Call("POST", "/api/v1/sessions", {{"badge_id", "1001"}, {"pin", kDemoPin}});
  EXPECT_EQ(op.status, 400);
  EXPECT_EQ(json::parse(op.body)["error"]["rule"], "work_unit_required");
  // A terminal badges in by its unit's code.
  auto by_code = Call("POST", "/api/v1/sessions",
                      {{"badge_id", "1001"}, {"pin", kDemoPin}, {"work_unit", "L1-CUT"}});
  EXPECT_EQ(by_code.status, 201) << by_code.body;
}

TEST_F(ApiTest, WrongPinsLockTheBadgeForAGrowingDelayEvenForTheRightPin) {
  auto attempt = [&](const char* badge, const char* pin, const char* address = "10.0.0.7") {
    HttpRequest req;
    req.method = "POST";
    req.target = "/api/v1/sessions";
    EXPECT_TRUE(req.ParseTarget());
    req.body = json{{"badge_id", badge}, {"pin", pin}, {"work_unit", "L1-CUT"}}.dump();
    req.remote_address = address;
    return router_.Handle(req);
  };
  for (int i = 0; i < 3; ++i) EXPECT_EQ(attempt("1002", "0000").status, 401) << i;
  // Locked: refused unchecked, the right PIN too, with the time to wait.
  auto locked = attempt("1002", kDemoPin);
  EXPECT_EQ(locked.status, 429) << locked.body;
  EXPECT_EQ(json::parse(locked.body)["error"]["rule"], "badge_locked");
  EXPECT_EQ(locked.headers["Retry-After"], "2");  // 1.5 s, rounded up
  // Another badge from the same terminal is not locked by it.
  EXPECT_EQ(attempt("1001", kDemoPin).status, 201);
  // After the delay the right PIN works and the badge starts over.
  usleep(1600 * 1000);
  EXPECT_EQ(attempt("1002", kDemoPin).status, 201);
  // One more wrong PIN after the lock has passed locks for twice as long.
  for (int i = 0; i < 3; ++i) EXPECT_EQ(attempt("1002", "0000").status, 401);
  EXPECT_EQ(attempt("1002", "0000").status, 429);
  usleep(1600 * 1000);
  EXPECT_EQ(attempt("1002", "0000").status, 401);
  auto doubled = attempt("1002", kDemoPin);
  EXPECT_EQ(doubled.status, 429) << "locked again, for twice as long";
  EXPECT_EQ(doubled.headers["Retry-After"], "3");
  const std::string m = metrics_.Render();
  EXPECT_NE(m.find("mes_edge_pin_failures_total 7"), std::string::npos) << m;
  EXPECT_NE(m.find("mes_edge_pin_refusals_total{locked=\"badge\"} 3"), std::string::npos) << m;
  // Guessing across many badges from one address locks the address.
  for (int i = 0; i < 10; ++i) attempt(std::to_string(9000 + i).c_str(), "0000", "10.0.0.9");
  auto address = attempt("2001", kDemoPin, "10.0.0.9");
  EXPECT_EQ(address.status, 429);
  EXPECT_EQ(json::parse(address.body)["error"]["rule"], "address_locked");
}

TEST_F(ApiTest, UsersNeverLeakTheirPinHash) {
  Row user(*catalog::MesCatalog().Find("users"));
  user.Set("pin_hash", "$argon2id$secret").Set("name", "x");
  std::string j = RowJson(user);
  EXPECT_EQ(j.find("pin_hash"), std::string::npos);
  EXPECT_EQ(j.find("argon2id"), std::string::npos);
  EXPECT_NE(j.find("\"name\":\"x\""), std::string::npos);
}

TEST_F(ApiTest, BackupsOnDemandKeepTheConfiguredNumber) {
  for (int i = 0; i < 4; ++i) {
    json b = Ok(Call("POST", "/api/v1/backups", nullptr, sam_), 201);
    EXPECT_GT(b["bytes"].get<std::int64_t>(), 0);
    usleep(5000);
  }
  int n = 0;
  for (const auto& e : fs::directory_iterator(dir_ / "backups")) n += e.path().extension() == ".db";
  EXPECT_EQ(n, 3);
}

}  // namespace
}  // namespace millrace::edge
