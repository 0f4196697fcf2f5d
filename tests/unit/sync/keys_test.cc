#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "millrace/sync/transport.h"

namespace millrace::sync {
namespace {

namespace fs = std::filesystem;

class KeysTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("millrace-keys-" + std::to_string(getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(KeysTest, SecretKeysAreWrittenOwnerOnlyAndLooserFilesAreRefused) {
  auto keys = GenerateCurveKeyPair();
  ASSERT_TRUE(keys.ok()) << keys.status().ToString();
  EXPECT_EQ(*CurvePublicKey(keys->secret_key), keys->public_key);
  const std::string secret = (dir_ / "site.key").string(), pub = (dir_ / "site.pub").string();
  ASSERT_TRUE(WriteKeyFile(secret, keys->secret_key, true).ok());
  ASSERT_TRUE(WriteKeyFile(pub, keys->public_key, false).ok());
  struct stat st {};
  ASSERT_EQ(::stat(secret.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(*ReadKeyFile(secret, true), keys->secret_key);
  EXPECT_EQ(*ReadKeyFile(pub, false), keys->public_key);  // public keys may be world-readable

  ::chmod(secret.c_str(), 0644);
  auto loose = ReadKeyFile(secret, true);
  ASSERT_FALSE(loose.ok());
  EXPECT_EQ(loose.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(loose.status().message().find("chmod 600 " + secret), std::string::npos);
}

TEST_F(KeysTest, AFileWithoutAKeyOrNoFileIsAClearError) {
  const std::string bad = (dir_ / "bad.key").string();
  std::ofstream(bad) << "not a key\n";
  ::chmod(bad.c_str(), 0600);
  EXPECT_EQ(ReadKeyFile(bad, true).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ReadKeyFile((dir_ / "missing.key").string(), true).status().code(),
            StatusCode::kNotFound);
  EXPECT_FALSE(CurvePublicKey("short").ok());
}

}  // namespace
}  // namespace millrace::sync
