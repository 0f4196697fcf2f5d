#include "millrace/common/catalog.h"

#include <algorithm>
#include <cstdio>
#include <limits>
#include <stdexcept>

namespace millrace::catalog {

std::string_view ToString(ColumnType t) {
  switch (t) {
    case ColumnType::kUuid:
      return "uuid";
    case ColumnType::kText:
      return "text";
    case ColumnType::kInt:
      return "int";
    case ColumnType::kReal:
      return "real";
    case ColumnType::kBool:
      return "bool";
    case ColumnType::kTimestamp:
      return "timestamp";
    case ColumnType::kHlc:
      return "hlc";
    case ColumnType::kJson:
      return "json";
    case ColumnType::kEnum:
      return "enum";
  }
  return "?";
}

std::string_view ToString(Owner o) {
  switch (o) {
    case Owner::kCentral:
      return "central";
    case Owner::kSite:
      return "site";
    case Owner::kShared:
      return "shared";
  }
  return "?";
}

std::string_view ToString(MergePolicy m) {
  switch (m) {
    case MergePolicy::kCentralOwned:
      return "central-owned";
    case MergePolicy::kAppendOnly:
      return "append-only";
    case MergePolicy::kSiteOwned:
      return "site-owned";
    case MergePolicy::kSharedLww:
      return "shared-lww";
  }
  return "?";
}

std::string_view ToString(RoutingScope s) {
  switch (s) {
    case RoutingScope::kSite:
      return "site";
    case RoutingScope::kTenant:
      return "tenant";
  }
  return "?";
}

// ---- StateMachine ----

StateMachine::StateMachine(std::string name, std::vector<std::string> states,
                           std::vector<std::pair<std::string, std::string>> arrows)
    : name_(std::move(name)), states_(std::move(states)), arrows_(std::move(arrows)) {
  std::size_t n = states_.size();
  reach_.assign(n, std::vector<bool>(n, false));
  for (const auto& [from, to] : arrows_) {
    int f = Index(from), t = Index(to);
    if (f < 0 || t < 0)
      throw std::logic_error("state machine " + name_ + ": arrow names an unknown state");
    reach_[f][t] = true;
  }
  for (std::size_t k = 0; k < n; ++k)  // Warshall's transitive closure
    for (std::size_t i = 0; i < n; ++i)
      if (reach_[i][k])
        for (std::size_t j = 0; j < n; ++j)
          if (reach_[k][j]) reach_[i][j] = true;
}

int StateMachine::Index(std::string_view s) const {
  for (std::size_t i = 0; i < states_.size(); ++i)
    if (states_[i] == s) return static_cast<int>(i);
  return -1;
}

bool StateMachine::IsState(std::string_view s) const {
  return Index(s) >= 0;
}

bool StateMachine::CanTransition(std::string_view from, std::string_view to) const {
  for (const auto& [f, t] : arrows_)
    if (f == from && t == to) return true;
  return false;
}

bool StateMachine::IsReachable(std::string_view from, std::string_view to) const {
  int f = Index(from), t = Index(to);
  return f >= 0 && t >= 0 && reach_[f][t];
}

bool StateMachine::IsTerminal(std::string_view s) const {
  for (const auto& [f, t] : arrows_)
    if (f == s) return false;
  return true;
}

// ---- TableSpec / Catalog ----

const ColumnSpec* TableSpec::Find(std::string_view column) const {
  for (const auto& c : columns)
    if (c.name == column) return &c;
  return nullptr;
}

ColumnLimits ColumnSpec::Limits() const {
  ColumnLimits l{-1e12, 1e12, 0};
  switch (type) {
    case ColumnType::kInt:
      l = {-9007199254740992.0, 9007199254740992.0, 0};  // 2^53
      break;
    case ColumnType::kTimestamp:
      l = {0, 7258118400000.0, 0};  // 1970-01-01 .. 2200-01-01
      break;
    case ColumnType::kHlc:
      l = {0, 9223372036854775807.0, 0};
      break;
    case ColumnType::kText:
      l.max_length = 4096;
      break;
    case ColumnType::kJson:
      l.max_length = 1 << 20;
      break;
    default:
      break;
  }
  if (min) l.min = *min;
  if (max) l.max = *max;
  if (max_length) l.max_length = max_length;
  return l;
}

const ColumnSpec* TableSpec::StatusColumn() const {
  for (const auto& c : columns)
    if (c.state_machine) return &c;
  return nullptr;
}

bool TableSpec::site_id_nullable() const {
  return Find(kSiteColumn)->nullable;
}

namespace {

// FNV-1a, 64-bit: stable across platforms and releases, unlike std::hash.
class Fnv {
 public:
  void Add(std::string_view s) {
    for (unsigned char c : s) {
      h_ ^= c;
      h_ *= 0x100000001b3ull;
    }
    h_ ^= 0xFF;  // field separator
    h_ *= 0x100000001b3ull;
  }
  std::uint64_t value() const { return h_; }

 private:
  std::uint64_t h_ = 0xcbf29ce484222325ull;
};

}  // namespace

std::size_t TableSpec::WidthAt(int edge_schema) const {
  std::size_t n = 0;
  while (n < columns.size() && columns[n].since <= edge_schema) ++n;
  return n;
}

namespace {

// FNV-1a over every name, type, flag and policy of the columns an edge of `edge_schema`
// knows. A column's `since` is hashed only when set, so the first catalog's fingerprint
// never changed when columns learned it.
std::uint64_t FingerprintOf(const std::vector<TableSpec>& tables, int edge_schema) {
  Fnv f;
  for (const auto& t : tables) {
    f.Add("table");
    f.Add(t.name);
    f.Add(ToString(t.owner));
    f.Add(ToString(t.merge));
    f.Add(ToString(t.scope));
    if (t.immutable) f.Add("immutable");
    for (const auto& c : t.columns) {
      if (c.since > edge_schema) continue;
      f.Add(c.name);
      f.Add(ToString(c.type));
      f.Add(c.nullable ? "null" : "not null");
      for (const auto& v : c.values) f.Add(v);
      if (c.state_machine) {
        for (const auto& [from, to] : c.state_machine->arrows()) {
          f.Add(from);
          f.Add(to);
        }
      }
      if (c.since != 0) f.Add("since " + std::to_string(c.since));
    }
  }
  return f.value();
}

std::string Hex(std::uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

void CheckAddedColumns(const TableSpec& t) {
  int last = 0;
  for (const auto& c : t.columns) {
    const std::string what = "catalog: column " + t.name + "." + c.name;
    if (c.since < last)
      throw std::logic_error(what + " of the first catalog (or an older schema) follows a column "
                             "added later: added columns come last");
    last = c.since;
    if (c.since == 0) continue;
    if (c.since < 0) throw std::logic_error(what + " has a negative since");
    if (!c.nullable)
      throw std::logic_error(what + " was added in edge schema " + std::to_string(c.since) +
                             " and must be nullable: an older edge's rows carry NULL in it");
    if (t.merge != MergePolicy::kAppendOnly)
      throw std::logic_error(what + " was added in edge schema " + std::to_string(c.since) +
                             " to a table whose rows are updated (" +
                             std::string(ToString(t.merge)) +
                             "): an older edge would erase the value it does not know");
  }
}

}  // namespace

Catalog::Catalog(std::vector<TableSpec> tables) : tables_(std::move(tables)) {
  for (const auto& t : tables_) {
    CheckAddedColumns(t);
    for (const auto& c : t.columns) newest_since_ = std::max(newest_since_, c.since);
  }
  fingerprint_ = FingerprintOf(tables_, std::numeric_limits<int>::max());
}

const TableSpec* Catalog::Find(std::string_view table) const {
  for (const auto& t : tables_)
    if (t.name == table) return &t;
  return nullptr;
}

std::string Catalog::FingerprintHex() const {
  return Hex(fingerprint_);
}

std::string Catalog::FingerprintHexAt(int edge_schema) const {
  return edge_schema >= newest_since_ ? Hex(fingerprint_) : Hex(FingerprintOf(tables_, edge_schema));
}

bool IsValidSiteId(const std::string& id) {
  if (id.empty() || id.size() > 32 || id.front() == '-') return false;
  for (char c : id)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  return true;
}

}  // namespace millrace::catalog
