#include "millrace/central/pg_rows.h"

#include <charconv>
#include <cstdio>
#include <ctime>

#include "millrace/common/ddl.h"

namespace millrace::central {

using catalog::ColumnType;
using catalog::QuoteIdent;

std::string PgTable(const catalog::TableSpec& table) {
  return "millrace." + QuoteIdent(table.name);
}

std::string PgInsertColumns(const catalog::TableSpec& table) {
  std::string out = "tenant_id";
  for (const auto& c : table.columns) out += ", " + QuoteIdent(c.name);
  return out;
}

std::string PgSelectList(const catalog::TableSpec& table, const std::string& q) {
  std::string out;
  for (const auto& c : table.columns) {
    if (!out.empty()) out += ", ";
    const std::string col = q + QuoteIdent(c.name);
    switch (c.type) {
      case ColumnType::kUuid:
      case ColumnType::kJson:
        out += col + "::text";
        break;
      case ColumnType::kTimestamp:
        out += "(extract(epoch from " + col + ") * 1000)::bigint";
        break;
      case ColumnType::kBool:
        out += col + "::int";
        break;
      default:
        out += col;
    }
  }
  return out;
}

Result<Row> RowFromPg(const catalog::TableSpec& table, const PgResult& res, int r, int first) {
  Row row(table);
  auto& values = row.mutable_values();
  for (std::size_t i = 0; i < table.columns.size(); ++i) {
    const int col = first + static_cast<int>(i);
    if (res.IsNull(r, col)) continue;
    const std::string_view text = res.Get(r, col);
    switch (table.columns[i].type) {
      case ColumnType::kInt:
      case ColumnType::kHlc:
      case ColumnType::kBool:
      case ColumnType::kTimestamp: {
        std::int64_t v = 0;
        auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
        if (ec != std::errc() || p != text.data() + text.size())
          return Status::Corruption("PostgreSQL returned " + std::string(text) + " for " +
                                    table.name + "." + table.columns[i].name);
        values[i] = v;
        break;
      }
      case ColumnType::kReal:
        values[i] = std::strtod(std::string(text).c_str(), nullptr);
        break;
      default:
        values[i] = std::string(text);
    }
  }
  return row;
}

std::string PgTimestamp(std::int64_t ms) {
  std::int64_t secs = ms / 1000, milli = ms % 1000;
  if (milli < 0) {
    milli += 1000;
    secs -= 1;
  }
  std::time_t t = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d %02d:%02d:%02d.%03d+00", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(milli));
  return buf;
}

namespace {

std::string ValueText(const catalog::ColumnSpec& c, const Value& v) {
  if (const auto* i = std::get_if<std::int64_t>(&v)) {
    if (c.type == ColumnType::kBool) return *i ? "true" : "false";
    if (c.type == ColumnType::kTimestamp) return PgTimestamp(*i);
    return std::to_string(*i);
  }
  if (const auto* d = std::get_if<double>(&v)) {
    char buf[32];
    auto [p, ec] = std::to_chars(buf, buf + sizeof buf, *d);  // shortest exact round trip
    (void)ec;
    return std::string(buf, p);
  }
  return std::get<std::string>(v);
}

void AppendCopyEscaped(std::string_view s, std::string* out) {
  for (char ch : s) {
    switch (ch) {
      case '\\':
        *out += "\\\\";
        break;
      case '\n':
        *out += "\\n";
        break;
      case '\r':
        *out += "\\r";
        break;
      case '\t':
        *out += "\\t";
        break;
      default:
        out->push_back(ch);
    }
  }
}

}  // namespace

void AppendCopyLine(const std::string& tenant_id, const Row& row, std::string* out) {
  AppendCopyEscaped(tenant_id, out);
  const auto& cols = row.table().columns;
  for (std::size_t i = 0; i < cols.size(); ++i) {
    out->push_back('\t');
    const Value& v = row.values()[i];
    if (IsNull(v)) {
      *out += "\\N";
    } else {
      AppendCopyEscaped(ValueText(cols[i], v), out);
    }
  }
  out->push_back('\n');
}

void AppendParams(const std::string& tenant_id, const Row& row, std::vector<PgParam>* out) {
  out->push_back(tenant_id);
  const auto& cols = row.table().columns;
  for (std::size_t i = 0; i < cols.size(); ++i) {
    const Value& v = row.values()[i];
    if (IsNull(v))
      out->push_back(std::nullopt);
    else
      out->push_back(ValueText(cols[i], v));
  }
}

}  // namespace millrace::central
