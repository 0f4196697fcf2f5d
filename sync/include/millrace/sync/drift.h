// Drift detection by ranges of digests: how an edge and central find the rows on which they
// disagree without sending either side's rows, and in a few round trips however large the
// tables are. Pure: the other side is behind a seam (RangeSource), the transport is not
// here.
//
// Each side indexes a table's rows in its scope (RangeIndex) by a 64-bit key hashed from
// the row's id, so rows spread evenly whatever their ids look like (time-ordered UUIDs
// share long prefixes), and fingerprints each row from its encoded wire change (the same
// bytes on both sides for the same row and values; content.h). The keys form a 16-ary
// tree: the range (level L, prefix p) holds the rows whose key begins with the 4L bits p.
// A range's digest is the sum of its rows' fingerprints with their count, so a range's
// digest is its children's summed, and equal digests mean - short of a 64-bit collision -
// the same rows with the same values.
//
// FindDrift walks the tree breadth first from the root, all tables at once: each round
// trip asks the other side for the children of the ranges that still differ and for the
// rows (id and fingerprint) of those small enough to list (at most leaf_rows on either
// side). Finding one bad row among a million costs about log16(1e6 / leaf_rows) + 1 round
// trips; equal tables cost one.
//
// Thread-safety: RangeIndex is immutable once built; FindDrift runs on the caller's thread.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "millrace/common/row.h"
#include "millrace/common/schema_versions.h"
#include "millrace/common/status.h"

namespace millrace::sync {

inline constexpr int kDriftMaxLevel = 16;  // 64 bits of key, 4 per level

// The key a row's id sorts under in the range tree.
std::uint64_t DriftKey(const std::string& id);
// 64 bits over the row's encoded wire change (every column, the clock columns included;
// added columns that are NULL left out, so an older edge's copy compares equal:
// ComparableChange in schema_translation.h); with `edge_schema`, in that schema's shape.
std::uint64_t RowFingerprint(const Row& row, int edge_schema = kEdgeSchemaVersion);

struct RangeRef {
  std::string table;
  int level = 0;             // 0: the whole table
  std::uint64_t prefix = 0;  // the top 4 * level bits of the keys in it, right-aligned
  bool operator<(const RangeRef& o) const;
  bool operator==(const RangeRef& o) const;
  RangeRef Child(int nibble) const;
  bool Contains(std::uint64_t key) const;
};

struct RangeDigest {
  std::uint64_t rows = 0;
  std::uint64_t sum = 0;  // of the fingerprints, modulo 2^64
  bool operator==(const RangeDigest& o) const { return rows == o.rows && sum == o.sum; }
  bool operator!=(const RangeDigest& o) const { return !(*this == o); }
};

struct RowPrint {
  std::string id;
  std::uint64_t fingerprint = 0;
};

// One side's rows of one table as the range tree.
class RangeIndex {
 public:
  void Add(const std::string& id, std::uint64_t fingerprint);
  void Add(const Row& row) { Add(row.id(), RowFingerprint(row)); }
  // Sorts what was added; REQUIRES: called once, after the last Add and before any query.
  void Seal();
  std::size_t size() const { return entries_.size(); }

  RangeDigest Digest(const RangeRef& range) const;
  // The 16 children's digests, in nibble order. REQUIRES: range.level < kDriftMaxLevel.
  std::vector<RangeDigest> Children(const RangeRef& range) const;
  // The rows in the range, by key.
  std::vector<RowPrint> Rows(const RangeRef& range) const;
  // The fingerprint of the row with this id; nullopt when the index does not hold it.
  std::optional<std::uint64_t> Find(const std::string& id) const;

 private:
  struct Entry {
    std::uint64_t key;
    std::uint64_t fingerprint;
    std::string id;
  };
  std::pair<std::size_t, std::size_t> Span(const RangeRef& range) const;
  std::vector<Entry> entries_;
  std::vector<std::uint64_t> prefix_sums_;  // prefix_sums_[i]: fingerprints of entries_[0, i)
  bool sealed_ = false;
};

// Every table's index, by table name.
using RangeIndexes = std::map<std::string, RangeIndex>;

// What one round trip asks of the other side, and what it answers, in the asked order.
struct RangeProbe {
  std::vector<RangeRef> children_of;
  std::vector<RangeRef> rows_of;
};
struct RangeProbeReply {
  std::vector<std::vector<RangeDigest>> children;  // 16 per range of children_of
  std::vector<std::vector<RowPrint>> rows;         // per range of rows_of
};

// InvalidArgument naming what is wrong: a level past kDriftMaxLevel, a prefix wider than
// its level, an empty table name.
Status CheckRange(const RangeRef& range);
// Answers a probe from `indexes` (a table absent there holds no rows): what the side asked
// runs. InvalidArgument for a bad range (CheckRange; children only above the deepest level)
// or a reply too large to send (more than max_rows rows listed).
Result<RangeProbeReply> AnswerProbe(const RangeIndexes& indexes, const RangeProbe& probe,
                                    std::size_t max_rows = 100000);
// Checks a reply against its probe: one entry per range asked, 16 children each, rows
// within their range. InvalidArgument naming what is wrong.
Status CheckProbeReply(const RangeProbe& probe, const RangeProbeReply& reply);

// The other side, one round trip per call.
class RangeSource {
 public:
  virtual ~RangeSource() = default;
  virtual Result<RangeProbeReply> Probe(const RangeProbe& probe) = 0;
};

struct DriftOptions {
  std::size_t leaf_rows = 32;  // a range listed row by row once neither side holds more
  // Rows listed per round trip at most (by the digests' counts); the ranges past it wait
  // for the next. Keep it within the other side's AnswerProbe max_rows.
  std::size_t rows_per_probe = 20000;
  int max_round_trips = 200;  // a walk that needs more is refused (a side keeps changing)
};

// One table's rows the two sides disagree on.
struct TableDrift {
  std::vector<std::string> differ;       // on both sides, with other values
  std::vector<std::string> only_local;   // here only
  std::vector<std::string> only_remote;  // there only
  std::size_t Count() const { return differ.size() + only_local.size() + only_remote.size(); }
};

struct DriftReport {
  std::map<std::string, TableDrift> tables;  // only the tables with drift
  int round_trips = 0;
  std::size_t ranges_compared = 0;  // children and leaves compared
  std::size_t rows_listed = 0;      // rows the other side listed (id and fingerprint)
  std::size_t Count() const;
};

// The walk one step at a time, for a caller that sends probes and takes replies as
// messages (an event loop): Probe() is what to send next, Take() its reply.
class DriftWalk {
 public:
  // REQUIRES: `local` outlives the walk.
  DriftWalk(const RangeIndexes& local, const std::vector<std::string>& tables,
            const DriftOptions& options = {});
  // The next probe; nullptr once the walk is done.
  const RangeProbe* Probe() const;
  // InvalidArgument for a reply that does not fit the probe, Conflict past
  // max_round_trips; the walk is then over.
  Status Take(const RangeProbeReply& reply);
  bool done() const { return done_; }
  // Complete once done(); ids sorted, only the tables with drift.
  const DriftReport& report() const { return report_; }

 private:
  const RangeIndex& Index(const std::string& table) const;
  void Finish();
  const RangeIndexes& local_;
  DriftOptions options_;
  RangeIndex empty_;
  RangeProbe probe_;
  std::vector<RangeRef> deferred_;  // small ranges to list, past the last probe's budget
  DriftReport report_;
  bool done_ = false;
};

// Compares `local` with the other side over the tables of `tables` (each holds its
// index in `local`; a table missing there holds no rows here), one Probe() per round
// trip. Unavailable and the like from the source are returned as they came; a reply that
// does not fit its probe is InvalidArgument.
Result<DriftReport> FindDrift(const RangeIndexes& local, const std::vector<std::string>& tables,
                              RangeSource& remote, const DriftOptions& options = {});

}  // namespace millrace::sync
