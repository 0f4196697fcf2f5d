// Rows between the newest catalog and the edge schema before it (sync/schema_translation.h):
// an older edge's change read with NULLs, the columns it does not know left out of what it
// receives, and both shapes comparing equal where the added columns are NULL.
#include "millrace/sync/schema_translation.h"

#include <gtest/gtest.h>

#include "catalog_rows.h"
#include "millrace/common/schema_versions.h"
#include "millrace/sync/drift.h"
#include "millrace/sync/row_codec.h"

namespace millrace::sync {
namespace {

const catalog::TableSpec& Events() {
  return *catalog::MesCatalog().Find("production_event");
}

// A production event with a note, as an edge of this build writes it.
Row EventWithNote(int n) {
  Row r = testing::SampleTypedRow(Events(), "lyon", n);
  r.Set("note", std::string("burr on the left edge"));
  return r;
}

// The same change as an edge of the schema before writes it: without the added columns.
v1::Change AsOlderEdgeSends(Row row) {
  row.Set("note", std::monostate{});
  v1::Change c = EncodeChange(row, v1::OP_UPSERT);
  while (static_cast<std::size_t>(c.values_size()) > Events().WidthAt(kOldestServedEdgeSchema))
    c.mutable_values()->RemoveLast();
  return c;
}

TEST(SchemaTranslationTest, TheAddedColumnComesLastAndOnlyTheNewestSchemaKnowsIt) {
  const auto& t = Events();
  ASSERT_EQ(t.columns.back().name, "note");
  EXPECT_EQ(t.columns.back().since, kEdgeSchemaVersion);
  EXPECT_EQ(t.WidthAt(kEdgeSchemaVersion), t.columns.size());
  EXPECT_EQ(t.WidthAt(kOldestServedEdgeSchema), t.columns.size() - 1);
  // The older width ends with the system columns, as that schema's catalog did.
  EXPECT_EQ(t.columns[t.WidthAt(kOldestServedEdgeSchema) - 1].name, catalog::kOriginColumn);
  // A table that gained nothing is as wide for both.
  const auto* stops = catalog::MesCatalog().Find("downtime_event");
  EXPECT_EQ(stops->WidthAt(kOldestServedEdgeSchema), stops->columns.size());
}

TEST(SchemaTranslationTest, AnOlderEdgesChangeIsReadWithNullInWhatItDoesNotKnow) {
  Row sent = EventWithNote(1);
  std::size_t known = 0;
  auto row = DecodeServedShape(AsOlderEdgeSends(sent), catalog::MesCatalog(), &known);
  ASSERT_TRUE(row.ok()) << row.status().ToString();
  EXPECT_EQ(known, Events().columns.size() - 1);
  EXPECT_TRUE(row->IsNull("note"));
  EXPECT_EQ(row->id(), sent.id());
  EXPECT_EQ(row->Real("good_quantity"), sent.Real("good_quantity"));
  // DecodeChange alone would refuse it, naming both counts.
  auto plain = DecodeChange(AsOlderEdgeSends(sent), catalog::MesCatalog());
  ASSERT_FALSE(plain.ok());
  EXPECT_NE(plain.status().message().find("carries " + std::to_string(Events().columns.size() - 1) +
                                          " values, the table has " +
                                          std::to_string(Events().columns.size())),
            std::string::npos);

  // This build's own change keeps its note.
  row = DecodeServedShape(EncodeChange(sent, v1::OP_UPSERT), catalog::MesCatalog(), &known);
  ASSERT_TRUE(row.ok());
  EXPECT_EQ(row->Text("note"), "burr on the left edge");
  EXPECT_EQ(known, Events().columns.size());
}

TEST(SchemaTranslationTest, AWidthOfNoServedSchemaIsRefusedNamingTheCount) {
  v1::Change c = AsOlderEdgeSends(EventWithNote(2));
  c.mutable_values()->RemoveLast();  // narrower than any schema ever was
  auto row = DecodeServedShape(c, catalog::MesCatalog());
  ASSERT_FALSE(row.ok());
  EXPECT_EQ(row.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(row.status().message().find("production_event: change carries"), std::string::npos)
      << row.status().ToString();
}

TEST(SchemaTranslationTest, AnOlderEdgeReceivesItsOwnShapeAndTheNewestTheWholeRow) {
  const Row sent = EventWithNote(3);
  const v1::Change whole = EncodeChange(sent, v1::OP_UPSERT);
  v1::Change c = whole;
  NarrowChange(&c, catalog::MesCatalog(), kEdgeSchemaVersion);
  EXPECT_EQ(c.SerializeAsString(), whole.SerializeAsString());

  NarrowChange(&c, catalog::MesCatalog(), kOldestServedEdgeSchema);
  EXPECT_EQ(static_cast<std::size_t>(c.values_size()), Events().WidthAt(kOldestServedEdgeSchema));
  // What the older edge then decodes with its own catalog: the catalog as of its schema.
  std::vector<catalog::TableSpec> older = catalog::MesCatalog().tables();
  for (auto& t : older)
    t.columns.resize(t.WidthAt(kOldestServedEdgeSchema));
  const catalog::Catalog older_catalog(older);
  EXPECT_EQ(older_catalog.FingerprintHex(),
            catalog::MesCatalog().FingerprintHexAt(kOldestServedEdgeSchema));
  auto row = DecodeChange(c, older_catalog);
  ASSERT_TRUE(row.ok()) << row.status().ToString();
  EXPECT_EQ(row->id(), sent.id());

  // A table that gained nothing goes as it is; a pull that names no schema is schema 6.
  Row stop = testing::SampleTypedRow(*catalog::MesCatalog().Find("downtime_event"), "lyon", 4);
  v1::Change s = EncodeChange(stop, v1::OP_UPSERT);
  const std::string before = s.SerializeAsString();
  NarrowChange(&s, catalog::MesCatalog(), kOldestServedEdgeSchema);
  EXPECT_EQ(s.SerializeAsString(), before);
  EXPECT_EQ(EdgeSchemaOf(0), 6);
  EXPECT_EQ(EdgeSchemaOf(7), 7);
  EXPECT_EQ(EdgeSchemaOf(0xFFFFFFFFu), kEdgeSchemaVersion);  // never a negative width
}

TEST(SchemaTranslationTest, BothShapesCompareEqualWhereTheAddedColumnIsNull) {
  Row with_note = EventWithNote(5);
  Row without = with_note;
  without.Set("note", std::monostate{});
  // An older edge's copy (decoded from its shape) and central's, which has NULL there.
  auto from_older = DecodeServedShape(AsOlderEdgeSends(with_note), catalog::MesCatalog());
  ASSERT_TRUE(from_older.ok());
  EXPECT_EQ(RowFingerprint(*from_older), RowFingerprint(without));
  EXPECT_EQ(ComparableChange(without).values_size(),
            static_cast<int>(Events().WidthAt(kOldestServedEdgeSchema)));
  // A note is content: a copy without it differs.
  EXPECT_NE(RowFingerprint(with_note), RowFingerprint(without));
  // Except to an older edge, which cannot hold it: compared in its shape, they are equal.
  EXPECT_EQ(RowFingerprint(with_note, kOldestServedEdgeSchema),
            RowFingerprint(without, kOldestServedEdgeSchema));
  EXPECT_EQ(RowFingerprint(without, kOldestServedEdgeSchema), RowFingerprint(without));
  EXPECT_EQ(ComparableChange(with_note).values_size(), static_cast<int>(Events().columns.size()));
}

}  // namespace
}  // namespace millrace::sync
