// Drift probes (drift.h) on the sync link (sync.proto DriftProbe, DriftProbeReply), and
// back. What arrives is checked as it is read: a range past the deepest level, a table the
// catalog does not hold, a reply that does not fit its probe are refused by name.
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

}  // namespace millrace::sync
