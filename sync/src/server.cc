#include "millrace/sync/server.h"

#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <condition_variable>
#include <array>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "millrace/sync/wire.h"

namespace millrace::sync {
namespace {

constexpr const char* kZapEndpoint = "inproc://zeromq.zap.01";

struct Job {
  std::string routing_id;
  Peer peer;
  v1::Envelope request;
};

struct Outgoing {
  std::string routing_id;
  std::string frame;
};

}  // namespace

class SyncServer::Impl {
 public:
  Impl(SyncServerOptions options, CentralSide* central, MetricsRegistry* metrics)
      : options_(std::move(options)),
        central_(central),
        frames_(metrics->AddCounter("mes_sync_frames_total",
                                    "Sync frames received by central, by message type", {"type"})),
        frame_errors_(metrics->AddCounter(
            "mes_sync_frame_errors_total",
            "Sync frames refused before reaching a handler, by reason", {"reason"})),
        auth_(metrics->AddCounter("mes_sync_handshakes_total",
                                  "Curve handshakes judged by the ZAP handler, by outcome",
                                  {"outcome"})) {}

  ~Impl() { Stop(); }

  Status Bind(std::string* endpoint) {
    wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (wake_fd_ < 0) return Status::IOError("eventfd failed");
    try {
      if (!options_.insecure_development) {
        if (!zmq_has("curve")) return Status::Unavailable("this libzmq has no CurveZMQ");
        // The ZAP handler must be bound before any Curve socket, or libzmq admits everyone.
        zap_ = std::make_unique<zmq::socket_t>(context_, zmq::socket_type::rep);
        zap_->set(zmq::sockopt::linger, 0);
        zap_->bind(kZapEndpoint);
      } else {
        spdlog::warn(
            "sync: development mode, edges connect WITHOUT encryption or authentication; "
            "never use it outside a development machine");
      }
      router_ = std::make_unique<zmq::socket_t>(context_, zmq::socket_type::router);
      router_->set(zmq::sockopt::linger, 0);
      router_->set(zmq::sockopt::router_mandatory, 1);
      // Up to twice the frame limit a frame is read and answered with an Error; beyond
      // that libzmq drops the connection before buffering it.
      router_->set(zmq::sockopt::maxmsgsize,
                   static_cast<int64_t>(2 * options_.max_frame_bytes + (64 << 10)));
      router_->set(zmq::sockopt::heartbeat_ivl, options_.heartbeat_ms);
      router_->set(zmq::sockopt::heartbeat_timeout, 3 * options_.heartbeat_ms);
      router_->set(zmq::sockopt::sndhwm, 10000);
      router_->set(zmq::sockopt::rcvhwm, 10000);
      if (!options_.insecure_development) {
        router_->set(zmq::sockopt::curve_server, 1);
        router_->set(zmq::sockopt::curve_secretkey, options_.secret_key);
        router_->set(zmq::sockopt::zap_domain, "millrace");
      }
      router_->bind(options_.bind);
      *endpoint = router_->get(zmq::sockopt::last_endpoint);
    } catch (const zmq::error_t& e) {
      return Status::InvalidArgument("cannot bind the sync socket to " + options_.bind + ": " +
                                     e.what());
    }
    for (int i = 0; i < std::max(1, options_.workers); ++i) {
      MILLRACE_ASSIGN_OR_RETURN(auto handler, central_->NewHandler());
      auto w = std::make_unique<Worker>();
      w->handler = std::move(handler);
      workers_.push_back(std::move(w));
    }
    for (auto& w : workers_) {
      Worker* wp = w.get();
      wp->thread = std::thread([this, wp] { WorkerLoop(*wp); });
    }
    if (zap_) zap_thread_ = std::thread([this] { ZapLoop(); });
    router_thread_ = std::thread([this] { RouterLoop(); });
    return Status::Ok();
  }

  void Stop() {
    if (stop_.exchange(true)) return;
    Signal();
    for (auto& w : workers_) {
      {
        std::lock_guard lock(w->mu);
      }
      w->cv.notify_all();
    }
    if (router_thread_.joinable()) router_thread_.join();
    if (zap_thread_.joinable()) zap_thread_.join();
    for (auto& w : workers_)
      if (w->thread.joinable()) w->thread.join();
    router_.reset();
    zap_.reset();
    if (wake_fd_ >= 0) ::close(wake_fd_);
    wake_fd_ = -1;
  }

  void NotifyFeed(const std::string& tenant_id, std::uint64_t head) {
    {
      std::lock_guard lock(out_mu_);
      nudges_.emplace_back(tenant_id, head);
    }
    Signal();
  }

 private:
  struct Worker {
    std::mutex mu;
    std::condition_variable cv;
    std::deque<Job> jobs;
    std::unique_ptr<RequestHandler> handler;
    std::thread thread;
  };

  void Signal() {
    std::uint64_t one = 1;
    if (wake_fd_ >= 0) [[maybe_unused]] ssize_t n = ::write(wake_fd_, &one, sizeof one);
  }

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
        outgoing_.push_back({std::move(job.routing_id), EncodeFrame(std::move(reply))});
      }
      Signal();
    }
  }

  void ZapLoop() {
    while (!stop_) {
      std::vector<zmq::message_t> parts;
      try {
        zmq::pollitem_t item{zap_->handle(), 0, ZMQ_POLLIN, 0};
        zmq::poll(&item, 1, std::chrono::milliseconds(200));
        if (!(item.revents & ZMQ_POLLIN)) continue;
        if (!zmq::recv_multipart(*zap_, std::back_inserter(parts))) continue;
      } catch (const zmq::error_t& e) {
        if (e.num() == EINTR) continue;
        spdlog::error("sync: ZAP handler: {}", e.what());
        return;
      }
      std::string status = "400", text = "unknown or revoked site key", user_id;
      if (parts.size() >= 7 && parts[5].to_string() == "CURVE" && parts[6].size() == 32) {
        char z85[41];
        zmq_z85_encode(z85, static_cast<const std::uint8_t*>(parts[6].data()), 32);
        auto peer = central_->FindActiveKey(z85);
        if (!peer.ok()) {
          status = "500";
          text = "central cannot check keys now";
          spdlog::warn("sync: key lookup failed: {}", peer.status().ToString());
        } else if (*peer) {
          status = "200";
          text = "OK";
          // tenant/site/key: the key rides along so every request can check it is not
          // retired (rotated) since the handshake. (Z85 may hold '/': the key comes last.)
          user_id = (*peer)->tenant_id + "/" + (*peer)->site_id + "/" + z85;
        } else {
          spdlog::warn("sync: refused a handshake from {} with unknown or revoked key {}",
                       parts.size() > 3 ? parts[3].to_string() : "?", z85);
        }
      }
      auth_.With({status == "200" ? "accepted" : status == "400" ? "refused" : "error"})
          .Increment();
      const std::string request_id = parts.size() > 1 ? parts[1].to_string() : "";
      std::array<zmq::const_buffer, 6> reply = {
          zmq::str_buffer("1.0"), zmq::buffer(request_id), zmq::buffer(status),
          zmq::buffer(text),      zmq::buffer(user_id),    zmq::str_buffer("")};
      try {
        zmq::send_multipart(*zap_, reply);
      } catch (const zmq::error_t& e) {
        spdlog::error("sync: ZAP reply: {}", e.what());
      }
    }
  }

  void Reply(const std::string& routing_id, const std::string& frame) {
    try {
      std::array<zmq::const_buffer, 2> parts = {zmq::buffer(routing_id), zmq::buffer(frame)};
      if (!zmq::send_multipart(*router_, parts, zmq::send_flags::dontwait)) {
        frame_errors_.With({"reply_dropped"}).Increment();
      }
    } catch (const zmq::error_t& e) {
      // EHOSTUNREACH: the peer has gone; it will start over with a Hello.
      peers_.erase(routing_id);
    }
  }

  void Refuse(const std::string& routing_id, const std::string& reason, const Status& s) {
    frame_errors_.With({reason}).Increment();
    spdlog::warn("sync: refused a frame ({}): {}", reason, s.ToString());
    Reply(routing_id, EncodeFrame(ErrorEnvelope(s)));
  }

  void OnFrame(std::vector<zmq::message_t>& parts) {
    if (parts.size() != 2) {
      if (!parts.empty())
        Refuse(parts[0].to_string(), "multipart",
               Status::InvalidArgument("a sync message is exactly one frame"));
      return;
    }
    const std::string routing_id = parts[0].to_string();
    auto envelope = DecodeFrame(parts[1].to_string_view(), options_.max_frame_bytes);
    if (!envelope.ok()) {
      const char* reason = envelope.status().code() == StatusCode::kResourceExhausted ? "oversized"
                           : envelope.status().code() == StatusCode::kFailedPrecondition
                               ? "protocol_version"
                               : "malformed";
      Refuse(routing_id, reason, envelope.status());
      return;
    }
    frames_.With({std::string(BodyName(*envelope))}).Increment();
    Peer peer;
    if (!options_.insecure_development) {
      const char* uid = nullptr;
      try {
        uid = parts[1].gets("User-Id");
      } catch (const zmq::error_t&) {
      }
      std::string s = uid ? uid : "";
      const auto slash = s.find('/');
      const auto key_slash = slash == std::string::npos ? slash : s.find('/', slash + 1);
      if (key_slash == std::string::npos) {
        Refuse(routing_id, "unauthenticated", Status::Unauthenticated("no site identity"));
        return;
      }
      peer = {s.substr(0, slash), s.substr(slash + 1, key_slash - slash - 1),
              s.substr(key_slash + 1)};
    } else {
      if (envelope->has_hello()) {
        auto found = central_->FindActiveSite(envelope->hello().site_id());
        if (!found.ok() || !*found) {
          Refuse(routing_id, "unauthenticated",
                 Status::Unauthenticated("unknown or revoked site " + envelope->hello().site_id()));
          return;
        }
        dev_peers_[routing_id] = **found;
      }
      auto it = dev_peers_.find(routing_id);
      if (it == dev_peers_.end()) {
        Refuse(routing_id, "unauthenticated",
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
        Refuse(routing_id, "out_of_protocol",
               Status::InvalidArgument("an edge may not send " +
                                       std::string(BodyName(*envelope))));
        return;
    }
    peers_[routing_id] = peer;
    const std::size_t w =
        std::hash<std::string>{}(peer.tenant_id + "/" + peer.site_id) % workers_.size();
    {
      std::lock_guard lock(workers_[w]->mu);
      workers_[w]->jobs.push_back({routing_id, std::move(peer), std::move(*envelope)});
    }
    workers_[w]->cv.notify_one();
  }

  void Flush() {
    std::uint64_t n;
    while (::read(wake_fd_, &n, sizeof n) > 0) {
    }
    std::deque<Outgoing> out;
    std::deque<std::pair<std::string, std::uint64_t>> nudges;
    {
      std::lock_guard lock(out_mu_);
      out.swap(outgoing_);
      nudges.swap(nudges_);
    }
    for (const auto& o : out) Reply(o.routing_id, o.frame);
    for (const auto& [tenant, head] : nudges) {
      v1::Envelope e;
      e.mutable_nudge()->set_feed_head(head);
      const std::string frame = EncodeFrame(e);
      std::vector<std::string> targets;
      for (const auto& [rid, peer] : peers_)
        if (peer.tenant_id == tenant) targets.push_back(rid);
      for (const auto& rid : targets) Reply(rid, frame);
    }
  }

  void RouterLoop() {
    while (!stop_) {
      zmq::pollitem_t items[] = {{router_->handle(), 0, ZMQ_POLLIN, 0},
                                 {nullptr, wake_fd_, ZMQ_POLLIN, 0}};
      try {
        zmq::poll(items, 2, std::chrono::milliseconds(200));
        if (items[1].revents & ZMQ_POLLIN) Flush();
        for (int i = 0; i < 256 && !stop_; ++i) {
          std::vector<zmq::message_t> parts;
          if (!zmq::recv_multipart(*router_, std::back_inserter(parts), zmq::recv_flags::dontwait))
            break;
          OnFrame(parts);
        }
      } catch (const zmq::error_t& e) {
        if (e.num() == EINTR) continue;
        spdlog::error("sync: socket loop: {}", e.what());
      }
    }
  }

  SyncServerOptions options_;
  CentralSide* central_;
  Family<Counter>& frames_;
  Family<Counter>& frame_errors_;
  Family<Counter>& auth_;
  zmq::context_t context_{1};
  std::unique_ptr<zmq::socket_t> zap_, router_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::thread router_thread_, zap_thread_;
  std::atomic<bool> stop_{false};
  int wake_fd_ = -1;
  std::mutex out_mu_;
  std::deque<Outgoing> outgoing_;
  std::deque<std::pair<std::string, std::uint64_t>> nudges_;
  std::map<std::string, Peer> peers_;      // socket thread only: who is connected, for nudges
  std::map<std::string, Peer> dev_peers_;  // development mode: identity from Hello
};

SyncServer::SyncServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SyncServer::~SyncServer() { impl_->Stop(); }

Result<std::unique_ptr<SyncServer>> SyncServer::Start(SyncServerOptions options,
                                                      CentralSide* central,
                                                      MetricsRegistry* metrics) {
  if (!options.insecure_development && options.secret_key.size() != 40)
    return Status::InvalidArgument("the sync server needs a Z85 Curve secret key");
  auto impl = std::make_unique<Impl>(std::move(options), central, metrics);
  std::string endpoint;
  MILLRACE_RETURN_IF_ERROR(impl->Bind(&endpoint));
  std::unique_ptr<SyncServer> server(new SyncServer(std::move(impl)));
  server->endpoint_ = endpoint;
  return server;
}

void SyncServer::NotifyFeed(const std::string& tenant_id, std::uint64_t head) {
  impl_->NotifyFeed(tenant_id, head);
}

}  // namespace millrace::sync
