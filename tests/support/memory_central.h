// MemoryCentral: a sync::CentralSide that keeps everything in memory, for unit tests of
// central's half of the protocol (sync/central_protocol.h) and the server's dispatch
// without PostgreSQL. It stores what the protocol decides the way central's PostgreSQL
// storage does in substance: one lock per batch, facts inserted once (a fact already
// present fails the batch, as COPY does, and is skipped row by row), site-owned rows last
// writer wins, shared rows merged per column (sync/merge.h), rejects parked, merged rows
// that differ from what the site sent put on the tenant's feed, the cursor advanced.
// Store epochs are kept simple: a site's first epoch is adopted, a new one resumes after
// its base seq, a store behind central in its own epoch is refused.
//
// Thread-safety: every method from any thread (one mutex; a session holds it from
// LockSite() to CommitBatch() or Release()).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "millrace/common/metrics.h"
#include "millrace/sync/central_metrics.h"
#include "millrace/sync/central_side.h"

namespace millrace::testing {

class MemoryCentral final : public sync::CentralSide {
 public:
  explicit MemoryCentral(MetricsRegistry* metrics, const Clock* clock = SystemClock(),
                         std::int64_t max_forward_skew_ms = 5 * 60 * 1000);

  // Registers an active site (and its Curve key, if any).
  void AddSite(const std::string& tenant, const std::string& site, const std::string& key = "");
  void Revoke(const std::string& tenant, const std::string& site);
  // Rows with this id make the all-at-once write fail; row by row, they are parked.
  void RefuseRow(const std::string& id);
  // The next `n` commits fail with Unavailable (the database is out of reach).
  void FailCommits(int n);
  // Central writes a row of its own (master data, a new row): stored and put on the
  // tenant's feed, routed by its table's scope.
  void Publish(const std::string& tenant, const Row& row);
  // Central edits columns of a stored shared row, stamped with central's clock: merged
  // like a site's change (a later status only moves forward) and put on the feed.
  // NotFound when central holds no such row.
  Status Edit(const std::string& tenant, const std::string& table, const std::string& id,
              const std::map<std::string, Value>& columns);
  // Central deletes a stored row (master data or shared), stamped with central's clock
  // after the row's: it leaves a tombstone and goes on the feed as a delete. NotFound when
  // central holds no such row.
  Status Delete(const std::string& tenant, const std::string& table, const std::string& id);

  struct SiteState {
    std::uint64_t applied = 0;
    std::string epoch;
    bool active = true;
    bool rotate_key = false;
    std::string key;
    std::vector<sync::ParkedChange> rejects;
    std::uint64_t batches = 0;
  };
  SiteState Site(const std::string& tenant, const std::string& site) const;
  // id -> row of one table as central holds it, every site of the tenant.
  std::map<std::string, Row> Rows(const std::string& tenant, const std::string& table) const;
  std::uint64_t FeedHead(const std::string& tenant) const;
  int resets() const;
  // Feed heads FeedGrew() was told of, in order.
  std::vector<std::pair<std::string, std::uint64_t>> nudges() const;

  Result<std::unique_ptr<sync::CentralSession>> NewSession() override;
  Result<std::optional<sync::Peer>> FindActiveKey(const std::string& public_key) override;
  Result<std::optional<sync::Peer>> FindActiveSite(const std::string& site_id) override;
  const catalog::Catalog& Catalog() const override;
  sync::ClockPolicy Clocks() override { return {clock_, &hlc_, max_forward_skew_ms_}; }
  void FeedGrew(const std::string& tenant_id, std::uint64_t head) override;
  sync::CentralSyncMetrics& Metrics() override { return metrics_; }

 private:
  class Session;
  struct FeedEntry {
    std::uint64_t pos;
    std::string route_site;  // empty: every site
    sync::v1::Change change;
  };
  struct Tenant {
    std::map<std::string, SiteState> sites;
    // table -> id -> stored row with its column clocks
    std::map<std::string, std::map<std::string, sync::VersionedRow>> tables;
    // table -> id -> the clock of the row's delete
    std::map<std::string, std::map<std::string, sync::ColumnClock>> tombstones;
    std::vector<FeedEntry> feed;
  };
  // Appends at the next position, routed by the table's scope; `reflects_*`: the site's
  // batch the row includes, `clamped`: central clamped its clock (sync.proto). Returns the
  // position.
  std::uint64_t AppendFeed(Tenant& t, const Row& row, const std::string& reflects_site = "",
                           std::uint64_t reflects_seq = 0, const std::string& reflects_epoch = "",
                           bool clamped = false, bool deleted = false);

  const Clock* clock_;
  HybridClock hlc_;
  std::int64_t max_forward_skew_ms_;
  sync::CentralSyncMetrics metrics_;
  mutable std::mutex mu_;
  std::map<std::string, Tenant> tenants_;
  std::set<std::string> refused_ids_;
  int failing_commits_ = 0;
  int resets_ = 0;
  std::vector<std::pair<std::string, std::uint64_t>> nudges_;
};

}  // namespace millrace::testing
