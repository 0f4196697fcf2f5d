// Framing of the sync protocol: one Envelope per message, with a size limit and a
// protocol-version check. Everything malformed, oversized or from another protocol
// version becomes a Status, never an exception or a crash.
//
// Thread-safety: free functions over values.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "millrace/common/status.h"
#include "millrace/sync/v1/sync.pb.h"

namespace millrace::sync {

inline constexpr std::uint32_t kProtocolVersion = 1;
inline constexpr std::size_t kDefaultMaxFrameBytes = 16u << 20;

// Serializes an envelope, stamping kProtocolVersion.
std::string EncodeFrame(v1::Envelope envelope);

// Parses one frame. ResourceExhausted when larger than max_frame_bytes, InvalidArgument
// when not a well-formed Envelope with a body, FailedPrecondition on a protocol version
// this build does not speak.
Result<v1::Envelope> DecodeFrame(std::string_view bytes,
                                 std::size_t max_frame_bytes = kDefaultMaxFrameBytes);
// The same, with every message of the frame allocated on `arena` (which owns the result):
// a batch of thousands of changes is parsed and freed without an allocation per value.
Result<v1::Envelope*> DecodeFrameOnArena(std::string_view bytes, std::size_t max_frame_bytes,
                                         google::protobuf::Arena* arena);

// A PushBatch frame built from changes already serialized (outbox payloads without their
// seq): the same bytes EncodeFrame would give, without parsing and re-serializing every
// change. REQUIRES: changes non-empty, seqs ascending.
struct SerializedChange {
  std::uint64_t seq;
  std::string_view change;  // a serialized v1::Change with seq unset
};
std::string EncodePushBatchFrame(std::uint64_t batch_id, const std::vector<SerializedChange>& changes,
                                 const v1::SiteStatus& status, std::string_view store_epoch,
                                 bool skips_lost = false);

// A push batch must be what it says: at least one change, seqs contiguous from first_seq
// to last_seq. InvalidArgument otherwise (central refuses the batch before any row).
Status CheckBatchShape(const v1::PushBatch& batch);

// An Error envelope carrying the status's code name and message.
v1::Envelope ErrorEnvelope(const Status& status);

// The name of the envelope's body ("push_batch"), for logs and metrics labels.
std::string_view BodyName(const v1::Envelope& envelope);

}  // namespace millrace::sync
