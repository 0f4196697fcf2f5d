// A catalog value as JSON, the one way every JSON the edge and central write shows it:
// booleans as true/false, JSON columns embedded, timestamps as Unix ms, null as null.
#pragma once

#include <nlohmann/json.hpp>

#include "millrace/common/catalog.h"
#include "millrace/common/row.h"

namespace millrace {

inline nlohmann::json ValueToJson(const catalog::ColumnSpec& column, const Value& v) {
  if (IsNull(v)) return nullptr;
  if (column.type == catalog::ColumnType::kBool) return std::get<std::int64_t>(v) != 0;
  if (column.type == catalog::ColumnType::kJson)
    return nlohmann::json::parse(std::get<std::string>(v), nullptr, false);
  if (const auto* i = std::get_if<std::int64_t>(&v)) return *i;
  if (const auto* d = std::get_if<double>(&v)) return *d;
  return std::get<std::string>(v);
}

}  // namespace millrace
