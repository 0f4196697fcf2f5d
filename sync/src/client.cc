#include "millrace/sync/client.h"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "drift_run.h"
#include "millrace/sync/wire.h"

namespace millrace::sync {

using std::chrono::milliseconds;

SyncClient::SyncClient(SyncClientOptions options, EdgeSide* edge,
                       std::unique_ptr<ClientTransport> transport, const Clock* clock)
    : options_(std::move(options)),
      edge_(edge),
      transport_(std::move(transport)),
      clock_(clock),
      backoff_(options_.backoff, options_.seed != 0
                                     ? options_.seed
                                     : static_cast<std::uint64_t>(clock->NowMillis())) {
  options_.window = std::max(1, options_.window);
  options_.batch_rows = std::max(1, options_.batch_rows);
  stats_.endpoint = transport_->endpoint();
  acked_seq_ = options_.acked_seq;
  stats_.acked_seq = acked_seq_;
}

SyncClient::~SyncClient() { Stop(); }

void SyncClient::Start() {
  stop_ = false;
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "sync-client");  // for top -H and perf
    while (!stop_) {
      Status s = Step(milliseconds(500));
      if (!s.ok()) {
        Record([&](SyncClientStats& st) { st.last_error = s.ToString(); });
        spdlog::warn("sync: {}", s.ToString());
      }
    }
  });
}

void SyncClient::Stop() {
  stop_ = true;
  if (transport_) transport_->Wake();
  if (thread_.joinable()) thread_.join();
}

void SyncClient::Wake() { transport_->Wake(); }

SyncClientStats SyncClient::Stats() const {
  std::lock_guard lock(stats_mu_);
  return stats_;
}

void SyncClient::Record(const std::function<void(SyncClientStats&)>& f) {
  std::lock_guard lock(stats_mu_);
  f(stats_);
}

Status SyncClient::Send(v1::Envelope e) { return transport_->Send(EncodeFrame(std::move(e))); }

const v1::SiteStatus& SyncClient::CurrentBacklog() {
  const std::int64_t now = clock_->NowMillis();
  if (now - backlog_read_ms_ >= 1000 || now < backlog_read_ms_) {
    auto b = edge_->Backlog();
    if (b.ok()) backlog_ = *b;
    backlog_read_ms_ = now;
  }
  return backlog_;
}

Status SyncClient::SendHello() {
  MILLRACE_ASSIGN_OR_RETURN(feed_cursor_, edge_->FeedCursor());
  // The outbox head goes with Hello: central checks the store against it, so a Hello
  // whose head could not be read (and would say 0) is not sent.
  MILLRACE_ASSIGN_OR_RETURN(backlog_, edge_->Backlog());
  backlog_read_ms_ = clock_->NowMillis();
  v1::Envelope e;
  auto* h = e.mutable_hello();
  h->set_node_id(options_.node_id);
  h->set_site_id(options_.site_id);
  h->set_catalog_fingerprint(options_.catalog_fingerprint);
  h->set_schema_version(options_.schema_version);
  h->set_build(options_.build);
  h->set_feed_cursor(feed_cursor_);
  h->set_store_epoch(options_.epoch.id);
  h->set_epoch_parent(options_.epoch.parent);
  h->set_epoch_base_seq(options_.epoch.base_seq);
  h->set_epoch_fork_hlc(options_.epoch.fork_hlc);
  *h->mutable_status() = backlog_;
  h->set_outbox_head_seq(h->status().outbox_head_seq());
  MILLRACE_RETURN_IF_ERROR(Send(std::move(e)));
  Record([&](SyncClientStats& st) { st.feed_cursor = feed_cursor_; });
  state_ = State::kHelloSent;
  hello_sent_ms_ = clock_->NowMillis();
  return Status::Ok();
}

void SyncClient::Disconnect(const std::string& why, bool at_once) {
  const auto delay = at_once ? milliseconds(0) : backoff_.Next();
  spdlog::warn("sync: {} (link to {}); retrying in {} ms", why, transport_->endpoint(),
               delay.count());
  state_ = State::kDisconnected;
  in_flight_.clear();
  pull_in_flight_ = false;
  rotation_in_flight_ = false;
  // A backup being shipped is offered again after the next Hello: central answers where
  // its copy ends, and the upload resumes there.
  shipment_.reset();
  backup_checked_ms_ = 0;
  backups_declined_ = false;
  // A drift check goes on over the next connection, from the request that was lost.
  if (drift_) drift_->Resend();
  retry_at_ms_ = clock_->NowMillis() + delay.count();
  // Central was unreachable (not refusing, not slow): retry as soon as a link is up again.
  retry_on_link_up_ = !transport_->LinkUp();
  Status s = transport_->Reconnect();
  Record([&](SyncClientStats& st) {
    st.connected = false;
    st.reconnects++;
    st.last_error = why;
    st.endpoint = transport_->endpoint();
    st.backup_shipping.clear();
  });
  if (!s.ok()) spdlog::warn("sync: {}", s.ToString());
}

Status SyncClient::FillWindow() {
  while (static_cast<int>(in_flight_.size()) < options_.window) {
    MILLRACE_ASSIGN_OR_RETURN(auto records, edge_->ReadOutbox(next_seq_ - 1, options_.batch_rows));
    if (records.empty()) break;
    // A batch short of full waits while another is in flight: the changes committed
    // meanwhile go with the next ack's batch instead of each in a transaction of its own
    // at central. Idle, a change goes at once; full batches fill the window.
    const bool full = static_cast<int>(records.size()) >= options_.batch_rows;
    if (!full && !in_flight_.empty()) break;
    // Central holds fewer of this store's seqs than it acknowledged (restored from an older
    // backup), and the outbox no longer keeps some of them: say so, and central goes on
    // across the gap instead of nacking it for ever.
    const bool skips_lost = records.front().seq > next_seq_ && records.front().seq <= acked_seq_ + 1;
    if (skips_lost)
      spdlog::error("sync: central lost seqs {} .. {} it had acknowledged, and this edge no longer "
                    "keeps them ([sync] keep_acked_hours): resuming at seq {} without them",
                    next_seq_, records.front().seq - 1, records.front().seq);
    const std::uint64_t batch_id = next_batch_id_++;
    std::vector<SerializedChange> changes;
    changes.reserve(records.size());
    for (const auto& r : records) changes.push_back({r.seq, r.change});
    std::string frame =
        EncodePushBatchFrame(batch_id, changes, CurrentBacklog(), options_.epoch.id, skips_lost);
    Status s = transport_->Send(std::move(frame));
    if (s.code() == StatusCode::kUnavailable) break;  // the link is not up; retry later
    MILLRACE_RETURN_IF_ERROR(s);
    in_flight_.push_back({batch_id, records.front().seq, records.back().seq, clock_->NowMillis()});
    next_seq_ = records.back().seq + 1;
    Record([&](SyncClientStats& st) {
      st.batches_sent++;
      st.rows_sent += records.size();
      st.sent_seq = next_seq_ - 1;
    });
  }
  return Status::Ok();
}

Status SyncClient::TryOtherKey() {
  // A rotation left pending: central may hold the next key and have retired the current
  // one already (the edge was down for longer than the grace). Alternate between the two
  // until one finishes a handshake; the pending rotation then completes.
  if (!options_.keys || !options_.keys->HasNextKeyPair()) return Status::Ok();
  using_next_key_ = !using_next_key_;
  MILLRACE_ASSIGN_OR_RETURN(CurveKeyPair pair, using_next_key_ ? options_.keys->NextKeyPair()
                                                               : options_.keys->CurrentKeyPair());
  spdlog::info("sync: trying the site's {} key pair", using_next_key_ ? "next" : "current");
  return transport_->SetCurveKeys(pair.secret_key, pair.public_key);
}

Status SyncClient::MaybeRotateKey() {
  if (!rotate_wanted_ || rotation_in_flight_ || !options_.keys) return Status::Ok();
  MILLRACE_ASSIGN_OR_RETURN(CurveKeyPair next, options_.keys->NextKeyPair());
  v1::Envelope e;
  e.mutable_key_rotation()->set_new_public_key(next.public_key);
  Status s = Send(std::move(e));
  if (s.code() == StatusCode::kUnavailable) return Status::Ok();
  MILLRACE_RETURN_IF_ERROR(s);
  rotation_in_flight_ = true;
  rotation_sent_ms_ = clock_->NowMillis();
  return Status::Ok();
}

Status SyncClient::MaybePull() {
  if (pull_in_flight_ || feed_head_ <= feed_cursor_) return Status::Ok();
  v1::Envelope e;
  auto* p = e.mutable_pull_request();
  p->set_takes_deletes(true);
  p->set_schema_version(options_.schema_version);
  p->set_cursor(feed_cursor_);
  p->set_max_changes(static_cast<std::uint32_t>(options_.pull_max_changes));
  Status s = Send(std::move(e));
  if (s.code() == StatusCode::kUnavailable) return Status::Ok();
  MILLRACE_RETURN_IF_ERROR(s);
  pull_in_flight_ = true;
  pull_sent_ms_ = clock_->NowMillis();
  return Status::Ok();
}

Status SyncClient::Handle(const v1::Envelope& e) {
  switch (e.body_case()) {
    case v1::Envelope::kHelloReply: {
      const auto& r = e.hello_reply();
      if (r.applied_seq() < acked_seq_) {
        spdlog::error(
            "sync: central reports seq {} applied for this site but acknowledged {} before: "
            "central lost acknowledged changes (restored from an older backup?); sending "
            "again those the outbox still keeps",
            r.applied_seq(), acked_seq_);
      }
      if (r.feed_head() < feed_cursor_) {
        // Central's feed went back (restored from an older backup): the positions past its
        // head are written anew there, so this edge pulls from the head again.
        spdlog::error("sync: central's feed head is {} but this edge applied it up to {} "
                      "(central restored from an older backup?): pulling again from {}",
                      r.feed_head(), feed_cursor_, r.feed_head());
        MILLRACE_RETURN_IF_ERROR(edge_->RewindFeed(r.feed_head()));
        feed_cursor_ = r.feed_head();
        feed_head_ = r.feed_head();
        pull_in_flight_ = false;
        Record([&](SyncClientStats& st) { st.feed_cursor = feed_cursor_; });
      }
      if (r.epoch_started())
        spdlog::warn("sync: central took this store (epoch {}) as the site's new incarnation, "
                     "resuming after seq {}; {} row(s) of the site come back on the feed",
                     options_.epoch.id, r.applied_seq(), r.recovered_rows());
      state_ = State::kReady;
      backoff_.Reset();
      in_flight_.clear();
      DriftAsked(r.drift_check());
      rotate_wanted_ = r.rotate_key() || (options_.keys && options_.keys->HasNextKeyPair());
      if (r.rotate_key() && !options_.keys && !told_no_keys_) {
        told_no_keys_ = true;
        spdlog::warn("sync: central asks for a new key pair, but this edge keeps no key files");
      }
      rewind_before_batch_ = next_batch_id_;
      if (r.applied_seq() > acked_seq_) {
        acked_seq_ = r.applied_seq();
        MILLRACE_RETURN_IF_ERROR(edge_->Acknowledged(acked_seq_));
      }
      next_seq_ = r.applied_seq() + 1;
      feed_head_ = std::max(feed_head_, r.feed_head());
      Record([&](SyncClientStats& st) {
        st.connected = true;
        st.acked_seq = acked_seq_;
        st.feed_head = feed_head_;
        st.endpoint = transport_->endpoint();
        st.last_error.clear();
      });
      if (Status h = edge_->CentralFactHorizon(r.fact_horizon_ms()); !h.ok())
        spdlog::warn("sync: recording central's fact horizon failed (said again at the next "
                     "Hello): {}",
                     h.ToString());
      return Status::Ok();
    }
    case v1::Envelope::kAck: {
      const auto& a = e.ack();
      if (a.acked_seq() > acked_seq_) {
        acked_seq_ = a.acked_seq();
        MILLRACE_RETURN_IF_ERROR(edge_->Acknowledged(acked_seq_));
      }
      // By this ack's seq, not the watermark: a restored central acknowledges again seqs
      // below it, and the batches sent again stay in the window until it does.
      std::erase_if(in_flight_, [&](const InFlight& f) { return f.last_seq <= a.acked_seq(); });
      if (a.rotate_key() && options_.keys) rotate_wanted_ = true;
      DriftAsked(a.drift_check());
      const std::int64_t now = SystemClock()->NowMillis();  // a date, for the status page
      Record([&](SyncClientStats& st) {
        st.acked_seq = acked_seq_;
        st.batches_acked++;
        st.last_ack_ms = now;
        st.rejected += a.rejected();
        st.conflicts += a.conflicts();
      });
      return Status::Ok();
    }
    case v1::Envelope::kNack: {
      const auto& n = e.nack();
      // Every batch sent before a rewind is nacked too; one rewind is enough.
      if (n.batch_id() < rewind_before_batch_) return Status::Ok();
      spdlog::warn("sync: central expected seq {} ({}); rewinding", n.expected_seq(), n.reason());
      in_flight_.clear();
      rewind_before_batch_ = next_batch_id_;
      // Where central expects, even below the watermark (a restored central): the outbox
      // sends what it keeps from there, and skips_lost covers what it no longer keeps.
      next_seq_ = n.expected_seq();
      Record([&](SyncClientStats& st) { st.nacks++; });
      return Status::Ok();
    }
    case v1::Envelope::kFeedBatch: {
      const auto& b = e.feed_batch();
      pull_in_flight_ = false;
      if (b.from_cursor() != feed_cursor_) return Status::Ok();  // an answer to an old pull
      const auto started = std::chrono::steady_clock::now();
      MILLRACE_RETURN_IF_ERROR(edge_->ApplyFeed(b));
      const double took =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      if (feed_observer_) feed_observer_(took, b.changes_size());
      feed_cursor_ = b.to_cursor();
      feed_head_ = std::max(feed_head_, feed_cursor_ + (b.more() ? 1 : 0));
      Record([&](SyncClientStats& st) {
        st.feed_cursor = feed_cursor_;
        st.feed_head = feed_head_;
        st.feed_batches++;
        st.feed_changes += static_cast<std::uint64_t>(b.changes_size());
        st.feed_apply_seconds += took;
      });
      return Status::Ok();
    }
    case v1::Envelope::kNudge:
      feed_head_ = std::max(feed_head_, e.nudge().feed_head());
      Record([&](SyncClientStats& st) { st.feed_head = feed_head_; });
      return Status::Ok();
    case v1::Envelope::kKeyRotated: {
      if (!options_.keys || !rotation_in_flight_) return Status::Ok();
      MILLRACE_ASSIGN_OR_RETURN(CurveKeyPair next, options_.keys->NextKeyPair());
      if (e.key_rotated().new_public_key() != next.public_key) return Status::Ok();  // stale
      MILLRACE_RETURN_IF_ERROR(options_.keys->PromoteNextKeyPair());
      MILLRACE_RETURN_IF_ERROR(transport_->SetCurveKeys(next.secret_key, next.public_key));
      rotation_in_flight_ = false;
      rotate_wanted_ = false;
      using_next_key_ = false;
      Record([&](SyncClientStats& st) { st.key_rotations++; });
      spdlog::info("sync: central holds this site's new public key {}; the old key works until "
                   "{} (Unix ms)",
                   next.public_key, e.key_rotated().old_keys_retire_at_ms());
      // Batches in flight are resent over the new connection (central applies them once).
      Disconnect("the site's key was rotated: reconnecting with the new key", /*at_once=*/true);
      return Status::Ok();
    }
    case v1::Envelope::kBackupOfferReply:
    case v1::Envelope::kBackupChunkAck:
      return HandleBackupReply(e);
    case v1::Envelope::kDriftReply:
      HandleDriftReply(e.drift_reply());
      return Status::Ok();
    case v1::Envelope::kError:
      Disconnect("central refused: " + e.error().code() + ": " + e.error().message());
      return Status::Ok();
    default:
      return Status::InvalidArgument("central sent an unexpected " +
                                     std::string(BodyName(e)));
  }
}

Status SyncClient::Step(milliseconds wait) {
  ++steps_;
  std::int64_t now = clock_->NowMillis();
  const bool link_up = transport_->LinkUp();
  // Whatever fails below (reading the outbox, a send), the loop still listens to central
  // and keeps its timers: a failure of one turn never freezes the link.
  Status failed = Status::Ok();
  auto keep = [&](Status s) {
    if (!s.ok() && failed.ok()) failed = std::move(s);
  };
  if (state_ != State::kDisconnected && link_was_up_ && !link_up) {
    // Batches in flight died with the connection: start over from central's watermark
    // now instead of waiting out the ack timeout.
    Disconnect("the connection to central dropped");
  }
  link_was_up_ = link_up && state_ != State::kDisconnected;
  if (state_ == State::kDisconnected) {
    if (now < retry_at_ms_ && !(retry_on_link_up_ && transport_->LinkUp())) {
      wait = std::min(wait, milliseconds(retry_at_ms_ - now));
    } else if (Status s = SendHello(); !s.ok()) {
      if (s.code() != StatusCode::kUnavailable) keep(s);
      // Connecting: the handshake has not finished. Wait for it like for a reply.
      state_ = State::kHelloSent;
      hello_sent_ms_ = now - options_.hello_timeout.count() / 2;
      hello_unsent_ = true;
    }
  } else if (state_ == State::kHelloSent) {
    if (hello_unsent_) {
      if (SendHello().ok()) hello_unsent_ = false;
    }
    if (now - hello_sent_ms_ > options_.hello_timeout.count()) {
      hello_unsent_ = false;
      keep(TryOtherKey());
      Disconnect("central did not answer the handshake");
    }
  } else {
    if (Status s = MaybeRotateKey(); !s.ok()) {
      rotate_wanted_ = false;  // asked again at the next Hello, not hammered meanwhile
      keep(s);
    }
    keep(FillWindow());
    keep(MaybePull());
    keep(MaybeShipBackup());
    keep(MaybeCheckDrift());
    const bool backup_owed =
        shipment_ && (shipment_->offer_in_flight || shipment_->chunks_in_flight > 0);
    if (!in_flight_.empty() && now - in_flight_.front().sent_ms > options_.ack_timeout.count()) {
      Disconnect("batch " + std::to_string(in_flight_.front().batch_id) + " was not acknowledged");
    } else if (pull_in_flight_ && now - pull_sent_ms_ > options_.ack_timeout.count()) {
      Disconnect("the feed pull was not answered");
    } else if (rotation_in_flight_ && now - rotation_sent_ms_ > options_.ack_timeout.count()) {
      Disconnect("central did not answer the key rotation");
    } else if (backup_owed && now - backup_sent_ms_ > options_.ack_timeout.count()) {
      Disconnect("central did not answer the backup upload");
    } else if (drift_ && drift_->waiting() && now - drift_sent_ms_ > options_.ack_timeout.count()) {
      Disconnect("central did not answer the drift check");
    } else if (in_flight_.empty() && !pull_in_flight_ &&
               now - last_heard_ms_ > options_.idle_ping.count()) {
      // A ping that also re-syncs watermarks. Not sent (no link): the next turn tries.
      if (Status s = SendHello(); !s.ok() && s.code() != StatusCode::kUnavailable) keep(s);
    }
  }
  if (!failed.ok()) wait = std::min(wait, milliseconds(200));  // retry soon, but not hot

  auto frame = transport_->Receive(wait);
  Record([&](SyncClientStats& st) {
    st.state = state_ == State::kReady ? "ready" : state_ == State::kHelloSent ? "hello_sent"
                                                                            : "disconnected";
    st.link_up = transport_->LinkUp();
    st.in_flight = in_flight_.size();
    st.steps = steps_;
    st.retry_in_ms = state_ == State::kDisconnected
                         ? std::max<std::int64_t>(0, retry_at_ms_ - clock_->NowMillis())
                         : 0;
    st.last_heard_ago_ms = last_heard_ms_ ? clock_->NowMillis() - last_heard_ms_ : -1;
  });
  if (!frame.ok()) return frame.status();
  if (*frame) {
    last_heard_ms_ = clock_->NowMillis();
    auto envelope = DecodeFrame(**frame);
    if (!envelope.ok()) return envelope.status().WithContext("frame from central");
    keep(Handle(*envelope));
  }
  return failed;
}

}  // namespace millrace::sync
