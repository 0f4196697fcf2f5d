#include "millrace/sync/drift.h"

#include <algorithm>
#include <tuple>
#include <unordered_map>

#include "millrace/sync/row_codec.h"
#include "millrace/sync/schema_translation.h"

namespace millrace::sync {
namespace {

constexpr std::uint64_t kFnvOffset = 1469598103934665603ull;
constexpr std::uint64_t kFnvPrime = 1099511628211ull;

std::uint64_t Fnv(std::string_view bytes) {
  std::uint64_t h = kFnvOffset;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= kFnvPrime;
  }
  return h;
}

// splitmix64's finalizer: FNV's low bits mix poorly, and the keys' top bits choose ranges.
std::uint64_t Mix(std::uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  x ^= x >> 31;
  return x;
}

// The smallest and largest key of a range.
std::pair<std::uint64_t, std::uint64_t> Bounds(const RangeRef& r) {
  if (r.level <= 0) return {0, ~0ull};
  if (r.level >= kDriftMaxLevel) return {r.prefix, r.prefix};
  const int shift = 64 - 4 * r.level;
  const std::uint64_t lo = r.prefix << shift;
  return {lo, lo | ((1ull << shift) - 1)};
}

std::string Describe(const RangeRef& r) {
  return r.table + " level " + std::to_string(r.level) + " prefix " + std::to_string(r.prefix);
}

// Sorts a leaf's rows into the drift of its table.
void CompareLeaf(const std::vector<RowPrint>& here, const std::vector<RowPrint>& there,
                 TableDrift* out) {
  std::unordered_map<std::string, std::uint64_t> theirs;
  for (const RowPrint& p : there) theirs.emplace(p.id, p.fingerprint);
  for (const RowPrint& p : here) {
    auto it = theirs.find(p.id);
    if (it == theirs.end()) {
      out->only_local.push_back(p.id);
      continue;
    }
    if (it->second != p.fingerprint) out->differ.push_back(p.id);
    theirs.erase(it);
  }
  for (const RowPrint& p : there)
    if (theirs.count(p.id)) out->only_remote.push_back(p.id);
}

}  // namespace

std::uint64_t DriftKey(const std::string& id) {
  return Mix(Fnv(id));
}

std::uint64_t RowFingerprint(const Row& row, int edge_schema) {
  return Mix(Fnv(ComparableChange(row, edge_schema).SerializeAsString()));
}

bool RangeRef::operator<(const RangeRef& o) const {
  return std::tie(table, level, prefix) < std::tie(o.table, o.level, o.prefix);
}
bool RangeRef::operator==(const RangeRef& o) const {
  return table == o.table && level == o.level && prefix == o.prefix;
}
RangeRef RangeRef::Child(int nibble) const {
  return {table, level + 1, (prefix << 4) | static_cast<std::uint64_t>(nibble & 15)};
}
bool RangeRef::Contains(std::uint64_t key) const {
  const auto [lo, hi] = Bounds(*this);
  return key >= lo && key <= hi;
}

// ---- RangeIndex ----

void RangeIndex::Add(const std::string& id, std::uint64_t fingerprint) {
  entries_.push_back({DriftKey(id), fingerprint, id});
}

void RangeIndex::Seal() {
  std::sort(entries_.begin(), entries_.end(), [](const Entry& a, const Entry& b) {
    return std::tie(a.key, a.id) < std::tie(b.key, b.id);
  });
  prefix_sums_.assign(entries_.size() + 1, 0);
  for (std::size_t i = 0; i < entries_.size(); ++i)
    prefix_sums_[i + 1] = prefix_sums_[i] + entries_[i].fingerprint;
  sealed_ = true;
}

std::pair<std::size_t, std::size_t> RangeIndex::Span(const RangeRef& range) const {
  if (!sealed_) return {0, 0};
  const auto [lo, hi] = Bounds(range);
  const auto first = std::lower_bound(entries_.begin(), entries_.end(), lo,
                                      [](const Entry& e, std::uint64_t k) { return e.key < k; });
  const auto last = std::upper_bound(first, entries_.end(), hi,
                                     [](std::uint64_t k, const Entry& e) { return k < e.key; });
  return {static_cast<std::size_t>(first - entries_.begin()),
          static_cast<std::size_t>(last - entries_.begin())};
}

std::optional<std::uint64_t> RangeIndex::Find(const std::string& id) const {
  if (!sealed_) return std::nullopt;
  const std::uint64_t key = DriftKey(id);
  auto it = std::lower_bound(entries_.begin(), entries_.end(), key,
                             [](const Entry& e, std::uint64_t k) { return e.key < k; });
  for (; it != entries_.end() && it->key == key; ++it)
    if (it->id == id) return it->fingerprint;
  return std::nullopt;
}

RangeDigest RangeIndex::Digest(const RangeRef& range) const {
  const auto [a, b] = Span(range);
  if (!sealed_) return {};
  return {b - a, prefix_sums_[b] - prefix_sums_[a]};
}

std::vector<RangeDigest> RangeIndex::Children(const RangeRef& range) const {
  std::vector<RangeDigest> out;
  out.reserve(16);
  for (int n = 0; n < 16; ++n) out.push_back(Digest(range.Child(n)));
  return out;
}

std::vector<RowPrint> RangeIndex::Rows(const RangeRef& range) const {
  const auto [a, b] = Span(range);
  std::vector<RowPrint> out;
  out.reserve(b - a);
  for (std::size_t i = a; i < b; ++i) out.push_back({entries_[i].id, entries_[i].fingerprint});
  return out;
}

// ---- the other side's half ----

Status CheckRange(const RangeRef& r) {
  if (r.table.empty()) return Status::InvalidArgument("drift range: no table named");
  if (r.level < 0 || r.level > kDriftMaxLevel)
    return Status::InvalidArgument("drift range: level " + std::to_string(r.level) +
                                   " is not within 0 .. " + std::to_string(kDriftMaxLevel));
  if (r.level < kDriftMaxLevel && (r.prefix >> (4 * r.level)) != 0)
    return Status::InvalidArgument("drift range: prefix " + std::to_string(r.prefix) +
                                   " has more than " + std::to_string(4 * r.level) + " bits");
  return Status::Ok();
}

Result<RangeProbeReply> AnswerProbe(const RangeIndexes& indexes, const RangeProbe& probe,
                                    std::size_t max_rows) {
  static const RangeIndex kEmpty = [] {
    RangeIndex e;
    e.Seal();
    return e;
  }();
  const auto index = [&](const std::string& table) -> const RangeIndex& {
    auto it = indexes.find(table);
    return it == indexes.end() ? kEmpty : it->second;
  };
  RangeProbeReply reply;
  for (const RangeRef& r : probe.children_of) {
    MILLRACE_RETURN_IF_ERROR(CheckRange(r));
    if (r.level == kDriftMaxLevel)
      return Status::InvalidArgument("drift probe: no children below " + Describe(r));
    reply.children.push_back(index(r.table).Children(r));
  }
  std::size_t listed = 0;
  for (const RangeRef& r : probe.rows_of) {
    MILLRACE_RETURN_IF_ERROR(CheckRange(r));
    reply.rows.push_back(index(r.table).Rows(r));
    listed += reply.rows.back().size();
    if (listed > max_rows)
      return Status::InvalidArgument("drift probe: it asks for more than " +
                                     std::to_string(max_rows) + " rows listed at once");
  }
  return reply;
}

Status CheckProbeReply(const RangeProbe& probe, const RangeProbeReply& reply) {
  if (reply.children.size() != probe.children_of.size())
    return Status::InvalidArgument("drift reply: " + std::to_string(reply.children.size()) +
                                   " children lists for " +
                                   std::to_string(probe.children_of.size()) + " ranges asked");
  if (reply.rows.size() != probe.rows_of.size())
    return Status::InvalidArgument("drift reply: " + std::to_string(reply.rows.size()) +
                                   " row lists for " + std::to_string(probe.rows_of.size()) +
                                   " ranges asked");
  for (std::size_t i = 0; i < reply.children.size(); ++i) {
    if (reply.children[i].size() != 16)
      return Status::InvalidArgument("drift reply: " + Describe(probe.children_of[i]) + " has " +
                                     std::to_string(reply.children[i].size()) +
                                     " children, not 16");
  }
  for (std::size_t i = 0; i < reply.rows.size(); ++i)
    for (const RowPrint& p : reply.rows[i])
      if (!probe.rows_of[i].Contains(DriftKey(p.id)))
        return Status::InvalidArgument("drift reply: row " + p.id + " is not in " +
                                       Describe(probe.rows_of[i]));
  return Status::Ok();
}

// ---- the walk ----

std::size_t DriftReport::Count() const {
  std::size_t n = 0;
  for (const auto& [name, t] : tables) n += t.Count();
  return n;
}

DriftWalk::DriftWalk(const RangeIndexes& local, const std::vector<std::string>& tables,
                     const DriftOptions& options)
    : local_(local), options_(options) {
  empty_.Seal();
  for (const std::string& t : tables) probe_.children_of.push_back({t, 0, 0});
  if (probe_.children_of.empty()) Finish();
}

const RangeIndex& DriftWalk::Index(const std::string& table) const {
  auto it = local_.find(table);
  return it == local_.end() ? empty_ : it->second;
}

const RangeProbe* DriftWalk::Probe() const {
  return done_ ? nullptr : &probe_;
}

Status DriftWalk::Take(const RangeProbeReply& reply) {
  if (done_) return Status::FailedPrecondition("drift: the walk is over");
  if (Status s = CheckProbeReply(probe_, reply); !s.ok()) {
    done_ = true;
    return s;
  }
  ++report_.round_trips;
  RangeProbe next;
  for (std::size_t i = 0; i < probe_.rows_of.size(); ++i) {
    const RangeRef& r = probe_.rows_of[i];
    report_.rows_listed += reply.rows[i].size();
    CompareLeaf(Index(r.table).Rows(r), reply.rows[i], &report_.tables[r.table]);
  }
  for (std::size_t i = 0; i < probe_.children_of.size(); ++i) {
    const RangeRef& r = probe_.children_of[i];
    const std::vector<RangeDigest> mine = Index(r.table).Children(r);
    for (int n = 0; n < 16; ++n) {
      ++report_.ranges_compared;
      const RangeDigest& theirs = reply.children[i][n];
      if (mine[n] == theirs) continue;
      const RangeRef c = r.Child(n);
      if (theirs.rows == 0) {
        // Nothing there: every row here is ours alone, no need to ask.
        for (const RowPrint& p : Index(r.table).Rows(c))
          report_.tables[r.table].only_local.push_back(p.id);
      } else if (std::max<std::uint64_t>(mine[n].rows, theirs.rows) <= options_.leaf_rows ||
                 c.level == kDriftMaxLevel) {
        next.rows_of.push_back(c);
      } else {
        next.children_of.push_back(c);
      }
    }
  }
  // The ranges to list, within the budget of rows per probe (by the larger count of the
  // two sides); the rest wait for the next round trip.
  for (const RangeRef& r : next.rows_of) deferred_.push_back(r);
  next.rows_of.clear();
  std::size_t budget = 0;
  std::size_t taken = 0;
  for (; taken < deferred_.size(); ++taken) {
    const std::size_t rows = std::max<std::size_t>(
        Index(deferred_[taken].table).Digest(deferred_[taken]).rows, options_.leaf_rows);
    if (taken > 0 && budget + rows > options_.rows_per_probe) break;
    budget += rows;
    next.rows_of.push_back(deferred_[taken]);
  }
  deferred_.erase(deferred_.begin(), deferred_.begin() + static_cast<std::ptrdiff_t>(taken));
  probe_ = std::move(next);
  if (probe_.children_of.empty() && probe_.rows_of.empty()) {
    Finish();
  } else if (report_.round_trips >= options_.max_round_trips) {
    done_ = true;
    return Status::Conflict("drift: still differing after " + std::to_string(report_.round_trips) +
                            " round trips (the rows keep changing?)");
  }
  return Status::Ok();
}

void DriftWalk::Finish() {
  done_ = true;
  for (auto it = report_.tables.begin(); it != report_.tables.end();) {
    TableDrift& t = it->second;
    if (t.Count() == 0) {
      it = report_.tables.erase(it);
      continue;
    }
    std::sort(t.differ.begin(), t.differ.end());
    std::sort(t.only_local.begin(), t.only_local.end());
    std::sort(t.only_remote.begin(), t.only_remote.end());
    ++it;
  }
}

Result<DriftReport> FindDrift(const RangeIndexes& local, const std::vector<std::string>& tables,
                              RangeSource& remote, const DriftOptions& options) {
  DriftWalk walk(local, tables, options);
  while (const RangeProbe* probe = walk.Probe()) {
    MILLRACE_ASSIGN_OR_RETURN(RangeProbeReply reply, remote.Probe(*probe));
    MILLRACE_RETURN_IF_ERROR(walk.Take(reply));
  }
  return walk.report();
}

}  // namespace millrace::sync
