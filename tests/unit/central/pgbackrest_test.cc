#include "millrace/central/pgbackrest.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace millrace::central {
namespace {

// `pgbackrest info --output=json` of pgBackRest 2.45 after a full and an incremental backup.
constexpr const char* kInfo = R"([{"archive":[{"database":{"id":1,"repo-key":1},"id":"15-1",
"max":"00000001000000000000000D","min":"000000010000000000000001"}],"backup":[{"archive":
{"start":"00000001000000000000000A","stop":"00000001000000000000000A"},"backrest":{"format":5,
"version":"2.45"},"database":{"id":1,"repo-key":1},"error":false,"info":{"delta":143472331,
"repository":{"delta":5662522,"size":5662522},"size":143472331},"label":"20261203-124422F",
"lsn":{"start":"0/A000028","stop":"0/A000100"},"prior":null,"reference":null,"timestamp":
{"start":1796301862,"stop":1796301868},"type":"full"},{"archive":{"start":
"00000001000000000000000D","stop":"00000001000000000000000D"},"backrest":{"format":5,
"version":"2.45"},"database":{"id":1,"repo-key":1},"error":false,"info":{"delta":124739850,
"repository":{"delta":3088856,"size":6082105},"size":147150539},"label":
"20261203-124422F_20261203-124434I","lsn":{"start":"0/D000028","stop":"0/D000100"},"prior":
"20261203-124422F","reference":["20261203-124422F"],"timestamp":{"start":1796301877,"stop":
1796301881},"type":"incr"}],"cipher":"none","db":[{"id":1,"repo-key":1,"system-id":
7715057720133291395,"version":"15"}],"name":"millrace","repo":[{"cipher":"none","key":1,
"status":{"code":0,"message":"ok"}}],"status":{"code":0,"lock":{"backup":{"held":false}},
"message":"ok"}}])";

TEST(PgBackRestTest, InfoListsTheStanzasBackupsAndItsArchive) {
  auto r = ParsePgBackRestInfo(kInfo, "millrace");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status_code, 0);
  EXPECT_EQ(r->status, "ok");
  EXPECT_FALSE(r->backup_running);
  EXPECT_EQ(r->wal_min, "000000010000000000000001");
  EXPECT_EQ(r->wal_max, "00000001000000000000000D");
  ASSERT_EQ(r->backups.size(), 2u);
  EXPECT_EQ(r->backups[0].label, "20261203-124422F");
  EXPECT_EQ(r->backups[0].type, "full");
  EXPECT_EQ(r->backups[0].prior, "");
  EXPECT_EQ(r->backups[0].size_bytes, 143472331);
  EXPECT_EQ(r->backups[0].repo_bytes, 5662522);
  EXPECT_EQ(r->backups[0].started_s, 1796301862);
  EXPECT_EQ(r->backups[0].stopped_s, 1796301868);
  EXPECT_EQ(r->backups[1].type, "incr");
  EXPECT_EQ(r->backups[1].prior, "20261203-124422F");
  EXPECT_EQ(r->backups[1].wal_stop, "00000001000000000000000D");
}

TEST(PgBackRestTest, AnotherStanzaOrNoJsonIsCorruption) {
  EXPECT_EQ(ParsePgBackRestInfo(kInfo, "other").status().code(), StatusCode::kCorruption);
  EXPECT_EQ(ParsePgBackRestInfo("ERROR: nope", "millrace").status().code(),
            StatusCode::kCorruption);
  auto empty = ParsePgBackRestInfo(
      R"([{"name":"millrace","backup":[],"status":{"code":2,"message":"no valid backups",)"
      R"("lock":{"backup":{"held":true}}}}])",
      "millrace");
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->status_code, 2);
  EXPECT_TRUE(empty->backup_running);
  EXPECT_TRUE(empty->backups.empty());
}

TEST(PgBackRestTest, ProgressComesFromTheBackupFileLines) {
  EXPECT_DOUBLE_EQ(*ParsePgBackRestProgress(
                       "2026-12-03 12:44:37.011 P01 DETAIL: backup file /d/base/5/16384 (118.4MB, "
                       "99.48%) checksum ba94"),
                   99.48);
  EXPECT_DOUBLE_EQ(
      *ParsePgBackRestProgress("P01 DETAIL: backup file /d/x (8B, 100.00%) checksum 3"), 100);
  EXPECT_FALSE(ParsePgBackRestProgress("P00   INFO: backup start archive = 0000000100"));
  EXPECT_FALSE(ParsePgBackRestProgress("P01 DETAIL: backup file /d/x (8B, lots%) checksum"));
}

TEST(PgBackRestTest, TheErrorIsTheErrorLineOrTheLastLine) {
  EXPECT_EQ(PgBackRestError("P00 INFO: begin\nP00 ERROR: [056]: unable to find primary cluster\n"
                            "P00 INFO: end\n"),
            "ERROR: [056]: unable to find primary cluster");
  EXPECT_EQ(PgBackRestError("one\ntwo\n\n"), "two");
  EXPECT_EQ(PgBackRestError(""), "no output");
}

// A stand-in for the pgbackrest command line: answers info from a file and "backs up" by
// printing what pgBackRest prints, so the boundary's own work is tested without a cluster.
class FakePgBackRest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("millrace-pbr-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    std::ofstream(dir_ / "info.json") << kInfo;
    std::ofstream(dir_ / "pgbackrest") << R"(#!/bin/sh
echo "$@" >> ")" << (dir_ / "calls").string()
                                       << R"("
for a in "$@"; do last=$a; done
case "$last" in
  info) cat ")" << (dir_ / "info.json").string()
                                       << R"(" ;;
  backup)
    echo "P00   INFO: backup command begin 2.45"
    echo "P01 DETAIL: backup file /d/base/5/16384 (118.4MB, 40.00%) checksum ab"
    echo "P01 DETAIL: backup file /d/base/5/1249 (448KB, 100.00%) checksum cd"
    if [ -f ")" << (dir_ / "fail").string()
                                       << R"(" ]; then
      echo "P00  ERROR: [057]: unable to acquire lock"; exit 57
    fi
    echo "P00   INFO: new backup label = 20261203-124422F_20261203-124434I" ;;
esac
)";
    std::filesystem::permissions(dir_ / "pgbackrest", std::filesystem::perms::owner_all);
    o_.command = {(dir_ / "pgbackrest").string()};
    o_.config = "/etc/x.conf";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
  PgBackRestOptions o_;
};

TEST_F(FakePgBackRest, ABackupReportsProgressAndReturnsTheNewBackup) {
  std::vector<double> seen;
  auto b = PgBackRest(o_).Backup(
      "incr", [&](double p) { seen.push_back(p); }, [] { return false; });
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->label, "20261203-124422F_20261203-124434I");
  EXPECT_EQ(b->type, "incr");
  EXPECT_EQ(seen, (std::vector<double>{40, 100}));
  std::ifstream calls(dir_ / "calls");
  std::string first;
  std::getline(calls, first);
  EXPECT_EQ(first,
            "--config=/etc/x.conf --stanza=millrace --log-level-file=off "
            "--log-level-console=detail --type=incr backup");
}

TEST_F(FakePgBackRest, AFailedBackupNamesPgBackRestsError) {
  std::ofstream(dir_ / "fail") << "";
  auto b = PgBackRest(o_).Backup("full", nullptr, [] { return false; });
  EXPECT_EQ(b.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(b.status().message().find("exit 57"), std::string::npos) << b.status().ToString();
  EXPECT_NE(b.status().message().find("ERROR: [057]: unable to acquire lock"), std::string::npos);
  EXPECT_EQ(PgBackRest(o_).Backup("weekly", nullptr, nullptr).status().code(),
            StatusCode::kInvalidArgument);
}

TEST_F(FakePgBackRest, AnExistingStanzaIsNotCreatedAgain) {
  ASSERT_TRUE(PgBackRest(o_).EnsureStanza().ok());
  std::ifstream calls(dir_ / "calls");
  std::string line;
  int n = 0;
  while (std::getline(calls, line)) {
    ++n;
    EXPECT_EQ(line.find("stanza-create"), std::string::npos);
  }
  EXPECT_EQ(n, 1);
}

}  // namespace
}  // namespace millrace::central
