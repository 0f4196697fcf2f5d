#include "millrace/sync/row_codec.h"

#include <gtest/gtest.h>

#include <cmath>

#include "catalog_rows.h"
#include "millrace/common/ddl.h"
#include "millrace/common/uuid.h"

namespace millrace::sync {
namespace {

using catalog::MesCatalog;

// A valid Row of any table, through the SQLite-flavoured sample values.
Row Sample(const catalog::TableSpec& t, int n, bool fill_nullable) {
  Row row(t);
  auto text = millrace::testing::SampleRow(t, millrace::testing::Dialect::kSqlite, "plant-a", n,
                                           fill_nullable);
  for (std::size_t i = 0; i < t.columns.size(); ++i) {
    if (!text[i]) continue;
    switch (catalog::SqliteType(t.columns[i].type)[0]) {
      case 'I':
        row.mutable_values()[i] = static_cast<std::int64_t>(std::stoll(*text[i]));
        break;
      case 'R':
        row.mutable_values()[i] = std::stod(*text[i]);
        break;
      default:
        row.mutable_values()[i] = *text[i];
    }
  }
  return row;
}

TEST(RowCodecTest, RoundTripsARowOfEveryTable) {
  for (const auto& t : MesCatalog().tables()) {
    for (bool full : {true, false}) {
      Row row = Sample(t, 3, full);
      ASSERT_TRUE(row.Validate().ok()) << t.name << ": " << row.Validate().ToString();
      v1::Change c = EncodeChange(row, v1::OP_UPSERT);
      std::string wire = c.SerializeAsString();
      v1::Change back;
      ASSERT_TRUE(back.ParseFromString(wire));
      auto decoded = DecodeChange(back, MesCatalog());
      ASSERT_TRUE(decoded.ok()) << t.name << ": " << decoded.status().ToString();
      EXPECT_EQ(*decoded, row) << t.name;
    }
  }
}

TEST(RowCodecTest, RefusesChangesThatDoNotFitTheCatalog) {
  Row row = Sample(*MesCatalog().Find("work_order"), 1, true);
  v1::Change good = EncodeChange(row, v1::OP_UPSERT);

  v1::Change unknown = good;
  unknown.set_table("payroll");
  EXPECT_EQ(DecodeChange(unknown, MesCatalog()).status().message(), "unknown table 'payroll'");

  v1::Change short_row = good;
  short_row.mutable_values()->RemoveLast();
  EXPECT_EQ(DecodeChange(short_row, MesCatalog()).status().code(), StatusCode::kInvalidArgument);

  v1::Change bad_uuid = good;
  bad_uuid.mutable_values(0)->set_uuid_value("short");
  EXPECT_EQ(DecodeChange(bad_uuid, MesCatalog()).status().code(), StatusCode::kInvalidArgument);

  v1::Change wrong_type = good;  // text where the planned quantity (a number) belongs
  int qty = 0;
  while (MesCatalog().Find("work_order")->columns[static_cast<std::size_t>(qty)].name !=
         "planned_quantity")
    ++qty;
  wrong_type.mutable_values(qty)->set_text_value("lots");
  auto r = DecodeChange(wrong_type, MesCatalog());
  EXPECT_EQ(r.status().message(), "work_order.planned_quantity: must be a number");

  v1::Change other_key = good;
  other_key.set_id(std::string(16, 'x'));
  EXPECT_EQ(DecodeChange(other_key, MesCatalog()).status().code(), StatusCode::kInvalidArgument);

  v1::Change other_hlc = good;
  other_hlc.set_hlc(good.hlc() + 1);
  EXPECT_EQ(DecodeChange(other_hlc, MesCatalog()).status().code(), StatusCode::kInvalidArgument);
}

// Every path that writes a row (terminal, mesctl, the downstream apply, central's applier
// and put) validates it through Row::Validate, which DecodeChange calls: bounds from the
// catalog, finite numbers, clean text.
TEST(RowCodecTest, RefusesOutOfRangeNonFiniteAndDirtyValuesNamingTheColumn) {
  const auto& events = *MesCatalog().Find("production_event");
  auto refused = [&](Row row, const std::string& want) {
    auto decoded = DecodeChange(EncodeChange(row, v1::OP_UPSERT), MesCatalog());
    ASSERT_FALSE(decoded.ok()) << want;
    EXPECT_EQ(decoded.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(decoded.status().message().find(want), std::string::npos)
        << decoded.status().message();
  };
  Row ok = Sample(events, 1, true);
  ASSERT_TRUE(DecodeChange(EncodeChange(ok, v1::OP_UPSERT), MesCatalog()).ok());
  refused(Row(ok).Set("good_quantity", 1e308), "production_event.good_quantity: must be between");
  refused(Row(ok).Set("good_quantity", 9223372036854775808.0), "production_event.good_quantity");
  refused(Row(ok).Set("scrap_quantity", 1e300), "production_event.scrap_quantity");
  refused(Row(ok).Set("good_quantity", std::nan("")), "must be a finite number");
  refused(Row(ok).Set("rework_quantity", -HUGE_VAL), "must be a finite number");
  refused(Row(ok).Set("at", std::int64_t{-1}), "production_event.at: must be between");
  const auto& measurements = *MesCatalog().Find("measurement");
  refused(Row(Sample(measurements, 1, true)).Set("value", 1e308), "measurement.value");
  const auto& downtime = *MesCatalog().Find("downtime_event");
  refused(Row(Sample(downtime, 1, true)).Set("comment", std::string("jam\0ed", 6)),
          "downtime_event.comment: must be UTF-8 text without NUL");
  refused(Row(Sample(downtime, 1, true)).Set("comment", std::string("\xC3\x28")),
          "downtime_event.comment: must be UTF-8");
  refused(Row(Sample(downtime, 1, true)).Set("comment", std::string(5000, 'x')),
          "downtime_event.comment: must be at most 4096 bytes, got 5000");
  const auto& patterns = *MesCatalog().Find("shift_pattern");
  refused(Row(Sample(patterns, 1, true)).Set("start_minute", std::int64_t{1440}),
          "shift_pattern.start_minute: must be between 0 and 1439, got 1440");
  // At the bounds themselves a value is accepted.
  EXPECT_TRUE(Row(ok).Set("good_quantity", 1e6).Validate().ok());
  EXPECT_TRUE(Row(ok).Set("good_quantity", -1e6).Validate().ok());
  EXPECT_TRUE(Row(Sample(downtime, 1, true)).Set("comment", std::string("Kühlmittel ✓")).Validate().ok());
}

}  // namespace
}  // namespace millrace::sync
