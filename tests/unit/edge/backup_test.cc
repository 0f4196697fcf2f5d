// Online backups, pre-migration backups, the single-owner lock and offline restore.
#include "millrace/edge/backup.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "millrace/common/digest.h"
#include "millrace/common/files.h"
#include "millrace/common/gzip.h"
#include "millrace/common/uuid.h"
#include "millrace/edge/backup_shipping.h"
#include "millrace/edge/schema.h"
#include "millrace/edge/store.h"

namespace millrace::edge {
namespace {

namespace fs = std::filesystem;
const catalog::TableSpec& T(const char* name) { return *catalog::MesCatalog().Find(name); }

class BackupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("millrace-backup-" + std::to_string(::getpid()) + "-" +
                                        Uuid::NewV7().ToString().substr(24));
    fs::create_directories(dir_);
    db_ = (dir_ / "edge.db").string();
    store_ = Open();
  }
  void TearDown() override {
    store_.reset();
    fs::remove_all(dir_);
  }
  std::unique_ptr<EdgeStore> Open() {
    EdgeStoreOptions o;
    o.path = db_;
    o.site_id = "plant-a";
    auto s = EdgeStore::Open(o);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(s).value() : nullptr;
  }
  Status WriteEvent(EdgeStore& store) {
    return store.Write([&](WriteTxn& txn) {
      Row r(T("production_event"));
      r.Set("id", Uuid::NewV7().ToString()).Set("kind", "COUNT").Set("at", std::int64_t{1})
          .Set("work_order_id", Uuid::NewV7().ToString()).Set("operation_id", Uuid::NewV7().ToString())
          .Set("work_unit_id", Uuid::NewV7().ToString()).Set("good_quantity", 1.0).Set("scrap_quantity", 0.0)
          .Set("rework_quantity", 0.0);
      return txn.Insert(r);
    });
  }
  std::int64_t Events(const std::string& path) {
    auto db = SqliteDb::OpenReadOnly(path);
    EXPECT_TRUE(db.ok());
    return *db->QueryInt("SELECT count(*) FROM production_event");
  }

  fs::path dir_;
  std::string db_;
  std::unique_ptr<EdgeStore> store_;
};

TEST_F(BackupTest, AnOnlineBackupIsAConsistentCopyTakenWhileWritesContinue) {
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(WriteEvent(*store_).ok());
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    while (!stop) ASSERT_TRUE(WriteEvent(*store_).ok());
  });
  auto info = BackupStore(*store_, (dir_ / "backups").string(), 0);
  stop = true;
  writer.join();
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_GT(info->bytes, 0);
  EXPECT_NE(info->path.find("edge-plant-a-"), std::string::npos);
  std::int64_t in_backup = Events(info->path);
  EXPECT_GE(in_backup, 100);
  // Consistent: the outbox in the backup matches its own domain rows exactly.
  auto b = SqliteDb::OpenReadOnly(info->path);
  EXPECT_EQ(*b->QueryInt("SELECT count(*) FROM outbox"), in_backup);
  EXPECT_EQ(*b->QueryText("PRAGMA integrity_check"), "ok");
  EXPECT_FALSE(fs::exists(info->path + ".tmp"));
}

TEST_F(BackupTest, KeepsOnlyTheNewestBackups) {
  std::string dir = (dir_ / "backups").string();
  for (int i = 0; i < 4; ++i) {
    auto made = BackupStore(*store_, dir, 2);
    ASSERT_TRUE(made.ok()) << made.status().ToString();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // distinct timestamps
  }
  int n = 0;
  for (const auto& e : fs::directory_iterator(dir)) n += e.path().extension() == ".db";
  EXPECT_EQ(n, 2);
}

TEST_F(BackupTest, ASecondProcessCannotOpenARunningStore) {
  EdgeStoreOptions o;
  o.path = db_;
  o.site_id = "plant-a";
  auto second = EdgeStore::Open(o);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kUnavailable);
}

TEST_F(BackupTest, RestoreRefusesARunningEdgeThenReplacesTheDatabase) {
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(WriteEvent(*store_).ok());
  auto info = BackupStore(*store_, (dir_ / "backups").string(), 0);
  ASSERT_TRUE(info.ok());
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(WriteEvent(*store_).ok());
  Status refused = RestoreStore(info->path, db_).status();
  EXPECT_EQ(refused.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.message().find("running"), std::string::npos);
  const StoreEpoch before = store_->epoch();
  store_.reset();  // the edge stops
  EXPECT_EQ(Events(db_), 15);
  auto restored = RestoreStore(info->path, db_);
  ASSERT_TRUE(restored.ok()) << restored.status().ToString();
  // A restored store is a new incarnation: a new epoch, whose parent is the one the
  // backup was taken in, resuming at what central had acknowledged then.
  EXPECT_NE(restored->id, before.id);
  EXPECT_EQ(restored->parent, before.id);
  EXPECT_NE(restored->reason.find("restored from backup"), std::string::npos);
  store_ = Open();
  ASSERT_NE(store_, nullptr);
  std::int64_t n = -1;
  ASSERT_TRUE(store_->Read([&](ReadTxn& txn) -> Status {
    MILLRACE_ASSIGN_OR_RETURN(n, txn.Count(T("production_event")));
    return Status::Ok();
  }).ok());
  EXPECT_EQ(n, 10);
  EXPECT_EQ(store_->Outbox()->rows, 10);  // the outbox came back with its rows
  EXPECT_EQ(store_->epoch().id, restored->id);  // and opening it keeps that epoch
}

TEST_F(BackupTest, AStoreCopiedToAnotherPathStartsANewEpochWhenOpened) {
  const StoreEpoch original = store_->epoch();
  ASSERT_FALSE(original.id.empty());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(WriteEvent(*store_).ok());
  store_.reset();
  store_ = Open();  // the same file again: the same epoch
  EXPECT_EQ(store_->epoch().id, original.id);
  store_.reset();
  const std::string copy = (dir_ / "copy.db").string();
  std::filesystem::copy_file(db_, copy);
  EdgeStoreOptions o;
  o.path = copy;
  o.site_id = "plant-a";
  auto copied = EdgeStore::Open(o);
  ASSERT_TRUE(copied.ok()) << copied.status().ToString();
  EXPECT_NE((*copied)->epoch().id, original.id);
  EXPECT_EQ((*copied)->epoch().parent, original.id);
  EXPECT_NE((*copied)->epoch().reason.find("copied or moved"), std::string::npos);
}

TEST_F(BackupTest, RestoreRefusesADamagedOrMissingBackup) {
  store_.reset();
  std::string junk = (dir_ / "junk.db").string();
  std::ofstream(junk) << std::string(8192, 'x');
  EXPECT_FALSE(RestoreStore(junk, db_).ok());
  EXPECT_EQ(RestoreStore((dir_ / "nope.db").string(), db_).status().code(), StatusCode::kNotFound);
  EXPECT_GE(Events(db_), 0);  // the database is still there and readable
}

TEST_F(BackupTest, AnOlderDatabaseIsBackedUpBeforeItIsMigrated) {
  ASSERT_TRUE(WriteEvent(*store_).ok());
  store_.reset();
  {
    auto db = SqliteDb::Open(db_);
    // As left by an older build: before edge schema 7 added production_event.note.
    ASSERT_TRUE(db->Exec("ALTER TABLE production_event DROP COLUMN note; PRAGMA user_version = 2").ok());
  }
  store_ = Open();
  ASSERT_NE(store_, nullptr);
  std::string backup = db_ + ".pre-migration-v2.db";
  ASSERT_TRUE(fs::exists(backup));
  auto b = SqliteDb::OpenReadOnly(backup);
  EXPECT_EQ(*b->QueryInt("PRAGMA user_version"), 2);
  EXPECT_EQ(*b->QueryInt("SELECT count(*) FROM production_event"), 1);
  EXPECT_TRUE(store_->CheckReady().ok());
}

TEST_F(BackupTest, AFailedMigrationLeavesTheDatabaseAsItWas) {
  ASSERT_TRUE(WriteEvent(*store_).ok());
  store_.reset();
  {
    // An older database in which migration 3 cannot succeed: a view stands where its
    // table goes, and SQLite cannot index a view.
    auto db = SqliteDb::Open(db_);
    ASSERT_TRUE(db->Exec("DROP TABLE terminal_session; CREATE VIEW terminal_session AS SELECT 1 AS x; "
                         "PRAGMA user_version = 2").ok());
  }
  EdgeStoreOptions o;
  o.path = db_;
  o.site_id = "plant-a";
  auto failed = EdgeStore::Open(o);
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.status().message().find("edge migration 3"), std::string::npos) << failed.status().ToString();
  auto db = SqliteDb::OpenReadOnly(db_);
  EXPECT_EQ(*db->QueryInt("PRAGMA user_version"), 2);
  EXPECT_EQ(*db->QueryText("SELECT type FROM sqlite_schema WHERE name = 'terminal_session'"), "view");
  EXPECT_EQ(*db->QueryInt("SELECT count(*) FROM production_event"), 1);
  EXPECT_TRUE(fs::exists(db_ + ".pre-migration-v2.db"));
}

// A staged backup is the gzip of the backup, described by its offer (size, SHA-256,
// schema version, store epoch), and read back at any offset.
TEST_F(BackupTest, AStagedBackupIsDescribedByItsOfferAndReadAtAnyOffset) {
  for (int i = 0; i < 200; ++i) ASSERT_TRUE(WriteEvent(*store_).ok());
  auto info = BackupStore(*store_, (dir_ / "backups").string(), 0);
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  OutgoingBackups out((dir_ / "backups" / "outgoing").string());
  auto offer = out.Stage(info->path);
  ASSERT_TRUE(offer.ok()) << offer.status().ToString();
  EXPECT_TRUE(sync::CheckBackupOffer(*offer).ok()) << sync::CheckBackupOffer(*offer).ToString();
  EXPECT_EQ(offer->backup_id() + ".db",
            fs::path(info->path).filename().string().substr(std::string("edge-plant-a-").size()));
  EXPECT_EQ(offer->schema_version(), static_cast<std::uint32_t>(kEdgeSchemaVersion));
  EXPECT_EQ(offer->store_epoch(), store_->epoch().id);
  EXPECT_EQ(offer->raw_bytes(), static_cast<std::uint64_t>(info->bytes));
  // Read in odd-sized pieces, the pieces are the file, whose SHA-256 the offer names.
  std::string whole;
  for (std::uint64_t at = 0;;) {
    auto piece = out.Read(offer->backup_id(), at, 1000);
    ASSERT_TRUE(piece.ok()) << piece.status().ToString();
    if (piece->empty()) break;
    whole += *piece;
    at += piece->size();
  }
  EXPECT_EQ(whole.size(), offer->bytes());
  EXPECT_EQ(Sha256Hex(whole), offer->sha256());
  ASSERT_TRUE(WriteFileAtomically((dir_ / "shipped.db.gz").string(), whole).ok());
  ASSERT_TRUE(GunzipFile((dir_ / "shipped.db.gz").string(), (dir_ / "shipped.db").string(),
                         offer->raw_bytes())
                  .ok());
  EXPECT_EQ(Events((dir_ / "shipped.db").string()), 200);
  auto pending = out.Pending();
  ASSERT_TRUE(pending.ok() && pending->has_value());
  EXPECT_EQ((*pending)->backup_id(), offer->backup_id());
  ASSERT_TRUE(out.Shipped(offer->backup_id()).ok());
  pending = out.Pending();
  ASSERT_TRUE(pending.ok());
  EXPECT_FALSE(pending->has_value());
  EXPECT_TRUE(fs::is_empty(out.dir()));
}

// Only the newest backup waits, but one whose upload began is finished first.
TEST_F(BackupTest, ANewerBackupReplacesAWaitingOneButNotOneBeingShipped) {
  OutgoingBackups out((dir_ / "backups" / "outgoing").string());
  auto stage = [&]() {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // distinct UTC stamps
    auto info = BackupStore(*store_, (dir_ / "backups").string(), 0);
    EXPECT_TRUE(info.ok());
    auto offer = out.Stage(info->path);
    EXPECT_TRUE(offer.ok()) << offer.status().ToString();
    return offer->backup_id();
  };
  const std::string a = stage();
  const std::string b = stage();
  EXPECT_FALSE(fs::exists(out.dir() + "/" + a + ".db.gz"));  // a waited, b replaced it
  EXPECT_EQ((*out.Pending())->backup_id(), b);  // b is offered: its upload begins
  const std::string c = stage();
  EXPECT_TRUE(fs::exists(out.dir() + "/" + b + ".db.gz"));
  EXPECT_EQ((*out.Pending())->backup_id(), b);  // resumed after a reconnect
  ASSERT_TRUE(out.Shipped(b).ok());
  EXPECT_EQ((*out.Pending())->backup_id(), c);
  ASSERT_TRUE(out.Refused(c, "sha256 differs").ok());
  EXPECT_FALSE(out.Pending()->has_value());
}

TEST_F(BackupTest, AStagedCopyWithoutItsDescriptionIsNeverOffered) {
  OutgoingBackups out((dir_ / "backups" / "outgoing").string());
  auto info = BackupStore(*store_, (dir_ / "backups").string(), 0);
  ASSERT_TRUE(info.ok());
  auto offer = out.Stage(info->path);
  ASSERT_TRUE(offer.ok());
  ASSERT_TRUE(WriteFileAtomically(out.dir() + "/" + offer->backup_id() + ".offer", "garbage").ok());
  auto pending = out.Pending();
  ASSERT_TRUE(pending.ok());
  EXPECT_FALSE(pending->has_value());
  EXPECT_FALSE(fs::exists(out.dir() + "/" + offer->backup_id() + ".db.gz"));  // cleared
}

}  // namespace
}  // namespace millrace::edge
