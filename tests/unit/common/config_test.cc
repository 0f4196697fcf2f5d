#include "millrace/common/config.h"

#include <gtest/gtest.h>

#include "millrace/common/config_reference.h"
#include "millrace/common/daemon_config.h"

namespace millrace {
namespace {

ConfigFile Parse(const std::string& text) {
  auto r = ConfigFile::Parse(text, "edge.toml");
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return std::move(r).value();
}

TEST(ConfigTest, ReadsTypedValuesByDottedKey) {
  auto f = Parse(R"(
    [site]
    id = "plant-lyon"
    [http]
    port = 8081
    threads = 4
    [store]
    sync_full = true
    ratio = 0.5
    peers = ["a", "b"]
  )");
  EXPECT_EQ(*f.GetString("site.id"), "plant-lyon");
  EXPECT_EQ(*f.GetInt("http.port", std::nullopt, 0, 65535), 8081);
  EXPECT_EQ(*f.GetBool("store.sync_full"), true);
  EXPECT_DOUBLE_EQ(*f.GetDouble("store.ratio", std::nullopt), 0.5);
  EXPECT_EQ(*f.GetStringList("store.peers"), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(*f.GetInt("http.threads", 1, 1, 64), 4);
  EXPECT_TRUE(f.Finish().ok());
}

TEST(ConfigTest, FallbacksApplyOnlyWhenAbsent) {
  auto f = Parse("[http]\nport = 9000\n");
  EXPECT_EQ(*f.GetInt("http.port", 80, 0, 65535), 9000);
  EXPECT_EQ(*f.GetString("http.listen", std::string("127.0.0.1")), "127.0.0.1");
}

TEST(ConfigTest, ErrorsNameTheFileAndTheKey) {
  auto f = Parse("[http]\nport = \"eighty\"\nthreads = 500\n[log]\nlevel = \"loud\"\n");
  auto port = f.GetInt("http.port", 80, 0, 65535);
  ASSERT_FALSE(port.ok());
  EXPECT_EQ(port.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(port.status().message(),
            "config edge.toml: key 'http.port': expected an integer in 0..65535, got \"eighty\"");
  auto threads = f.GetInt("http.threads", 1, 1, 64);
  EXPECT_EQ(threads.status().message(),
            "config edge.toml: key 'http.threads': expected an integer in 1..64, got 500");
  auto level = f.GetEnum("log.level", {"info", "debug"});
  EXPECT_EQ(level.status().message(),
            "config edge.toml: key 'log.level': expected one of info, debug, got \"loud\"");
  auto missing = f.GetString("site.id");
  EXPECT_EQ(missing.status().message(), "config edge.toml: key 'site.id': is required (a string)");
}

TEST(ConfigTest, FinishReportsUnknownKeysSoTyposAreNotIgnored) {
  auto f = Parse("[htpp]\nport = 8080\n[log]\nlevel = \"info\"\n");
  EXPECT_TRUE(f.GetString("log.level").ok());
  Status s = f.Finish();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "config edge.toml: unknown key(s) 'htpp.port'");
}

TEST(ConfigTest, SyntaxErrorNamesTheFile) {
  auto r = ConfigFile::Parse("[http\nport = ", "broken.toml");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("broken.toml"), std::string::npos);
}

TEST(ConfigTest, MissingFileIsNotFound) {
  auto r = ConfigFile::Load("/nonexistent/millrace.toml");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_NE(r.status().message().find("/nonexistent/millrace.toml"), std::string::npos);
}

TEST(ConfigTest, SharedHttpAndLogSectionsValidate) {
  auto f = Parse(
      "[http]\nlisten = \"0.0.0.0\"\nport = 0\nbody_limit_bytes = 4096\n[log]\nformat = "
      "\"json\"\n");
  HttpServerOptions http;
  LogOptions log;
  ASSERT_TRUE(ReadHttpSection(f, &http).ok());
  ASSERT_TRUE(ReadLogSection(f, &log).ok());
  EXPECT_EQ(http.address, "0.0.0.0");
  EXPECT_EQ(http.port, 0);
  EXPECT_EQ(http.body_limit_bytes, 4096u);
  EXPECT_EQ(log.format, "json");
  EXPECT_EQ(log.level, "info");
  EXPECT_TRUE(f.Finish().ok());

  auto bad = Parse("[log]\nformat = \"xml\"\n");
  Status s = ReadLogSection(bad, &log);
  EXPECT_EQ(s.message(),
            "config edge.toml: key 'log.format': expected one of human, json, got \"xml\"");
}

TEST(ConfigReferenceTest, RecordsEachKeyAsTheLoaderAskedForIt) {
  auto f = Parse("[a]\nn = 5\n");
  ASSERT_TRUE(f.GetInt("a.n", 3, 1, 9).ok());
  ASSERT_TRUE(f.GetEnum("a.mode", {"fast", "safe"}, "safe").ok());
  ASSERT_TRUE(f.GetString("b.path").status().code() == StatusCode::kInvalidArgument);
  ASSERT_TRUE(f.GetInt("a.n", 4, 1, 9).ok());  // asked again: the first entry stands
  ASSERT_EQ(f.reads().size(), 3u);
  EXPECT_EQ(f.reads()[0].fallback, "3");
  EXPECT_EQ(f.reads()[0].allowed, "1..9");
  EXPECT_EQ(f.reads()[1].allowed, "fast, safe");
  EXPECT_EQ(f.reads()[1].fallback, "\"safe\"");
  EXPECT_TRUE(f.reads()[2].required);

  const ConfigKeyDoc docs[] = {{"a.n", "How many."}, {"a.mode", "Which way."},
                               {"b.path", "Where.", "beside the store"}};
  auto ref = ConfigReference("thing", "Intro.", f.reads(), {docs});
  ASSERT_TRUE(ref.ok()) << ref.status().ToString();
  EXPECT_NE(ref->find("### [a]\n\n- `n`: integer 1..9, default `3`. How many.\n"
                      "- `mode`: string (one of fast, safe), default `\"safe\"`. Which way.\n"),
            std::string::npos)
      << *ref;
  EXPECT_NE(ref->find("### [b]\n\n- `path`: string, **required**. Where."), std::string::npos);
}

TEST(ConfigReferenceTest, RefusesKeysReadButNotDescribedAndDescribedButNotRead) {
  auto f = Parse("");
  ASSERT_TRUE(f.GetInt("a.n", 3, 1, 9).ok());
  ASSERT_TRUE(f.GetBool("a.on", false).ok());
  const ConfigKeyDoc docs[] = {{"a.n", "How many."}, {"a.gone", "Nobody reads this."}};
  auto ref = ConfigReference("thing", "Intro.", f.reads(), {docs});
  ASSERT_EQ(ref.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ref.status().message(),
            "thing: keys read but not described: a.on; keys described but never read: a.gone");
}

}  // namespace
}  // namespace millrace
