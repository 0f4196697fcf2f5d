// gzip files: a round trip of compressible and incompressible data, and every way a
// damaged or oversized file is refused without a file left under the destination's name.
#include "millrace/common/gzip.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <random>

#include "millrace/common/files.h"

namespace millrace {
namespace {

namespace fs = std::filesystem;

class GzipTest : public ::testing::Test {
 protected:
  GzipTest() {
    dir_ = fs::temp_directory_path() /
           ("millrace-gzip-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  ~GzipTest() override { fs::remove_all(dir_); }
  std::string Path(const std::string& name) const { return (dir_ / name).string(); }
  void Write(const std::string& name, const std::string& content) {
    ASSERT_TRUE(WriteFileAtomically(Path(name), content).ok());
  }

  fs::path dir_;
};

// 3 MiB: a repeated text part (compresses well) and a random part (does not), so the
// streams cross several buffers both ways.
std::string Sample() {
  std::string s;
  while (s.size() < (2u << 20)) s += "production_event line-1 unit-3 good=17 scrap=0\n";
  std::mt19937_64 rng(42);
  for (int i = 0; i < (1 << 20) / 8; ++i) {
    std::uint64_t v = rng();
    s.append(reinterpret_cast<const char*>(&v), sizeof v);
  }
  return s;
}

TEST_F(GzipTest, ARoundTripGivesBackEveryByte) {
  const std::string data = Sample();
  Write("store.db", data);
  auto packed = GzipFile(Path("store.db"), Path("store.db.gz"));
  ASSERT_TRUE(packed.ok()) << packed.status().ToString();
  EXPECT_EQ(*packed, fs::file_size(Path("store.db.gz")));
  EXPECT_LT(*packed, data.size());
  auto unpacked = GunzipFile(Path("store.db.gz"), Path("again.db"), 64u << 20);
  ASSERT_TRUE(unpacked.ok()) << unpacked.status().ToString();
  EXPECT_EQ(*unpacked, data.size());
  EXPECT_EQ(*ReadFile(Path("again.db")), data);
  EXPECT_FALSE(fs::exists(Path("again.db.tmp")));
}

TEST_F(GzipTest, AnEmptyFileRoundTrips) {
  Write("empty", "");
  ASSERT_TRUE(GzipFile(Path("empty"), Path("empty.gz")).ok());
  auto n = GunzipFile(Path("empty.gz"), Path("out"), 10);
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(*n, 0u);
}

TEST_F(GzipTest, ATruncatedFileIsCorruptAndLeavesNothingBehind) {
  Write("store.db", Sample());
  ASSERT_TRUE(GzipFile(Path("store.db"), Path("store.db.gz")).ok());
  std::string gz = *ReadFile(Path("store.db.gz"));
  Write("cut.gz", gz.substr(0, gz.size() / 2));
  auto r = GunzipFile(Path("cut.gz"), Path("out.db"), 64u << 20);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kCorruption) << r.status().ToString();
  EXPECT_FALSE(fs::exists(Path("out.db")));
  EXPECT_FALSE(fs::exists(Path("out.db.tmp")));
}

TEST_F(GzipTest, AFlippedByteOrTrailingBytesAreCorrupt) {
  Write("store.db", Sample());
  ASSERT_TRUE(GzipFile(Path("store.db"), Path("store.db.gz")).ok());
  std::string gz = *ReadFile(Path("store.db.gz"));
  std::string flipped = gz;
  flipped[gz.size() / 3] = static_cast<char>(flipped[gz.size() / 3] ^ 0x40);
  Write("flipped.gz", flipped);
  auto r = GunzipFile(Path("flipped.gz"), Path("out.db"), 64u << 20);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kCorruption) << r.status().ToString();
  Write("trailing.gz", gz + "extra");
  r = GunzipFile(Path("trailing.gz"), Path("out.db"), 64u << 20);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kCorruption) << r.status().ToString();
  Write("plain", "this is not gzip at all");
  r = GunzipFile(Path("plain"), Path("out.db"), 64u << 20);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kCorruption) << r.status().ToString();
  EXPECT_FALSE(fs::exists(Path("out.db")));
}

TEST_F(GzipTest, ExpandingPastTheLimitIsRefused) {
  Write("big", std::string(1u << 20, 'x'));
  ASSERT_TRUE(GzipFile(Path("big"), Path("big.gz")).ok());
  auto r = GunzipFile(Path("big.gz"), Path("out"), 1000);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kResourceExhausted) << r.status().ToString();
  EXPECT_FALSE(fs::exists(Path("out")));
}

TEST_F(GzipTest, AMissingSourceNamesIt) {
  auto r = GzipFile(Path("absent"), Path("x.gz"));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("absent"), std::string::npos);
}

}  // namespace
}  // namespace millrace
