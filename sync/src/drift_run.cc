#include "drift_run.h"

#include <algorithm>
#include <utility>

#include "millrace/common/schema_versions.h"
#include "millrace/sync/drift_wire.h"

namespace millrace::sync {
namespace {

std::vector<std::string> Joined(const std::vector<std::string>& a,
                                const std::vector<std::string>& b) {
  std::vector<std::string> out = a;
  out.insert(out.end(), b.begin(), b.end());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

DriftRun::DriftRun(std::uint64_t check_id, RangeIndexes local, const catalog::Catalog& catalog,
                   const DriftOptions& options, std::uint64_t horizon_ms)
    : horizon_ms_(horizon_ms), check_id_(check_id), local_(std::move(local)), catalog_(&catalog) {
  empty_.Seal();
  std::vector<std::string> tables;
  std::uint64_t rows = 0;
  for (const auto& t : catalog.tables()) {
    tables.push_back(t.name);
    if (auto it = local_.find(t.name); it != local_.end()) rows += it->second.size();
  }
  outcome_.set_local_rows(rows);
  walk_.emplace(local_, tables, options);
}

DriftRun::DriftRun(std::uint64_t check_id, const Status& failed) : check_id_(check_id) {
  empty_.Seal();
  Fail(failed);
}

const RangeIndex& DriftRun::Index(const std::string& table) const {
  auto it = local_.find(table);
  return it == local_.end() ? empty_ : it->second;
}

v1::DriftTableOutcome& DriftRun::TableOutcome(const std::string& table) {
  for (auto& t : *outcome_.mutable_tables())
    if (t.table() == table) return t;
  auto* t = outcome_.add_tables();
  t->set_table(table);
  return *t;
}

void DriftRun::Fail(const Status& why) {
  if (outcome_.error().empty()) {
    std::string text = why.ToString();
    if (text.size() > kMaxErrorBytes) {
      std::size_t cut = kMaxErrorBytes;
      while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
      text.resize(cut);  // whole UTF-8 characters only
    }
    outcome_.set_error(text);
  }
  work_.clear();
  in_flight_ = false;
  phase_ = Phase::kOutcome;
}

void DriftRun::Plan() {
  const DriftReport& report = walk_->report();
  outcome_.set_round_trips(static_cast<std::uint32_t>(report.round_trips));
  outcome_.set_ranges_compared(report.ranges_compared);
  outcome_.set_rows_listed(report.rows_listed);
  for (const auto& entry : report.tables) {
    const std::string table = entry.first;
    const TableDrift& drift = entry.second;
    const catalog::TableSpec* spec = catalog_->Find(table);
    if (!spec) continue;  // the walk only names the catalog's tables
    v1::DriftTableOutcome& o = TableOutcome(table);
    o.set_differ(static_cast<std::uint32_t>(drift.differ.size()));
    o.set_only_edge(static_cast<std::uint32_t>(drift.only_local.size()));
    o.set_only_central(static_cast<std::uint32_t>(drift.only_remote.size()));
    std::vector<std::string> fetch, send;
    switch (spec->owner) {
      case catalog::Owner::kSite:
        send = Joined(drift.differ, drift.only_local);
        fetch = drift.only_remote;
        break;
      case catalog::Owner::kCentral:
        // What only the edge holds is fetched too: deleted at the edge only if central
        // still says it holds no such row (DriftFetched.missing).
        fetch = Joined(Joined(drift.differ, drift.only_remote), drift.only_local);
        break;
      case catalog::Owner::kShared:
        fetch = Joined(drift.differ, drift.only_remote);
        send = drift.only_local;
        break;
    }
    Queue(table, Work::kFetch, fetch);
    Queue(table, Work::kSend, send);
  }
  phase_ = Phase::kRepair;
}

void DriftRun::Queue(const std::string& table, Work work, const std::vector<std::string>& ids,
                     bool front) {
  std::vector<Item> items;
  for (std::size_t i = 0; i < ids.size(); i += kRowsPerRequest) {
    const std::size_t end = std::min(ids.size(), i + kRowsPerRequest);
    items.push_back({table,
                     work,
                     {ids.begin() + static_cast<std::ptrdiff_t>(i),
                      ids.begin() + static_cast<std::ptrdiff_t>(end)}});
  }
  if (front)
    work_.insert(work_.begin(), items.begin(), items.end());
  else
    work_.insert(work_.end(), items.begin(), items.end());
}

v1::DriftRequest DriftRun::Request() const {
  v1::DriftRequest r;
  r.set_check_id(check_id_);
  r.set_schema_version(static_cast<std::uint32_t>(kEdgeSchemaVersion));  // the store's
  return r;
}

std::optional<v1::DriftRequest> DriftRun::Next(EdgeSide& edge) {
  if (in_flight_) return std::nullopt;
  if (resend_) {
    resend_ = false;
    in_flight_ = true;
    return sent_;
  }
  while (true) {
    switch (phase_) {
      case Phase::kWalk: {
        if (const RangeProbe* probe = walk_->Probe()) {
          v1::DriftRequest r = Request();
          *r.mutable_probe() = DriftProbeToWire(check_id_, *probe);
          r.mutable_probe()->set_horizon_ms(horizon_ms_);
          sent_ = std::move(r);
          in_flight_ = true;
          return sent_;
        }
        Plan();
        continue;
      }
      case Phase::kRepair: {
        if (work_.empty()) {
          phase_ = Phase::kOutcome;
          continue;
        }
        Item item = std::move(work_.front());
        work_.pop_front();
        v1::DriftTableOutcome& o = TableOutcome(item.table);
        const RangeIndex& index = Index(item.table);
        v1::DriftRequest r = Request();
        if (item.work == Work::kFetch) {
          auto* f = r.mutable_fetch();
          f->set_table(item.table);
          for (auto& id : item.ids) f->add_ids(std::move(id));
        } else {
          auto copies = edge.EdgeCopies(item.table, item.ids, index);
          if (!copies.ok()) {
            Fail(copies.status().WithContext("reading the " + item.table + " rows to send"));
            continue;
          }
          std::size_t bytes = 0;
          for (const auto& c : *copies) bytes += c.ByteSizeLong();
          if (bytes > kMaxRequestBytes && item.ids.size() > 1) {
            // Too large for one message: each half goes on its own, read again then.
            const auto half = item.ids.begin() + static_cast<std::ptrdiff_t>(item.ids.size() / 2);
            work_.push_front({item.table, Work::kSend, {half, item.ids.end()}});
            work_.push_front({item.table, Work::kSend, {item.ids.begin(), half}});
            continue;
          }
          o.set_left_to_sync(o.left_to_sync() +
                             static_cast<std::uint32_t>(item.ids.size() - copies->size()));
          if (copies->empty()) continue;
          auto* rep = r.mutable_repair();
          rep->set_table(item.table);
          for (auto& c : *copies) *rep->add_rows() = std::move(c);
        }
        sent_ = std::move(r);
        in_flight_ = true;
        return sent_;
      }
      case Phase::kOutcome: {
        v1::DriftRequest r = Request();
        *r.mutable_outcome() = outcome_;
        sent_ = std::move(r);
        in_flight_ = true;
        return sent_;
      }
      case Phase::kDone:
        return std::nullopt;
    }
  }
}

void DriftRun::Take(const v1::DriftReply& reply, EdgeSide& edge) {
  if (!in_flight_ || !sent_ || reply.check_id() != check_id_) return;  // stale
  const v1::DriftRequest& asked = *sent_;
  in_flight_ = false;
  if (!reply.error().empty()) {
    if (asked.has_outcome()) {
      phase_ = Phase::kDone;  // central could not record it; the check is over here
      return;
    }
    return Fail(Status::FailedPrecondition("central: " + reply.error()));
  }
  switch (asked.body_case()) {
    case v1::DriftRequest::kProbe: {
      if (!reply.has_probe())
        return Fail(Status::InvalidArgument("central answered a probe with something else"));
      if (Status s = walk_->Take(DriftReplyFromWire(reply.probe())); !s.ok()) return Fail(s);
      return;
    }
    case v1::DriftRequest::kFetch: {
      if (!reply.has_fetched() || reply.fetched().table() != asked.fetch().table())
        return Fail(Status::InvalidArgument("central answered a fetch with something else"));
      const std::string table = asked.fetch().table();
      const v1::DriftFetched& f = reply.fetched();
      const std::vector<v1::Change> rows(f.rows().begin(), f.rows().end());
      // Master data central does not hold is deleted at the edge; any other row central
      // lacks now is left to sync.
      const catalog::TableSpec* spec = catalog_->Find(table);
      std::vector<std::string> remove;
      if (spec && spec->owner == catalog::Owner::kCentral)
        remove.assign(f.missing().begin(), f.missing().end());
      auto n = edge.WriteCentralCopies(table, rows, remove, Index(table));
      if (!n.ok()) return Fail(n.status().WithContext("writing central's " + table + " rows"));
      const std::vector<std::string> later(f.later().begin(), f.later().end());
      Queue(table, Work::kFetch, later, /*front=*/true);
      v1::DriftTableOutcome& o = TableOutcome(table);
      o.set_repaired_at_edge(o.repaired_at_edge() + static_cast<std::uint32_t>(*n));
      const std::size_t answered =
          static_cast<std::size_t>(asked.fetch().ids_size()) -
          std::min(later.size(), static_cast<std::size_t>(asked.fetch().ids_size()));
      o.set_left_to_sync(o.left_to_sync() + static_cast<std::uint32_t>(
                                                answered - std::min<std::size_t>(answered, *n)));
      return;
    }
    case v1::DriftRequest::kRepair: {
      if (!reply.has_repaired() || reply.repaired().table() != asked.repair().table())
        return Fail(Status::InvalidArgument("central answered a repair with something else"));
      v1::DriftTableOutcome& o = TableOutcome(asked.repair().table());
      o.set_repaired_at_central(o.repaired_at_central() + reply.repaired().written());
      o.set_left_to_sync(o.left_to_sync() + reply.repaired().skipped());
      return;
    }
    case v1::DriftRequest::kOutcome:
      phase_ = Phase::kDone;  // recorded, or refused: either way the check is over here
      return;
    case v1::DriftRequest::BODY_NOT_SET:
      return;
  }
}

}  // namespace millrace::sync
