#include "millrace/sync/wire.h"

#include <gtest/gtest.h>

#include <random>

namespace millrace::sync {
namespace {

v1::Envelope SampleBatch() {
  v1::Envelope e;
  auto* b = e.mutable_push_batch();
  b->set_batch_id(7);
  b->set_first_seq(100);
  b->set_last_seq(101);
  for (int i = 0; i < 2; ++i) {
    auto* c = b->add_changes();
    c->set_seq(100 + static_cast<std::uint64_t>(i));
    c->set_table("production_event");
    c->set_id(std::string(16, static_cast<char>(i)));
    c->set_op(v1::OP_UPSERT);
    c->set_hlc(123456789);
    c->add_values()->set_text_value("COUNT");
    c->add_values()->set_real_value(5.0);
    c->add_values()->set_null_value(true);
  }
  return e;
}

TEST(WireTest, RoundTripsAnEnvelopeAndStampsTheVersion) {
  std::string frame = EncodeFrame(SampleBatch());
  auto back = DecodeFrame(frame);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->protocol_version(), kProtocolVersion);
  EXPECT_EQ(BodyName(*back), "push_batch");
  ASSERT_EQ(back->push_batch().changes_size(), 2);
  EXPECT_EQ(back->push_batch().changes(1).seq(), 101u);
  EXPECT_EQ(back->push_batch().changes(0).values(1).real_value(), 5.0);
  EXPECT_TRUE(back->push_batch().changes(0).values(2).has_null_value());
}

TEST(WireTest, RefusesAnOversizedFrameBeforeParsing) {
  std::string frame = EncodeFrame(SampleBatch());
  auto r = DecodeFrame(frame, frame.size() - 1);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kResourceExhausted);
}

TEST(WireTest, RefusesGarbage) {
  auto r = DecodeFrame(std::string("\xff\xff\xff\xff\xff", 5));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
}

TEST(WireTest, RefusesAnotherProtocolVersion) {
  v1::Envelope e = SampleBatch();
  e.set_protocol_version(99);
  auto r = DecodeFrame(e.SerializeAsString());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("99"), std::string::npos);
}

TEST(WireTest, RefusesAnEnvelopeWithoutABody) {
  v1::Envelope e;
  auto r = DecodeFrame(EncodeFrame(e));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
}

TEST(WireTest, MutatedFramesDecodeToAValidEnvelopeOrANamedRefusal) {
  std::mt19937 rng(20261122);
  const std::string valid = EncodeFrame(SampleBatch());
  int decoded = 0, refused = 0;
  for (int i = 0; i < 5000; ++i) {
    std::string frame = valid;
    int flips = 1 + static_cast<int>(rng() % 8);
    for (int f = 0; f < flips; ++f) frame[rng() % frame.size()] = static_cast<char>(rng());
    if (rng() % 4 == 0) frame.resize(rng() % frame.size());
    auto r = DecodeFrame(frame);
    if (r.ok()) {
      // Some mutations stay valid protobuf: what comes back is a whole envelope of this
      // protocol version with a message in it, and it survives a round trip unchanged.
      ++decoded;
      ASSERT_EQ(r->protocol_version(), kProtocolVersion) << "mutation " << i;
      ASSERT_NE(r->body_case(), v1::Envelope::BODY_NOT_SET) << "mutation " << i;
      auto again = DecodeFrame(EncodeFrame(*r));
      ASSERT_TRUE(again.ok()) << "mutation " << i << ": " << again.status().ToString();
      ASSERT_EQ(again->SerializeAsString(), r->SerializeAsString()) << "mutation " << i;
    } else {
      // Everything else is refused with a code the server maps to an Error reply and a
      // message that says what was wrong.
      ++refused;
      const StatusCode code = r.status().code();
      ASSERT_TRUE(code == StatusCode::kInvalidArgument || code == StatusCode::kFailedPrecondition)
          << "mutation " << i << ": " << r.status().ToString();
      const std::string& m = r.status().message();
      ASSERT_TRUE(m.find("malformed frame") != std::string::npos ||
                  m.find("protocol version") != std::string::npos)
          << "mutation " << i << ": " << m;
    }
  }
  // With this seed both outcomes occur many times (the counts are deterministic).
  EXPECT_GT(decoded, 100);
  EXPECT_GT(refused, 1000);
  EXPECT_EQ(decoded + refused, 5000);
}

TEST(WireTest, APushBatchBuiltFromStoredChangesDecodesLikeOneBuiltFromMessages) {
  std::vector<std::string> stored;
  for (int i = 0; i < 3; ++i) {
    v1::Change c;
    c.set_table("production_event");
    c.set_id(std::string(16, static_cast<char>('a' + i)));
    c.set_hlc(1000 + static_cast<std::uint64_t>(i));
    c.set_origin("edge:lyon");
    c.add_values()->set_int_value(i);
    stored.push_back(c.SerializeAsString());
  }
  std::vector<SerializedChange> changes;
  for (int i = 0; i < 3; ++i) changes.push_back({41 + static_cast<std::uint64_t>(i), stored[static_cast<std::size_t>(i)]});
  v1::SiteStatus status;
  status.set_backlog_rows(7);
  auto decoded = DecodeFrame(EncodePushBatchFrame(9, changes, status, "epoch-7"));
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  ASSERT_TRUE(decoded->has_push_batch());
  const auto& b = decoded->push_batch();
  EXPECT_EQ(b.batch_id(), 9u);
  EXPECT_EQ(b.first_seq(), 41u);
  EXPECT_EQ(b.last_seq(), 43u);
  EXPECT_EQ(b.status().backlog_rows(), 7u);
  EXPECT_EQ(b.store_epoch(), "epoch-7");
  ASSERT_EQ(b.changes_size(), 3);
  for (int i = 0; i < 3; ++i) {
    v1::Change expected;
    expected.ParseFromString(stored[static_cast<std::size_t>(i)]);
    expected.set_seq(41 + static_cast<std::uint64_t>(i));
    EXPECT_EQ(b.changes(i).SerializeAsString(), expected.SerializeAsString());
  }
}

}  // namespace
}  // namespace millrace::sync
