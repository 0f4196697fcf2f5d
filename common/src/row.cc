#include "millrace/common/row.h"

#include <nlohmann/json.hpp>
#include <cmath>
#include <cstdio>
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

namespace {

// Well-formed UTF-8 (no overlong forms, no surrogates), and no NUL: PostgreSQL's text
// refuses both, so they are refused at the door instead of parked at central.
bool IsCleanUtf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == 0) return false;
    if (c < 0x80) {
      ++i;
      continue;
    }
    int n;
    std::uint32_t cp;
    if ((c & 0xE0) == 0xC0) {
      n = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + static_cast<std::size_t>(n) >= s.size()) return false;  // cut short
    for (int k = 1; k <= n; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + static_cast<std::size_t>(k)]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += static_cast<std::size_t>(n) + 1;
  }
  return true;
}

std::string Number(double d) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.17g", d);
  return buf;
}

}  // namespace

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
    const catalog::ColumnLimits limits = col.Limits();
    auto range = [&](double x) -> Status {
      if (!std::isfinite(x)) return bad("must be a finite number, got " + Number(x));
      if (x < limits.min || x > limits.max)
        return bad("must be between " + Number(limits.min) + " and " + Number(limits.max) +
                   ", got " + Number(x));
      return Status::Ok();
    };
    switch (col.type) {
      case ColumnType::kInt:
      case ColumnType::kTimestamp:
      case ColumnType::kHlc:
        if (!std::holds_alternative<std::int64_t>(v)) return bad("must be an integer");
        MILLRACE_RETURN_IF_ERROR(range(static_cast<double>(std::get<std::int64_t>(v))));
        break;
      case ColumnType::kBool:
        if (!std::holds_alternative<std::int64_t>(v)) return bad("must be a boolean");
        if (auto b = std::get<std::int64_t>(v); b != 0 && b != 1) return bad("must be a boolean");
        break;
      case ColumnType::kReal:
        if (!std::holds_alternative<double>(v)) return bad("must be a number");
        MILLRACE_RETURN_IF_ERROR(range(std::get<double>(v)));
        break;
      case ColumnType::kUuid:
        if (!std::holds_alternative<std::string>(v) ||
            !Uuid::Parse(std::get<std::string>(v)).ok()) {
          return bad("must be a UUID");
        }
        break;
      case ColumnType::kText: {
        const auto* s = std::get_if<std::string>(&v);
        if (!s) return bad("must be text");
        if (s->size() > limits.max_length)
          return bad("must be at most " + std::to_string(limits.max_length) + " bytes, got " +
                     std::to_string(s->size()));
        if (!IsCleanUtf8(*s)) return bad("must be UTF-8 text without NUL characters");
        break;
      }
      case ColumnType::kJson: {
        const auto* s = std::get_if<std::string>(&v);
        if (!s || !nlohmann::json::accept(*s)) return bad("must be valid JSON");
        if (s->size() > limits.max_length)
          return bad("must be at most " + std::to_string(limits.max_length) + " bytes, got " +
                     std::to_string(s->size()));
        if (!IsCleanUtf8(*s)) return bad("must be UTF-8 text without NUL characters");
        break;
      }
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
