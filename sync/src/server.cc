#include "millrace/sync/server.h"

#include <spdlog/spdlog.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>

#include "millrace/sync/wire.h"

namespace millrace::sync {
namespace {

struct Job {
  std::string connection;
  Peer peer;
  v1::Envelope request;
};

struct Outgoing {
  std::string connection;
  std::string frame;
};

}  // namespace

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
    for (int i = 0; i < std::max(1, options_.workers); ++i) {
      MILLRACE_ASSIGN_OR_RETURN(auto session, central_->NewSession());
      auto w = std::make_unique<Worker>();
      w->handler = std::make_unique<CentralProtocol>(central_, std::move(session));
      workers_.push_back(std::move(w));
    }
    for (auto& w : workers_) {
      Worker* wp = w.get();
      wp->thread = std::thread([this, wp] { WorkerLoop(*wp); });
    }
    socket_thread_ = std::thread([this] { SocketLoop(); });
    return Status::Ok();
  }

  void Stop() {
    if (stop_.exchange(true)) return;
    transport_->Wake();
    for (auto& w : workers_) {
      { std::lock_guard lock(w->mu); }
      w->cv.notify_all();
    }
    if (socket_thread_.joinable()) socket_thread_.join();
    for (auto& w : workers_)
      if (w->thread.joinable()) w->thread.join();
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
  struct Worker {
    std::mutex mu;
    std::condition_variable cv;
    std::deque<Job> jobs;
    std::unique_ptr<RequestHandler> handler;
    std::thread thread;
  };

  void WorkerLoop(Worker& w) {
    while (true) {
      Job job;
      {
        std::unique_lock lock(w.mu);
        w.cv.wait(lock, [&] { return stop_ || !w.jobs.empty(); });
        if (stop_) return;
        job = std::move(w.jobs.front());
        w.jobs.pop_front();
      }
      v1::Envelope reply = w.handler->Handle(job.peer, job.request);
      {
        std::lock_guard lock(out_mu_);
        outgoing_.push_back({std::move(job.connection), EncodeFrame(std::move(reply))});
      }
      transport_->Wake();
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
    auto envelope = DecodeFrame(in.frame, options_.max_frame_bytes);
    if (!envelope.ok()) {
      const char* reason = envelope.status().code() == StatusCode::kResourceExhausted ? "oversized"
                           : envelope.status().code() == StatusCode::kFailedPrecondition
                               ? "protocol_version"
                               : "malformed";
      Refuse(in.connection, reason, envelope.status());
      return;
    }
    frames_.With({std::string(BodyName(*envelope))}).Increment();
    Peer peer;
    if (!options_.insecure_development) {
      if (!in.peer) {
        Refuse(in.connection, "unauthenticated", Status::Unauthenticated("no site identity"));
        return;
      }
      peer = *in.peer;
    } else {
      if (envelope->has_hello()) {
        auto found = central_->FindActiveSite(envelope->hello().site_id());
        if (!found.ok() || !*found) {
          Refuse(in.connection, "unauthenticated",
                 Status::Unauthenticated("unknown or revoked site " + envelope->hello().site_id()));
          return;
        }
        dev_peers_[in.connection] = **found;
      }
      auto it = dev_peers_.find(in.connection);
      if (it == dev_peers_.end()) {
        Refuse(in.connection, "unauthenticated",
               Status::Unauthenticated("development mode: say Hello first"));
        return;
      }
      peer = it->second;
    }
    switch (envelope->body_case()) {
      case v1::Envelope::kHello:
      case v1::Envelope::kPushBatch:
      case v1::Envelope::kPullRequest:
      case v1::Envelope::kKeyRotation:
        break;
      default:
        Refuse(in.connection, "out_of_protocol",
               Status::InvalidArgument("an edge may not send " + std::string(BodyName(*envelope))));
        return;
    }
    peers_[in.connection] = peer;
    // One worker per site, so a site's requests are answered in the order they came.
    const std::size_t w =
        std::hash<std::string>{}(peer.tenant_id + "/" + peer.site_id) % workers_.size();
    {
      std::lock_guard lock(workers_[w]->mu);
      workers_[w]->jobs.push_back(
          {std::move(in.connection), std::move(peer), std::move(*envelope)});
    }
    workers_[w]->cv.notify_one();
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
  std::vector<std::unique_ptr<Worker>> workers_;
  std::thread socket_thread_;
  std::atomic<bool> stop_{false};
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
