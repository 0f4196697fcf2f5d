// The edge's half of one drift check (sync.proto DriftRequest), private to the sync
// client: the walk of the range tree against central's copy of the site's tables
// (drift.h), then the repair of each row from the side that owns it, then the outcome,
// which central records. One request is in flight at a time.
//
// Who is the reference for a row the walk found (DESIGN.md, data ownership):
//
//   table owned by  differs         only the edge has it   only central has it
//   the site        edge -> central edge -> central        central -> edge (the edge lost it)
//   central         central -> edge deleted at the edge*   central -> edge
//   both (shared)   central -> edge edge -> central        central -> edge
//
// (* when central, asked for it, still holds no such row.) Shared rows take central's copy:
// central merged every writer's changes. Either side
// writes a row only while it is as that side indexed it for the check, with no change of
// it in flight (EdgeSide::WriteCentralCopies, EdgeSide::EdgeCopies, central's
// CentralSession::Drift); the others are left to sync and counted so.
//
// Thread-safety: used by the client's thread only.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "millrace/common/catalog.h"
#include "millrace/sync/client.h"
#include "millrace/sync/drift.h"
#include "millrace/sync/v1/sync.pb.h"

namespace millrace::sync {

class DriftRun {
 public:
  static constexpr std::size_t kRowsPerRequest = 1000;
  static constexpr std::size_t kMaxRequestBytes = 4 << 20;  // rows sent to central at once
  static constexpr std::size_t kMaxErrorBytes = 1000;

  // `local`: the edge's indexes (EdgeSide::DriftIndexes) of `catalog`'s tables, made with
  // the site's facts before `horizon_ms` left out, which every probe tells central.
  DriftRun(std::uint64_t check_id, RangeIndexes local, const catalog::Catalog& catalog,
           const DriftOptions& options = {}, std::uint64_t horizon_ms = 0);
  // A check that could not start (the edge could not index its tables): only its outcome
  // is sent.
  DriftRun(std::uint64_t check_id, const Status& failed);
  DriftRun(const DriftRun&) = delete;
  DriftRun& operator=(const DriftRun&) = delete;

  std::uint64_t check_id() const { return check_id_; }
  // The next request to send; nullopt while one is in flight, or once done. Repairs that
  // need no request (deleting at the edge) happen here.
  std::optional<v1::DriftRequest> Next(EdgeSide& edge);
  // The reply to the request in flight. A reply that does not fit ends the walk or the
  // repair with an error, which the outcome then carries.
  void Take(const v1::DriftReply& reply, EdgeSide& edge);
  // The request in flight was lost: it is sent again.
  void Resend() {
    resend_ = in_flight_;
    in_flight_ = false;
  }
  bool done() const { return phase_ == Phase::kDone; }
  bool waiting() const { return in_flight_; }  // for the reply to a request sent
  const v1::DriftOutcome& outcome() const { return outcome_; }

 private:
  enum class Phase { kWalk, kRepair, kOutcome, kDone };
  enum class Work { kFetch, kSend };
  struct Item {
    std::string table;
    Work work;
    std::vector<std::string> ids;
  };

  void Plan();
  // Queues `ids` of `table` in requests of at most kRowsPerRequest, at the back (or front).
  void Queue(const std::string& table, Work work, const std::vector<std::string>& ids,
             bool front = false);
  void Fail(const Status& why);
  v1::DriftTableOutcome& TableOutcome(const std::string& table);
  const RangeIndex& Index(const std::string& table) const;
  v1::DriftRequest Request() const;

  std::uint64_t horizon_ms_ = 0;
  std::uint64_t check_id_;
  RangeIndexes local_;
  const catalog::Catalog* catalog_ = nullptr;
  std::optional<DriftWalk> walk_;
  RangeIndex empty_;
  Phase phase_ = Phase::kWalk;
  bool in_flight_ = false;
  bool resend_ = false;  // Next() sends sent_ again
  std::optional<v1::DriftRequest> sent_;
  std::deque<Item> work_;
  v1::DriftOutcome outcome_;
};

}  // namespace millrace::sync
