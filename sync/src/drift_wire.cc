#include "millrace/sync/drift_wire.h"

#include <set>

namespace millrace::sync {
namespace {

void ToWire(const RangeRef& r, v1::DriftRange* out) {
  out->set_table(r.table);
  out->set_level(static_cast<std::uint32_t>(r.level));
  out->set_prefix(r.prefix);
}

Result<RangeRef> FromWire(const v1::DriftRange& w, const catalog::Catalog& catalog) {
  if (!catalog.Find(w.table()))
    return Status::InvalidArgument("drift probe: no table '" + w.table() + "' in the catalog");
  if (w.level() > static_cast<std::uint32_t>(kDriftMaxLevel))
    return Status::InvalidArgument("drift probe: level " + std::to_string(w.level()) +
                                   " is past the deepest, " + std::to_string(kDriftMaxLevel));
  RangeRef r{w.table(), static_cast<int>(w.level()), w.prefix()};
  MILLRACE_RETURN_IF_ERROR(CheckRange(r));
  return r;
}

}  // namespace

v1::DriftProbe DriftProbeToWire(std::uint64_t check_id, const RangeProbe& probe) {
  v1::DriftProbe w;
  w.set_check_id(check_id);
  for (const RangeRef& r : probe.children_of) ToWire(r, w.add_children_of());
  for (const RangeRef& r : probe.rows_of) ToWire(r, w.add_rows_of());
  return w;
}

Result<RangeProbe> DriftProbeFromWire(const v1::DriftProbe& w, const catalog::Catalog& catalog) {
  RangeProbe probe;
  for (const auto& r : w.children_of()) {
    MILLRACE_ASSIGN_OR_RETURN(RangeRef ref, FromWire(r, catalog));
    probe.children_of.push_back(std::move(ref));
  }
  for (const auto& r : w.rows_of()) {
    MILLRACE_ASSIGN_OR_RETURN(RangeRef ref, FromWire(r, catalog));
    probe.rows_of.push_back(std::move(ref));
  }
  return probe;
}

v1::DriftProbeReply DriftReplyToWire(std::uint64_t check_id, const RangeProbeReply& reply) {
  v1::DriftProbeReply w;
  w.set_check_id(check_id);
  for (const auto& children : reply.children) {
    auto* c = w.add_children();
    for (const RangeDigest& d : children) {
      auto* x = c->add_digests();
      x->set_rows(d.rows);
      x->set_sum(d.sum);
    }
  }
  for (const auto& rows : reply.rows) {
    auto* list = w.add_rows();
    for (const RowPrint& p : rows) {
      auto* x = list->add_rows();
      x->set_id(p.id);
      x->set_fingerprint(p.fingerprint);
    }
  }
  return w;
}

RangeProbeReply DriftReplyFromWire(const v1::DriftProbeReply& w) {
  RangeProbeReply reply;
  for (const auto& c : w.children()) {
    std::vector<RangeDigest> children;
    for (const auto& d : c.digests()) children.push_back({d.rows(), d.sum()});
    reply.children.push_back(std::move(children));
  }
  for (const auto& list : w.rows()) {
    std::vector<RowPrint> rows;
    for (const auto& p : list.rows()) rows.push_back({p.id(), p.fingerprint()});
    reply.rows.push_back(std::move(rows));
  }
  return reply;
}

Status CheckDriftRequest(const v1::DriftRequest& r, const catalog::Catalog& catalog) {
  if (r.check_id() == 0) return Status::InvalidArgument("drift request: check_id must be set");
  auto table_of = [&](const std::string& what, const std::string& table) -> Status {
    if (!catalog.Find(table))
      return Status::InvalidArgument("drift " + what + ": no table '" + table + "' in the catalog");
    return Status::Ok();
  };
  switch (r.body_case()) {
    case v1::DriftRequest::kProbe: {
      const auto& p = r.probe();
      if (p.children_of_size() + p.rows_of_size() > kDriftMaxRanges)
        return Status::InvalidArgument("drift probe: " +
                                       std::to_string(p.children_of_size() + p.rows_of_size()) +
                                       " ranges, more than " + std::to_string(kDriftMaxRanges));
      return DriftProbeFromWire(p, catalog).status();
    }
    case v1::DriftRequest::kFetch:
      MILLRACE_RETURN_IF_ERROR(table_of("fetch", r.fetch().table()));
      if (r.fetch().ids_size() > kDriftMaxRows)
        return Status::InvalidArgument("drift fetch: " + std::to_string(r.fetch().ids_size()) +
                                       " ids, more than " + std::to_string(kDriftMaxRows));
      return Status::Ok();
    case v1::DriftRequest::kRepair: {
      MILLRACE_RETURN_IF_ERROR(table_of("repair", r.repair().table()));
      if (r.repair().rows_size() > kDriftMaxRows)
        return Status::InvalidArgument("drift repair: " + std::to_string(r.repair().rows_size()) +
                                       " rows, more than " + std::to_string(kDriftMaxRows));
      for (const auto& c : r.repair().rows())
        if (c.table() != r.repair().table())
          return Status::InvalidArgument("drift repair of " + r.repair().table() +
                                         " carries a row of " + c.table());
      return Status::Ok();
    }
    case v1::DriftRequest::kOutcome: {
      const auto& o = r.outcome();
      if (o.round_trips() > 1'000'000)
        return Status::InvalidArgument("drift outcome: round_trips " +
                                       std::to_string(o.round_trips()) + " is out of range");
      if (o.local_rows() > (std::uint64_t{1} << 62) || o.ranges_compared() > (std::uint64_t{1} << 62) ||
          o.rows_listed() > (std::uint64_t{1} << 62))
        return Status::InvalidArgument("drift outcome: local_rows, ranges_compared or rows_listed "
                                       "is out of range");
      if (o.error().size() > 2000)
        return Status::InvalidArgument("drift outcome: error is longer than 2000 bytes");
      std::set<std::string> seen;
      for (const auto& t : o.tables()) {
        MILLRACE_RETURN_IF_ERROR(table_of("outcome", t.table()));
        if (!seen.insert(t.table()).second)
          return Status::InvalidArgument("drift outcome: table " + t.table() + " is named twice");
      }
      return Status::Ok();
    }
    case v1::DriftRequest::BODY_NOT_SET:
      break;
  }
  return Status::InvalidArgument("drift request: no probe, fetch, repair or outcome");
}

}  // namespace millrace::sync
