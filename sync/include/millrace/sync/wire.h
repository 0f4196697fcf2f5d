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

// The name of the envelope's body ("push_batch"), for logs and metrics labels.
std::string_view BodyName(const v1::Envelope& envelope);

}  // namespace millrace::sync
