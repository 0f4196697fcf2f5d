// The store's size and the disk free beside it (disk_usage.h).
#include "millrace/edge/disk_usage.h"

#include <gtest/gtest.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace millrace::edge {
namespace {

namespace fs = std::filesystem;

class DiskUsageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("millrace-disk-" + std::to_string(getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  void Write(const std::string& name, std::size_t bytes) {
    std::ofstream(dir_ / name, std::ios::binary) << std::string(bytes, 'x');
  }
  fs::path dir_;
};

TEST_F(DiskUsageTest, CountsTheDatabaseWithItsWalAndShmAndNothingElse) {
  Write("edge.db", 40960);
  Write("edge.db-wal", 8192);
  Write("edge.db-shm", 32768);
  Write("edge.db.backup", 1000000);  // another file beside it is not the store
  auto u = StoreDiskUsage((dir_ / "edge.db").string());
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  EXPECT_EQ(u->store_bytes, 40960 + 8192 + 32768);
  struct statvfs st {};
  ASSERT_EQ(statvfs(dir_.c_str(), &st), 0);
  EXPECT_GT(u->disk_free_bytes, 0);
  EXPECT_LE(u->disk_free_bytes, u->disk_total_bytes);
  EXPECT_EQ(u->disk_total_bytes,
            static_cast<std::int64_t>(st.f_blocks) * static_cast<std::int64_t>(st.f_frsize));
}

TEST_F(DiskUsageTest, AStoreNotYetWrittenTakesNothingAndAMissingDirectoryIsAnError) {
  auto fresh = StoreDiskUsage((dir_ / "edge.db").string());
  ASSERT_TRUE(fresh.ok());
  EXPECT_EQ(fresh->store_bytes, 0);
  auto missing = StoreDiskUsage((dir_ / "gone" / "edge.db").string());
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kIOError);
  EXPECT_NE(missing.status().message().find("gone"), std::string::npos);
}

}  // namespace
}  // namespace millrace::edge
