// The sync server's dispatch over a fake ServerTransport and an in-memory CentralSide:
// frames refused before any handler sees them, identity from the handshake only, one
// site's requests answered in order, nudges to the tenant's connections only.
#include "millrace/sync/server.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <set>

#include "catalog_rows.h"
#include "memory_central.h"
#include "millrace/common/schema_versions.h"
#include "millrace/sync/row_codec.h"
#include "millrace/sync/wire.h"

namespace millrace::sync {
namespace {

using std::chrono::milliseconds;

// Frames go in through Inject(); replies are collected per connection. Thread-safe: the
// server's socket thread and the test's thread both use it.
class FakeServerTransport final : public ServerTransport {
 public:
  struct Shared {
    std::mutex mu;
    std::condition_variable cv;
    std::deque<InboundFrame> inbox;
    std::map<std::string, std::vector<v1::Envelope>> sent;
    std::set<std::string> gone;
    std::map<std::string, int> refused;  // sends tried on a connection in `gone`
    bool woken = false;
  };
  explicit FakeServerTransport(std::shared_ptr<Shared> s) : s_(std::move(s)) {}

  Result<std::optional<InboundFrame>> Receive(milliseconds timeout) override {
    std::unique_lock lock(s_->mu);
    s_->cv.wait_for(lock, timeout, [&] { return s_->woken || !s_->inbox.empty(); });
    s_->woken = false;
    if (s_->inbox.empty()) return std::optional<InboundFrame>();
    InboundFrame f = std::move(s_->inbox.front());
    s_->inbox.pop_front();
    return std::optional<InboundFrame>(std::move(f));
  }
  Status Send(const std::string& connection, const std::string& frame) override {
    std::lock_guard lock(s_->mu);
    if (s_->gone.count(connection)) {
      ++s_->refused[connection];
      s_->cv.notify_all();
      return Status::NotFound("gone");
    }
    auto e = DecodeFrame(frame);
    EXPECT_TRUE(e.ok());
    s_->sent[connection].push_back(*e);
    s_->cv.notify_all();
    return Status::Ok();
  }
  void Wake() override {
    std::lock_guard lock(s_->mu);
    s_->woken = true;
    s_->cv.notify_all();
  }
  std::string endpoint() const override { return "fake://central"; }

 private:
  std::shared_ptr<Shared> s_;
};

class SyncServerTest : public ::testing::Test {
 protected:
  SyncServerTest() : central_(&metrics_) {
    central_.AddSite("acme", "lyon", "key-lyon");
    central_.AddSite("acme", "turin", "key-turin");
    central_.AddSite("globex", "oslo", "key-oslo");
  }

  void Start(bool development = false) {
    SyncServerOptions o;
    o.workers = 2;
    o.insecure_development = development;
    o.max_frame_bytes = 4096;
    auto s =
        SyncServer::Start(o, &central_, std::make_unique<FakeServerTransport>(shared_), &metrics_);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    server_ = std::move(*s);
  }

  void Inject(const std::string& connection, std::string frame, std::optional<Peer> peer,
              bool multipart = false) {
    std::lock_guard lock(shared_->mu);
    shared_->inbox.push_back({connection, std::move(frame), std::move(peer), multipart});
    shared_->cv.notify_all();
  }

  // Waits until `connection` has `n` replies and returns them.
  std::vector<v1::Envelope> Replies(const std::string& connection, std::size_t n) {
    std::unique_lock lock(shared_->mu);
    shared_->cv.wait_for(lock, std::chrono::seconds(10),
                         [&] { return shared_->sent[connection].size() >= n; });
    return shared_->sent[connection];
  }

  v1::Envelope HelloOf(const std::string& site) {
    v1::Envelope e;
    e.mutable_hello()->set_site_id(site);
    e.mutable_hello()->set_catalog_fingerprint(catalog::MesCatalog().FingerprintHex());
    e.mutable_hello()->set_schema_version(kEdgeSchemaVersion);
    e.mutable_hello()->set_store_epoch("epoch-" + site);
    return e;
  }

  double Counter(const std::string& line) {
    const std::string text = metrics_.Render();
    const auto at = text.find(line + " ");
    return at == std::string::npos ? 0 : std::stod(text.substr(at + line.size() + 1));
  }

  MetricsRegistry metrics_;
  testing::MemoryCentral central_;
  std::shared_ptr<FakeServerTransport::Shared> shared_ =
      std::make_shared<FakeServerTransport::Shared>();
  std::unique_ptr<SyncServer> server_;
  const Peer lyon_{"acme", "lyon", "key-lyon"};
};

TEST_F(SyncServerTest, BadFramesAreRefusedWithAReasonAndNeverReachTheCentralSide) {
  Start();
  Inject("c1", EncodeFrame(HelloOf("lyon")), lyon_, /*multipart=*/true);
  Inject("c2", "not a frame at all", lyon_);
  Inject("c3", std::string(9000, 'x'), lyon_);
  Inject("c4", EncodeFrame(HelloOf("lyon")), std::nullopt);  // no Curve identity
  v1::Envelope nudge;
  nudge.mutable_nudge()->set_feed_head(3);
  Inject("c5", EncodeFrame(nudge), lyon_);  // only central sends nudges
  for (const char* c : {"c1", "c2", "c3", "c4", "c5"}) {
    auto r = Replies(c, 1);
    ASSERT_EQ(r.size(), 1u) << c;
    EXPECT_TRUE(r[0].has_error()) << c;
  }
  EXPECT_EQ(Counter("mes_sync_frame_errors_total{reason=\"multipart\"}"), 1);
  EXPECT_EQ(Counter("mes_sync_frame_errors_total{reason=\"malformed\"}"), 1);
  EXPECT_EQ(Counter("mes_sync_frame_errors_total{reason=\"oversized\"}"), 1);
  EXPECT_EQ(Counter("mes_sync_frame_errors_total{reason=\"unauthenticated\"}"), 1);
  EXPECT_EQ(Counter("mes_sync_frame_errors_total{reason=\"out_of_protocol\"}"), 1);
  EXPECT_EQ(central_.Site("acme", "lyon").epoch, "");  // no Hello got through
}

TEST_F(SyncServerTest, TheSiteIsTheHandshakesNeverThePayloads) {
  Start();
  // Lyon's key claiming to be Turin in its Hello.
  Inject("c1", EncodeFrame(HelloOf("turin")), lyon_);
  auto r = Replies("c1", 1);
  ASSERT_TRUE(r[0].has_error());
  EXPECT_EQ(r[0].error().code(), "permission_denied");
  EXPECT_EQ(central_.Site("acme", "turin").epoch, "");
}

TEST_F(SyncServerTest, OneSitesRequestsAreAnsweredInTheOrderTheyCame) {
  Start();
  Inject("c1", EncodeFrame(HelloOf("lyon")), lyon_);
  constexpr int kBatches = 50;
  for (int i = 1; i <= kBatches; ++i) {
    v1::Envelope e;
    auto* b = e.mutable_push_batch();
    b->set_batch_id(static_cast<std::uint64_t>(i));
    b->set_first_seq(static_cast<std::uint64_t>(i));
    b->set_last_seq(static_cast<std::uint64_t>(i));
    b->set_store_epoch("epoch-lyon");
    Row row = testing::SampleTypedRow(*catalog::MesCatalog().Find("measurement"), "lyon", i);
    *b->add_changes() = EncodeChange(row, v1::OP_UPSERT);
    b->mutable_changes(0)->set_seq(static_cast<std::uint64_t>(i));
    Inject("c1", EncodeFrame(e), lyon_);
  }
  auto r = Replies("c1", kBatches + 1);
  ASSERT_EQ(r.size(), static_cast<std::size_t>(kBatches + 1));
  ASSERT_TRUE(r[0].has_hello_reply());
  for (int i = 1; i <= kBatches; ++i) {
    ASSERT_TRUE(r[i].has_ack()) << i << ": " << r[i].DebugString();  // never a Nack for a gap
    EXPECT_EQ(r[i].ack().acked_seq(), static_cast<std::uint64_t>(i));
  }
  EXPECT_EQ(central_.Site("acme", "lyon").applied, static_cast<std::uint64_t>(kBatches));
}

TEST_F(SyncServerTest, ANudgeReachesTheTenantsConnectionsOnlyAndNotOnesThatHaveGone) {
  Start();
  Inject("lyon", EncodeFrame(HelloOf("lyon")), lyon_);
  Inject("turin", EncodeFrame(HelloOf("turin")), Peer{"acme", "turin", "key-turin"});
  Inject("oslo", EncodeFrame(HelloOf("oslo")), Peer{"globex", "oslo", "key-oslo"});
  for (const char* c : {"lyon", "turin", "oslo"}) ASSERT_TRUE(Replies(c, 1)[0].has_hello_reply());
  {
    std::lock_guard lock(shared_->mu);
    shared_->gone.insert("turin");
  }
  server_->NotifyFeed("acme", 9);
  auto r = Replies("lyon", 2);
  ASSERT_EQ(r.size(), 2u);
  ASSERT_TRUE(r[1].has_nudge());
  EXPECT_EQ(r[1].nudge().feed_head(), 9u);
  // Turin's connection has gone: once the server has tried it and been told so, the next
  // nudge is not even tried on it.
  {
    std::unique_lock lock(shared_->mu);
    ASSERT_TRUE(shared_->cv.wait_for(lock, std::chrono::seconds(10),
                                     [&] { return shared_->refused["turin"] == 1; }));
    shared_->gone.clear();
  }
  server_->NotifyFeed("acme", 10);
  EXPECT_EQ(Replies("lyon", 3).size(), 3u);
  EXPECT_EQ(Replies("turin", 1).size(), 1u);
  EXPECT_EQ(Replies("oslo", 1).size(), 1u);
}

TEST_F(SyncServerTest, DevelopmentModeTakesTheSiteFromHelloAndWantsHelloFirst) {
  Start(/*development=*/true);
  v1::Envelope pull;
  pull.mutable_pull_request()->set_max_changes(10);
  Inject("c1", EncodeFrame(pull), std::nullopt);
  auto r = Replies("c1", 1);
  ASSERT_TRUE(r[0].has_error());
  EXPECT_NE(r[0].error().message().find("say Hello first"), std::string::npos);
  Inject("c1", EncodeFrame(HelloOf("lyon")), std::nullopt);
  Inject("c1", EncodeFrame(pull), std::nullopt);
  r = Replies("c1", 3);
  EXPECT_TRUE(r[1].has_hello_reply()) << r[1].DebugString();
  EXPECT_TRUE(r[2].has_feed_batch()) << r[2].DebugString();
  Inject("c2", EncodeFrame(HelloOf("nowhere")), std::nullopt);
  EXPECT_TRUE(Replies("c2", 1)[0].has_error());
}

}  // namespace
}  // namespace millrace::sync
