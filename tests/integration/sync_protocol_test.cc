// The sync protocol against a real central applier: SyncServer + SyncService over a fresh
// PostgreSQL database, driven by a raw ZeroMQ DEALER holding a provisioned site's Curve
// keys, so each test can send exactly the frames it needs (replays, gaps, forged rows,
// unknown and revoked keys, malformed frames, skewed clocks).
#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <filesystem>
#include <set>
#include <thread>
#include <zmq.hpp>

#include "catalog_rows.h"
#include "millrace/central/central_store.h"
#include "millrace/central/provision.h"
#include "millrace/central/schema.h"
#include "millrace/central/sync_service.h"
#include "millrace/common/digest.h"
#include "millrace/common/files.h"
#include "millrace/common/schema_versions.h"
#include "millrace/common/uuid.h"
#include "millrace/sync/row_codec.h"
#include "millrace/sync/schema_translation.h"
#include "millrace/sync/server.h"
#include "millrace/sync/transport.h"
#include "millrace/sync/wire.h"
#include "test_pg.h"

namespace millrace::testing {
namespace {

namespace fs = std::filesystem;
using central::PgConnection;
namespace v1 = sync::v1;

const catalog::TableSpec& T(const char* name) { return *catalog::MesCatalog().Find(name); }

// A valid row of any catalog table for `site`, as that site's edge would send it.
Row MakeRow(const catalog::TableSpec& t, const std::string& site, int n) {
  Row row = SampleTypedRow(t, site, n);
  row.Set("origin", "edge:" + site);
  return row;
}

// A site as the wire sees it: a DEALER with the site's Curve keys.
class RawSite {
 public:
  RawSite(const std::string& endpoint, const std::string& server_key, const std::string& secret) {
    socket_.set(zmq::sockopt::linger, 0);
    if (!secret.empty()) {
      socket_.set(zmq::sockopt::curve_serverkey, server_key);
      socket_.set(zmq::sockopt::curve_secretkey, secret);
      socket_.set(zmq::sockopt::curve_publickey, *sync::CurvePublicKey(secret));
    }
    socket_.connect(endpoint);
  }
  void SendRaw(const std::string& bytes) { socket_.send(zmq::buffer(bytes)); }
  void Send(v1::Envelope e) { SendRaw(sync::EncodeFrame(std::move(e))); }
  // The next envelope, or nullopt after `wait`.
  std::optional<v1::Envelope> Receive(std::chrono::milliseconds wait = std::chrono::seconds(10)) {
    zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
    zmq::poll(&item, 1, wait);
    zmq::message_t msg;
    if (!(item.revents & ZMQ_POLLIN) || !socket_.recv(msg, zmq::recv_flags::dontwait))
      return std::nullopt;
    auto e = sync::DecodeFrame(msg.to_string_view());
    if (!e.ok()) return std::nullopt;
    return *e;
  }
  std::optional<v1::Envelope> Call(v1::Envelope e) {
    Send(std::move(e));
    return Receive();
  }

 private:
  zmq::context_t ctx_{1};
  zmq::socket_t socket_{ctx_, zmq::socket_type::dealer};
};

class SyncProtocolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = TestDatabase::Create();
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(*db);
    auto admin = db_->Connect("postgres");
    ASSERT_TRUE(admin.ok());
    admin_ = std::move(*admin);
    ASSERT_TRUE(central::MigrateCentralSchema(*admin_).ok());
    auto app = db_->Connect("millrace_app");
    ASSERT_TRUE(app.ok());
    app_ = std::move(*app);
    dir_ = fs::temp_directory_path() / ("millrace-proto-" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    auto keys = sync::GenerateCurveKeyPair();
    ASSERT_TRUE(keys.ok());
    central_keys_ = *keys;
    ASSERT_TRUE(central::CreateTenant(*app_, "acme", "Acme").ok());
    ASSERT_TRUE(central::CreateTenant(*app_, "globex", "Globex").ok());
    for (auto [tenant, site] : {std::pair{"acme", "lyon"}, {"acme", "porto"}, {"globex", "tokyo"}}) {
      central::ProvisionOptions o;
      o.tenant_id = tenant;
      o.site_id = site;
      o.out_dir = (dir_ / site).string();
      o.endpoints = {"tcp://127.0.0.1:1"};
      o.central_public_key = central_keys_.public_key;
      auto r = central::ProvisionSite(*app_, o);
      ASSERT_TRUE(r.ok()) << r.status().ToString();
    }
    central::SyncServiceOptions so;
    so.database_url = db_->ConnInfo("millrace_app");
    so.store_takeover_grace_ms = 0;  // the liveness guard has a test (and a server) of its own
    auto backups = central::OpenDirectoryBackupStore((dir_ / "backups").string());
    ASSERT_TRUE(backups.ok()) << backups.status().ToString();
    backups_ = std::move(*backups);
    so.backups = backups_.get();
    so.node = "node-a";
    service_ = std::make_unique<central::SyncService>(so, &metrics_);
    sync::SyncServerOptions o;
    o.secret_key = central_keys_.secret_key;
    o.max_frame_bytes = 256 * 1024;
    auto server = sync::SyncServer::Start(o, service_.get(), &metrics_);
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(*server);
  }

  void TearDown() override {
    server_.reset();
    service_.reset();
    fs::remove_all(dir_);
  }

  // A connection with the site's key. With `hello`, it says Hello first (as an edge does),
  // naming kEpoch as its store epoch, so central knows the store its batches count in.
  std::unique_ptr<RawSite> Connect(const std::string& site, bool hello = true) {
    auto secret = sync::ReadKeyFile((dir_ / site / "site.key").string(), true);
    EXPECT_TRUE(secret.ok());
    auto raw = std::make_unique<RawSite>(server_->endpoint(), central_keys_.public_key, *secret);
    if (hello) {
      auto r = raw->Call(Hello(site));
      EXPECT_TRUE(r && r->has_hello_reply()) << (r ? r->DebugString() : "no reply to Hello");
    }
    return raw;
  }

  static constexpr const char* kEpoch = "0190c0de-0000-7000-8000-000000000001";

  static v1::Envelope Hello(const std::string& site, const std::string& epoch = kEpoch) {
    v1::Envelope hello;
    hello.mutable_hello()->set_site_id(site);
    hello.mutable_hello()->set_catalog_fingerprint(catalog::MesCatalog().FingerprintHex());
    hello.mutable_hello()->set_schema_version(kEdgeSchemaVersion);
    hello.mutable_hello()->set_store_epoch(epoch);
    return hello;
  }

  static v1::Envelope Batch(std::uint64_t id, std::uint64_t first, const std::vector<Row>& rows) {
    v1::Envelope e;
    auto* b = e.mutable_push_batch();
    b->set_batch_id(id);
    b->set_store_epoch(kEpoch);
    b->set_first_seq(first);
    b->set_last_seq(first + rows.size() - 1);
    for (std::size_t i = 0; i < rows.size(); ++i) {
      auto* c = b->add_changes();
      *c = sync::EncodeChange(rows[i], v1::OP_UPSERT);
      c->set_seq(first + i);
      c->set_hlc(static_cast<std::uint64_t>(rows[i].Int("hlc")));
      c->set_origin(rows[i].Text("origin"));
    }
    return e;
  }

  // lyon's work order (Released, priority 1) as lyon's clock, `ahead_ms` fast, stamps it.
  static Row WorkOrderStampedAhead(std::int64_t ahead_ms) {
    Row wo = MakeRow(T("work_order"), "lyon", 1);
    wo.Set("status", "Released").Set("priority", std::int64_t{1});
    const std::int64_t now = SystemClock()->NowMillis();
    wo.Set("hlc", static_cast<std::int64_t>(
                      HlcTimestamp(static_cast<std::uint64_t>(now + ahead_ms), 0).packed()));
    return wo;
  }

  // Pulls the site's feed and decodes the last row on it.
  static Result<Row> LastFedRow(RawSite& site) {
    v1::Envelope pull;
    pull.mutable_pull_request()->set_max_changes(100);
    auto r = site.Call(pull);
    if (!r || !r->has_feed_batch()) return Status::Internal("no feed batch came back");
    const auto& changes = r->feed_batch().changes();
    if (changes.empty()) return Status::NotFound("the feed batch was empty");
    return sync::DecodeChange(changes[changes.size() - 1], catalog::MesCatalog());
  }

  std::vector<Row> Events(const std::string& site, int from, int n) {
    std::vector<Row> rows;
    for (int i = from; i < from + n; ++i) rows.push_back(MakeRow(T("production_event"), site, i));
    return rows;
  }

  std::string Scalar(const std::string& sql) {
    auto r = admin_->Query(sql);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() && r->rows() ? r->GetString(0, 0) : "";
  }

  double Metric(const std::string& line_prefix) {
    const std::string text = metrics_.Render();
    auto at = text.find("\n" + line_prefix);
    if (at == std::string::npos) return 0;
    auto end = text.find('\n', at + 1);
    auto line = text.substr(at + 1, end - at - 1);
    return std::stod(line.substr(line.rfind(' ') + 1));
  }

  std::unique_ptr<TestDatabase> db_;
  std::unique_ptr<PgConnection> admin_, app_;
  fs::path dir_;
  sync::CurveKeyPair central_keys_;
  MetricsRegistry metrics_;
  std::unique_ptr<central::BackupStore> backups_;
  std::unique_ptr<central::SyncService> service_;
  std::unique_ptr<sync::SyncServer> server_;
};

TEST_F(SyncProtocolTest, HelloReportsWatermarksAndRefusesAForgedSite) {
  auto lyon = Connect("lyon", false);
  v1::Envelope hello = Hello("lyon");
  auto r = lyon->Call(hello);
  ASSERT_TRUE(r && r->has_hello_reply());
  EXPECT_EQ(r->hello_reply().applied_seq(), 0u);
  hello.mutable_hello()->set_site_id("porto");  // lyon's key claiming to be porto
  r = lyon->Call(hello);
  ASSERT_TRUE(r && r->has_error());
  EXPECT_EQ(r->error().code(), "permission_denied");
  hello.mutable_hello()->set_site_id("lyon");
  hello.mutable_hello()->set_catalog_fingerprint("0000000000000000");
  r = lyon->Call(hello);
  ASSERT_TRUE(r && r->has_error());
  EXPECT_EQ(r->error().code(), "failed_precondition");
}

TEST_F(SyncProtocolTest, AReplayedBatchIsAcknowledgedWithoutApplyingTwice) {
  auto lyon = Connect("lyon");
  const auto rows = Events("lyon", 0, 10);
  auto r = lyon->Call(Batch(1, 1, rows));
  ASSERT_TRUE(r && r->has_ack()) << (r ? r->DebugString() : "no reply");
  EXPECT_EQ(r->ack().acked_seq(), 10u);
  r = lyon->Call(Batch(2, 1, rows));  // the same batch again (a lost ack)
  ASSERT_TRUE(r && r->has_ack());
  EXPECT_EQ(r->ack().acked_seq(), 10u);
  auto overlap = Events("lyon", 5, 10);  // seqs 6..15: 6..10 were applied, 11..15 are new
  r = lyon->Call(Batch(3, 6, overlap));
  ASSERT_TRUE(r && r->has_ack());
  EXPECT_EQ(r->ack().acked_seq(), 15u);
  EXPECT_EQ(Scalar("SELECT count(*) FROM millrace.production_event"), "15");
  EXPECT_EQ(Scalar("SELECT applied_seq FROM millrace.sync_site WHERE site_id = 'lyon'"), "15");
  EXPECT_EQ(Metric("mes_sync_duplicate_batches_total{tenant=\"acme\",site=\"lyon\"}"), 1);
}

TEST_F(SyncProtocolTest, AGapIsNackedWithTheExpectedSeqAndRecoveredByRewinding) {
  auto lyon = Connect("lyon");
  auto r = lyon->Call(Batch(1, 1, Events("lyon", 0, 5)));
  ASSERT_TRUE(r && r->has_ack());
  r = lyon->Call(Batch(2, 11, Events("lyon", 10, 5)));  // 6..10 never arrived
  ASSERT_TRUE(r && r->has_nack());
  EXPECT_EQ(r->nack().expected_seq(), 6u);
  r = lyon->Call(Batch(3, 6, Events("lyon", 5, 10)));
  ASSERT_TRUE(r && r->has_ack());
  EXPECT_EQ(r->ack().acked_seq(), 15u);
  EXPECT_EQ(Scalar("SELECT count(*) FROM millrace.production_event"), "15");
}

TEST_F(SyncProtocolTest, UnappliableRowsAreParkedWithTheirReasonAndTheStreamMovesOn) {
  auto lyon = Connect("lyon");
  auto rows = Events("lyon", 0, 3);
  rows[1].Set("site_id", "porto");                       // claims another site
  rows.push_back(MakeRow(T("equipment"), "lyon", 1));    // master data from a site
  v1::Envelope batch = Batch(1, 1, rows);
  auto* bad = batch.mutable_push_batch()->add_changes();  // not a row of its table
  bad->set_seq(5);
  bad->set_table("production_event");
  bad->set_id(std::string(16, 'x'));
  batch.mutable_push_batch()->set_last_seq(5);
  auto unknown = Events("lyon", 9, 1);
  v1::Change ghost = sync::EncodeChange(unknown[0], v1::OP_UPSERT);
  ghost.set_table("no_such_table");
  ghost.set_seq(6);
  *batch.mutable_push_batch()->add_changes() = ghost;
  batch.mutable_push_batch()->set_last_seq(6);
  auto r = lyon->Call(batch);
  ASSERT_TRUE(r && r->has_ack()) << (r ? r->DebugString() : "no reply");
  EXPECT_EQ(r->ack().acked_seq(), 6u);
  EXPECT_EQ(Scalar("SELECT count(*) FROM millrace.production_event"), "2");
  EXPECT_EQ(Scalar("SELECT count(*) FROM millrace.equipment"), "0");
  EXPECT_EQ(Scalar("SELECT string_agg(seq || ' ' || split_part(reason, ':', 1), ', ' ORDER BY seq) "
                   "FROM millrace.sync_reject"),
            "2 wrong_site, 4 central_owned, 5 invalid_row, 6 invalid_row");
  EXPECT_EQ(Metric("mes_sync_rejects_total{tenant=\"acme\",site=\"lyon\"}"), 4);
}

TEST_F(SyncProtocolTest, AFactAlreadyPresentTakesTheRowByRowPathAndIsInsertedOnce) {
  auto lyon = Connect("lyon");
  auto rows = Events("lyon", 0, 4);
  auto r = lyon->Call(Batch(1, 1, {rows[0], rows[1]}));
  ASSERT_TRUE(r && r->has_ack());
  // The same facts captured again under new seqs (an edge restored from a backup).
  r = lyon->Call(Batch(2, 3, rows));
  ASSERT_TRUE(r && r->has_ack());
  EXPECT_EQ(r->ack().acked_seq(), 6u);
  EXPECT_EQ(Scalar("SELECT count(*) FROM millrace.production_event"), "4");
  EXPECT_EQ(Scalar("SELECT count(*) FROM millrace.sync_reject"), "0");
}

TEST_F(SyncProtocolTest, OnTheRowByRowPathARejectKeepsItsSeqAndAClampIsCountedOnce) {
  // PostgreSQL refuses one fact (a trigger stands for any value only PostgreSQL rejects),
  // so the fast path fails and the batch is redone row by row.
  ASSERT_TRUE(admin_
                  ->Exec("CREATE FUNCTION millrace.refuse_13() RETURNS trigger LANGUAGE plpgsql AS "
                         "$$ BEGIN IF NEW.good_quantity = 13 THEN RAISE EXCEPTION 'thirteen is "
                         "refused'; END IF; RETURN NEW; END $$; CREATE TRIGGER refuse_13 BEFORE "
                         "INSERT ON millrace.production_event FOR EACH ROW EXECUTE FUNCTION "
                         "millrace.refuse_13()")
                  .ok());
  auto lyon = Connect("lyon");
  auto rows = Events("lyon", 0, 3);
  rows[1].Set("good_quantity", 13.0);
  rows.push_back(WorkOrderStampedAhead(3 * 3600 * 1000));  // a shared row from hours ahead
  auto r = lyon->Call(Batch(1, 1, rows));
  ASSERT_TRUE(r && r->has_ack()) << (r ? r->DebugString() : "no reply");
  EXPECT_EQ(r->ack().acked_seq(), 4u);
  EXPECT_EQ(r->ack().rejected(), 1u);
  EXPECT_EQ(Scalar("SELECT string_agg(seq || ' ' || split_part(reason, ':', 1), ', ') FROM "
                   "millrace.sync_reject"),
            "2 unappliable");
  EXPECT_EQ(Scalar("SELECT count(*) FROM millrace.production_event"), "2");
  EXPECT_EQ(Scalar("SELECT count(*) FROM millrace.work_order"), "1");
  EXPECT_EQ(Metric("mes_sync_clock_clamped_total{tenant=\"acme\",site=\"lyon\"}"), 1);
  EXPECT_EQ(Metric("mes_sync_rejects_total{tenant=\"acme\",site=\"lyon\"}"), 1);
}

// The silent loss a restore used to cause: a store put back from a backup restarts its
// seqs below what central applied. As a new epoch it is resumed where it stands, its new
// writes are applied (not taken for duplicates), it gets back the rows it lacks, and the
// store it replaced is refused from then on.
TEST_F(SyncProtocolTest, ARestoredStoreIsANewEpochResumedWhereItStandsAndGetsBackWhatItLacks) {
  auto lyon = Connect("lyon");
  const auto events = Events("lyon", 0, 10);
  auto r = lyon->Call(Batch(1, 1, events));
  ASSERT_TRUE(r && r->has_ack());
  ASSERT_EQ(r->ack().acked_seq(), 10u);
  // The backup held seqs 1..5, acknowledged, and its clock stood at event 4's.
  auto restored = Connect("lyon", false);
  v1::Envelope hello = Hello("lyon", "0190c0de-0000-7000-8000-00000000000b");
  hello.mutable_hello()->set_epoch_parent(kEpoch);
  hello.mutable_hello()->set_epoch_base_seq(5);
  hello.mutable_hello()->set_epoch_fork_hlc(static_cast<std::uint64_t>(events[4].Int("hlc")));
  hello.mutable_hello()->set_outbox_head_seq(5);
  r = restored->Call(hello);
  ASSERT_TRUE(r && r->has_hello_reply()) << (r ? r->DebugString() : "no reply");
  EXPECT_TRUE(r->hello_reply().epoch_started());
  EXPECT_EQ(r->hello_reply().applied_seq(), 5u);
  EXPECT_EQ(r->hello_reply().recovered_rows(), 5u);  // events 5..9
  // Its new writes take seqs 6.. again: applied, not acknowledged away as duplicates.
  v1::Envelope batch = Batch(2, 6, Events("lyon", 100, 3));
  batch.mutable_push_batch()->set_store_epoch("0190c0de-0000-7000-8000-00000000000b");
  r = restored->Call(batch);
  ASSERT_TRUE(r && r->has_ack()) << (r ? r->DebugString() : "no reply");
  EXPECT_EQ(r->ack().acked_seq(), 8u);
  EXPECT_EQ(Scalar("SELECT count(*) FROM millrace.production_event"), "13");
  EXPECT_EQ(Metric("mes_sync_duplicate_batches_total{tenant=\"acme\",site=\"lyon\"}"), 0);
  // The rows the backup lacks come back on its feed, in the shape of the store's schema.
  std::set<std::string> lacked;
  for (int i = 5; i < 10; ++i) lacked.insert(events[static_cast<std::size_t>(i)].id());
  for (int schema : {kEdgeSchemaVersion, kOldestServedEdgeSchema}) {
    v1::Envelope pull;
    pull.mutable_pull_request()->set_max_changes(1000);
    pull.mutable_pull_request()->set_schema_version(static_cast<std::uint32_t>(schema));
    r = restored->Call(pull);
    ASSERT_TRUE(r && r->has_feed_batch());
    std::set<std::string> back;
    for (const auto& c : r->feed_batch().changes()) {
      if (c.table() != "production_event") continue;
      const auto* t = catalog::MesCatalog().Find(c.table());
      EXPECT_EQ(static_cast<std::size_t>(c.values_size()), t->WidthAt(schema)) << schema;
      auto row = sync::DecodeServedShape(c, catalog::MesCatalog());
      ASSERT_TRUE(row.ok()) << row.status().ToString();
      back.insert(row->id());
    }
    EXPECT_EQ(back, lacked) << "edge schema " << schema;
  }
  // The store it replaced is refused by name, at Hello and with a batch.
  r = lyon->Call(Hello("lyon"));
  ASSERT_TRUE(r && r->has_error());
  EXPECT_NE(r->error().message().find("store_superseded"), std::string::npos) << r->error().message();
  r = lyon->Call(Batch(3, 11, Events("lyon", 200, 1)));
  ASSERT_TRUE(r && r->has_error());
  EXPECT_NE(r->error().message().find("store_superseded"), std::string::npos);
  EXPECT_EQ(Scalar("SELECT count(*) FROM millrace.production_event"), "13");
  EXPECT_EQ(Metric("mes_sync_store_epochs_started_total{tenant=\"acme\",site=\"lyon\"}"), 1);
  EXPECT_GE(Metric("mes_sync_store_refusals_total{tenant=\"acme\",site=\"lyon\",reason=\"store_superseded\"}"), 2);
  EXPECT_EQ(Scalar("SELECT superseded_by || ' ' || applied_seq_at_end FROM millrace.sync_site_epoch "
                   "WHERE epoch = '" + std::string(kEpoch) + "'"),
            "0190c0de-0000-7000-8000-00000000000b 10");
}

TEST_F(SyncProtocolTest, AStoreBehindCentralInItsOwnEpochIsRefusedNotAcknowledgedAway) {
  auto lyon = Connect("lyon");
  ASSERT_TRUE(lyon->Call(Batch(1, 1, Events("lyon", 0, 10)))->has_ack());
  // The same epoch claiming only 5 captured changes: a copy put back without a new epoch.
  v1::Envelope hello = Hello("lyon");
  hello.mutable_hello()->set_outbox_head_seq(5);
  auto r = lyon->Call(hello);
  ASSERT_TRUE(r && r->has_error());
  EXPECT_NE(r->error().message().find("store_behind_central"), std::string::npos)
      << r->error().message();
}

TEST_F(SyncProtocolTest, ASecondStoreIsRefusedWhileTheSitesStoreIsLive) {
  central::SyncServiceOptions so;
  so.database_url = db_->ConnInfo("millrace_app");
  so.store_takeover_grace_ms = 60'000;
  MetricsRegistry metrics;
  central::SyncService service(so, &metrics);
  sync::SyncServerOptions o;
  o.secret_key = central_keys_.secret_key;
  auto server = sync::SyncServer::Start(o, &service, &metrics);
  ASSERT_TRUE(server.ok());
  auto secret = sync::ReadKeyFile((dir_ / "lyon" / "site.key").string(), true);
  RawSite live((*server)->endpoint(), central_keys_.public_key, *secret);
  ASSERT_TRUE(live.Call(Hello("lyon"))->has_hello_reply());
  RawSite copy((*server)->endpoint(), central_keys_.public_key, *secret);
  v1::Envelope hello = Hello("lyon", "0190c0de-0000-7000-8000-0000000000cc");
  hello.mutable_hello()->set_epoch_parent(kEpoch);
  auto r = copy.Call(hello);
  ASSERT_TRUE(r && r->has_error());
  EXPECT_NE(r->error().message().find("site_live_elsewhere"), std::string::npos)
      << r->error().message();
  // The live store is undisturbed.
  r = live.Call(Batch(1, 1, Events("lyon", 0, 2)));
  ASSERT_TRUE(r && r->has_ack()) << (r ? r->DebugString() : "no reply");
  EXPECT_EQ(Scalar("SELECT store_epoch FROM millrace.sync_site WHERE site_id = 'lyon'"), kEpoch);
}

TEST_F(SyncProtocolTest, ASiteOfOneTenantCannotReadOrWriteAnother) {
  // globex's tokyo sends a row claiming lyon: refused, and nothing lands in acme.
  auto tokyo = Connect("tokyo");
  auto forged = Events("lyon", 0, 1);
  auto r = tokyo->Call(Batch(1, 1, forged));
  ASSERT_TRUE(r && r->has_ack());
  EXPECT_EQ(Scalar("SELECT count(*) FROM millrace.production_event"), "0");
  EXPECT_EQ(Scalar("SELECT tenant_id || '/' || site_id FROM millrace.sync_reject"), "globex/tokyo");
  // Central writes for acme are invisible to tokyo's pulls, and visible to lyon's.
  HybridClock hlc(SystemClock(), 60000);
  auto put = central::PutRows(*app_, "acme", "reason_code",
                              nlohmann::json::object({{"code", "DT-X"},
                                                      {"name", "x"},
                                                      {"category", "downtime"},
                                                      {"planned", false},
                                                      {"is_failure", false},
                                                      {"active", true}}),
                              hlc);
  ASSERT_TRUE(put.ok()) << put.status().ToString();
  v1::Envelope pull;
  pull.mutable_pull_request()->set_cursor(0);
  pull.mutable_pull_request()->set_max_changes(100);
  r = tokyo->Call(pull);
  ASSERT_TRUE(r && r->has_feed_batch());
  EXPECT_EQ(r->feed_batch().changes_size(), 0);
  auto lyon = Connect("lyon");
  r = lyon->Call(pull);
  ASSERT_TRUE(r && r->has_feed_batch());
  ASSERT_EQ(r->feed_batch().changes_size(), 1);
  EXPECT_EQ(r->feed_batch().changes(0).table(), "reason_code");
  // And the app role, in tenant globex's context, sees none of acme's rows.
  ASSERT_TRUE(app_->Exec("BEGIN").ok());
  ASSERT_TRUE(app_->Query("SELECT set_config('app.tenant_id', 'globex', true)").ok());
  EXPECT_EQ(app_->Query("SELECT count(*) FROM millrace.reason_code")->GetString(0, 0), "0");
  EXPECT_EQ(app_->Query("SELECT count(*) FROM millrace.sync_feed")->GetString(0, 0), "0");
  ASSERT_TRUE(app_->Exec("ROLLBACK").ok());
}

TEST_F(SyncProtocolTest, AnUnknownKeyNeverReachesTheApplier) {
  auto stranger_keys = sync::GenerateCurveKeyPair();
  RawSite stranger(server_->endpoint(), central_keys_.public_key, stranger_keys->secret_key);
  stranger.Send(Batch(1, 1, Events("lyon", 0, 3)));
  EXPECT_FALSE(stranger.Receive(std::chrono::milliseconds(1500)));
  EXPECT_GE(Metric("mes_sync_handshakes_total{outcome=\"refused\"}"), 1);
  EXPECT_EQ(Metric("mes_sync_frames_total{type=\"push_batch\"}"), 0);
  EXPECT_EQ(Scalar("SELECT count(*) FROM millrace.production_event"), "0");
  // No Curve at all: the handshake cannot even start.
  RawSite plain(server_->endpoint(), "", "");
  plain.Send(Batch(1, 1, Events("lyon", 0, 3)));
  EXPECT_FALSE(plain.Receive(std::chrono::milliseconds(500)));
  EXPECT_EQ(Scalar("SELECT count(*) FROM millrace.production_event"), "0");
}

TEST_F(SyncProtocolTest, ARevokedKeyIsRefusedOnItsOpenConnectionAndAtTheNextHandshake) {
  auto lyon = Connect("lyon");
  auto r = lyon->Call(Batch(1, 1, Events("lyon", 0, 2)));
  ASSERT_TRUE(r && r->has_ack());
  ASSERT_TRUE(central::RevokeSite(*app_, "acme", "lyon").ok());
  r = lyon->Call(Batch(2, 3, Events("lyon", 2, 2)));  // same connection
  ASSERT_TRUE(r && r->has_error());
  EXPECT_EQ(r->error().code(), "permission_denied");
  auto again = Connect("lyon", false);  // a new connection
  again->Send(Batch(3, 3, Events("lyon", 2, 2)));
  EXPECT_FALSE(again->Receive(std::chrono::milliseconds(1500)));
  EXPECT_EQ(Scalar("SELECT count(*) FROM millrace.production_event"), "2");
}

TEST_F(SyncProtocolTest, MalformedOversizedAndOutOfProtocolFramesGetAnErrorAndAMetric) {
  auto lyon = Connect("lyon");
  lyon->SendRaw("\xff\xff not a frame");
  auto r = lyon->Receive();
  ASSERT_TRUE(r && r->has_error());
  EXPECT_EQ(r->error().code(), "invalid_argument");
  lyon->SendRaw(std::string(300 * 1024, 'x'));  // over the 256 KiB limit
  r = lyon->Receive();
  ASSERT_TRUE(r && r->has_error());
  EXPECT_EQ(r->error().code(), "resource_exhausted");
  v1::Envelope ack;
  ack.mutable_ack()->set_acked_seq(5);  // only central sends acks
  r = lyon->Call(ack);
  ASSERT_TRUE(r && r->has_error());
  v1::Envelope future;
  future.mutable_hello();
  std::string bytes = future.SerializeAsString();  // protocol_version 0
  lyon->SendRaw(bytes);
  r = lyon->Receive();
  ASSERT_TRUE(r && r->has_error());
  EXPECT_EQ(r->error().code(), "failed_precondition");
  EXPECT_EQ(Metric("mes_sync_frame_errors_total{reason=\"malformed\"}"), 1);
  EXPECT_EQ(Metric("mes_sync_frame_errors_total{reason=\"oversized\"}"), 1);
  EXPECT_EQ(Metric("mes_sync_frame_errors_total{reason=\"out_of_protocol\"}"), 1);
  EXPECT_EQ(Metric("mes_sync_frame_errors_total{reason=\"protocol_version\"}"), 1);
  // The connection still works.
  r = lyon->Call(Batch(1, 1, Events("lyon", 0, 2)));
  ASSERT_TRUE(r && r->has_ack());
}

TEST_F(SyncProtocolTest, ASiteWhoseClockRunsHoursAheadCannotWinForever) {
  auto lyon = Connect("lyon");
  const std::int64_t now = SystemClock()->NowMillis();
  Row wo = WorkOrderStampedAhead(3 * 3600 * 1000);
  auto r = lyon->Call(Batch(1, 1, {wo}));
  ASSERT_TRUE(r && r->has_ack());
  EXPECT_EQ(Metric("mes_sync_clock_clamped_total{tenant=\"acme\",site=\"lyon\"}"), 1);
  const std::int64_t stored_hlc = std::stoll(Scalar("SELECT hlc FROM millrace.work_order"));
  EXPECT_LT(HlcTimestamp::FromPacked(static_cast<std::uint64_t>(stored_hlc)).physical_ms(),
            static_cast<std::uint64_t>(now + 60 * 1000));
  // Central altered the row, so it sends it back to the site, marked as already holding
  // the site's changes through seq 1: the site adopts central's clock and converges.
  {
    v1::Envelope pull;
    pull.mutable_pull_request()->set_max_changes(100);
    auto back = lyon->Call(pull);
    ASSERT_TRUE(back && back->has_feed_batch());
    ASSERT_EQ(back->feed_batch().changes_size(), 1);
    const v1::Change& c = back->feed_batch().changes(0);
    EXPECT_EQ(c.reflects_site(), "lyon");
    EXPECT_EQ(c.reflects_seq(), 1u);
    EXPECT_EQ(c.hlc(), static_cast<std::uint64_t>(stored_hlc));
  }
  // Central edits the row a moment later: central wins, although the site's clock said
  // its write happened three hours from now.
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  HybridClock hlc(SystemClock(), 60000);
  auto put = central::PutRows(*app_, "acme", "work_order",
                              nlohmann::json::object({{"id", wo.id()}, {"priority", 9}}), hlc);
  ASSERT_TRUE(put.ok()) << put.status().ToString();
  EXPECT_EQ(Scalar("SELECT priority FROM millrace.work_order"), "9");
  // The site receives the merged row (with central's clock) on its feed.
  auto last = LastFedRow(*lyon);
  ASSERT_TRUE(last.ok()) << last.status().ToString();
  EXPECT_EQ(last->Int("priority"), 9);
}

TEST_F(SyncProtocolTest, CentralsEditWinsOverARowStampedByASiteClockMinutesAhead) {
  // lyon's clock runs three minutes fast: inside the skew limit, so its stamp stands.
  auto lyon = Connect("lyon");
  Row wo = WorkOrderStampedAhead(3 * 60 * 1000);
  const auto ahead = HlcTimestamp::FromPacked(static_cast<std::uint64_t>(wo.Int("hlc")));
  auto r = lyon->Call(Batch(1, 1, {wo}));
  ASSERT_TRUE(r && r->has_ack());
  EXPECT_EQ(Metric("mes_sync_clock_clamped_total{tenant=\"acme\",site=\"lyon\"}"), 0);
  // A supervisor at central edits the row with a clock of its own, as `mes-central put`
  // makes one per call: the edit follows the row it replaced, so it wins.
  HybridClock fresh(SystemClock(), 5 * 60 * 1000);
  auto put = central::PutRows(*app_, "acme", "work_order",
                              nlohmann::json::object({{"id", wo.id()}, {"priority", 9}}), fresh);
  ASSERT_TRUE(put.ok()) << put.status().ToString();
  EXPECT_EQ(put->conflicts, 0u);  // sequential, not concurrent: it saw the site's write
  EXPECT_EQ(Scalar("SELECT priority FROM millrace.work_order"), "9");
  EXPECT_EQ(Scalar("SELECT count(*) FROM millrace.sync_conflict"), "0");
  EXPECT_GT(std::stoull(Scalar("SELECT hlc FROM millrace.work_order")), ahead.packed());
  // The site receives central's edit.
  auto last = LastFedRow(*lyon);
  ASSERT_TRUE(last.ok()) << last.status().ToString();
  EXPECT_EQ(last->Int("priority"), 9);
  EXPECT_GT(static_cast<std::uint64_t>(last->Int("hlc")), ahead.packed());
}

TEST_F(SyncProtocolTest, CentralPutRefusesUnknownColumnsAndOutOfRangeValuesByName) {
  HybridClock hlc(SystemClock(), 60000);
  auto typo = central::PutRows(*app_, "acme", "work_order",
                               nlohmann::json::object({{"number", "WO-7"}, {"priorty", 3}}), hlc);
  ASSERT_FALSE(typo.ok());
  EXPECT_NE(typo.status().message().find("priorty"), std::string::npos) << typo.status().ToString();
  auto huge = central::PutRows(*app_, "acme", "reason_code",
                               nlohmann::json::object({{"code", "X"}, {"name", std::string(5000, 'n')},
                                                       {"category", "scrap"}, {"planned", false},
                                                       {"is_failure", false}, {"active", true}}),
                               hlc);
  ASSERT_FALSE(huge.ok());
  EXPECT_NE(huge.status().message().find("reason_code.name: must be at most 4096 bytes"),
            std::string::npos)
      << huge.status().ToString();
  auto range = central::PutRows(
      *app_, "acme", "shift_pattern",
      nlohmann::json::object({{"site_id", "lyon"}, {"code", "N"}, {"name", "Night"},
                              {"start_minute", 2000}, {"end_minute", 360}, {"weekdays", 31},
                              {"planned_breaks", nlohmann::json::array()}}),
      hlc);
  ASSERT_FALSE(range.ok());
  EXPECT_NE(range.status().message().find("shift_pattern.start_minute: must be between 0 and 1439"),
            std::string::npos)
      << range.status().ToString();
  EXPECT_EQ(Scalar("SELECT count(*) FROM millrace.shift_pattern"), "0");
}

TEST_F(SyncProtocolTest, AConcurrentEditOfASharedRowIsRecordedAsAConflictWithBothValues) {
  auto lyon = Connect("lyon");
  Row wo = MakeRow(T("work_order"), "lyon", 1);
  wo.Set("status", "Released").Set("priority", std::int64_t{2});
  const std::int64_t now = SystemClock()->NowMillis();
  const auto base = HlcTimestamp(static_cast<std::uint64_t>(now - 1000), 0);
  wo.Set("hlc", static_cast<std::int64_t>(base.packed()));
  auto r = lyon->Call(Batch(1, 1, {wo}));
  ASSERT_TRUE(r && r->has_ack());
  // Central changes the priority; the site, not having seen that, changes it too.
  HybridClock hlc(SystemClock(), 60000);
  auto put = central::PutRows(*app_, "acme", "work_order",
                              nlohmann::json::object({{"id", wo.id()}, {"priority", 9}}), hlc);
  ASSERT_TRUE(put.ok()) << put.status().ToString();
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  Row edit = wo;
  edit.Set("priority", std::int64_t{4});
  edit.Set("hlc", static_cast<std::int64_t>(
                      HlcTimestamp(static_cast<std::uint64_t>(SystemClock()->NowMillis()), 0).packed()));
  v1::Envelope batch = Batch(2, 2, {edit});
  auto* change = batch.mutable_push_batch()->mutable_changes(0);
  change->set_base_hlc(base.packed());
  change->add_changed_columns(static_cast<std::uint32_t>(T("work_order").Find("priority") -
                                                          T("work_order").columns.data()));
  r = lyon->Call(batch);
  ASSERT_TRUE(r && r->has_ack());
  EXPECT_EQ(r->ack().conflicts(), 1u);  // the site learns of it in the ack
  EXPECT_EQ(Scalar("SELECT priority FROM millrace.work_order"), "4");  // the newer write wins
  EXPECT_EQ(Scalar("SELECT column_name || ' ' || rule || ' ' || winner || ' kept ' || kept_value "
                   "|| ' lost ' || lost_value || ' ' || kept_origin || ' over ' || lost_origin "
                   "FROM millrace.sync_conflict"),
            "priority last_writer_wins incoming kept 4 lost 9 edge:lyon over central");
  EXPECT_EQ(Metric("mes_sync_conflicts_total{tenant=\"acme\",site=\"lyon\"}"), 1);
}

TEST_F(SyncProtocolTest, DevelopmentModeWithoutCurveMustBeAskedForAndStillChecksSites) {
  MetricsRegistry dev_metrics;
  sync::SyncServerOptions o;
  EXPECT_FALSE(sync::SyncServer::Start(o, service_.get(), &dev_metrics).ok());  // no key, no dev
  o.insecure_development = true;
  auto dev = sync::SyncServer::Start(o, service_.get(), &dev_metrics);
  ASSERT_TRUE(dev.ok()) << dev.status().ToString();
  RawSite plain((*dev)->endpoint(), "", "");
  auto r = plain.Call(Batch(1, 1, Events("lyon", 0, 1)));  // no Hello: no identity
  ASSERT_TRUE(r && r->has_error());
  EXPECT_EQ(r->error().code(), "unauthenticated");
  v1::Envelope hello;
  hello.mutable_hello()->set_site_id("nowhere");
  hello.mutable_hello()->set_catalog_fingerprint(catalog::MesCatalog().FingerprintHex());
  hello.mutable_hello()->set_schema_version(kEdgeSchemaVersion);
  hello.mutable_hello()->set_store_epoch(kEpoch);
  r = plain.Call(hello);
  ASSERT_TRUE(r && r->has_error());
  hello.mutable_hello()->set_site_id("lyon");
  r = plain.Call(hello);
  ASSERT_TRUE(r && r->has_hello_reply());
  r = plain.Call(Batch(1, 1, Events("lyon", 0, 3)));
  ASSERT_TRUE(r && r->has_ack());
  EXPECT_EQ(Scalar("SELECT count(*) FROM millrace.production_event"), "3");
}

v1::Envelope BackupOffer(const std::string& id, const std::string& content,
                        const std::string& sha = "") {
  v1::Envelope e;
  auto* o = e.mutable_backup_offer();
  o->set_backup_id(id);
  o->set_bytes(content.size());
  o->set_sha256(sha.empty() ? Sha256Hex(content) : sha);
  o->set_taken_at_ms(SystemClock()->NowMillis());
  o->set_schema_version(5);
  o->set_store_epoch("0190c0de-0000-7000-8000-000000000001");
  o->set_raw_bytes(content.size() * 4);
  o->set_compression("gzip");
  return e;
}

v1::Envelope BackupChunk(const std::string& id, std::uint64_t offset, const std::string& data) {
  v1::Envelope e;
  e.mutable_backup_chunk()->set_backup_id(id);
  e.mutable_backup_chunk()->set_offset(offset);
  e.mutable_backup_chunk()->set_data(data);
  return e;
}

// A site backup arrives in chunks appended where central's part ends (a chunk out of
// place is answered with where it ends, not written), resumes after a new offer, is
// checked whole against the offered SHA-256, kept under the site's key with a verify job
// queued; a file whose checksum differs is refused and dropped; another site's backup is
// out of reach.
TEST_F(SyncProtocolTest, ASiteBackupIsReceivedInChunksCheckedWholeAndKeptPerSite) {
  auto lyon = Connect("lyon");
  const std::string id = "20261202T101500.123Z", content = "0123456789";
  auto r = lyon->Call(BackupOffer(id, content));
  ASSERT_TRUE(r && r->has_backup_offer_reply()) << (r ? r->DebugString() : "no reply");
  EXPECT_FALSE(r->backup_offer_reply().declined());
  EXPECT_EQ(r->backup_offer_reply().next_offset(), 0u);
  r = lyon->Call(BackupChunk(id, 4, "4567"));  // out of place: nothing written
  ASSERT_TRUE(r && r->has_backup_chunk_ack()) << (r ? r->DebugString() : "no reply");
  EXPECT_EQ(r->backup_chunk_ack().next_offset(), 0u);
  EXPECT_FALSE(r->backup_chunk_ack().refused());
  r = lyon->Call(BackupChunk(id, 0, "01234"));
  ASSERT_TRUE(r && r->has_backup_chunk_ack());
  EXPECT_EQ(r->backup_chunk_ack().next_offset(), 5u);
  r = lyon->Call(BackupChunk(id, 0, "01234"));  // sent twice: not written twice
  EXPECT_EQ(r->backup_chunk_ack().next_offset(), 5u);
  lyon = Connect("lyon");  // a new link: the offer says where central's copy ends
  r = lyon->Call(BackupOffer(id, content));
  ASSERT_TRUE(r && r->has_backup_offer_reply());
  EXPECT_EQ(r->backup_offer_reply().next_offset(), 5u);
  EXPECT_EQ(Scalar("SELECT state FROM millrace.site_backup WHERE backup_id = '" + id + "'"),
            "receiving");
  r = lyon->Call(BackupChunk(id, 5, "56789"));
  ASSERT_TRUE(r && r->has_backup_chunk_ack());
  EXPECT_TRUE(r->backup_chunk_ack().complete());
  EXPECT_EQ(*ReadFile((dir_ / "backups" / "acme" / "lyon" / (id + ".db.gz")).string()), content);
  EXPECT_EQ(Scalar("SELECT state || ' ' || node || ' ' || bytes FROM millrace.site_backup WHERE "
                   "tenant_id = 'acme' AND site_id = 'lyon' AND backup_id = '" + id + "'"),
            "stored node-a 10");
  EXPECT_EQ(Scalar("SELECT count(*) FROM millrace.job WHERE kind = 'backup_verify' AND tenant_id "
                   "= 'acme' AND payload->>'site' = 'lyon' AND payload->>'backup_id' = '" + id + "'"),
            "1");
  r = lyon->Call(BackupOffer(id, content));  // offered again: central holds it
  EXPECT_TRUE(r && r->backup_offer_reply().complete());
  r = lyon->Call(BackupOffer(id, "another content"));
  ASSERT_TRUE(r && r->has_error());
  EXPECT_NE(r->error().message().find("another size or sha256"), std::string::npos);

  // A file whose checksum is not the offered one: refused, and its part dropped.
  const std::string bad = "20261202T111500.000Z";
  r = lyon->Call(BackupOffer(bad, content, Sha256Hex("something else")));
  ASSERT_TRUE(r && r->has_backup_offer_reply());
  r = lyon->Call(BackupChunk(bad, 0, content));
  ASSERT_TRUE(r && r->has_backup_chunk_ack());
  EXPECT_TRUE(r->backup_chunk_ack().refused());
  EXPECT_NE(r->backup_chunk_ack().reason().find("sha256"), std::string::npos);
  EXPECT_FALSE(fs::exists(dir_ / "backups" / "acme" / "lyon" / (bad + ".db.gz")));
  EXPECT_FALSE(fs::exists(dir_ / "backups" / "acme" / "lyon" / (bad + ".db.gz.part")));
  r = lyon->Call(BackupChunk(bad, 0, content + "more"));  // past the offered size
  EXPECT_TRUE(r && r->backup_chunk_ack().refused());

  // Another site cannot add to, or learn of, lyon's backup.
  auto porto = Connect("porto");
  r = porto->Call(BackupChunk(id, 10, "x"));
  ASSERT_TRUE(r && r->has_error());
  EXPECT_NE(r->error().message().find("was not offered"), std::string::npos);
}

}  // namespace
}  // namespace millrace::testing
