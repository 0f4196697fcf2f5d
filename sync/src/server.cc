#include "millrace/sync/server.h"

#include <google/protobuf/arena.h>
#include <pthread.h>
#include <spdlog/spdlog.h>

#include <condition_variable>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <unordered_map>

#include "millrace/common/task_queue.h"
#include "millrace/sync/wire.h"

namespace millrace::sync {
namespace {

// A request as an applier gets it: the frame decoded on an arena of its own and checked,
// and a push batch's changes decoded against the catalog; or why it was refused.
struct Prepared {
  std::unique_ptr<google::protobuf::Arena> arena;
  v1::Envelope* envelope = nullptr;
  std::string refused;  // the reason (a metric label); empty: accepted
  Status why;
  DecodedBatch batch;
};

struct Job {
  std::string connection;
  Peer peer;
  std::string frame;                                // as received, until decoded
  std::future<std::unique_ptr<Prepared>> prepared;  // valid: decoded (or being) elsewhere
};

struct Outgoing {
  std::string connection;
  std::string frame;
};

// What an edge may send: everything else is central's to send.
bool EdgeMaySend(const v1::Envelope& e) {
  switch (e.body_case()) {
    case v1::Envelope::kHello:
    case v1::Envelope::kPushBatch:
    case v1::Envelope::kPullRequest:
    case v1::Envelope::kKeyRotation:
    case v1::Envelope::kBackupOffer:
    case v1::Envelope::kBackupChunk:
    case v1::Envelope::kDriftRequest:
      return true;
    default:
      return false;
  }
}

}  // namespace

// Frames flow: the socket thread takes a frame and its peer (from the transport's
// handshake) and queues it on its site; when the site is busy a decode thread parses and
// checks it meanwhile (otherwise its applier does, without a hop); an applier takes the next site
// that has a request and no other applier, and answers its oldest request. A site's requests are so
// answered one at a time and in order (the cursor row lock orders them across central nodes too),
// different sites in parallel on the appliers' connections, sites taking turns; and a batch is
// decoded while the one before it is written.
class SyncServer::Impl {
 public:
  Impl(SyncServerOptions options, CentralSide* central, std::unique_ptr<ServerTransport> transport,
       MetricsRegistry* metrics)
      : options_(std::move(options)),
        central_(central),
        transport_(std::move(transport)),
        frames_(metrics->AddCounter("mes_sync_frames_total",
                                    "Sync frames received by central, by message type", {"type"})),
        frame_errors_(metrics->AddCounter(
            "mes_sync_frame_errors_total",
            "Sync frames refused before reaching a handler, by reason", {"reason"})) {}

  ~Impl() { Stop(); }

  Status Start() {
    if (options_.insecure_development)
      spdlog::warn(
          "sync: development mode, edges connect WITHOUT encryption or authentication; "
          "never use it outside a development machine");
    const int n = std::max(1, options_.workers);
    for (int i = 0; i < n; ++i) {
      MILLRACE_ASSIGN_OR_RETURN(auto session, central_->NewSession());
      handlers_.push_back(std::make_unique<CentralProtocol>(central_, std::move(session)));
    }
    decoders_ = std::make_unique<TaskQueue>(n, "sync-decode");
    for (int i = 0; i < n; ++i)
      appliers_.emplace_back([this, i] {
        pthread_setname_np(pthread_self(), "sync-apply");  // for top -H and perf
        ApplierLoop(*handlers_[static_cast<std::size_t>(i)]);
      });
    socket_thread_ = std::thread([this] {
      pthread_setname_np(pthread_self(), "sync-socket");
      SocketLoop();
    });
    return Status::Ok();
  }

  void Stop() {
    if (stop_.exchange(true)) return;
    transport_->Wake();
    { std::lock_guard lock(sched_mu_); }
    sched_cv_.notify_all();
    if (socket_thread_.joinable()) socket_thread_.join();
    for (auto& t : appliers_)
      if (t.joinable()) t.join();
    decoders_.reset();  // finishes what it was decoding; nobody waits for it any more
    transport_.reset();
  }

  std::string endpoint() const { return transport_->endpoint(); }

  void NotifyFeed(const std::string& tenant_id, std::uint64_t head) {
    {
      std::lock_guard lock(out_mu_);
      nudges_.emplace_back(tenant_id, head);
    }
    transport_->Wake();
  }

 private:
  // Parses and checks a frame, and decodes a push batch's changes (decode threads).
  std::unique_ptr<Prepared> Prepare(const std::string& frame) const {
    auto p = std::make_unique<Prepared>();
    p->arena = std::make_unique<google::protobuf::Arena>();
    auto envelope = DecodeFrameOnArena(frame, options_.max_frame_bytes, p->arena.get());
    if (!envelope.ok()) {
      const StatusCode code = envelope.status().code();
      p->refused = code == StatusCode::kResourceExhausted    ? "oversized"
                   : code == StatusCode::kFailedPrecondition ? "protocol_version"
                                                             : "malformed";
      p->why = envelope.status();
      return p;
    }
    p->envelope = *envelope;
    frames_.With({std::string(BodyName(*p->envelope))}).Increment();
    if (!EdgeMaySend(*p->envelope)) {
      p->refused = "out_of_protocol";
      p->why =
          Status::InvalidArgument("an edge may not send " + std::string(BodyName(*p->envelope)));
      return p;
    }
    if (p->envelope->has_push_batch())
      p->batch = DecodeBatch(p->envelope->push_batch(), central_->Catalog());
    return p;
  }

  // A site's requests waiting for an applier, oldest first.
  struct SiteQueue {
    std::deque<Job> jobs;
    bool claimed = false;  // an applier is answering one of them
    bool listed = false;   // in ready_
  };

  void Enqueue(std::string site, Job job) {
    {
      std::lock_guard lock(sched_mu_);
      SiteQueue& q = sites_[site];
      if (!job.prepared.valid() && (q.claimed || !q.jobs.empty())) {
        // The site is busy: decode it now on a decode thread, so it is ready when its
        // turn comes. (An idle site's request is decoded by its applier: no extra hop.)
        auto promise = std::make_shared<std::promise<std::unique_ptr<Prepared>>>();
        job.prepared = promise->get_future();
        decoders_->Post(
            [this, promise, frame = std::move(job.frame)] { promise->set_value(Prepare(frame)); });
      }
      q.jobs.push_back(std::move(job));
      if (!q.claimed && !q.listed) {
        q.listed = true;
        ready_.push_back(std::move(site));
      }
    }
    sched_cv_.notify_one();
  }

  void ApplierLoop(RequestHandler& handler) {
    while (true) {
      std::string site;
      Job job;
      {
        std::unique_lock lock(sched_mu_);
        sched_cv_.wait(lock, [&] { return stop_ || !ready_.empty(); });
        if (stop_) return;
        site = std::move(ready_.front());
        ready_.pop_front();
        SiteQueue& q = sites_[site];
        q.listed = false;
        q.claimed = true;
        job = std::move(q.jobs.front());
        q.jobs.pop_front();
      }
      std::unique_ptr<Prepared> p = job.prepared.valid() ? job.prepared.get() : Prepare(job.frame);
      v1::Envelope reply;
      if (!p->refused.empty()) {
        frame_errors_.With({p->refused}).Increment();
        spdlog::warn("sync: refused a frame from {}/{} ({}): {}", job.peer.tenant_id,
                     job.peer.site_id, p->refused, p->why.ToString());
        reply = ErrorEnvelope(p->why);
      } else {
        reply = handler.Handle(job.peer, *p->envelope,
                               p->envelope->has_push_batch() ? &p->batch : nullptr);
      }
      p.reset();  // the batch's memory goes before the next is taken
      {
        std::lock_guard lock(out_mu_);
        outgoing_.push_back({std::move(job.connection), EncodeFrame(std::move(reply))});
      }
      transport_->Wake();
      {
        std::lock_guard lock(sched_mu_);
        auto it = sites_.find(site);
        it->second.claimed = false;
        if (it->second.jobs.empty()) {
          sites_.erase(it);  // an idle site costs nothing here
        } else {
          it->second.listed = true;  // to the back: sites take turns
          ready_.push_back(std::move(site));
          sched_cv_.notify_one();
        }
      }
    }
  }

  void Reply(const std::string& connection, const std::string& frame) {
    const Status s = transport_->Send(connection, frame);
    if (s.code() == StatusCode::kNotFound)
      peers_.erase(connection);  // it starts over with a Hello
    else if (!s.ok())
      frame_errors_.With({"reply_dropped"}).Increment();
  }

  void Refuse(const std::string& connection, const std::string& reason, const Status& s) {
    frame_errors_.With({reason}).Increment();
    spdlog::warn("sync: refused a frame ({}): {}", reason, s.ToString());
    Reply(connection, EncodeFrame(ErrorEnvelope(s)));
  }

  void OnFrame(InboundFrame& in) {
    if (in.multipart) {
      Refuse(in.connection, "multipart",
             Status::InvalidArgument("a sync message is exactly one frame"));
      return;
    }
    Peer peer;
    std::future<std::unique_ptr<Prepared>> prepared;
    if (!options_.insecure_development) {
      if (!in.peer) {
        Refuse(in.connection, "unauthenticated", Status::Unauthenticated("no site identity"));
        return;
      }
      peer = *in.peer;
    } else {
      // Development mode: the site is the one a Hello names, so the frame is read here.
      std::unique_ptr<Prepared> p = Prepare(in.frame);
      if (p->envelope && p->envelope->has_hello()) {
        auto found = central_->FindActiveSite(p->envelope->hello().site_id());
        if (!found.ok() || !*found) {
          Refuse(
              in.connection, "unauthenticated",
              Status::Unauthenticated("unknown or revoked site " + p->envelope->hello().site_id()));
          return;
        }
        dev_peers_[in.connection] = **found;
      }
      auto it = dev_peers_.find(in.connection);
      if (it == dev_peers_.end()) {
        Refuse(in.connection, p->refused.empty() ? "unauthenticated" : p->refused,
               p->refused.empty() ? Status::Unauthenticated("development mode: say Hello first")
                                  : p->why);
        return;
      }
      peer = it->second;
      std::promise<std::unique_ptr<Prepared>> ready;
      prepared = ready.get_future();
      ready.set_value(std::move(p));
    }
    peers_[in.connection] = peer;
    std::string site = peer.tenant_id + "/" + peer.site_id;
    Enqueue(std::move(site),
            Job{std::move(in.connection), std::move(peer),
                prepared.valid() ? std::string() : std::move(in.frame), std::move(prepared)});
  }

  void Flush() {
    std::deque<Outgoing> out;
    std::deque<std::pair<std::string, std::uint64_t>> nudges;
    {
      std::lock_guard lock(out_mu_);
      out.swap(outgoing_);
      nudges.swap(nudges_);
    }
    for (const auto& o : out) Reply(o.connection, o.frame);
    for (const auto& [tenant, head] : nudges) {
      v1::Envelope e;
      e.mutable_nudge()->set_feed_head(head);
      const std::string frame = EncodeFrame(e);
      std::vector<std::string> targets;
      for (const auto& [connection, peer] : peers_)
        if (peer.tenant_id == tenant) targets.push_back(connection);
      for (const auto& connection : targets) Reply(connection, frame);
    }
  }

  void SocketLoop() {
    while (!stop_) {
      Flush();
      auto in = transport_->Receive(std::chrono::milliseconds(200));
      if (!in.ok()) {
        spdlog::error("sync: socket loop: {}", in.status().ToString());
        continue;
      }
      if (*in) OnFrame(**in);
    }
  }

  SyncServerOptions options_;
  CentralSide* central_;
  std::unique_ptr<ServerTransport> transport_;
  Family<Counter>& frames_;
  Family<Counter>& frame_errors_;
  std::vector<std::unique_ptr<RequestHandler>> handlers_;  // one per applier, each its own session
  std::unique_ptr<TaskQueue> decoders_;
  std::vector<std::thread> appliers_;
  std::thread socket_thread_;
  std::atomic<bool> stop_{false};

  std::mutex sched_mu_;
  std::condition_variable sched_cv_;
  std::unordered_map<std::string, SiteQueue> sites_;  // "tenant/site" -> waiting requests
  std::deque<std::string> ready_;  // sites with a request and no applier, in turn

  std::mutex out_mu_;
  std::deque<Outgoing> outgoing_;
  std::deque<std::pair<std::string, std::uint64_t>> nudges_;
  std::map<std::string, Peer> peers_;      // socket thread only: who is connected, for nudges
  std::map<std::string, Peer> dev_peers_;  // development mode: identity from Hello
};

SyncServer::SyncServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SyncServer::~SyncServer() {
  impl_->Stop();
}

Result<std::unique_ptr<SyncServer>> SyncServer::Start(SyncServerOptions options,
                                                      CentralSide* central,
                                                      MetricsRegistry* metrics) {
  ZmqServerOptions z{options.bind, options.secret_key, options.insecure_development,
                     options.max_frame_bytes, options.heartbeat_ms};
  MILLRACE_ASSIGN_OR_RETURN(
      auto transport,
      NewZmqServerTransport(
          std::move(z), [central](const std::string& key) { return central->FindActiveKey(key); },
          metrics));
  return Start(std::move(options), central, std::move(transport), metrics);
}

Result<std::unique_ptr<SyncServer>> SyncServer::Start(SyncServerOptions options,
                                                      CentralSide* central,
                                                      std::unique_ptr<ServerTransport> transport,
                                                      MetricsRegistry* metrics) {
  auto impl = std::make_unique<Impl>(std::move(options), central, std::move(transport), metrics);
  MILLRACE_RETURN_IF_ERROR(impl->Start());
  std::unique_ptr<SyncServer> server(new SyncServer(std::move(impl)));
  server->endpoint_ = server->impl_->endpoint();
  return server;
}

void SyncServer::NotifyFeed(const std::string& tenant_id, std::uint64_t head) {
  impl_->NotifyFeed(tenant_id, head);
}

}  // namespace millrace::sync
