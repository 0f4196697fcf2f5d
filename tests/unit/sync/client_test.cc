// The sync client's protocol logic against a fake transport, a fake edge and a manual
// clock: windows, cumulative acks, nack rewinds, timeouts with backoff, feed pulls.
#include "millrace/sync/client.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <deque>
#include <map>

#include "millrace/sync/wire.h"

namespace millrace::sync {
namespace {

using std::chrono::milliseconds;

class FakeTransport final : public ClientTransport {
 public:
  Status Send(std::string frame) override {
    if (down) return Status::Unavailable("link down");
    auto e = DecodeFrame(frame);
    EXPECT_TRUE(e.ok());
    sent.push_back(*e);
    return Status::Ok();
  }
  Result<std::optional<std::string>> Receive(milliseconds) override {
    if (inbox.empty()) return std::optional<std::string>();
    std::string f = EncodeFrame(inbox.front());
    inbox.pop_front();
    return std::optional<std::string>(f);
  }
  void Wake() override {}
  Status Reconnect() override {
    ++reconnects;
    return Status::Ok();
  }
  std::string endpoint() const override { return "fake://central"; }
  bool LinkUp() const override { return link; }
  Status SetCurveKeys(const std::string&, const std::string& public_key) override {
    keys_in_use = public_key;
    return Status::Ok();
  }

  std::vector<v1::Envelope> TakeSent() {
    auto out = std::move(sent);
    sent.clear();
    return out;
  }

  bool down = false;
  bool link = false;  // what a socket monitor would say
  std::string keys_in_use;
  int reconnects = 0;
  std::vector<v1::Envelope> sent;
  std::deque<v1::Envelope> inbox;
};

class FakeEdge final : public EdgeSide {
 public:
  void Capture(int n) {
    for (int i = 0; i < n; ++i) {
      v1::Change c;
      c.set_table("production_event");
      outbox[++head] = c.SerializeAsString();
    }
  }
  Result<std::vector<OutboxRecord>> ReadOutbox(std::uint64_t after, int limit) override {
    std::vector<OutboxRecord> out;
    for (auto it = outbox.upper_bound(after); it != outbox.end() && static_cast<int>(out.size()) < limit; ++it)
      out.push_back({it->first, it->second});
    return out;
  }
  Status Acknowledged(std::uint64_t seq) override {
    acked = std::max(acked, seq);
    if (!keep_acked) outbox.erase(outbox.begin(), outbox.upper_bound(seq));
    return Status::Ok();
  }
  Result<std::uint64_t> FeedCursor() override { return cursor; }
  Status RewindFeed(std::uint64_t c) override {
    cursor = c;
    ++rewinds;
    return Status::Ok();
  }
  Status ApplyFeed(const v1::FeedBatch& b) override {
    applied += static_cast<std::uint64_t>(b.changes_size());
    cursor = b.to_cursor();
    return Status::Ok();
  }
  Result<v1::SiteStatus> Backlog() override {
    v1::SiteStatus s;
    s.set_outbox_head_seq(head);
    s.set_backlog_rows(outbox.size());
    return s;
  }

  std::map<std::uint64_t, std::string> outbox;
  std::uint64_t head = 0, acked = 0, cursor = 0, applied = 0;
  bool keep_acked = false;  // acknowledged entries stay (as the edge's keep_acked_hours)
  int rewinds = 0;
};

class FakeKeys final : public SiteKeys {
 public:
  Result<CurveKeyPair> CurrentKeyPair() override { return CurveKeyPair{current, "current-secret"}; }
  Result<CurveKeyPair> NextKeyPair() override {
    if (!next) next = CurveKeyPair{"next-public-" + std::to_string(++made), "next-secret"};
    return *next;
  }
  bool HasNextKeyPair() const override { return next.has_value(); }
  Status PromoteNextKeyPair() override {
    current = next->public_key;
    next.reset();
    return Status::Ok();
  }
  std::optional<CurveKeyPair> next;
  std::string current = "first-public";
  int made = 0;
};

// One backup waiting, `data` its compressed bytes.
class FakeBackups final : public BackupSource {
 public:
  void Prepare(std::string id, std::string bytes) {
    data = std::move(bytes);
    offer.set_backup_id(std::move(id));
    offer.set_bytes(data.size());
    offer.set_sha256(std::string(64, 'a'));
    offer.set_taken_at_ms(1'800'000'000'000);
    offer.set_schema_version(5);
    offer.set_store_epoch("epoch-1");
    offer.set_raw_bytes(data.size() * 3);
    offer.set_compression("gzip");
    waiting = true;
  }
  Result<std::optional<v1::BackupOffer>> Pending() override {
    ++polls;
    if (!waiting) return std::optional<v1::BackupOffer>();
    return std::optional<v1::BackupOffer>(offer);
  }
  Result<std::string> Read(const std::string& id, std::uint64_t offset, std::size_t max) override {
    EXPECT_EQ(id, offer.backup_id());
    if (offset >= data.size()) return std::string();
    return data.substr(offset, max);
  }
  Status Shipped(const std::string& id) override {
    shipped.push_back(id);
    waiting = false;
    return Status::Ok();
  }
  Status Refused(const std::string& id, const std::string& reason) override {
    refused.push_back(id + ": " + reason);
    waiting = false;
    return Status::Ok();
  }
  std::string data;
  v1::BackupOffer offer;
  bool waiting = false;
  int polls = 0;
  std::vector<std::string> shipped, refused;
};

class SyncClientTest : public ::testing::Test {
 protected:
  SyncClientTest() {
    auto t = std::make_unique<FakeTransport>();
    transport_ = t.get();
    SyncClientOptions o;
    o.site_id = "lyon";
    o.batch_rows = 2;
    o.window = 3;
    o.ack_timeout = milliseconds(1000);
    o.hello_timeout = milliseconds(500);
    o.idle_ping = milliseconds(60000);
    o.backoff = {milliseconds(100), milliseconds(800)};
    o.seed = 1;
    o.backups = &backups_;
    o.backup_chunk_bytes = 4;
    o.backup_window = 2;
    o.backup_poll = milliseconds(1000);
    client_ = std::make_unique<SyncClient>(o, &edge_, std::move(t), &clock_);
  }

  void Reply(std::function<void(v1::Envelope&)> fill) {
    v1::Envelope e;
    fill(e);
    transport_->inbox.push_back(e);
  }
  void Step() { ASSERT_TRUE(client_->Step(milliseconds(0)).ok()); }

  // Says Hello and gets central's watermark.
  void Connect(std::uint64_t applied, std::uint64_t feed_head = 0) {
    Step();
    auto sent = transport_->TakeSent();
    ASSERT_EQ(sent.size(), 1u);
    ASSERT_TRUE(sent[0].has_hello());
    Reply([&](v1::Envelope& e) {
      e.mutable_hello_reply()->set_applied_seq(applied);
      e.mutable_hello_reply()->set_feed_head(feed_head);
    });
    Step();  // handles the reply
  }

  // The link drops (central goes down) and comes back: the client says Hello again.
  void DropLinkAndSayHello() {
    transport_->link = false;
    Step();
    transport_->link = true;
    Step();
    auto sent = transport_->TakeSent();
    ASSERT_EQ(sent.size(), 1u);
    ASSERT_TRUE(sent[0].has_hello());
  }

  static std::vector<std::pair<std::uint64_t, std::uint64_t>> Batches(
      const std::vector<v1::Envelope>& sent) {
    std::vector<std::pair<std::uint64_t, std::uint64_t>> out;
    for (const auto& e : sent)
      if (e.has_push_batch()) out.emplace_back(e.push_batch().first_seq(), e.push_batch().last_seq());
    return out;
  }

  ManualClock clock_{1'800'000'000'000};
  FakeEdge edge_;
  FakeBackups backups_;
  FakeTransport* transport_;
  std::unique_ptr<SyncClient> client_;
};

using Seqs = std::vector<std::pair<std::uint64_t, std::uint64_t>>;

// The backup chunks sent, as (offset, data).
std::vector<std::pair<std::uint64_t, std::string>> Chunks(const std::vector<v1::Envelope>& sent) {
  std::vector<std::pair<std::uint64_t, std::string>> out;
  for (const auto& e : sent)
    if (e.has_backup_chunk()) out.emplace_back(e.backup_chunk().offset(), e.backup_chunk().data());
  return out;
}
using ChunkList = std::vector<std::pair<std::uint64_t, std::string>>;

int Offers(const std::vector<v1::Envelope>& sent) {
  return static_cast<int>(std::count_if(sent.begin(), sent.end(),
                                        [](const v1::Envelope& e) { return e.has_backup_offer(); }));
}

TEST_F(SyncClientTest, KeepsAWindowOfBatchesInFlightAndPurgesOnCumulativeAcks) {
  edge_.Capture(10);
  Connect(0);
  Step();
  EXPECT_EQ(Batches(transport_->TakeSent()), (Seqs{{1, 2}, {3, 4}, {5, 6}}));  // window of 3
  Reply([](v1::Envelope& e) { e.mutable_ack()->set_acked_seq(4); });  // cumulative: two batches
  Step();
  EXPECT_EQ(edge_.acked, 4u);
  EXPECT_EQ(edge_.outbox.begin()->first, 5u);  // purged below the watermark only
  Step();
  EXPECT_EQ(Batches(transport_->TakeSent()), (Seqs{{7, 8}, {9, 10}}));
  EXPECT_EQ(client_->Stats().acked_seq, 4u);
}

// Under a trickle of single commits, a batch short of full goes only when nothing is in
// flight: what commits meanwhile goes together once the ack is back.
TEST_F(SyncClientTest, AShortBatchWaitsForTheAckOfTheOneInFlight) {
  Connect(0);
  edge_.Capture(1);
  Step();
  EXPECT_EQ(Batches(transport_->TakeSent()), (Seqs{{1, 1}}));  // idle: at once
  edge_.Capture(1);
  Step();
  EXPECT_TRUE(Batches(transport_->TakeSent()).empty());  // 2 waits for 1's ack
  edge_.Capture(2);
  Step();
  EXPECT_EQ(Batches(transport_->TakeSent()), (Seqs{{2, 3}}));  // a full batch does not wait
  Reply([](v1::Envelope& e) { e.mutable_ack()->set_acked_seq(3); });
  Step();  // handles the ack
  Step();
  EXPECT_EQ(Batches(transport_->TakeSent()), (Seqs{{4, 4}}));  // the rest, once nothing is in flight
}

TEST_F(SyncClientTest, ResumesFromCentralsWatermarkAfterTheHandshake) {
  edge_.Capture(6);
  Connect(4);  // central already has 1..4 (an ack lost before a restart)
  EXPECT_EQ(edge_.acked, 4u);
  Step();
  EXPECT_EQ(Batches(transport_->TakeSent()), (Seqs{{5, 6}}));
}

TEST_F(SyncClientTest, ANackRewindsOnceToTheExpectedSeq) {
  edge_.Capture(6);
  Connect(0);
  Step();
  auto sent = transport_->TakeSent();
  ASSERT_EQ(Batches(sent), (Seqs{{1, 2}, {3, 4}, {5, 6}}));
  Reply([](v1::Envelope& e) { e.mutable_ack()->set_acked_seq(2); });
  Reply([&](v1::Envelope& e) {
    e.mutable_nack()->set_batch_id(sent[1].push_batch().batch_id());
    e.mutable_nack()->set_expected_seq(3);
  });
  Reply([&](v1::Envelope& e) {  // the batch after the gap is refused too: stale
    e.mutable_nack()->set_batch_id(sent[2].push_batch().batch_id());
    e.mutable_nack()->set_expected_seq(3);
  });
  Step();
  Step();
  Step();
  Step();
  EXPECT_EQ(Batches(transport_->TakeSent()), (Seqs{{3, 4}, {5, 6}}));
  EXPECT_EQ(client_->Stats().nacks, 1u);
}

TEST_F(SyncClientTest, AMissingAckReconnectsAfterABackoffAndStartsOverWithAHello) {
  edge_.Capture(2);
  Connect(0);
  Step();
  ASSERT_EQ(Batches(transport_->TakeSent()), (Seqs{{1, 2}}));
  clock_.Advance(1001);  // the ack never comes (central restarted)
  Step();
  EXPECT_EQ(transport_->reconnects, 1);
  EXPECT_FALSE(client_->Stats().connected);
  Step();
  EXPECT_TRUE(transport_->TakeSent().empty());  // waiting out the backoff
  clock_.Advance(100);
  Step();
  auto sent = transport_->TakeSent();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_TRUE(sent[0].has_hello());
  Reply([](v1::Envelope& e) { e.mutable_hello_reply()->set_applied_seq(2); });
  Step();
  EXPECT_EQ(edge_.acked, 2u);  // the batch had landed after all
  EXPECT_TRUE(client_->Stats().connected);
}

TEST_F(SyncClientTest, ADroppedLinkRestartsAtOnceAndTheBackoffEndsWhenTheLinkIsBack) {
  edge_.Capture(2);
  transport_->link = true;
  Connect(0);
  Step();
  ASSERT_EQ(Batches(transport_->TakeSent()), (Seqs{{1, 2}}));
  transport_->link = false;  // central was killed: no need to wait for the ack timeout
  Step();
  EXPECT_EQ(transport_->reconnects, 1);
  EXPECT_FALSE(client_->Stats().connected);
  for (int i = 0; i < 4; ++i) {  // still down: the backoff (50..100 ms first) holds
    clock_.Advance(10);
    Step();
  }
  EXPECT_TRUE(transport_->TakeSent().empty());
  transport_->link = true;  // central is back: the Hello goes before the backoff ends
  Step();
  auto sent = transport_->TakeSent();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_TRUE(sent[0].has_hello());
  Reply([](v1::Envelope& e) { e.mutable_hello_reply()->set_applied_seq(0); });
  Step();
  Step();
  EXPECT_EQ(Batches(transport_->TakeSent()), (Seqs{{1, 2}}));  // resent from the watermark
}

// Central restored from an older backup says Hello with fewer seqs applied than it once
// acknowledged: the changes the outbox still keeps go again, as ordinary batches.
TEST_F(SyncClientTest, ACentralRestoredFromAnOlderBackupGetsTheKeptChangesAgain) {
  edge_.keep_acked = true;
  edge_.Capture(4);
  transport_->link = true;
  Connect(0);
  Step();
  ASSERT_EQ(Batches(transport_->TakeSent()), (Seqs{{1, 2}, {3, 4}}));
  Reply([](v1::Envelope& e) { e.mutable_ack()->set_acked_seq(4); });
  Step();
  ASSERT_EQ(edge_.acked, 4u);
  DropLinkAndSayHello();  // central goes down and comes back restored
  Reply([](v1::Envelope& e) { e.mutable_hello_reply()->set_applied_seq(2); });
  Step();
  Step();
  auto sent = transport_->TakeSent();
  EXPECT_EQ(Batches(sent), (Seqs{{3, 4}}));
  EXPECT_FALSE(sent[0].push_batch().skips_lost());
}

// The same when the outbox no longer keeps them: the next batch says it skips seqs central
// had acknowledged, so central takes it across the gap instead of nacking it for ever.
TEST_F(SyncClientTest, AcknowledgedChangesNoLongerKeptAreSkippedNamingTheGap) {
  edge_.Capture(4);
  transport_->link = true;
  Connect(0);
  Step();
  ASSERT_EQ(Batches(transport_->TakeSent()), (Seqs{{1, 2}, {3, 4}}));
  Reply([](v1::Envelope& e) { e.mutable_ack()->set_acked_seq(4); });
  Step();
  edge_.Capture(2);
  Step();
  ASSERT_EQ(Batches(transport_->TakeSent()), (Seqs{{5, 6}}));
  DropLinkAndSayHello();  // before 5..6 are acknowledged
  Reply([](v1::Envelope& e) { e.mutable_hello_reply()->set_applied_seq(2); });
  Step();
  Step();
  auto sent = transport_->TakeSent();
  ASSERT_EQ(Batches(sent), (Seqs{{5, 6}}));
  EXPECT_TRUE(sent[0].push_batch().skips_lost());
  // An ordinary reconnect (central holds all it acknowledged) skips nothing.
  DropLinkAndSayHello();
  Reply([](v1::Envelope& e) { e.mutable_hello_reply()->set_applied_seq(4); });
  Step();
  Step();
  sent = transport_->TakeSent();
  ASSERT_EQ(Batches(sent), (Seqs{{5, 6}}));
  EXPECT_FALSE(sent[0].push_batch().skips_lost());
}

// After a restart the client knows the watermark from the store: a restored central is
// noticed, and seqs the outbox no longer keeps are skipped, the first handshake already.
TEST_F(SyncClientTest, AfterARestartTheStoresWatermarkShowsWhatCentralLost) {
  edge_.Capture(6);
  edge_.outbox.erase(edge_.outbox.begin(), edge_.outbox.upper_bound(4));  // purged: acked before
  SyncClientOptions o;
  o.site_id = "lyon";
  o.batch_rows = 2;
  o.acked_seq = 4;
  auto t = std::make_unique<FakeTransport>();
  FakeTransport* transport = t.get();
  SyncClient client(o, &edge_, std::move(t), &clock_);
  EXPECT_EQ(client.Stats().acked_seq, 4u);
  ASSERT_TRUE(client.Step(milliseconds(0)).ok());
  ASSERT_EQ(transport->TakeSent().size(), 1u);  // a Hello
  v1::Envelope reply;
  reply.mutable_hello_reply()->set_applied_seq(2);
  transport->inbox.push_back(reply);
  ASSERT_TRUE(client.Step(milliseconds(0)).ok());
  ASSERT_TRUE(client.Step(milliseconds(0)).ok());
  auto sent = transport->TakeSent();
  ASSERT_EQ(Batches(sent), (Seqs{{5, 6}}));
  EXPECT_TRUE(sent[0].push_batch().skips_lost());
}

// A feed head behind the edge's cursor (central restored): the cursor goes back to it, so
// the positions central writes anew are pulled.
TEST_F(SyncClientTest, AFeedHeadBehindTheCursorRewindsItAndPullsFromThere) {
  transport_->link = true;
  Connect(0, 5);
  Step();
  auto sent = transport_->TakeSent();
  ASSERT_EQ(sent.size(), 1u);
  ASSERT_TRUE(sent[0].has_pull_request());
  Reply([](v1::Envelope& e) {
    e.mutable_feed_batch()->set_from_cursor(0);
    e.mutable_feed_batch()->set_to_cursor(5);
  });
  Step();
  ASSERT_EQ(edge_.cursor, 5u);
  DropLinkAndSayHello();
  Reply([](v1::Envelope& e) {
    e.mutable_hello_reply()->set_applied_seq(0);
    e.mutable_hello_reply()->set_feed_head(2);
  });
  Step();
  EXPECT_EQ(edge_.cursor, 2u);
  EXPECT_EQ(edge_.rewinds, 1);
  EXPECT_EQ(client_->Stats().feed_cursor, 2u);
  Reply([](v1::Envelope& e) { e.mutable_nudge()->set_feed_head(4); });  // central writes anew
  Step();
  Step();
  sent = transport_->TakeSent();
  ASSERT_EQ(sent.size(), 1u);
  ASSERT_TRUE(sent[0].has_pull_request());
  EXPECT_EQ(sent[0].pull_request().cursor(), 2u);
  EXPECT_TRUE(sent[0].pull_request().takes_deletes());  // this edge applies tombstones
}

TEST_F(SyncClientTest, ARefusalWithTheLinkUpWaitsOutTheBackoff) {
  transport_->link = true;
  Step();
  ASSERT_EQ(transport_->TakeSent().size(), 1u);
  Reply([](v1::Envelope& e) {
    e.mutable_error()->set_code("permission_denied");
    e.mutable_error()->set_message("revoked");
  });
  Step();
  EXPECT_EQ(transport_->reconnects, 1);
  Step();
  Step();
  EXPECT_TRUE(transport_->TakeSent().empty());  // no hammering a central that said no
}

TEST_F(SyncClientTest, AnUnansweredHandshakeTriesTheNextEndpointWithGrowingDelays) {
  std::vector<std::int64_t> waits;
  for (int attempt = 0; attempt < 4; ++attempt) {
    Step();
    ASSERT_EQ(transport_->TakeSent().size(), 1u) << attempt;  // a Hello
    clock_.Advance(501);
    Step();  // gives up on it
    EXPECT_EQ(transport_->reconnects, attempt + 1);
    std::int64_t waited = 0;
    while (transport_->sent.empty() && waited < 10000) {
      clock_.Advance(10);
      waited += 10;
      Step();
    }
    waits.push_back(waited);
  }
  EXPECT_LE(waits[0], 110);
  EXPECT_GE(waits[3], 400);  // 800 ms ceiling after three failures, jitter in the upper half
}

TEST_F(SyncClientTest, ANudgePullsTheFeedAndAFullBatchPullsAgain) {
  Connect(0);
  Reply([](v1::Envelope& e) { e.mutable_nudge()->set_feed_head(5); });
  Step();
  Step();
  auto sent = transport_->TakeSent();
  ASSERT_EQ(sent.size(), 1u);
  ASSERT_TRUE(sent[0].has_pull_request());
  EXPECT_EQ(sent[0].pull_request().cursor(), 0u);
  Reply([](v1::Envelope& e) {
    auto* b = e.mutable_feed_batch();
    b->set_from_cursor(0);
    b->set_to_cursor(3);
    b->set_more(true);
    b->add_changes();
  });
  Step();
  Step();
  EXPECT_EQ(edge_.cursor, 3u);
  sent = transport_->TakeSent();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].pull_request().cursor(), 3u);
}

TEST_F(SyncClientTest, ARefusalFromCentralDropsTheLinkAndBacksOff) {
  edge_.Capture(2);
  Connect(0);
  Step();
  transport_->TakeSent();
  Reply([](v1::Envelope& e) {
    e.mutable_error()->set_code("permission_denied");
    e.mutable_error()->set_message("site revoked");
  });
  Step();
  EXPECT_EQ(transport_->reconnects, 1);
  EXPECT_NE(client_->Stats().last_error.find("site revoked"), std::string::npos);
  EXPECT_EQ(edge_.acked, 0u);  // nothing is purged without an ack
  EXPECT_EQ(edge_.outbox.size(), 2u);
}

// The edge was down past the grace after central recorded its new key: the current key
// is refused at the handshake, so the client tries the pending next pair, which central
// accepts, and the rotation completes.
TEST_F(SyncClientTest, AHandshakeThatFailsWithAPendingRotationTriesTheNextKeyPair) {
  FakeKeys keys;
  ASSERT_TRUE(keys.NextKeyPair().ok());
  auto t = std::make_unique<FakeTransport>();
  FakeTransport* transport = t.get();
  SyncClientOptions o;
  o.site_id = "lyon";
  o.keys = &keys;
  o.hello_timeout = milliseconds(500);
  o.backoff = {milliseconds(100), milliseconds(100)};
  o.seed = 1;
  SyncClient client(o, &edge_, std::move(t), &clock_);
  ASSERT_TRUE(client.Step(milliseconds(0)).ok());  // Hello with the current key: no answer
  transport->TakeSent();
  clock_.Advance(600);
  ASSERT_TRUE(client.Step(milliseconds(0)).ok());
  EXPECT_EQ(transport->keys_in_use, "next-public-1");
  clock_.Advance(200);
  ASSERT_TRUE(client.Step(milliseconds(0)).ok());  // Hello again, now with the next pair
  transport->TakeSent();
  clock_.Advance(600);  // and if that is refused too, back to the current one
  ASSERT_TRUE(client.Step(milliseconds(0)).ok());
  EXPECT_EQ(transport->keys_in_use, "first-public");
}

}  // namespace
}  // namespace millrace::sync

namespace millrace::sync {
namespace {

// Central asks for a new key at Hello: the client makes the next pair, sends only its public
// key, and once central has it promotes the pair and reconnects with it at once.
TEST_F(SyncClientTest, AKeyRotationSendsTheNewPublicKeyAndReconnectsWithItOnceCentralHasIt) {
  FakeKeys keys;
  auto t = std::make_unique<FakeTransport>();
  FakeTransport* transport = t.get();
  SyncClientOptions o;
  o.site_id = "lyon";
  o.keys = &keys;
  o.seed = 1;
  SyncClient client(o, &edge_, std::move(t), &clock_);
  edge_.Capture(2);
  ASSERT_TRUE(client.Step(milliseconds(0)).ok());
  ASSERT_TRUE(transport->TakeSent().at(0).has_hello());
  v1::Envelope hello_reply;
  hello_reply.mutable_hello_reply()->set_rotate_key(true);
  transport->inbox.push_back(hello_reply);
  ASSERT_TRUE(client.Step(milliseconds(0)).ok());
  ASSERT_TRUE(client.Step(milliseconds(0)).ok());
  auto sent = transport->TakeSent();
  const v1::KeyRotation* rotation = nullptr;
  for (const auto& e : sent)
    if (e.has_key_rotation()) rotation = &e.key_rotation();
  ASSERT_NE(rotation, nullptr);
  EXPECT_EQ(rotation->new_public_key(), "next-public-1");
  EXPECT_EQ(keys.current, "first-public") << "not promoted before central has it";
  // A stale answer for another key changes nothing.
  v1::Envelope stale;
  stale.mutable_key_rotated()->set_new_public_key("someone-else");
  transport->inbox.push_back(stale);
  ASSERT_TRUE(client.Step(milliseconds(0)).ok());
  EXPECT_EQ(keys.current, "first-public");
  v1::Envelope done;
  done.mutable_key_rotated()->set_new_public_key("next-public-1");
  transport->inbox.push_back(done);
  const int reconnects = transport->reconnects;
  ASSERT_TRUE(client.Step(milliseconds(0)).ok());
  EXPECT_EQ(keys.current, "next-public-1");
  EXPECT_FALSE(keys.HasNextKeyPair());
  EXPECT_EQ(transport->keys_in_use, "next-public-1");
  EXPECT_EQ(transport->reconnects, reconnects + 1);
  EXPECT_EQ(client.Stats().key_rotations, 1u);
  // It says Hello again at once (no backoff), with the new key.
  transport->TakeSent();
  ASSERT_TRUE(client.Step(milliseconds(0)).ok());
  auto again = transport->TakeSent();
  ASSERT_FALSE(again.empty());
  EXPECT_TRUE(again.front().has_hello());
}

// A rotation that did not finish (the next pair kept, central's answer lost) finishes at
// the next connection without being asked again.
TEST_F(SyncClientTest, APendingKeyPairIsSentAgainAtTheNextConnection) {
  FakeKeys keys;
  ASSERT_TRUE(keys.NextKeyPair().ok());
  auto t = std::make_unique<FakeTransport>();
  FakeTransport* transport = t.get();
  SyncClientOptions o;
  o.site_id = "lyon";
  o.keys = &keys;
  SyncClient client(o, &edge_, std::move(t), &clock_);
  ASSERT_TRUE(client.Step(milliseconds(0)).ok());
  transport->TakeSent();
  transport->inbox.push_back(v1::Envelope());
  transport->inbox.back().mutable_hello_reply();
  ASSERT_TRUE(client.Step(milliseconds(0)).ok());
  ASSERT_TRUE(client.Step(milliseconds(0)).ok());
  bool sent_rotation = false;
  for (const auto& e : transport->TakeSent())
    sent_rotation = sent_rotation || (e.has_key_rotation() &&
                                      e.key_rotation().new_public_key() == "next-public-1");
  EXPECT_TRUE(sent_rotation);
}

void OfferReply(v1::Envelope& e, std::uint64_t next_offset, bool complete = false) {
  auto* r = e.mutable_backup_offer_reply();
  r->set_backup_id("b1");
  r->set_next_offset(next_offset);
  r->set_complete(complete);
}
void ChunkAck(v1::Envelope& e, std::uint64_t next_offset, bool complete = false,
              bool refused = false) {
  auto* a = e.mutable_backup_chunk_ack();
  a->set_backup_id("b1");
  a->set_next_offset(next_offset);
  a->set_complete(complete);
  a->set_refused(refused);
  if (refused) a->set_reason("sha256 differs");
}

TEST_F(SyncClientTest, OffersTheWaitingBackupAndSendsItsChunksWithinTheWindow) {
  backups_.Prepare("b1", "0123456789");
  Connect(0);
  Step();
  auto sent = transport_->TakeSent();
  ASSERT_EQ(Offers(sent), 1);
  EXPECT_EQ(sent.back().backup_offer().bytes(), 10u);
  Reply([](v1::Envelope& e) { OfferReply(e, 0); });
  Step();  // handles the reply
  Step();
  EXPECT_EQ(Chunks(transport_->TakeSent()), (ChunkList{{0, "0123"}, {4, "4567"}}));  // window 2
  Step();
  EXPECT_TRUE(transport_->TakeSent().empty());  // the window is full
  Reply([](v1::Envelope& e) { ChunkAck(e, 4); });
  Step();
  Step();
  EXPECT_EQ(Chunks(transport_->TakeSent()), (ChunkList{{8, "89"}}));
  Reply([](v1::Envelope& e) { ChunkAck(e, 8); });
  Reply([](v1::Envelope& e) { ChunkAck(e, 10, /*complete=*/true); });
  Step();
  Step();
  EXPECT_EQ(backups_.shipped, (std::vector<std::string>{"b1"}));
  EXPECT_EQ(client_->Stats().backups_shipped, 1u);
  EXPECT_EQ(client_->Stats().backup_bytes_sent, 10u);
  EXPECT_TRUE(client_->Stats().backup_shipping.empty());
  Step();
  EXPECT_EQ(Offers(transport_->TakeSent()), 0);  // nothing waits any more
}

TEST_F(SyncClientTest, ABackupCutByALostLinkResumesWhereCentralsCopyEnds) {
  backups_.Prepare("b1", "0123456789");
  Connect(0);
  Step();
  Reply([](v1::Envelope& e) { OfferReply(e, 0); });
  Step();
  Step();
  ASSERT_EQ(Chunks(transport_->TakeSent()).size(), 2u);
  Reply([](v1::Envelope& e) { ChunkAck(e, 4); });
  Step();
  transport_->TakeSent();
  clock_.Advance(1500);  // the second chunk's ack never comes
  Step();
  EXPECT_EQ(client_->Stats().state, "disconnected");
  EXPECT_TRUE(client_->Stats().backup_shipping.empty());
  transport_->TakeSent();  // the last chunk, sent into the dying link
  clock_.Advance(1000);  // past the backoff
  Connect(0);
  Step();
  auto sent = transport_->TakeSent();
  ASSERT_EQ(Offers(sent), 1);  // offered again: where does central's copy stand?
  Reply([](v1::Envelope& e) { OfferReply(e, 8); });
  Step();
  Step();
  EXPECT_EQ(Chunks(transport_->TakeSent()), (ChunkList{{8, "89"}}));  // only what it lacks
  Reply([](v1::Envelope& e) { ChunkAck(e, 10, true); });
  Step();
  EXPECT_EQ(backups_.shipped, (std::vector<std::string>{"b1"}));
}

TEST_F(SyncClientTest, ABackupCentralHoldsWholeIsShippedWithoutAChunk) {
  backups_.Prepare("b1", "0123456789");
  Connect(0);
  Step();
  Reply([](v1::Envelope& e) { OfferReply(e, 10, true); });
  Step();
  Step();
  EXPECT_TRUE(Chunks(transport_->TakeSent()).empty());
  EXPECT_EQ(backups_.shipped, (std::vector<std::string>{"b1"}));
}

TEST_F(SyncClientTest, ARefusedBackupIsSentAgainFromItsStartOnceThenGivenUp) {
  backups_.Prepare("b1", "01234567");
  Connect(0);
  Step();
  Reply([](v1::Envelope& e) { OfferReply(e, 0); });
  Step();
  for (int attempt = 0; attempt < 2; ++attempt) {
    Step();
    EXPECT_EQ(Chunks(transport_->TakeSent()), (ChunkList{{0, "0123"}, {4, "4567"}}))
        << "attempt " << attempt;
    Reply([](v1::Envelope& e) { ChunkAck(e, 4); });
    Reply([](v1::Envelope& e) { ChunkAck(e, 0, false, /*refused=*/true); });
    Step();
    Step();
  }
  EXPECT_TRUE(backups_.shipped.empty());
  EXPECT_EQ(backups_.refused, (std::vector<std::string>{"b1: sha256 differs"}));
  EXPECT_EQ(client_->Stats().backups_refused, 2u);
  Step();
  EXPECT_TRUE(Chunks(transport_->TakeSent()).empty());
}

TEST_F(SyncClientTest, ACentralThatKeepsNoBackupsIsNotOfferedOneAgainOnTheSameLink) {
  backups_.Prepare("b1", "0123456789");
  Connect(0);
  Step();
  Reply([](v1::Envelope& e) {
    OfferReply(e, 0);
    e.mutable_backup_offer_reply()->set_declined(true);
  });
  Step();
  clock_.Advance(5000);  // several polls' worth
  Step();
  Step();
  auto sent = transport_->TakeSent();
  EXPECT_EQ(Offers(sent), 1);
  EXPECT_TRUE(Chunks(sent).empty());
  EXPECT_TRUE(backups_.refused.empty());  // the backup still waits, for another central
  EXPECT_EQ(client_->Stats().state, "ready");
}

TEST_F(SyncClientTest, AnIdleClientAsksForAWaitingBackupAtMostOncePerPoll) {
  Connect(0);
  for (int i = 0; i < 5; ++i) Step();
  EXPECT_EQ(backups_.polls, 1);
  clock_.Advance(1001);
  Step();
  EXPECT_EQ(backups_.polls, 2);
}

}  // namespace
}  // namespace millrace::sync
