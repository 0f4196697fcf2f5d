// The edge's frozen migrations: released steps never change, and the newest step makes
// exactly the tables the catalog describes (a catalog change without a new step fails
// here). The release fixtures (tests/fixtures/schema) migrate to the newest schema.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include "millrace/common/ddl.h"
#include "migration_checks.h"
#include "millrace/common/files.h"
#include "millrace/edge/schema.h"
#include "millrace/common/sqlite.h"
#include "millrace/edge/store.h"

namespace millrace::edge {
namespace {

namespace fs = std::filesystem;

// What a released step's text hashes to. A released step never changes: a schema change
// is a new file in edge/migrations, whose digest is added here when it is released.
const std::map<std::string, std::string>& ReleasedDigests() {
  static const std::map<std::string, std::string> kDigests = {
      {"0001_catalog", "0f989cdec7ca0c60c7f796c6a8dda81b6c0c2517d329cd4285cc958f7c21eca0"},
      {"0002_outbox", "ac9ed9db68e89bcb8bede428fced9b570a0f03a980bf8ef6ffd858464889b60a"},
      {"0003_terminal_session", "70e491f8a970b3f2fd652098cea78946e99a87d74378cfc67bad31e582648b01"},
      {"0004_outbox_row_index", "14ad1d90912171b8e9a80d93db826d4597420f2aaf459404e9a898d7fbf1136e"},
      {"0005_audit_record", "65c9df2f495a47e5c89d32571280e5b7918e96638879c138845be7618a1bd747"},
      {"0006_tombstones", "2fd78347a0190296da4ce92620aa5116fb159f26ed400acdd2b1183f2315d34f"},
      {"0007_production_event_note",
       "c66b516dc5cf84e7993b88be41baeb9fefaa66e409a3466f4846046f92d34a5a"},
  };
  return kDigests;
}

TEST(EdgeMigrationsTest, ReleasedStepsNeverChange) {
  ASSERT_EQ(EdgeMigrations().size(), static_cast<std::size_t>(kEdgeSchemaVersion));
  millrace::testing::ExpectReleasedStepsUnchanged(EdgeMigrations(), ReleasedDigests());
}

// One table as SQLite holds it: each column's definition (by name, so a column added by
// ALTER TABLE compares equal to one created with the table), its indexes and triggers.
struct TableShape {
  std::map<std::string, std::string> columns;
  std::string options;  // what follows the column list ("STRICT")
  std::map<std::string, std::string> indexes, triggers;
  bool operator==(const TableShape&) const = default;
};

std::string Squeeze(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (std::isspace(static_cast<unsigned char>(c))) {
      if (!out.empty() && out.back() != ' ') out += ' ';
    } else {
      out += c;
    }
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

TableShape ShapeOf(SqliteDb& db, const std::string& table) {
  TableShape shape;
  std::string sql =
      *db.QueryText("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = " +
                    catalog::QuoteLiteral(table));
  const auto open = sql.find('('), close = sql.rfind(')');
  if (open == std::string::npos || close == std::string::npos) return shape;
  shape.options = Squeeze(sql.substr(close + 1));
  // Split the column list at top-level commas.
  int depth = 0;
  char quote = 0;
  std::string part;
  auto flush = [&] {
    std::string def = Squeeze(part);
    part.clear();
    if (def.empty()) return;
    std::string name = def.substr(0, def.find(' '));
    shape.columns[name] = def;
  };
  for (std::size_t i = open + 1; i < close; ++i) {
    const char c = sql[i];
    if (quote) {
      if (c == quote) quote = 0;
    } else if (c == '\'' || c == '"') {
      quote = c;
    } else if (c == '(') {
      ++depth;
    } else if (c == ')') {
      --depth;
    } else if (c == ',' && depth == 0) {
      flush();
      continue;
    }
    part += c;
  }
  flush();
  for (const char* kind : {"index", "trigger"}) {
    auto* stmt = *db.Prepare("SELECT name, sql FROM sqlite_master WHERE type = ? AND tbl_name = ? "
                             "AND sql IS NOT NULL");
    EXPECT_TRUE(stmt->BindAll({std::string(kind), table}).ok());
    while (*stmt->Step()) {
      auto& target = std::string(kind) == "index" ? shape.indexes : shape.triggers;
      target[std::get<std::string>(stmt->Column(0))] = Squeeze(std::get<std::string>(stmt->Column(1)));
    }
    stmt->Reset();
  }
  return shape;
}

TEST(EdgeMigrationsTest, NewestStepMakesExactlyTheCatalogsTables) {
  auto migrated = SqliteDb::Open(":memory:");
  ASSERT_TRUE(migrated.ok());
  ASSERT_TRUE(MigrateEdgeSchema(*migrated).ok());
  auto reference = SqliteDb::Open(":memory:");
  ASSERT_TRUE(reference.ok());
  for (const auto& sql : catalog::SqliteDdl(catalog::MesCatalog()))
    ASSERT_TRUE(reference->Exec(sql).ok()) << sql;
  for (const auto& t : catalog::MesCatalog().tables()) {
    TableShape want = ShapeOf(*reference, t.name), got = ShapeOf(*migrated, t.name);
    ASSERT_FALSE(want.columns.empty()) << t.name;
    EXPECT_EQ(got.columns, want.columns)
        << "table " << t.name << ": the catalog and the newest edge migration disagree; a "
        << "catalog change needs a new step in edge/migrations";
    EXPECT_EQ(got.options, want.options) << t.name;
    EXPECT_EQ(got.indexes, want.indexes) << t.name;
    EXPECT_EQ(got.triggers, want.triggers) << t.name;
  }
  // No table the catalog does not know, beyond the edge's own bookkeeping.
  auto* s = *migrated->Prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT "
                               "LIKE 'sqlite_%' ORDER BY name");
  while (*s->Step()) {
    std::string name = std::get<std::string>(s->Column(0));
    if (catalog::MesCatalog().Find(name)) continue;
    EXPECT_TRUE(name == "edge_meta" || name == "outbox" || name == "sync_state" ||
                name == "terminal_session" || name == "sync_tombstone")
        << "unexpected table " << name;
  }
  s->Reset();
}

// Every release fixture's edge store opens, migrates to the newest schema and keeps its
// rows, its watermarks and the changes still waiting in its outbox.
TEST(EdgeMigrationsTest, ReleaseFixturesMigrateAndKeepTheirOutbox) {
  const fs::path fixtures = fs::path(MILLRACE_SOURCE_DIR) / "tests/fixtures/schema";
  int seen = 0;
  for (const auto& entry : fs::directory_iterator(fixtures)) {
    if (!entry.is_directory()) continue;
    ++seen;
    const fs::path dir = fs::temp_directory_path() /
                         ("millrace-fixture-" + entry.path().filename().string() + "-" +
                          std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    const std::string db_path = (dir / "edge.db").string();
    {
      auto db = SqliteDb::Open(db_path);
      ASSERT_TRUE(db.ok());
      auto dump = ReadFile((entry.path() / "edge.sql").string());
      ASSERT_TRUE(dump.ok()) << dump.status().ToString();
      ASSERT_TRUE(db->Exec(*dump).ok()) << entry.path();
    }
    std::int64_t pending_before = 0;
    {
      auto db = SqliteDb::Open(db_path);
      // Past the acknowledged watermark (newer stores also keep acknowledged entries).
      pending_before = *db->QueryInt(
          "SELECT count(*) FROM outbox WHERE seq > (SELECT coalesce(max(value), 0) FROM "
          "sync_state WHERE key = 'acked_seq')");
      ASSERT_GT(pending_before, 0);
    }
    EdgeStoreOptions options;
    options.path = db_path;
    options.site_id = "lyon";
    auto store = EdgeStore::Open(options);
    ASSERT_TRUE(store.ok()) << entry.path() << ": " << store.status().ToString();
    EXPECT_TRUE((*store)->CheckReady().ok());
    auto outbox = (*store)->Outbox();
    ASSERT_TRUE(outbox.ok());
    EXPECT_EQ(outbox->rows, pending_before) << entry.path();
    EXPECT_GT(outbox->acked_seq, 0);
    store->reset();
    fs::remove_all(dir);
  }
  EXPECT_GE(seen, 1) << "no release fixtures under " << fixtures;
}

}  // namespace
}  // namespace millrace::edge
