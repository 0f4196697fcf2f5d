#include "sync_world.h"

#include "millrace/sync/content.h"
#include "millrace/sync/wire.h"

namespace millrace::testing {

struct SyncWorld::Edge {
  explicit Edge(const Clock* wall) : clock(wall) {}
  std::string site;
  OffsetClock clock;
  std::unique_ptr<edge::EdgeStore> store;
  std::unique_ptr<edge::EdgeSyncAdapter> adapter;
  std::unique_ptr<sync::SyncClient> client;
  bool up = true;
  int drop_up = 0, drop_down = 0;
  std::deque<std::string> to_central;  // sent by the edge, not yet handled by central
  std::deque<std::string> to_edge;     // sent by central, not yet received by the edge
};

// The edge's end of the simulated network.
class SyncWorld::Link final : public sync::ClientTransport {
 public:
  explicit Link(Edge* e) : e_(e) {}
  Status Send(std::string frame) override {
    if (!e_->up) return Status::Unavailable("the link is cut");
    if (e_->drop_up > 0) {
      --e_->drop_up;
      return Status::Ok();  // lost on the way
    }
    e_->to_central.push_back(std::move(frame));
    return Status::Ok();
  }
  Result<std::optional<std::string>> Receive(std::chrono::milliseconds) override {
    if (!e_->up || e_->to_edge.empty()) return std::optional<std::string>();
    std::string f = std::move(e_->to_edge.front());
    e_->to_edge.pop_front();
    return std::optional<std::string>(std::move(f));
  }
  void Wake() override {}
  Status Reconnect() override {
    e_->to_edge.clear();  // replies meant for the old connection never arrive
    return Status::Ok();
  }
  bool LinkUp() const override { return e_->up; }
  std::string endpoint() const override { return "sim://central"; }

 private:
  Edge* e_;
};

SyncWorld::SyncWorld(std::filesystem::path dir)
    : dir_(std::move(dir)), wall_(kStartMs), central_(&metrics_, &wall_) {
  std::filesystem::create_directories(dir_);
  auto session = central_.NewSession();
  protocol_ = std::make_unique<sync::CentralProtocol>(&central_, std::move(*session));
}

SyncWorld::~SyncWorld() {
  for (auto& [site, e] : edges_) CloseEdge(*e);
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

Status SyncWorld::AddSite(const std::string& site) {
  if (edges_.count(site)) return Status::AlreadyExists("site " + site + " exists");
  central_.AddSite(tenant_, site);
  auto e = std::make_unique<Edge>(&wall_);
  e->site = site;
  MILLRACE_RETURN_IF_ERROR(OpenEdge(*e));
  edges_.emplace(site, std::move(e));
  return Status::Ok();
}

Status SyncWorld::OpenEdge(Edge& e) {
  edge::EdgeStoreOptions o;
  o.path = (dir_ / (e.site + ".db")).string();
  o.site_id = e.site;
  o.clock = &e.clock;
  MILLRACE_ASSIGN_OR_RETURN(e.store, edge::EdgeStore::Open(o));
  e.adapter = std::make_unique<edge::EdgeSyncAdapter>(e.store.get());
  sync::SyncClientOptions c = edge::SyncClientOptionsFor(*e.store);
  c.batch_rows = 4;  // small, so a few rows make several batches and a window
  c.window = 2;
  c.hello_timeout = std::chrono::milliseconds(1000);
  c.ack_timeout = std::chrono::milliseconds(3000);
  c.idle_ping = std::chrono::milliseconds(5000);
  c.backoff = {std::chrono::milliseconds(100), std::chrono::milliseconds(2000)};
  c.seed = 1;
  e.client = std::make_unique<sync::SyncClient>(c, e.adapter.get(), std::make_unique<Link>(&e),
                                                &wall_);
  return Status::Ok();
}

void SyncWorld::CloseEdge(Edge& e) {
  e.client.reset();
  e.adapter.reset();
  e.store.reset();
  e.to_central.clear();
  e.to_edge.clear();
}

edge::EdgeStore& SyncWorld::store(const std::string& site) { return *edges_.at(site)->store; }

sync::SyncClientStats SyncWorld::Stats(const std::string& site) const {
  return edges_.at(site)->client->Stats();
}

void SyncWorld::SetLink(const std::string& site, bool up) {
  Edge& e = *edges_.at(site);
  e.up = up;
  if (!up) {
    e.to_central.clear();
    e.to_edge.clear();
  }
}

void SyncWorld::Drop(const std::string& site, bool up, int n) {
  (up ? edges_.at(site)->drop_up : edges_.at(site)->drop_down) += n;
}

void SyncWorld::SetDrift(const std::string& site, std::int64_t ms) {
  edges_.at(site)->clock.offset_ms = ms;
}

Status SyncWorld::RestartEdge(const std::string& site) {
  Edge& e = *edges_.at(site);
  CloseEdge(e);
  return OpenEdge(e);
}

Status SyncWorld::RestartCentral() {
  for (auto& [site, e] : edges_) {  // every connection drops with the process
    e->to_central.clear();
    e->to_edge.clear();
  }
  auto session = central_.NewSession();
  MILLRACE_RETURN_IF_ERROR(session.status());
  protocol_ = std::make_unique<sync::CentralProtocol>(&central_, std::move(*session));
  return Status::Ok();
}

Status SyncWorld::Run(std::int64_t ms) {
  for (std::int64_t t = 0; t < ms; t += kTickMs) Tick();
  return Status::Ok();
}

void SyncWorld::Tick() {
  wall_.Advance(kTickMs);
  for (auto& [site, e] : edges_) {
    // A step handles at most one reply: step until the edge has heard everything.
    do {
      (void)e->client->Step(std::chrono::milliseconds(0));
    } while (e->up && !e->to_edge.empty());
  }
  for (auto& [site, e] : edges_) {
    while (!e->to_central.empty()) {
      std::string frame = std::move(e->to_central.front());
      e->to_central.pop_front();
      auto request = sync::DecodeFrame(frame);
      const sync::v1::Envelope reply =
          request.ok() ? protocol_->Handle({tenant_, site, ""}, *request)
                       : sync::ErrorEnvelope(request.status());
      if (!e->up) continue;
      if (e->drop_down > 0) {
        --e->drop_down;
        continue;
      }
      e->to_edge.push_back(sync::EncodeFrame(reply));
    }
  }
  DeliverNudges();
}

void SyncWorld::DeliverNudges() {
  const auto nudges = central_.nudges();
  for (; nudges_seen_ < nudges.size(); ++nudges_seen_) {
    sync::v1::Envelope n;
    n.mutable_nudge()->set_feed_head(nudges[nudges_seen_].second);
    const std::string frame = sync::EncodeFrame(n);
    for (auto& [site, e] : edges_)
      if (e->up) e->to_edge.push_back(frame);
  }
}

std::map<std::string, std::string> SyncWorld::CentralContent(const std::string& site) const {
  std::map<std::string, std::string> out;
  for (const auto& t : catalog::MesCatalog().tables()) {
    std::vector<Row> rows;
    for (auto& [id, row] : central_.Rows(tenant_, t.name)) {
      const std::string owner = row.Text(catalog::kSiteColumn);
      if (t.scope == catalog::RoutingScope::kTenant || owner.empty() || owner == site)
        rows.push_back(row);
    }
    if (!rows.empty()) out[t.name] = sync::ContentDigest(rows);
  }
  return out;
}

Result<std::map<std::string, std::string>> SyncWorld::EdgeContent(const std::string& site) {
  MILLRACE_ASSIGN_OR_RETURN(auto all, edge::StoreContent(*edges_.at(site)->store));
  std::map<std::string, std::string> out;
  const std::string empty = sync::ContentDigest({});
  for (auto& [table, digest] : all)
    if (digest != empty) out[table] = digest;
  return out;
}

}  // namespace millrace::testing
