#include <cmath>
#include "catalog_rows.h"

#include "millrace/common/ddl.h"
#include "millrace/common/uuid.h"

namespace millrace::testing {

using catalog::ColumnType;

std::vector<std::optional<std::string>> SampleRow(const catalog::TableSpec& table, Dialect dialect,
                                                  const std::string& site_id, int n,
                                                  bool fill_nullable) {
  std::vector<std::optional<std::string>> row;
  const bool pg = dialect == Dialect::kPostgres;
  for (const auto& c : table.columns) {
    if (c.nullable && !fill_nullable) {
      row.emplace_back(std::nullopt);
      continue;
    }
    if (c.name == catalog::kSiteColumn) {
      row.emplace_back(site_id);
      continue;
    }
    switch (c.type) {
      case ColumnType::kUuid:
        row.emplace_back(Uuid::NewV7().ToString());
        break;
      case ColumnType::kText:
        row.emplace_back(c.name + "-" + std::to_string(n));
        break;
      case ColumnType::kInt: {  // n*10+1, folded into the column's range
        const auto l = c.Limits();
        const auto lo = static_cast<long long>(l.min), span = static_cast<long long>(l.max) - lo + 1;
        long long v = n * 10LL + 1;
        if (v < l.min || v > l.max) v = lo + v % span;
        row.emplace_back(std::to_string(v));
        break;
      }
      case ColumnType::kReal: {  // n.25, folded into the column's range
        const auto l = c.Limits();
        double v = n + 0.25;
        if (v < l.min || v > l.max) v = l.min + std::fmod(v, l.max - l.min);
        row.emplace_back(std::to_string(v));
        break;
      }
      case ColumnType::kBool:
        row.emplace_back(pg ? (n % 2 ? "true" : "false") : (n % 2 ? "1" : "0"));
        break;
      case ColumnType::kTimestamp:
        row.emplace_back(pg ? "2026-11-22T06:00:0" + std::to_string(n % 10) + ".123Z"
                            : std::to_string(1795413600123LL + n * 1000));
        break;
      case ColumnType::kHlc:
        row.emplace_back(std::to_string((1795413600123LL << 16) + n));
        break;
      case ColumnType::kJson:
        row.emplace_back("{\"n\":" + std::to_string(n) + "}");
        break;
      case ColumnType::kEnum:
        row.emplace_back(c.values[static_cast<std::size_t>(n) % c.values.size()]);
        break;
    }
  }
  return row;
}

Row SampleTypedRow(const catalog::TableSpec& table, const std::string& site_id, int n) {
  auto text = SampleRow(table, Dialect::kSqlite, site_id, n);
  Row row(table);
  for (std::size_t i = 0; i < table.columns.size(); ++i) {
    if (!text[i]) continue;
    switch (table.columns[i].type) {
      case ColumnType::kInt:
      case ColumnType::kBool:
      case ColumnType::kTimestamp:
      case ColumnType::kHlc:
        row.mutable_values()[i] = std::stoll(*text[i]);
        break;
      case ColumnType::kReal:
        row.mutable_values()[i] = std::stod(*text[i]);
        break;
      default:
        row.mutable_values()[i] = *text[i];
    }
  }
  return row;
}

std::string InsertSql(const catalog::TableSpec& table, Dialect dialect, const std::string& schema,
                      bool with_tenant) {
  std::string cols, params;
  int i = 0;
  auto add = [&](const std::string& name) {
    cols += (cols.empty() ? "" : ", ") + catalog::QuoteIdent(name);
    ++i;
    params += (params.empty() ? "" : ", ") +
              (dialect == Dialect::kPostgres ? "$" + std::to_string(i) : "?");
  };
  if (with_tenant) add("tenant_id");
  for (const auto& c : table.columns) add(c.name);
  std::string qualified =
      (schema.empty() ? "" : catalog::QuoteIdent(schema) + ".") + catalog::QuoteIdent(table.name);
  return "INSERT INTO " + qualified + " (" + cols + ") VALUES (" + params + ")";
}

}  // namespace millrace::testing
