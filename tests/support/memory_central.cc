#include "memory_central.h"

#include "millrace/sync/row_codec.h"

namespace millrace::testing {

using catalog::MergePolicy;

class MemoryCentral::Session final : public sync::CentralSession {
 public:
  explicit Session(MemoryCentral* c) : c_(c) {}

  Result<sync::SiteCursor> LockSite(const sync::Peer& peer) override {
    lock_ = std::unique_lock(c_->mu_);
    MILLRACE_ASSIGN_OR_RETURN(SiteState * s, Find(peer));
    return sync::SiteCursor{s->applied, s->epoch, s->rotate_key};
  }

  Status Release() override {
    if (lock_.owns_lock()) lock_.unlock();
    return Status::Ok();
  }

  Result<sync::ApplyOutcome> CommitBatch(const sync::Peer& peer, sync::SortedBatch& b,
                                         std::uint64_t last_seq, const std::string& epoch,
                                         bool row_by_row) override {
    if (!lock_.owns_lock()) return Status::Internal("CommitBatch without LockSite");
    if (c_->failing_commits_ > 0) {
      --c_->failing_commits_;
      lock_.unlock();
      return Status::Unavailable("the database is out of reach");
    }
    Tenant& t = c_->tenants_[peer.tenant_id];
    // Written into a copy first: a batch applies whole or not at all.
    Tenant next = t;
    std::vector<sync::ParkedChange> parked;
    struct Published {
      Row row;
      bool clamped = false;  // central clamped its clock
      bool deleted = false;  // a delete
    };
    std::vector<Published> feed;
    sync::ApplyOutcome out;
    auto refused = [&](const Row& row) { return c_->refused_ids_.count(row.id()) > 0; };
    auto park = [&](const Row& row, std::uint64_t seq, const std::string& why) {
      sync::v1::Change ch = sync::EncodeChange(row, sync::v1::OP_UPSERT);
      ch.set_seq(seq);
      parked.push_back(
          {seq, row.table().name, row.id(), "unappliable: " + why, ch.SerializeAsString()});
    };
    for (auto& [table, changes] : b.shared) {
      auto& stored = next.tables[table->name];
      for (const sync::SharedChange& sc : changes) {
        if (refused(sc.row)) {
          if (!row_by_row) return Fail("row " + sc.row.id() + " refused");
          park(sc.row, sc.seq, "refused");
          continue;
        }
        std::optional<sync::VersionedRow> current;
        if (auto it = stored.find(sc.row.id()); it != stored.end()) current = it->second;
        auto& tombs = next.tombstones[table->name];
        auto tomb = tombs.find(sc.row.id());
        auto stamped = [&](sync::ColumnClock k) {
          Row r = sc.row;
          r.Set(catalog::kHlcColumn, static_cast<std::int64_t>(k.hlc));
          r.Set(catalog::kOriginColumn, k.origin);
          return r;
        };
        if (sc.deleted) {
          if (current) {
            sync::DeleteResult d = sync::MergeDelete(*current, sc.clock, sc.base_hlc);
            out.conflicts += d.conflict ? 1 : 0;
            if (!d.deleted) {  // a newer edit keeps the row: the site gets it back
              if (d.kept) stored.insert_or_assign(sc.row.id(), *d.kept);
              feed.push_back({d.kept ? d.kept->row : current->row, sc.publish, false});
              continue;
            }
            stored.erase(sc.row.id());
          }
          if (tomb == tombs.end() || sc.clock.Beats(tomb->second))
            tombs.insert_or_assign(sc.row.id(), sc.clock);
          continue;
        }
        if (!current && tomb != tombs.end()) {
          sync::TombstoneResult met =
              sync::WriteMeetsTombstone(sc.clock, sc.base_hlc, tomb->second);
          out.conflicts += met.conflict ? 1 : 0;
          if (!met.revives) {  // the site hears of the delete again
            feed.push_back({stamped(tomb->second), sc.publish, true});
            continue;
          }
          tombs.erase(tomb);
        }
        sync::Incoming in{&sc.row, sc.clock, sc.base_hlc, sc.changed_columns};
        sync::MergeResult m = sync::MergeShared(current, in);
        out.conflicts += m.conflicts.size();
        if (sc.publish || !(m.merged.row == sc.row)) feed.push_back({m.merged.row, sc.publish, false});
        stored.insert_or_assign(sc.row.id(), std::move(m.merged));
      }
    }
    for (auto& [table, by_id] : b.site_owned) {
      auto& stored = next.tables[table->name];
      for (auto& [id, r] : by_id) {
        if (refused(r.row)) {
          if (!row_by_row) return Fail("row " + id + " refused");
          park(r.row, r.seq, "refused");
          continue;
        }
        auto it = stored.find(id);
        if (it == stored.end() || sync::IncomingRowWins(it->second.row, r.row))
          stored.insert_or_assign(
              id, sync::Versioned(
                      r.row, {static_cast<std::uint64_t>(r.row.Int("hlc")), r.row.Text("origin")}));
      }
    }
    for (auto& [table, rows] : b.facts) {
      auto& stored = next.tables[table->name];
      const auto& seqs = b.fact_seqs.at(table);
      for (std::size_t i = 0; i < rows.size(); ++i) {
        const Row& row = rows[i];
        const bool present = stored.count(row.id()) > 0;
        if (refused(row) || present) {
          if (!row_by_row)
            return Fail(present ? "fact " + row.id() + " is already present"
                                : "row " + row.id() + " refused");
          if (!present) park(row, seqs[i], "refused");
          continue;  // a fact present already is a replay: inserted once
        }
        stored.emplace(row.id(), sync::Versioned(row, {0, ""}));
      }
    }
    for (auto& p : parked) b.rejects.push_back(std::move(p));
    SiteState& s = next.sites[peer.site_id];
    for (const auto& r : b.rejects) s.rejects.push_back(r);
    for (const Published& p : feed)
      out.feed_head =
          c_->AppendFeed(next, p.row, peer.site_id, last_seq, epoch, p.clamped, p.deleted);
    s.applied = last_seq;
    s.epoch = epoch;
    ++s.batches;
    t = std::move(next);
    lock_.unlock();
    return out;
  }

  Result<sync::FeedPage> ReadFeed(const sync::Peer& peer, std::uint64_t cursor,
                                  std::uint32_t limit) override {
    std::lock_guard lock(c_->mu_);
    MILLRACE_RETURN_IF_ERROR(Find(peer).status());
    const Tenant& t = c_->tenants_[peer.tenant_id];
    sync::FeedPage page;
    page.head = t.feed.empty() ? 0 : t.feed.back().pos;
    for (const FeedEntry& e : t.feed) {
      if (e.pos <= cursor || (!e.route_site.empty() && e.route_site != peer.site_id)) continue;
      if (page.changes.size() == limit) break;
      page.changes.push_back(e.change);
    }
    return page;
  }

  Result<sync::v1::HelloReply> Hello(const sync::Peer& peer, const sync::v1::Hello& h) override {
    std::lock_guard lock(c_->mu_);
    MILLRACE_ASSIGN_OR_RETURN(SiteState * s, Find(peer));
    sync::v1::HelloReply reply;
    if (s->epoch == h.store_epoch() && h.outbox_head_seq() < s->applied)
      return c_->metrics_.RefuseStore(peer, "store_behind_central",
                                      "the store has captured less than central applied");
    if (s->epoch != h.store_epoch()) {
      if (!s->epoch.empty() || h.outbox_head_seq() < s->applied) {
        s->applied = h.epoch_base_seq();
        reply.set_epoch_started(true);
        c_->metrics_.epochs_started.With({peer.tenant_id, peer.site_id}).Increment();
      }
      s->epoch = h.store_epoch();
    }
    const Tenant& t = c_->tenants_[peer.tenant_id];
    reply.set_applied_seq(s->applied);
    reply.set_feed_head(t.feed.empty() ? 0 : t.feed.back().pos);
    reply.set_rotate_key(s->rotate_key);
    return reply;
  }

  Result<sync::v1::KeyRotated> RotateKey(const sync::Peer& peer,
                                         const sync::v1::KeyRotation& k) override {
    std::lock_guard lock(c_->mu_);
    MILLRACE_ASSIGN_OR_RETURN(SiteState * s, Find(peer));
    s->key = k.new_public_key();
    s->rotate_key = false;
    sync::v1::KeyRotated r;
    r.set_new_public_key(k.new_public_key());
    return r;
  }

  void Reset(const Status&) override {
    if (lock_.owns_lock()) lock_.unlock();
    std::lock_guard lock(c_->mu_);
    ++c_->resets_;
  }

 private:
  // REQUIRES: c_->mu_ held.
  Result<SiteState*> Find(const sync::Peer& peer) {
    auto t = c_->tenants_.find(peer.tenant_id);
    if (t != c_->tenants_.end()) {
      auto s = t->second.sites.find(peer.site_id);
      if (s != t->second.sites.end() && s->second.active) return &s->second;
    }
    return Status::PermissionDenied("site " + peer.tenant_id + "/" + peer.site_id +
                                    " is revoked or unknown");
  }

  Status Fail(const std::string& why) {
    lock_.unlock();
    return Status::AlreadyExists(why);
  }

  MemoryCentral* c_;
  std::unique_lock<std::mutex> lock_;
};

MemoryCentral::MemoryCentral(MetricsRegistry* metrics, const Clock* clock,
                             std::int64_t max_forward_skew_ms)
    : clock_(clock),
      hlc_(clock, max_forward_skew_ms),
      max_forward_skew_ms_(max_forward_skew_ms),
      metrics_(metrics, clock) {}

void MemoryCentral::AddSite(const std::string& tenant, const std::string& site,
                            const std::string& key) {
  std::lock_guard lock(mu_);
  SiteState& s = tenants_[tenant].sites[site];
  s.active = true;
  s.key = key;
}

void MemoryCentral::Revoke(const std::string& tenant, const std::string& site) {
  std::lock_guard lock(mu_);
  tenants_[tenant].sites[site].active = false;
}

void MemoryCentral::RefuseRow(const std::string& id) {
  std::lock_guard lock(mu_);
  refused_ids_.insert(id);
}

void MemoryCentral::FailCommits(int n) {
  std::lock_guard lock(mu_);
  failing_commits_ = n;
}

void MemoryCentral::Publish(const std::string& tenant, const Row& row) {
  std::uint64_t head;
  {
    std::lock_guard lock(mu_);
    Tenant& t = tenants_[tenant];
    t.tables[row.table().name].insert_or_assign(
        row.id(),
        sync::Versioned(row, {static_cast<std::uint64_t>(row.Int("hlc")), row.Text("origin")}));
    head = AppendFeed(t, row);
  }
  FeedGrew(tenant, head);
}

Status MemoryCentral::Edit(const std::string& tenant, const std::string& table,
                           const std::string& id, const std::map<std::string, Value>& columns) {
  std::uint64_t head;
  {
    std::lock_guard lock(mu_);
    auto& rows = tenants_[tenant].tables[table];
    auto it = rows.find(id);
    if (it == rows.end()) return Status::NotFound("central holds no " + table + " " + id);
    const HlcTimestamp now = hlc_.Now();
    Row row = it->second.row;
    sync::Incoming in{&row, {now.packed(), "central"}, 0, {}};
    const auto& specs = row.table().columns;
    for (const auto& [column, value] : columns) {
      row.Set(column, value);
      for (std::size_t i = 0; i < specs.size(); ++i)
        if (specs[i].name == column) in.changed_columns.push_back(static_cast<std::uint32_t>(i));
    }
    row.Set(catalog::kHlcColumn, static_cast<std::int64_t>(now.packed()));
    row.Set(catalog::kOriginColumn, std::string("central"));
    MILLRACE_RETURN_IF_ERROR(row.Validate());
    sync::MergeResult m = sync::MergeShared(it->second, in);
    it->second = m.merged;
    head = AppendFeed(tenants_[tenant], m.merged.row);
  }
  FeedGrew(tenant, head);
  return Status::Ok();
}

Status MemoryCentral::Delete(const std::string& tenant, const std::string& table,
                             const std::string& id) {
  std::uint64_t head;
  {
    std::lock_guard lock(mu_);
    Tenant& t = tenants_[tenant];
    auto& rows = t.tables[table];
    auto it = rows.find(id);
    if (it == rows.end()) return Status::NotFound("central holds no " + table + " " + id);
    Row row = it->second.row;
    hlc_.Observe(HlcTimestamp::FromPacked(static_cast<std::uint64_t>(row.Int("hlc"))));
    const HlcTimestamp now = hlc_.Now();
    row.Set(catalog::kHlcColumn, static_cast<std::int64_t>(now.packed()));
    row.Set(catalog::kOriginColumn, std::string("central"));
    rows.erase(it);
    t.tombstones[table].insert_or_assign(id, sync::ColumnClock{now.packed(), "central"});
    head = AppendFeed(t, row, "", 0, "", false, /*deleted=*/true);
  }
  FeedGrew(tenant, head);
  return Status::Ok();
}

std::uint64_t MemoryCentral::AppendFeed(Tenant& t, const Row& row, const std::string& reflects_site,
                                        std::uint64_t reflects_seq,
                                        const std::string& reflects_epoch, bool clamped,
                                        bool deleted) {
  const std::uint64_t pos = t.feed.empty() ? 1 : t.feed.back().pos + 1;
  sync::v1::Change c =
      sync::EncodeChange(row, deleted ? sync::v1::OP_DELETE : sync::v1::OP_UPSERT);
  c.set_seq(pos);
  if (!reflects_site.empty()) {
    c.set_reflects_site(reflects_site);
    c.set_reflects_seq(reflects_seq);
    c.set_reflects_epoch(reflects_epoch);
  }
  c.set_clamped(clamped);
  const std::string route = row.table().scope == catalog::RoutingScope::kSite
                                ? row.Text(catalog::kSiteColumn)
                                : std::string();
  t.feed.push_back({pos, route, std::move(c)});
  return pos;
}

MemoryCentral::SiteState MemoryCentral::Site(const std::string& tenant,
                                             const std::string& site) const {
  std::lock_guard lock(mu_);
  auto t = tenants_.find(tenant);
  if (t == tenants_.end()) return {};
  auto s = t->second.sites.find(site);
  return s == t->second.sites.end() ? SiteState{} : s->second;
}

std::map<std::string, Row> MemoryCentral::Rows(const std::string& tenant,
                                               const std::string& table) const {
  std::lock_guard lock(mu_);
  std::map<std::string, Row> out;
  auto t = tenants_.find(tenant);
  if (t == tenants_.end()) return out;
  auto rows = t->second.tables.find(table);
  if (rows == t->second.tables.end()) return out;
  for (const auto& [id, v] : rows->second) out.emplace(id, v.row);
  return out;
}

std::uint64_t MemoryCentral::FeedHead(const std::string& tenant) const {
  std::lock_guard lock(mu_);
  auto t = tenants_.find(tenant);
  return t == tenants_.end() || t->second.feed.empty() ? 0 : t->second.feed.back().pos;
}

int MemoryCentral::resets() const {
  std::lock_guard lock(mu_);
  return resets_;
}

std::vector<std::pair<std::string, std::uint64_t>> MemoryCentral::nudges() const {
  std::lock_guard lock(mu_);
  return nudges_;
}

Result<std::unique_ptr<sync::CentralSession>> MemoryCentral::NewSession() {
  return std::unique_ptr<sync::CentralSession>(new Session(this));
}

Result<std::optional<sync::Peer>> MemoryCentral::FindActiveKey(const std::string& key) {
  std::lock_guard lock(mu_);
  for (const auto& [tenant, t] : tenants_)
    for (const auto& [site, s] : t.sites)
      if (s.active && !key.empty() && s.key == key)
        return std::optional<sync::Peer>(sync::Peer{tenant, site, key});
  return std::optional<sync::Peer>();
}

Result<std::optional<sync::Peer>> MemoryCentral::FindActiveSite(const std::string& site_id) {
  std::lock_guard lock(mu_);
  for (const auto& [tenant, t] : tenants_) {
    auto s = t.sites.find(site_id);
    if (s != t.sites.end() && s->second.active)
      return std::optional<sync::Peer>(sync::Peer{tenant, site_id, ""});
  }
  return std::optional<sync::Peer>();
}

const catalog::Catalog& MemoryCentral::Catalog() const {
  return catalog::MesCatalog();
}

void MemoryCentral::FeedGrew(const std::string& tenant_id, std::uint64_t head) {
  std::lock_guard lock(mu_);
  nudges_.emplace_back(tenant_id, head);
}

}  // namespace millrace::testing
