#include "millrace/common/row.h"

#include <nlohmann/json.hpp>
#include <stdexcept>

#include "millrace/common/uuid.h"

namespace millrace {

using catalog::ColumnType;

Row::Row(const catalog::TableSpec& table) : table_(&table), values_(table.columns.size()) {}

std::size_t Row::Index(std::string_view column) const {
  for (std::size_t i = 0; i < table_->columns.size(); ++i)
    if (table_->columns[i].name == column) return i;
  throw std::logic_error("table " + table_->name + " has no column " + std::string(column));
}

const Value& Row::Get(std::string_view column) const {
  return values_[Index(column)];
}

Row& Row::Set(std::string_view column, Value value) {
  values_[Index(column)] = std::move(value);
  return *this;
}

std::string Row::Text(std::string_view column, std::string fallback) const {
  const Value& v = Get(column);
  if (auto* s = std::get_if<std::string>(&v)) return *s;
  return fallback;
}

std::int64_t Row::Int(std::string_view column, std::int64_t fallback) const {
  const Value& v = Get(column);
  if (auto* i = std::get_if<std::int64_t>(&v)) return *i;
  return fallback;
}

double Row::Real(std::string_view column, double fallback) const {
  const Value& v = Get(column);
  if (auto* d = std::get_if<double>(&v)) return *d;
  if (auto* i = std::get_if<std::int64_t>(&v)) return static_cast<double>(*i);
  return fallback;
}

Status Row::Validate() const {
  for (std::size_t i = 0; i < values_.size(); ++i) {
    const auto& col = table_->columns[i];
    const Value& v = values_[i];
    auto bad = [&](const std::string& why) {
      return Status::InvalidArgument(table_->name + "." + col.name + ": " + why);
    };
    if (millrace::IsNull(v)) {
      if (!col.nullable) return bad("must not be null");
      continue;
    }
    switch (col.type) {
      case ColumnType::kInt:
      case ColumnType::kTimestamp:
      case ColumnType::kHlc:
        if (!std::holds_alternative<std::int64_t>(v)) return bad("must be an integer");
        break;
      case ColumnType::kBool:
        if (!std::holds_alternative<std::int64_t>(v)) return bad("must be a boolean");
        if (auto b = std::get<std::int64_t>(v); b != 0 && b != 1) return bad("must be a boolean");
        break;
      case ColumnType::kReal:
        if (!std::holds_alternative<double>(v)) return bad("must be a number");
        break;
      case ColumnType::kUuid:
        if (!std::holds_alternative<std::string>(v) ||
            !Uuid::Parse(std::get<std::string>(v)).ok()) {
          return bad("must be a UUID");
        }
        break;
      case ColumnType::kText:
        if (!std::holds_alternative<std::string>(v)) return bad("must be text");
        break;
      case ColumnType::kJson:
        if (!std::holds_alternative<std::string>(v) ||
            !nlohmann::json::accept(std::get<std::string>(v))) {
          return bad("must be valid JSON");
        }
        break;
      case ColumnType::kEnum: {
        const auto* s = std::get_if<std::string>(&v);
        bool known = false;
        if (s)
          for (const auto& allowed : col.values) known = known || allowed == *s;
        if (!known) {
          std::string list;
          for (const auto& allowed : col.values) list += (list.empty() ? "" : ", ") + allowed;
          return bad("must be one of " + list);
        }
        break;
      }
    }
  }
  return Status::Ok();
}

}  // namespace millrace
