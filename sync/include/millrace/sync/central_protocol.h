// CentralProtocol: central's half of the sync protocol for one worker, written against a
// CentralSide (central_side.h) and knowing nothing of how it stores.
//
// Upstream, a batch is applied in one transaction of the session: the site's cursor row
// locked, a batch of another store epoch refused, a gap answered with a Nack naming the
// seq central expects (the edge rewinds), a batch wholly at or below the cursor answered
// with an Ack and nothing written (a resend), the rest sorted by merge policy (SortBatch)
// and committed with the cursor, then acknowledged. If the session cannot write the batch
// at once (a bad value, a fact already present) it is written again row by row, parking
// each row that fails, so the stream never wedges behind one change. Downstream, a
// PullRequest gets the next page of the feed in the site's scope.
//
// Thread-safety: one thread (the worker's) uses a CentralProtocol.
#pragma once

#include <optional>

#include <cstdint>
#include <memory>

#include "millrace/sync/central_metrics.h"
#include "millrace/sync/central_side.h"
#include "millrace/sync/v1/sync.pb.h"

namespace millrace::sync {

// A push batch's changes decoded against the catalog, one per change in order: all of
// the work on a batch that needs neither the site's cursor nor central's clock, so it can
// be done before the batch's turn comes (the server decodes the next batches while the
// current one is written).
struct DecodedChange {
  const v1::Change* change;  // in the batch it came from, which outlives this
  Result<Row> row;           // or why it does not decode
};
using DecodedBatch = std::vector<DecodedChange>;
// Each change read by DecodeServedShape (schema_translation.h): an older served edge's change
// is taken with NULL in the columns it does not know.
DecodedBatch DecodeBatch(const v1::PushBatch& batch, const catalog::Catalog& catalog);

// Answers the requests of authenticated peers, one at a time. One per server worker.
class RequestHandler {
 public:
  virtual ~RequestHandler() = default;
  // Answers one request of an authenticated peer; `decoded` is request's push batch
  // decoded already (DecodeBatch), or null. Failures are answered with an Error
  // envelope, never thrown.
  virtual v1::Envelope Handle(const Peer& peer, const v1::Envelope& request,
                              DecodedBatch* decoded) = 0;
  v1::Envelope Handle(const Peer& peer, const v1::Envelope& request) {
    return Handle(peer, request, nullptr);
  }
};

// Sorts the decoded changes with seq > `applied` by their table's merge policy: facts to
// append, site-owned rows (last writer wins within the batch), shared rows (upserts and
// deletes) to merge by column clocks, and the rest parked with a reason (a row that does
// not decode, claims another site, deletes a fact or writes or deletes master data). The
// rows are moved out of `decoded`.
// Central's clock observes every HLC; a shared change stamped more than
// policy.max_forward_skew_ms ahead of central's clock is restamped with central's clock
// and listed in `clamps`.
SortedBatch SortDecoded(const Peer& peer, DecodedBatch& decoded, std::uint64_t applied,
                        const ClockPolicy& policy);
// DecodeBatch, then SortDecoded.
SortedBatch SortBatch(const Peer& peer, const v1::PushBatch& batch, std::uint64_t applied,
                      const catalog::Catalog& catalog, const ClockPolicy& policy);

// Whether central, built for edge schemas `oldest`..`newest` (common/schema_versions.h), whose
// catalog as the edge's schema has it (Catalog::FingerprintHexAt) is `central_fingerprint`,
// serves an edge that says `hello`: nullopt, or the reason
// (edge_schema_too_old, edge_schema_too_new, catalog_differs) and a message naming both
// sides' versions and which to upgrade. An edge that names no schema (a release before edges
// said it) counts as kUnreportedEdgeSchema.
struct VersionRefusal {
  std::string reason;
  std::string message;
};
std::optional<VersionRefusal> CheckEdgeVersion(const v1::Hello& hello,
                                               const std::string& central_fingerprint,
                                               int oldest, int newest);

class CentralProtocol final : public RequestHandler {
 public:
  // REQUIRES: central outlives the protocol.
  CentralProtocol(CentralSide* central, std::unique_ptr<CentralSession> session);
  CentralProtocol(const CentralProtocol&) = delete;
  CentralProtocol& operator=(const CentralProtocol&) = delete;

  using RequestHandler::Handle;
  v1::Envelope Handle(const Peer& peer, const v1::Envelope& request,
                      DecodedBatch* decoded) override;

 private:
  Result<v1::Envelope> Dispatch(const Peer& peer, const v1::Envelope& request,
                                DecodedBatch* decoded);
  Result<v1::Envelope> Hello(const Peer& peer, const v1::Hello& hello);
  Result<v1::Envelope> Push(const Peer& peer, const v1::PushBatch& batch, DecodedBatch* decoded);
  Result<v1::Envelope> Pull(const Peer& peer, const v1::PullRequest& pull);

  CentralSide* central_;
  std::unique_ptr<CentralSession> session_;
  CentralSyncMetrics* metrics_;
};

}  // namespace millrace::sync
