// The tenant -> cluster map: what a good file gives, what a bad one is refused for (naming
// the key), where a tenant may be created, and HAProxy's map.
#include "millrace/central/tenant_map.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <unistd.h>

namespace millrace::central {
namespace {

std::string Write(const std::string& text) {
  char name[] = "/tmp/millrace-tenant-map-XXXXXX";
  const int fd = mkstemp(name);
  EXPECT_GE(fd, 0);
  std::ofstream(name) << text;
  close(fd);
  return name;
}

constexpr char kGood[] = R"(
[clusters.a]
sync = "tcp://sync-a.example.com:7400"
http = "https://a.example.com"
[clusters.b]
sync = "tcp://sync-b.example.com:7400"
[tenants]
acme = "a"
globex = "b"
initech = "a"
)";

TEST(TenantMapTest, AGoodMapGivesEachTenantItsClusterAndHaproxyItsLines) {
  const std::string path = Write(kGood);
  auto map = LoadTenantMap(path);
  ASSERT_TRUE(map.ok()) << map.status().ToString();
  EXPECT_EQ(map->clusters.size(), 2u);
  EXPECT_EQ(map->clusters.at("a").http, "https://a.example.com");
  EXPECT_EQ(map->clusters.at("b").http, "");
  EXPECT_EQ(map->tenants.at("globex"), "b");
  EXPECT_EQ(HaproxyTenantMap(*map), "acme a\nglobex b\ninitech a\n");
  EXPECT_TRUE(CheckTenantOnCluster(*map, "a", "acme").ok());
  Status elsewhere = CheckTenantOnCluster(*map, "a", "globex");
  EXPECT_EQ(elsewhere.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(elsewhere.message().find("tenant globex lives on cluster b"), std::string::npos) << elsewhere.message();
  EXPECT_NE(elsewhere.message().find("this central serves cluster a"), std::string::npos);
  Status unmapped = CheckTenantOnCluster(*map, "a", "umbrella");
  EXPECT_NE(unmapped.message().find("tenant umbrella is not in the tenant map"), std::string::npos);
  std::remove(path.c_str());
}

TEST(TenantMapTest, ABadMapIsRefusedNamingTheKey) {
  struct Case {
    const char* text;
    const char* says;
  } cases[] = {
      {"[tenants]\nacme = \"a\"\n", "declares no cluster"},
      {"[clusters.a]\nsync = \"tcp://x:1\"\n[tenants]\nacme = \"b\"\n",
       "key 'tenants.acme': names cluster \"b\", which is not declared (declared: a)"},
      {"[clusters.a]\nsync = \"x:1\"\n", "key 'clusters.a.sync': expected tcp://host:port"},
      {"[clusters.a]\nsync = \"tcp://x:1\"\nhttp = \"ftp://x\"\n", "key 'clusters.a.http'"},
      {"[clusters.A]\nsync = \"tcp://x:1\"\n", "key 'clusters.A': a cluster name is"},
      {"[clusters.a]\nsync = \"tcp://x:1\"\n[tenants]\nAcme = \"a\"\n", "key 'tenants.Acme': a tenant id is"},
      {"[clusters.a]\nsync = \"tcp://x:1\"\nsink = 1\n", "sink"},
      {"[clusters.a]\nsync = \"tcp://x:1\"\n[tenant]\nacme = \"a\"\n", "tenant"},
  };
  for (const auto& c : cases) {
    const std::string path = Write(c.text);
    auto map = LoadTenantMap(path);
    EXPECT_FALSE(map.ok()) << c.text;
    if (!map.ok()) {
      EXPECT_NE(map.status().message().find(c.says), std::string::npos) << map.status().message();
      EXPECT_NE(map.status().message().find(path), std::string::npos) << map.status().message();
    }
    std::remove(path.c_str());
  }
  EXPECT_EQ(LoadTenantMap("/nonexistent/tenants.toml").status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace millrace::central
