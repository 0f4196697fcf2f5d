// Row: one row of a catalog table as typed values, in catalog column order.
//
// The edge store, the terminal JSON API and the sync codec all move rows in this one
// shape, so none of them needs per-table code. Values are SQLite's storage classes:
// NULL, 64-bit integer (int, bool 0/1, timestamp Unix ms, hlc), double, text (uuid,
// text, enum, json).
//
// Thread-safety: a value type.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "millrace/common/catalog.h"
#include "millrace/common/status.h"

namespace millrace {

using Value = std::variant<std::monostate, std::int64_t, double, std::string>;

inline bool IsNull(const Value& v) {
  return std::holds_alternative<std::monostate>(v);
}

class Row {
 public:
  // All columns NULL. REQUIRES: table outlives the row (catalog tables live forever).
  explicit Row(const catalog::TableSpec& table);

  const catalog::TableSpec& table() const { return *table_; }
  const std::vector<Value>& values() const { return values_; }
  std::vector<Value>& mutable_values() { return values_; }

  // By column name. Naming a column the table does not have is a bug: std::logic_error.
  const Value& Get(std::string_view column) const;
  Row& Set(std::string_view column, Value value);

  bool IsNull(std::string_view column) const { return millrace::IsNull(Get(column)); }
  // Typed reads; a NULL or a value of another storage class gives the fallback.
  std::string Text(std::string_view column, std::string fallback = "") const;
  std::int64_t Int(std::string_view column, std::int64_t fallback = 0) const;
  double Real(std::string_view column, double fallback = 0) const;
  bool Bool(std::string_view column) const { return Int(column) != 0; }

  std::string id() const { return Text(catalog::kIdColumn); }

  // Checks every value against its column: NOT NULL, storage class, enum values, UUID
  // shape, JSON syntax, booleans 0/1. InvalidArgument names table and column.
  Status Validate() const;

  bool operator==(const Row& other) const {
    return table_ == other.table_ && values_ == other.values_;
  }

 private:
  std::size_t Index(std::string_view column) const;
  const catalog::TableSpec* table_;
  std::vector<Value> values_;
};

}  // namespace millrace
