// libFuzzer target: everything central does with a frame before a database sees it.
// Decodes the frame (size limit, protocol version), checks a push batch's shape, and
// decodes every change of a push or feed batch against the catalog. Any input must end
// in a Status, never a crash, a hang or a sanitizer report.
#include <cstddef>
#include <cstdint>

#include "millrace/common/catalog.h"
#include "millrace/sync/row_codec.h"
#include "millrace/sync/wire.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace millrace;
  auto envelope = sync::DecodeFrame(
      std::string_view(reinterpret_cast<const char*>(data), size), 1 << 20);
  if (!envelope.ok()) return 0;
  (void)sync::BodyName(*envelope);
  const catalog::Catalog& cat = catalog::MesCatalog();
  if (envelope->has_push_batch()) {
    (void)sync::CheckBatchShape(envelope->push_batch());
    for (const auto& c : envelope->push_batch().changes()) {
      auto row = sync::DecodeChange(c, cat);
      if (row.ok()) (void)row->Validate();
    }
  } else if (envelope->has_feed_batch()) {
    for (const auto& c : envelope->feed_batch().changes()) (void)sync::DecodeChange(c, cat);
  }
  return 0;
}
