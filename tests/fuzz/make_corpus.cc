// Writes the seed corpus of wire_fuzz: one valid frame of every message type, push and
// feed batches carrying a row of every catalog table, and a few broken ones.
// Usage: make_wire_corpus DIR
#include <filesystem>
#include <fstream>
#include <iostream>

#include "catalog_rows.h"
#include "millrace/common/catalog.h"
#include "millrace/common/schema_versions.h"
#include "millrace/common/uuid.h"
#include "millrace/sync/row_codec.h"
#include "millrace/sync/wire.h"

using namespace millrace;
namespace v1 = sync::v1;

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: make_wire_corpus DIR\n";
    return 2;
  }
  std::filesystem::create_directories(argv[1]);
  int n = 0;
  auto write = [&](const std::string& name, const std::string& bytes) {
    std::ofstream(std::filesystem::path(argv[1]) / (std::to_string(n++) + "-" + name), std::ios::binary)
        << bytes;
  };
  v1::Envelope hello;
  hello.mutable_hello()->set_site_id("lyon");
  hello.mutable_hello()->set_catalog_fingerprint(catalog::MesCatalog().FingerprintHex());
  hello.mutable_hello()->set_schema_version(kEdgeSchemaVersion);
  write("hello", sync::EncodeFrame(hello));
  v1::Envelope push, feed;
  auto* b = push.mutable_push_batch();
  auto* f = feed.mutable_feed_batch();
  std::uint64_t seq = 0;
  for (const auto& t : catalog::MesCatalog().tables()) {
    Row row = testing::SampleTypedRow(t, "lyon", 3);
    v1::Change c = sync::EncodeChange(row, v1::OP_UPSERT);
    c.set_seq(++seq);
    *b->add_changes() = c;
    *f->add_changes() = c;
  }
  b->set_first_seq(1);
  b->set_last_seq(seq);
  write("push_batch", sync::EncodeFrame(push));
  f->set_to_cursor(seq);
  write("feed_batch", sync::EncodeFrame(feed));
  v1::Envelope ack, nack, pull, nudge, error;
  ack.mutable_ack()->set_acked_seq(7);
  nack.mutable_nack()->set_expected_seq(3);
  pull.mutable_pull_request()->set_max_changes(100);
  nudge.mutable_nudge()->set_feed_head(9);
  error.mutable_error()->set_code("permission_denied");
  for (auto& [name, e] : std::vector<std::pair<std::string, v1::Envelope*>>{
           {"ack", &ack}, {"nack", &nack}, {"pull", &pull}, {"nudge", &nudge}, {"error", &error}})
    write(name, sync::EncodeFrame(*e));
  std::string gap = sync::EncodeFrame(push);
  write("truncated", gap.substr(0, gap.size() / 2));
  write("garbage", "\xff\xff\xff\x01 not a frame");
  std::cout << "wrote " << n << " seed frames to " << argv[1] << "\n";
  return 0;
}
