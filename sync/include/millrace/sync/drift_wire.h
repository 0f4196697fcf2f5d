// Drift probes (drift.h) as sync.proto's DriftProbe and DriftProbeReply, and back. A probe
// is checked as it is read (a range past the deepest level or wider than its level, a
// table the catalog does not hold are refused by name); a reply is checked against its
// probe by DriftWalk::Take, and its check_id is the caller's to match with the probe's.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>

#include "millrace/common/catalog.h"
#include "millrace/common/status.h"
#include "millrace/sync/drift.h"
#include "millrace/sync/v1/sync.pb.h"

namespace millrace::sync {

v1::DriftProbe DriftProbeToWire(std::uint64_t check_id, const RangeProbe& probe);
// InvalidArgument naming the range or table that is wrong.
Result<RangeProbe> DriftProbeFromWire(const v1::DriftProbe& wire, const catalog::Catalog& catalog);

v1::DriftProbeReply DriftReplyToWire(std::uint64_t check_id, const RangeProbeReply& reply);
RangeProbeReply DriftReplyFromWire(const v1::DriftProbeReply& wire);

// A drift request as central takes it: a check id, one body; a probe's ranges (as
// DriftProbeFromWire, at most kDriftMaxRanges), a fetch's or repair's table in the catalog
// with at most kDriftMaxRows ids or rows (a repair's rows all of that table). InvalidArgument
// naming what is wrong.
inline constexpr int kDriftMaxRanges = 65536;
inline constexpr int kDriftMaxRows = 1000;
Status CheckDriftRequest(const v1::DriftRequest& request, const catalog::Catalog& catalog);

}  // namespace millrace::sync
