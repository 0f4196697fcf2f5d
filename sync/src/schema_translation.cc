#include "millrace/sync/schema_translation.h"

#include <algorithm>

#include "millrace/common/schema_versions.h"
#include "millrace/sync/row_codec.h"

namespace millrace::sync {

int EdgeSchemaOf(std::uint32_t said) {
  if (said == 0) return kUnlabelledEdgeSchema;
  // Newer than this build is not served (Hello refuses it); the shape is then this build's.
  return static_cast<int>(std::min<std::uint32_t>(said, kEdgeSchemaVersion));
}

Result<Row> DecodeServedShape(const v1::Change& change, const catalog::Catalog& catalog,
                           std::size_t* known_columns) {
  const catalog::TableSpec* table = catalog.Find(change.table());
  const auto width = static_cast<std::size_t>(change.values_size());
  if (known_columns) *known_columns = width;
  if (!table || width >= table->columns.size()) return DecodeChange(change, catalog);
  for (int schema = kOldestServedEdgeSchema; schema < kEdgeSchemaVersion; ++schema) {
    if (table->WidthAt(schema) != width) continue;
    v1::Change widened = change;
    for (std::size_t i = width; i < table->columns.size(); ++i)
      widened.add_values()->set_null_value(true);
    return DecodeChange(widened, catalog);
  }
  return DecodeChange(change, catalog);  // names the count it expected
}

void NarrowChange(v1::Change* change, const catalog::Catalog& catalog, int edge_schema) {
  if (edge_schema >= catalog.NewestSince()) return;
  const catalog::TableSpec* table = catalog.Find(change->table());
  if (!table) return;
  const std::size_t width = table->WidthAt(edge_schema);
  while (static_cast<std::size_t>(change->values_size()) > width)
    change->mutable_values()->RemoveLast();
  auto* changed = change->mutable_changed_columns();
  for (int i = changed->size() - 1; i >= 0; --i)
    if (changed->Get(i) >= width) changed->erase(changed->begin() + i);
}

v1::Change ComparableChange(const Row& row, int edge_schema) {
  v1::Change c = EncodeChange(row, v1::OP_UPSERT);
  const auto& cols = row.table().columns;
  const auto width = static_cast<int>(row.table().WidthAt(edge_schema));
  while (c.values_size() > width) c.mutable_values()->RemoveLast();
  while (c.values_size() > 0) {
    const auto last = static_cast<std::size_t>(c.values_size() - 1);
    if (cols[last].since == 0 || !c.values(static_cast<int>(last)).null_value()) break;
    c.mutable_values()->RemoveLast();
  }
  return c;
}

}  // namespace millrace::sync
