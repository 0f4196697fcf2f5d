#include "millrace/sync/wire.h"

namespace millrace::sync {

std::string EncodeFrame(v1::Envelope envelope) {
  envelope.set_protocol_version(kProtocolVersion);
  return envelope.SerializeAsString();
}

Result<v1::Envelope> DecodeFrame(std::string_view bytes, std::size_t max_frame_bytes) {
  if (bytes.size() > max_frame_bytes) {
    return Status::ResourceExhausted("frame of " + std::to_string(bytes.size()) +
                                     " bytes exceeds the limit of " +
                                     std::to_string(max_frame_bytes));
  }
  v1::Envelope envelope;
  if (bytes.size() > static_cast<std::size_t>(INT32_MAX) ||
      !envelope.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return Status::InvalidArgument("malformed frame: not a sync envelope");
  }
  if (envelope.protocol_version() != kProtocolVersion) {
    return Status::FailedPrecondition("peer speaks sync protocol version " +
                                      std::to_string(envelope.protocol_version()) +
                                      ", this node speaks " + std::to_string(kProtocolVersion));
  }
  if (envelope.body_case() == v1::Envelope::BODY_NOT_SET) {
    return Status::InvalidArgument("malformed frame: envelope carries no message");
  }
  return envelope;
}

std::string_view BodyName(const v1::Envelope& envelope) {
  switch (envelope.body_case()) {
    case v1::Envelope::kHello:
      return "hello";
    case v1::Envelope::kHelloReply:
      return "hello_reply";
    case v1::Envelope::kPushBatch:
      return "push_batch";
    case v1::Envelope::kAck:
      return "ack";
    case v1::Envelope::kNack:
      return "nack";
    case v1::Envelope::kPullRequest:
      return "pull_request";
    case v1::Envelope::kFeedBatch:
      return "feed_batch";
    case v1::Envelope::kNudge:
      return "nudge";
    case v1::Envelope::kError:
      return "error";
    case v1::Envelope::BODY_NOT_SET:
      return "none";
  }
  return "unknown";
}

}  // namespace millrace::sync
