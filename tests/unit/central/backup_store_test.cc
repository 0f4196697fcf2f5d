// The directory backup store: resumable parts, end-to-end checksums, commit by rename,
// keys that cannot escape the store.
#include "millrace/central/backup_store.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "millrace/common/digest.h"
#include "millrace/common/files.h"

namespace millrace::central {
namespace {
namespace fs = std::filesystem;

class BackupStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("millrace-bstore-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    auto store = OpenDirectoryBackupStore((dir_ / "store").string());
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path dir_;
  std::unique_ptr<BackupStore> store_;
};

TEST_F(BackupStoreTest, UploadResumesWherePartEndsAndRefusesAnotherOffset) {
  const std::string key = "acme/plant-1/b1.db.gz";
  ASSERT_EQ(*store_->PartSize(key), 0u);
  ASSERT_TRUE(store_->AppendPart(key, 0, "hello ").ok());
  // A resumed upload asks where the part ends and goes on from there.
  ASSERT_EQ(*store_->PartSize(key), 6u);
  // A chunk sent twice (offset 0 again) or one skipped ahead is refused, and names the size.
  Status again = store_->AppendPart(key, 0, "hello ");
  EXPECT_EQ(again.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(again.message().find("holds 6 bytes"), std::string::npos) << again.message();
  EXPECT_EQ(store_->AppendPart(key, 9, "x").code(), StatusCode::kFailedPrecondition);
  ASSERT_TRUE(store_->AppendPart(key, 6, "world").ok());
  // A part is not an object until it is committed.
  EXPECT_TRUE(store_->List("acme/")->empty());
  EXPECT_EQ(store_->Fetch(key, (dir_ / "out").string()).code(), StatusCode::kNotFound);

  // sha256("hello world")
  EXPECT_EQ(*store_->PartSha256(key),
            "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9");
  ASSERT_TRUE(store_->CommitPart(key).ok());
  EXPECT_EQ(*store_->PartSize(key), 0u);
  auto listed = store_->List("acme/plant-1/");
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].key, key);
  EXPECT_EQ((*listed)[0].bytes, 11u);
  EXPECT_GT((*listed)[0].modified_ms, 1'700'000'000'000);

  const std::string out = (dir_ / "fetched.db.gz").string();
  ASSERT_TRUE(store_->Fetch(key, out).ok());
  EXPECT_EQ(*ReadFile(out), "hello world");
  EXPECT_EQ(*FileSha256Hex(out), "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9");
}

TEST_F(BackupStoreTest, DroppedPartStartsOverAndDeleteRemovesOnlyTheObject) {
  const std::string key = "acme/plant-1/b2.db.gz";
  ASSERT_TRUE(store_->AppendPart(key, 0, "broken").ok());
  ASSERT_TRUE(store_->DropPart(key).ok());
  EXPECT_EQ(*store_->PartSize(key), 0u);
  EXPECT_EQ(store_->CommitPart(key).code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->PartSha256(key).status().code(), StatusCode::kNotFound);
  ASSERT_TRUE(store_->AppendPart(key, 0, "good").ok());
  ASSERT_TRUE(store_->CommitPart(key).ok());
  ASSERT_TRUE(store_->AppendPart("acme/plant-2/b3.db.gz", 0, "other").ok());
  ASSERT_TRUE(store_->CommitPart("acme/plant-2/b3.db.gz").ok());

  EXPECT_EQ(store_->List("acme/")->size(), 2u);
  EXPECT_EQ(store_->List("acme/plant-2/")->size(), 1u);
  ASSERT_TRUE(store_->Delete(key).ok());
  EXPECT_EQ(store_->Delete(key).code(), StatusCode::kNotFound);
  auto left = store_->List("acme/");
  ASSERT_EQ(left->size(), 1u);
  EXPECT_EQ((*left)[0].key, "acme/plant-2/b3.db.gz");
}

TEST_F(BackupStoreTest, StoreDirectoryIsPrivateAndPartsArePrivate) {
  ASSERT_TRUE(store_->AppendPart("t/s/b.db.gz", 0, "x").ok());
  struct stat st {};
  ASSERT_EQ(::stat((dir_ / "store").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_EQ(::stat((dir_ / "store" / "t" / "s" / "b.db.gz.part").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0077, 0u);
}

TEST_F(BackupStoreTest, KeysThatCouldEscapeTheStoreAreRefusedByName) {
  for (const std::string& bad :
       std::vector<std::string>{"", "../etc/passwd", "a//b", "/abs", "a/.hidden", "a/b c",
                                "a/b/c/d/e", "a/b.db.part", std::string(129, 'x')}) {
    Status s = CheckBackupKey(bad);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(s.message().find("backup key"), std::string::npos) << s.message();
    EXPECT_EQ(store_->AppendPart(bad, 0, "x").code(), StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_TRUE(CheckBackupKey("acme/plant-1/20261202T100000Z-0193.db.gz").ok());
  EXPECT_FALSE(fs::exists(dir_ / "etc"));
}

TEST_F(BackupStoreTest, ListSkipsPartsAndStrayFiles) {
  ASSERT_TRUE(store_->AppendPart("t/s/a.db.gz", 0, "a").ok());
  ASSERT_TRUE(store_->CommitPart("t/s/a.db.gz").ok());
  ASSERT_TRUE(store_->AppendPart("t/s/b.db.gz", 0, "b").ok());  // in progress
  std::ofstream(dir_ / "store" / "t" / "s" / ".nfs0001") << "stray";
  auto listed = store_->List("");
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].key, "t/s/a.db.gz");
}

}  // namespace
}  // namespace millrace::central
