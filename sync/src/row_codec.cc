#include "millrace/sync/row_codec.h"

#include "millrace/common/uuid.h"

namespace millrace::sync {

using catalog::ColumnType;

v1::Change EncodeChange(const Row& row, v1::Op op) {
  v1::Change c;
  c.set_table(row.table().name);
  auto id = Uuid::Parse(row.id());
  c.set_id(id.ok() ? std::string(reinterpret_cast<const char*>(id->bytes().data()), 16)
                   : std::string());
  c.set_op(op);
  c.set_hlc(static_cast<std::uint64_t>(row.Int(catalog::kHlcColumn)));
  c.set_origin(row.Text(catalog::kOriginColumn));
  const auto& cols = row.table().columns;
  for (std::size_t i = 0; i < cols.size(); ++i) {
    const Value& v = row.values()[i];
    v1::Value* out = c.add_values();
    if (IsNull(v)) {
      out->set_null_value(true);
    } else if (cols[i].type == ColumnType::kUuid) {
      auto u = Uuid::Parse(std::get<std::string>(v));
      out->set_uuid_value(std::string(reinterpret_cast<const char*>(u->bytes().data()), 16));
    } else if (auto* n = std::get_if<std::int64_t>(&v)) {
      out->set_int_value(*n);
    } else if (auto* d = std::get_if<double>(&v)) {
      out->set_real_value(*d);
    } else {
      out->set_text_value(std::get<std::string>(v));
    }
  }
  return c;
}

Result<Row> DecodeChange(const v1::Change& change, const catalog::Catalog& catalog) {
  const catalog::TableSpec* table = catalog.Find(change.table());
  if (!table) return Status::InvalidArgument("unknown table '" + change.table() + "'");
  if (static_cast<std::size_t>(change.values_size()) != table->columns.size()) {
    return Status::InvalidArgument(
        table->name + ": change carries " + std::to_string(change.values_size()) +
        " values, the table has " + std::to_string(table->columns.size()) + " columns");
  }
  Row row(*table);
  for (std::size_t i = 0; i < table->columns.size(); ++i) {
    const auto& col = table->columns[i];
    const v1::Value& in = change.values(static_cast<int>(i));
    Value& out = row.mutable_values()[i];
    switch (in.kind_case()) {
      case v1::Value::kNullValue:
      case v1::Value::KIND_NOT_SET:
        out = std::monostate{};
        break;
      case v1::Value::kIntValue:
        out = static_cast<std::int64_t>(in.int_value());
        break;
      case v1::Value::kRealValue:
        out = in.real_value();
        break;
      case v1::Value::kTextValue:
        out = in.text_value();
        break;
      case v1::Value::kUuidValue: {
        if (in.uuid_value().size() != 16) {
          return Status::InvalidArgument(table->name + "." + col.name +
                                         ": a UUID must be 16 bytes");
        }
        Uuid::Bytes b;
        std::copy(in.uuid_value().begin(), in.uuid_value().end(), b.begin());
        out = Uuid(b).ToString();
        break;
      }
    }
  }
  MILLRACE_RETURN_IF_ERROR(row.Validate());
  auto id = Uuid::Parse(row.id());
  if (change.id().size() != 16 || !id.ok() ||
      std::string(reinterpret_cast<const char*>(id->bytes().data()), 16) != change.id()) {
    return Status::InvalidArgument(table->name + ": the change's key does not match the row's id");
  }
  if (change.hlc() != static_cast<std::uint64_t>(row.Int(catalog::kHlcColumn))) {
    return Status::InvalidArgument(table->name +
                                   ": the change's HLC does not match the row's hlc column");
  }
  return row;
}

}  // namespace millrace::sync
