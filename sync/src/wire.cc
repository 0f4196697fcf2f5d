#include "millrace/sync/wire.h"

namespace millrace::sync {

std::string EncodeFrame(v1::Envelope envelope) {
  envelope.set_protocol_version(kProtocolVersion);
  return envelope.SerializeAsString();
}

namespace {

// Parses `bytes` into `envelope` and checks its version and body.
Status ParseFrame(std::string_view bytes, std::size_t max_frame_bytes, v1::Envelope* envelope) {
  if (bytes.size() > max_frame_bytes) {
    return Status::ResourceExhausted("frame of " + std::to_string(bytes.size()) +
                                     " bytes exceeds the limit of " +
                                     std::to_string(max_frame_bytes));
  }
  if (bytes.size() > static_cast<std::size_t>(INT32_MAX) ||
      !envelope->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return Status::InvalidArgument("malformed frame: not a sync envelope");
  }
  if (envelope->protocol_version() != kProtocolVersion) {
    return Status::FailedPrecondition("peer speaks sync protocol version " +
                                      std::to_string(envelope->protocol_version()) +
                                      ", this node speaks " + std::to_string(kProtocolVersion));
  }
  if (envelope->body_case() == v1::Envelope::BODY_NOT_SET) {
    return Status::InvalidArgument("malformed frame: envelope carries no message");
  }
  return Status::Ok();
}

}  // namespace

Result<v1::Envelope> DecodeFrame(std::string_view bytes, std::size_t max_frame_bytes) {
  v1::Envelope envelope;
  MILLRACE_RETURN_IF_ERROR(ParseFrame(bytes, max_frame_bytes, &envelope));
  return envelope;
}

Result<v1::Envelope*> DecodeFrameOnArena(std::string_view bytes, std::size_t max_frame_bytes,
                                         google::protobuf::Arena* arena) {
  auto* envelope = google::protobuf::Arena::CreateMessage<v1::Envelope>(arena);
  MILLRACE_RETURN_IF_ERROR(ParseFrame(bytes, max_frame_bytes, envelope));
  return envelope;
}

namespace {

void PutVarint(std::string* out, std::uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

void PutTag(std::string* out, int field, int wire_type) {
  PutVarint(out, static_cast<std::uint64_t>(field) << 3 | static_cast<std::uint64_t>(wire_type));
}

void PutBytes(std::string* out, int field, std::string_view bytes) {
  PutTag(out, field, 2);
  PutVarint(out, bytes.size());
  out->append(bytes);
}

}  // namespace

std::string EncodePushBatchFrame(std::uint64_t batch_id,
                                 const std::vector<SerializedChange>& changes,
                                 const v1::SiteStatus& status, std::string_view store_epoch,
                                 bool skips_lost) {
  std::string batch;
  std::size_t total = 64;
  for (const auto& c : changes) total += c.change.size() + 16;
  batch.reserve(total);
  PutTag(&batch, 1, 0);
  PutVarint(&batch, batch_id);
  PutTag(&batch, 2, 0);
  PutVarint(&batch, changes.front().seq);
  PutTag(&batch, 3, 0);
  PutVarint(&batch, changes.back().seq);
  std::string change;
  for (const auto& c : changes) {
    // A scalar field may follow the others: appending seq (field 1) to the stored bytes
    // gives the change with its seq set.
    change.assign(c.change);
    PutTag(&change, 1, 0);
    PutVarint(&change, c.seq);
    PutBytes(&batch, 4, change);
  }
  PutBytes(&batch, 5, status.SerializeAsString());
  if (!store_epoch.empty()) PutBytes(&batch, 6, store_epoch);
  if (skips_lost) {
    PutTag(&batch, 7, 0);
    PutVarint(&batch, 1);
  }
  std::string frame;
  frame.reserve(batch.size() + 16);
  PutTag(&frame, 1, 0);
  PutVarint(&frame, kProtocolVersion);
  PutBytes(&frame, 12, batch);
  return frame;
}

v1::Envelope ErrorEnvelope(const Status& status) {
  v1::Envelope e;
  e.mutable_error()->set_code(std::string(StatusCodeName(status.code())));
  e.mutable_error()->set_message(status.message());
  return e;
}

Status CheckBatchShape(const v1::PushBatch& batch) {
  const int n = batch.changes_size();
  const std::string what = "batch " + std::to_string(batch.batch_id());
  if (n == 0) return Status::InvalidArgument(what + " carries no change");
  if (batch.changes(0).seq() != batch.first_seq() ||
      batch.changes(n - 1).seq() != batch.last_seq() || batch.last_seq() < batch.first_seq() ||
      batch.last_seq() - batch.first_seq() + 1 != static_cast<std::uint64_t>(n)) {
    return Status::InvalidArgument(what + " does not hold contiguous seqs first_seq..last_seq");
  }
  for (int i = 1; i < n; ++i)
    if (batch.changes(i).seq() != batch.changes(i - 1).seq() + 1)
      return Status::InvalidArgument(what + " skips a seq");
  return Status::Ok();
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
    case v1::Envelope::kKeyRotation:
      return "key_rotation";
    case v1::Envelope::kKeyRotated:
      return "key_rotated";
    case v1::Envelope::kBackupOffer:
      return "backup_offer";
    case v1::Envelope::kBackupOfferReply:
      return "backup_offer_reply";
    case v1::Envelope::kBackupChunk:
      return "backup_chunk";
    case v1::Envelope::kBackupChunkAck:
      return "backup_chunk_ack";
    case v1::Envelope::kDriftRequest:
      return "drift_request";
    case v1::Envelope::kDriftReply:
      return "drift_reply";
    case v1::Envelope::BODY_NOT_SET:
      return "none";
  }
  return "unknown";
}

}  // namespace millrace::sync
