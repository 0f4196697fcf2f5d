#include "millrace/central/pg_binary.h"

#include <cstring>

#include "millrace/central/pg_rows.h"
#include "millrace/common/ddl.h"
#include "millrace/common/uuid.h"

namespace millrace::central {
namespace {

using catalog::ColumnType;

// Type OIDs of PostgreSQL's built-in types (pg_type.dat); they never change.
struct TypeOids {
  unsigned element, array;
};
TypeOids OidsOf(ColumnType t) {
  switch (t) {
    case ColumnType::kUuid:
      return {2950, 2951};
    case ColumnType::kText:
    case ColumnType::kEnum:
      return {25, 1009};
    case ColumnType::kJson:
      return {114, 199};
    case ColumnType::kInt:
    case ColumnType::kHlc:
      return {20, 1016};
    case ColumnType::kBool:
      return {16, 1000};
    case ColumnType::kTimestamp:
      return {1184, 1185};
    case ColumnType::kReal:
      return {701, 1022};
  }
  return {25, 1009};
}

void PutInt32(std::string* out, std::int32_t v) {
  const auto u = static_cast<std::uint32_t>(v);
  const char b[4] = {static_cast<char>(u >> 24), static_cast<char>(u >> 16),
                     static_cast<char>(u >> 8), static_cast<char>(u)};
  out->append(b, 4);
}

void PutInt64(std::string* out, std::uint64_t u) {
  char b[8];
  for (int i = 0; i < 8; ++i) b[i] = static_cast<char>(u >> (56 - 8 * i));
  out->append(b, 8);
}

// Unix ms -> PostgreSQL's timestamptz: microseconds since 2000-01-01 00:00:00 UTC.
constexpr std::int64_t kPgEpochUnixMs = 946'684'800'000;

Status PutValue(std::string* out, ColumnType type, const Value& v, const std::string& column) {
  switch (type) {
    case ColumnType::kUuid: {
      auto u = Uuid::Parse(std::get<std::string>(v));
      if (!u.ok()) return Status::InvalidArgument(column + ": " + u.status().message());
      PutInt32(out, 16);
      out->append(reinterpret_cast<const char*>(u->bytes().data()), 16);
      return Status::Ok();
    }
    case ColumnType::kText:
    case ColumnType::kEnum:
    case ColumnType::kJson: {
      const auto& s = std::get<std::string>(v);
      PutInt32(out, static_cast<std::int32_t>(s.size()));
      out->append(s);
      return Status::Ok();
    }
    case ColumnType::kInt:
    case ColumnType::kHlc:
      PutInt32(out, 8);
      PutInt64(out, static_cast<std::uint64_t>(std::get<std::int64_t>(v)));
      return Status::Ok();
    case ColumnType::kBool:
      PutInt32(out, 1);
      out->push_back(std::get<std::int64_t>(v) ? 1 : 0);
      return Status::Ok();
    case ColumnType::kTimestamp:
      PutInt32(out, 8);
      PutInt64(out, static_cast<std::uint64_t>((std::get<std::int64_t>(v) - kPgEpochUnixMs) * 1000));
      return Status::Ok();
    case ColumnType::kReal: {
      const double d = std::holds_alternative<double>(v)
                           ? std::get<double>(v)
                           : static_cast<double>(std::get<std::int64_t>(v));
      std::uint64_t bits;
      std::memcpy(&bits, &d, sizeof bits);
      PutInt32(out, 8);
      PutInt64(out, bits);
      return Status::Ok();
    }
  }
  return Status::Internal("unknown column type");
}

}  // namespace

Result<PgBinaryParam> ColumnArray(const std::vector<Row>& rows, int column,
                                  const std::string& tenant_id) {
  PgBinaryParam p;
  const catalog::ColumnSpec* spec =
      column < 0 ? nullptr : &rows.front().table().columns[static_cast<std::size_t>(column)];
  const TypeOids oids = OidsOf(spec ? spec->type : ColumnType::kText);
  p.type_oid = oids.array;
  bool has_null = false;
  std::string body;
  body.reserve(rows.size() * 20);
  for (const Row& row : rows) {
    if (!spec) {
      PutInt32(&body, static_cast<std::int32_t>(tenant_id.size()));
      body.append(tenant_id);
      continue;
    }
    const Value& v = row.values()[static_cast<std::size_t>(column)];
    if (IsNull(v)) {
      has_null = true;
      PutInt32(&body, -1);
      continue;
    }
    MILLRACE_RETURN_IF_ERROR(PutValue(&body, spec->type, v, row.table().name + "." + spec->name));
  }
  // ndim, has-null flag, element type, then the one dimension's length and lower bound.
  PutInt32(&p.bytes, 1);
  PutInt32(&p.bytes, has_null ? 1 : 0);
  PutInt32(&p.bytes, static_cast<std::int32_t>(oids.element));
  PutInt32(&p.bytes, static_cast<std::int32_t>(rows.size()));
  PutInt32(&p.bytes, 1);
  p.bytes += body;
  return p;
}

std::string UnnestInsertSql(const catalog::TableSpec& table) {
  std::string sql = "INSERT INTO " + PgTable(table) + " (" + PgInsertColumns(table) +
                    ") SELECT * FROM unnest($1::text[]";
  int n = 1;
  for (const auto& c : table.columns)
    sql += ", $" + std::to_string(++n) + "::" + catalog::PostgresType(c.type) + "[]";
  return sql + ")";
}

Status InsertRowsBinary(PgConnection& conn, const std::string& tenant_id,
                        const catalog::TableSpec& table, const std::vector<Row>& rows) {
  if (rows.empty()) return Status::Ok();
  std::vector<PgBinaryParam> params;
  params.reserve(table.columns.size() + 1);
  for (int c = -1; c < static_cast<int>(table.columns.size()); ++c) {
    MILLRACE_ASSIGN_OR_RETURN(PgBinaryParam p, ColumnArray(rows, c, tenant_id));
    params.push_back(std::move(p));
  }
  return conn.QueryBinary(UnnestInsertSql(table), params).status();
}

}  // namespace millrace::central
