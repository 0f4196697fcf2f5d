// What the terminal API reads (private to edge/src): keyset pages of a table, a work
// unit's queue with each operation's order and product, a work order with its operations,
// a lot's genealogy, the outbox. Each read is one snapshot of the store, answered as JSON.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "api_json.h"
#include "millrace/edge/store.h"

namespace millrace::edge::api {

inline constexpr int kDefaultPage = 50;
inline constexpr int kMaxPage = 500;

// Rows of `table` matching `where` (trusted SQL, values bound from `params`), ordered by
// id (UUIDv7: creation order), paged by the query's limit (1..kMaxPage, bad_limit) and
// after: {"items": [...], "next": "<id>" | null}.
Result<json> Page(EdgeStore& store, const catalog::TableSpec& table, std::string where,
                  std::vector<Value> params, const std::map<std::string, std::string>& query);

// Adds an equality filter for each of the `allowed` query parameters present that names
// a column of `table`.
void Filters(const catalog::TableSpec& table, const std::map<std::string, std::string>& query,
             const std::vector<std::string>& allowed, std::string* where,
             std::vector<Value>* params);

// One row, or NotFound <table>_not_found.
Result<json> OneRow(EdgeStore& store, const char* table, const std::string& id);

// The Ready, Running and Paused operations a work unit may take, each with its order's
// number and status and its product, so a terminal can show the queue as it is.
Result<json> UnitQueue(EdgeStore& store, const std::string& unit_id,
                       const std::map<std::string, std::string>& query);

// A work order with its operations in sequence.
Result<json> WorkOrderWithOperations(EdgeStore& store, const std::string& id);

// The links from a lot breadth-first: backward what it was made from, forward what it
// went into (recall scoping). bad_direction for another direction.
Result<json> Genealogy(EdgeStore& store, const std::string& lot_id, const std::string& direction);

// What waits for central: counts, head and acknowledged seq, and the first `limit` entries.
Result<json> OutboxView(EdgeStore& store, int limit);

}  // namespace millrace::edge::api
