#include "millrace/edge/audit.h"

#include <nlohmann/json.hpp>

#include "millrace/common/row_json.h"
#include "millrace/common/uuid.h"

namespace millrace::edge {
namespace {

using json = nlohmann::json;


}  // namespace

Status RequireReason(const std::string& reason, const std::string& action) {
  bool blank = true;
  for (char c : reason) blank = blank && std::isspace(static_cast<unsigned char>(c));
  if (!blank) return Status::Ok();
  return Status::InvalidArgument(action + " needs a reason (it goes on the record)")
      .WithRule("reason_required");
}

namespace {

Status WriteAudit(WriteTxn& txn, const Clock* clock, const Actor& actor, const std::string& action,
                  const Row& row, const json* old_value, const json* new_value,
                  const std::string& reason) {
  Row rec(*catalog::MesCatalog().Find("audit_record"));
  rec.Set("id", Uuid::NewV7(clock).ToString())
      .Set("actor_name", actor.user_name)
      .Set("actor_role", actor.role)
      .Set("action", action)
      .Set("table_name", row.table().name)
      .Set("row_id", row.id())
      .Set("at", txn.NowMillis());
  if (!actor.user_id.empty()) rec.Set("actor_id", actor.user_id);
  if (old_value) rec.Set("old_value", old_value->dump());
  if (new_value) rec.Set("new_value", new_value->dump());
  if (!reason.empty()) rec.Set("reason", reason);
  return txn.Insert(rec);
}

bool Audited(const catalog::ColumnSpec& c) {
  return c.name != catalog::kHlcColumn && c.name != catalog::kOriginColumn &&
         c.name != "routing_snapshot";  // derived, and large
}

}  // namespace

Status RecordAudit(WriteTxn& txn, const Clock* clock, const Actor& actor, const std::string& action,
                   const Row* before, const Row& after, const std::string& reason) {
  json old_value = json::object(), new_value = json::object();
  const auto& cols = after.table().columns;
  for (std::size_t i = 0; i < cols.size(); ++i) {
    const auto& c = cols[i];
    if (!Audited(c)) continue;
    const Value& now = after.values()[i];
    if (before && before->values()[i] == now) continue;
    if (before) old_value[c.name] = ValueToJson(c, before->values()[i]);
    new_value[c.name] = ValueToJson(c, now);
  }
  return WriteAudit(txn, clock, actor, action, after, before ? &old_value : nullptr, &new_value,
                    reason);
}

Status RecordDeleteAudit(WriteTxn& txn, const Clock* clock, const Actor& actor,
                         const std::string& action, const Row& deleted, const std::string& reason) {
  json old_value = json::object();
  const auto& cols = deleted.table().columns;
  for (std::size_t i = 0; i < cols.size(); ++i)
    if (Audited(cols[i])) old_value[cols[i].name] = ValueToJson(cols[i], deleted.values()[i]);
  return WriteAudit(txn, clock, actor, action, deleted, &old_value, nullptr, reason);
}

}  // namespace millrace::edge
