#include "read_model.h"

#include <set>

#include "millrace/common/catalog.h"
#include "millrace/common/ddl.h"

namespace millrace::edge::api {
namespace {

const catalog::TableSpec& T(const char* name) {
  return *catalog::MesCatalog().Find(name);
}

}  // namespace

Result<json> Page(EdgeStore& store, const catalog::TableSpec& table, std::string where,
                  std::vector<Value> params, const std::map<std::string, std::string>& query) {
  int limit = kDefaultPage;
  if (auto it = query.find("limit"); it != query.end()) {
    try {
      limit = std::stoi(it->second);
    } catch (const std::exception&) {
      limit = -1;
    }
    if (limit < 1 || limit > kMaxPage)
      return Status::InvalidArgument("limit must be 1.." + std::to_string(kMaxPage))
          .WithRule("bad_limit");
  }
  if (auto it = query.find("after"); it != query.end() && !it->second.empty()) {
    where += std::string(where.empty() ? "" : " AND ") + "id > ?";
    params.push_back(it->second);
  }
  json out;
  out["items"] = json::array();
  MILLRACE_RETURN_IF_ERROR(store.Read([&](ReadTxn& txn) -> Status {
    MILLRACE_ASSIGN_OR_RETURN(auto rows, txn.Select(table, where, params, "id", limit + 1));
    bool more = rows.size() > static_cast<std::size_t>(limit);
    if (more) rows.pop_back();
    for (const Row& r : rows) out["items"].push_back(ToJson(r));
    out["next"] = more ? json(rows.back().id()) : json(nullptr);
    return Status::Ok();
  }));
  return out;
}

void Filters(const catalog::TableSpec& table, const std::map<std::string, std::string>& query,
             const std::vector<std::string>& allowed, std::string* where,
             std::vector<Value>* params) {
  for (const auto& name : allowed) {
    auto it = query.find(name);
    if (it == query.end() || !table.Find(name)) continue;
    *where += std::string(where->empty() ? "" : " AND ") + catalog::QuoteIdent(name) + " = ?";
    params->push_back(it->second);
  }
}

Result<json> OneRow(EdgeStore& store, const char* table, const std::string& id) {
  std::optional<Row> row;
  MILLRACE_RETURN_IF_ERROR(store.Read([&](ReadTxn& txn) -> Status {
    MILLRACE_ASSIGN_OR_RETURN(row, txn.Get(T(table), id));
    return Status::Ok();
  }));
  if (!row)
    return Status::NotFound(id + " does not exist").WithRule(std::string(table) + "_not_found");
  return ToJson(*row);
}

Result<json> UnitQueue(EdgeStore& store, const std::string& unit_id,
                       const std::map<std::string, std::string>& query) {
  MILLRACE_ASSIGN_OR_RETURN(
      json page, Page(store, T("work_order_operation"),
                      "(work_unit_id = ? OR work_unit_id IS NULL) AND status IN ('Ready', "
                      "'Running', 'Paused')",
                      {unit_id}, query));
  MILLRACE_RETURN_IF_ERROR(store.Read([&](ReadTxn& txn) -> Status {
    for (auto& item : page["items"]) {
      MILLRACE_ASSIGN_OR_RETURN(auto wo,
                                txn.Get(T("work_order"), item["work_order_id"].get<std::string>()));
      if (!wo) continue;
      item["work_order_number"] = wo->Text("number");
      item["work_order_status"] = wo->Text("status");
      MILLRACE_ASSIGN_OR_RETURN(auto product,
                                txn.Get(T("material_definition"), wo->Text("material_id")));
      if (product) item["product"] = product->Text("code") + " " + product->Text("name");
    }
    return Status::Ok();
  }));
  return page;
}

Result<json> WorkOrderWithOperations(EdgeStore& store, const std::string& id) {
  json out;
  MILLRACE_RETURN_IF_ERROR(store.Read([&](ReadTxn& txn) -> Status {
    MILLRACE_ASSIGN_OR_RETURN(auto wo, txn.Get(T("work_order"), id));
    if (!wo) return Status::NotFound(id + " does not exist").WithRule("work_order_not_found");
    out = ToJson(*wo);
    out["operations"] = json::array();
    MILLRACE_ASSIGN_OR_RETURN(
        auto ops, txn.Select(T("work_order_operation"), "work_order_id = ?", {wo->id()}, "seq"));
    for (const Row& op : ops) out["operations"].push_back(ToJson(op));
    return Status::Ok();
  }));
  return out;
}

Result<json> Genealogy(EdgeStore& store, const std::string& lot_id, const std::string& direction) {
  if (direction != "backward" && direction != "forward")
    return Status::InvalidArgument("direction is backward or forward").WithRule("bad_direction");
  json links = json::array();
  MILLRACE_RETURN_IF_ERROR(store.Read([&](ReadTxn& txn) -> Status {
    std::vector<std::string> frontier{lot_id};
    std::set<std::string> seen(frontier.begin(), frontier.end());
    const std::string from = direction == "backward" ? "child_id" : "parent_id";
    const std::string to = direction == "backward" ? "parent_id" : "child_id";
    while (!frontier.empty() && links.size() < 10000) {
      std::string lot = frontier.back();
      frontier.pop_back();
      MILLRACE_ASSIGN_OR_RETURN(auto rows,
                                txn.Select(T("genealogy_link"), from + " = ?", {lot}, "id"));
      for (const Row& l : rows) {
        links.push_back(ToJson(l));
        if (seen.insert(l.Text(to)).second) frontier.push_back(l.Text(to));
      }
    }
    return Status::Ok();
  }));
  return json{{"lot_id", lot_id}, {"direction", direction}, {"links", links}};
}

Result<json> OutboxView(EdgeStore& store, int limit) {
  MILLRACE_ASSIGN_OR_RETURN(OutboxStats stats, store.Outbox());
  MILLRACE_ASSIGN_OR_RETURN(auto entries, store.ReadOutbox(stats.acked_seq, limit));
  json j{{"rows", stats.rows},
         {"bytes", stats.bytes},
         {"head_seq", stats.head_seq},
         {"acked_seq", stats.acked_seq},
         {"kept_rows", stats.kept_rows},
         {"oldest_captured_at",
          stats.oldest_captured_ms ? json(stats.oldest_captured_ms) : json(nullptr)},
         {"entries", json::array()}};
  for (const auto& e : entries) {
    j["entries"].push_back({{"seq", e.seq},
                            {"table", e.table},
                            {"row_id", e.row_id},
                            {"hlc", e.hlc},
                            {"captured_at", e.captured_ms},
                            {"bytes", e.payload.size()}});
  }
  return j;
}

}  // namespace millrace::edge::api
