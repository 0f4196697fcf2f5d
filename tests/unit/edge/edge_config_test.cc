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

TEST(EdgeConfigTest, RejectsABadSiteIdNamingFileAndKey) {
  auto path = WriteTemp("[site]\nid = \"Plant Lyon!\"\n[store]\npath = \"x.db\"\n");
  auto c = LoadEdgeConfig(path);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(c.status().message().find(path), std::string::npos);
  EXPECT_NE(c.status().message().find("'site.id'"), std::string::npos);
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

}  // namespace
}  // namespace millrace::edge
