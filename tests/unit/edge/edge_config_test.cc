#include "millrace/edge/edge_config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace millrace::edge {
namespace {

std::string WriteTemp(const std::string& text) {
  static int n = 0;
  auto path =
      std::filesystem::temp_directory_path() /
      ("millrace-edge-config-" + std::to_string(::getpid()) + "-" + std::to_string(n++) + ".toml");
  std::ofstream(path) << text;
  return path.string();
}

TEST(EdgeConfigTest, LoadsAValidFileWithDefaults) {
  auto path = WriteTemp("[site]\nid = \"plant-lyon\"\n[store]\npath = \"/tmp/edge.db\"\n");
  auto c = LoadEdgeConfig(path);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->site_id, "plant-lyon");
  EXPECT_EQ(c->store_path, "/tmp/edge.db");
  EXPECT_EQ(c->http.port, 8080);
  EXPECT_EQ(c->log.level, "info");
  std::filesystem::remove(path);
}

// A site directory written at central (provision-site, restore-site) names its files
// relative to its edge.toml, so it works wherever it is copied to.
TEST(EdgeConfigTest, RelativePathsAreRelativeToTheConfigsDirectory) {
  auto path = WriteTemp("[site]\nid = \"lyon\"\n[store]\npath = \"edge.db\"\n");
  auto c = LoadEdgeConfig(path);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  const std::string dir = std::filesystem::path(path).parent_path().string();
  EXPECT_EQ(c->store_path, dir + "/edge.db");
  EXPECT_EQ(c->backup_dir, dir + "/backups");
  std::filesystem::remove(path);
}

TEST(EdgeConfigTest, RejectsABadSiteIdNamingFileAndKey) {
  auto path = WriteTemp("[site]\nid = \"Plant Lyon!\"\n[store]\npath = \"x.db\"\n");
  auto c = LoadEdgeConfig(path);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(c.status().message().find(path), std::string::npos);
  EXPECT_NE(c.status().message().find("'site.id'"), std::string::npos);
  std::filesystem::remove(path);
}

TEST(EdgeConfigTest, RetentionKeepsAYearByDefaultAndNeverLessThanAWeek) {
  auto path = WriteTemp("[site]\nid = \"a\"\n[store]\npath = \"x.db\"\n");
  auto c = LoadEdgeConfig(path);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->keep_facts_days, 365);
  EXPECT_EQ(c->purge_interval_minutes, 60);
  std::filesystem::remove(path);
  path = WriteTemp("[site]\nid = \"a\"\n[store]\npath = \"x.db\"\n[retention]\nkeep_facts_days = 0\n");
  c = LoadEdgeConfig(path);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->keep_facts_days, 0);  // kept forever
  std::filesystem::remove(path);
  path = WriteTemp("[site]\nid = \"a\"\n[store]\npath = \"x.db\"\n[retention]\nkeep_facts_days = 3\n");
  c = LoadEdgeConfig(path);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("'retention.keep_facts_days'"), std::string::npos)
      << c.status().message();
  std::filesystem::remove(path);
}

TEST(EdgeConfigTest, RejectsUnknownKeys) {
  auto path = WriteTemp("[site]\nid = \"a\"\n[store]\npath = \"x.db\"\nsynchronus = \"full\"\n");
  auto c = LoadEdgeConfig(path);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("unknown key(s) 'store.synchronus'"), std::string::npos);
  std::filesystem::remove(path);
}

TEST(EdgeConfigTest, SiteIdRules) {
  EXPECT_TRUE(IsValidSiteId("plant-1"));
  EXPECT_FALSE(IsValidSiteId(""));
  EXPECT_FALSE(IsValidSiteId("-lead"));
  EXPECT_FALSE(IsValidSiteId("UPPER"));
  EXPECT_FALSE(IsValidSiteId(std::string(33, 'a')));
}

TEST(EdgeConfigTest, SyncNeedsCurveKeysUnlessDevelopmentModeIsAskedFor) {
  const std::string base = "[site]\nid = \"lyon\"\n[store]\npath = \"/tmp/edge.db\"\n";
  auto no_keys = WriteTemp(base + "[sync]\nendpoints = [\"tcp://127.0.0.1:7400\"]\n");
  auto c = LoadEdgeConfig(no_keys);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("insecure_development"), std::string::npos);
  auto dev = WriteTemp(base +
                       "[sync]\nendpoints = [\"tcp://127.0.0.1:7400\"]\ninsecure_development = true\n");
  c = LoadEdgeConfig(dev);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_TRUE(c->sync.insecure_development);
  auto keys = WriteTemp(base +
                        "[sync]\nendpoints = [\"tcp://a:1\", \"tcp://b:2\"]\nsecret_key_file = "
                        "\"site.key\"\ncentral_public_key_file = \"/etc/central.pub\"\n");
  c = LoadEdgeConfig(keys);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->sync.endpoints.size(), 2u);
  EXPECT_EQ(c->sync.secret_key_file,
            std::filesystem::path(keys).parent_path().string() + "/site.key");  // beside the file
  EXPECT_EQ(c->sync.central_public_key_file, "/etc/central.pub");
  EXPECT_EQ(c->sync.batch_rows, 5000);
  auto bad = WriteTemp(base + "[sync]\nendpoints = [\"http://x\"]\ninsecure_development = true\n");
  EXPECT_FALSE(LoadEdgeConfig(bad).ok());
  for (const auto& p : {no_keys, dev, keys, bad}) std::filesystem::remove(p);
}

}  // namespace
}  // namespace millrace::edge
