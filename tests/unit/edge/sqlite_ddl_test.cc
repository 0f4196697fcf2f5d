// The catalog's SQLite DDL applied to a real SQLite, and the edge schema migration.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "catalog_rows.h"
#include "millrace/common/ddl.h"
#include "millrace/edge/schema.h"
#include "millrace/common/sqlite.h"

namespace millrace::edge {
namespace {

using catalog::MesCatalog;
using testing::Dialect;

class SqliteDdlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = SqliteDb::Open(":memory:");
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_.emplace(std::move(db).value());
    for (const auto& sql : catalog::SqliteDdl(MesCatalog()))
      ASSERT_TRUE(db_->Exec(sql).ok()) << sql;
  }

  // Inserts `row` into `table`; returns the SQLite outcome.
  Status Insert(const catalog::TableSpec& table,
                const std::vector<std::optional<std::string>>& row) {
    sqlite3_stmt* stmt = nullptr;
    std::string sql = testing::InsertSql(table, Dialect::kSqlite);
    int rc = sqlite3_prepare_v2(db_->raw(), sql.c_str(), -1, &stmt, nullptr);
    if (rc != SQLITE_OK) return db_->Error(rc, "prepare");
    for (std::size_t i = 0; i < row.size(); ++i) {
      if (!row[i]) {
        sqlite3_bind_null(stmt, static_cast<int>(i + 1));
        continue;
      }
      // Integers and reals are bound as numbers, like the store will bind them.
      const auto& col = table.columns[i];
      switch (SqliteTypeOf(col.type)) {
        case 'I':
          sqlite3_bind_int64(stmt, static_cast<int>(i + 1), std::stoll(*row[i]));
          break;
        case 'R':
          sqlite3_bind_double(stmt, static_cast<int>(i + 1), std::stod(*row[i]));
          break;
        default:
          sqlite3_bind_text(stmt, static_cast<int>(i + 1), row[i]->c_str(), -1, SQLITE_TRANSIENT);
      }
    }
    rc = sqlite3_step(stmt);
    sqlite3_finalize(stmt);
    return rc == SQLITE_DONE ? Status::Ok() : db_->Error(rc, "insert into " + table.name);
  }

  static char SqliteTypeOf(catalog::ColumnType t) { return catalog::SqliteType(t)[0]; }

  std::optional<SqliteDb> db_;
};

TEST_F(SqliteDdlTest, EveryTableAcceptsAValidRowWithAndWithoutOptionalValues) {
  for (const auto& t : MesCatalog().tables()) {
    EXPECT_TRUE(Insert(t, testing::SampleRow(t, Dialect::kSqlite, "plant-a", 1)).ok()) << t.name;
    Status sparse = Insert(t, testing::SampleRow(t, Dialect::kSqlite, "plant-a", 2, false));
    EXPECT_TRUE(sparse.ok()) << t.name << ": " << sparse.ToString();
    EXPECT_EQ(*db_->QueryInt("SELECT count(*) FROM " + catalog::QuoteIdent(t.name)), 2) << t.name;
  }
}

TEST_F(SqliteDdlTest, ApplyingTheDdlTwiceIsHarmless) {
  for (const auto& sql : catalog::SqliteDdl(MesCatalog())) EXPECT_TRUE(db_->Exec(sql).ok()) << sql;
}

TEST_F(SqliteDdlTest, ConstraintsRefuseBadValues) {
  const auto& wo = *MesCatalog().Find("work_order");
  auto idx = [&](const char* name) {
    for (std::size_t i = 0; i < wo.columns.size(); ++i)
      if (wo.columns[i].name == name) return i;
    ADD_FAILURE() << name;
    return std::size_t{0};
  };
  auto row = testing::SampleRow(wo, Dialect::kSqlite, "plant-a", 1);
  ASSERT_TRUE(Insert(wo, row).ok());

  auto bad_status = testing::SampleRow(wo, Dialect::kSqlite, "plant-a", 2);
  bad_status[idx("status")] = "Running";  // an operation state, not a work-order state
  EXPECT_EQ(Insert(wo, bad_status).code(), StatusCode::kInvalidArgument);

  auto bad_json = testing::SampleRow(wo, Dialect::kSqlite, "plant-a", 3);
  bad_json[idx("routing_snapshot")] = "{not json";
  EXPECT_EQ(Insert(wo, bad_json).code(), StatusCode::kInvalidArgument);

  auto no_site = testing::SampleRow(wo, Dialect::kSqlite, "plant-a", 4);
  no_site[idx("site_id")] = std::nullopt;
  EXPECT_EQ(Insert(wo, no_site).code(), StatusCode::kInvalidArgument);

  auto short_id = testing::SampleRow(wo, Dialect::kSqlite, "plant-a", 5);
  short_id[idx("id")] = "not-a-uuid";
  EXPECT_EQ(Insert(wo, short_id).code(), StatusCode::kInvalidArgument);

  auto dup = testing::SampleRow(wo, Dialect::kSqlite, "plant-a", 6);
  dup[idx("id")] = row[idx("id")];
  EXPECT_EQ(Insert(wo, dup).code(), StatusCode::kInvalidArgument);

  // STRICT: text that is not a number never lands in an INTEGER column.
  EXPECT_FALSE(db_->Exec("UPDATE work_order SET priority = 'high'").ok());
  // Booleans are 0/1 only.
  const auto& eq = *MesCatalog().Find("equipment");
  ASSERT_TRUE(Insert(eq, testing::SampleRow(eq, Dialect::kSqlite, "plant-a", 1)).ok());
  EXPECT_FALSE(db_->Exec("UPDATE equipment SET active = 2").ok());
  EXPECT_TRUE(db_->Exec("UPDATE equipment SET active = 0").ok());
  EXPECT_EQ(*db_->QueryInt("SELECT count(*) FROM work_order"), 1);
}

TEST(EdgeSchemaTest, MigratesAFileDatabaseDurablyAndRecordsTheCatalog) {
  auto dir =
      std::filesystem::temp_directory_path() / ("millrace-edge-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::string path = (dir / "edge.db").string();
  {
    auto db = SqliteDb::Open(path);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    EXPECT_EQ(CheckEdgeSchemaCurrent(*db).code(), StatusCode::kFailedPrecondition);
    ASSERT_TRUE(MigrateEdgeSchema(*db).ok());
    ASSERT_TRUE(MigrateEdgeSchema(*db).ok());  // idempotent
    EXPECT_TRUE(CheckEdgeSchemaCurrent(*db).ok());
    EXPECT_EQ(*db->QueryText("PRAGMA journal_mode"), "wal");
    EXPECT_EQ(*db->QueryInt("PRAGMA synchronous"), 2);  // FULL
    EXPECT_EQ(*db->QueryInt("PRAGMA user_version"), kEdgeSchemaVersion);
    EXPECT_EQ(*db->QueryInt(
                  "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name NOT IN "
                  "('edge_meta', 'outbox', 'sync_state', 'sqlite_sequence', 'terminal_session', "
                  "'sync_tombstone')"),
              static_cast<std::int64_t>(catalog::MesCatalog().tables().size()));
  }
  {
    auto db = SqliteDb::Open(path);
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE(db->Exec("PRAGMA user_version = 99").ok());
    Status s = MigrateEdgeSchema(*db);
    EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
    EXPECT_NE(s.message().find("newer"), std::string::npos);
    EXPECT_EQ(*db->QueryInt("PRAGMA user_version"), 99);  // untouched
  }
  std::filesystem::remove_all(dir);
}

TEST(EdgeSchemaTest, OpeningSomethingThatIsNotADatabaseIsCorruption) {
  auto path =
      std::filesystem::temp_directory_path() / ("millrace-notdb-" + std::to_string(::getpid()));
  {
    FILE* f = std::fopen(path.c_str(), "wb");
    std::fputs(
        "this is a text file, not an SQLite database, and it is long enough to have a header", f);
    std::fclose(f);
  }
  auto db = SqliteDb::Open(path.string());
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.status().code(), StatusCode::kCorruption) << db.status().ToString();
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace millrace::edge
