// SyncClient: the edge's half of the sync protocol, independent of what the edge stores.
//
// Upstream, it reads the outbox past what central has acknowledged and keeps up to
// `window` full batches in flight, a batch short of full only when nothing else is (what
// commits meanwhile waits for that ack and goes together); acks are cumulative and purge the outbox below them; a Nack
// rewinds to the seq central expects; an ack that does not come within ack_timeout (a lost
// batch, a restarted central) makes it reconnect and start over from central's watermark
// (Hello). Downstream, it pulls the feed from its cursor whenever central nudges or
// reports a newer head, and applies each batch atomically through EdgeSide.
//
// A central restored from an older backup holds fewer of the site's seqs than it once
// acknowledged, and an older feed: the client sends again what the outbox still keeps
// (the edge keeps acknowledged changes a while), goes on across the seqs it no longer
// keeps (PushBatch.skips_lost), and pulls the feed again from central's head.
//
// Site backups (backup_source.h), when the edge names a BackupSource: in the ready state
// the client offers the waiting backup, sends the chunks central lacks (`backup_window`
// in flight, beside the batches), and resumes after a reconnect from where central's copy
// ends. A refused backup is sent again from its start once, then given up.
//
// Nothing here sleeps on a timer to find work: the store calls Wake() on commit, and
// replies wake the loop through the transport.
//
// Thread-safety: Start/Stop/Wake/Stats from any thread; the protocol runs on one thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "millrace/common/catalog.h"
#include "millrace/common/clock.h"
#include "millrace/common/schema_versions.h"
#include "millrace/common/status.h"
#include "millrace/sync/backoff.h"
#include "millrace/sync/backup_source.h"
#include "millrace/sync/drift.h"
#include "millrace/sync/site_keys.h"
#include "millrace/sync/transport.h"
#include "millrace/sync/v1/sync.pb.h"

namespace millrace::sync {

class DriftRun;  // drift_run.h, private to the client

struct OutboxRecord {
  std::uint64_t seq = 0;
  std::string change;  // a serialized v1::Change without its seq
};

// What an edge store plugs into the client. Called only from the client's thread.
class EdgeSide {
 public:
  virtual ~EdgeSide() = default;
  // Captured changes with seq > after_seq, oldest first, at most `limit`.
  virtual Result<std::vector<OutboxRecord>> ReadOutbox(std::uint64_t after_seq, int limit) = 0;
  // Central has made every seq <= seq durable: the outbox may drop them.
  virtual Status Acknowledged(std::uint64_t seq) = 0;
  virtual Result<std::uint64_t> FeedCursor() = 0;
  // Sets the cursor back to `cursor` (central's feed went back: it was restored from an
  // older backup), so the positions past it are pulled again.
  virtual Status RewindFeed(std::uint64_t cursor) = 0;
  // Applies a feed batch and advances the cursor to batch.to_cursor(), atomically.
  virtual Status ApplyFeed(const v1::FeedBatch& batch) = 0;
  // The outbox backlog, reported to central (at most once a second).
  virtual Result<v1::SiteStatus> Backlog() = 0;

  // Retention (sync.proto SiteStatus.purge_horizon_ms, HelloReply.fact_horizon_ms): central
  // said the horizon it keeps the tenant's facts from (0: all of them). A failure is logged:
  // the next Hello says it again.
  virtual Status CentralFactHorizon(std::uint64_t horizon_ms) {
    (void)horizon_ms;
    return Status::Ok();
  }

  // Drift checks (drift_run.h); an edge that does not override them reports each check
  // central asks for as failed.
  // Every synced table as this edge holds it, read in one snapshot, the site's facts made
  // before the fact horizon of that snapshot left out; *horizon_ms gets that horizon.
  virtual Result<RangeIndexes> DriftIndexes(std::uint64_t* horizon_ms) {
    (void)horizon_ms;
    return Status::FailedPrecondition("this edge does not check drift");
  }
  // Writes central's copies `rows` of `table` as they stand (not captured into the outbox)
  // and deletes the rows `remove`, each only while the edge's row is as `indexed` holds it
  // (absent there: absent here) and no change of it waits in the outbox. Returns how many
  // rows it wrote or deleted.
  virtual Result<std::size_t> WriteCentralCopies(const std::string& table,
                                                 const std::vector<v1::Change>& rows,
                                                 const std::vector<std::string>& remove,
                                                 const RangeIndex& indexed) {
    (void)table, (void)rows, (void)remove, (void)indexed;
    return Status::FailedPrecondition("this edge does not repair drift");
  }
  // The edge's copies of the rows `ids` of `table` for central to take (op OP_UPSERT), each
  // only while it is as `indexed` holds it and no change of it waits in the outbox.
  virtual Result<std::vector<v1::Change>> EdgeCopies(const std::string& table,
                                                     const std::vector<std::string>& ids,
                                                     const RangeIndex& indexed) {
    (void)table, (void)ids, (void)indexed;
    return Status::FailedPrecondition("this edge does not repair drift");
  }
};

// The incarnation of the store the client speaks for (see Hello in sync.proto).
struct EpochInfo {
  std::string id;
  std::string parent;
  std::uint64_t base_seq = 0;
  std::uint64_t fork_hlc = 0;
};

struct SyncClientOptions {
  std::string node_id;
  std::string site_id;
  std::string catalog_fingerprint;
  // The store's schema, said in Hello and pulls (central narrows rows for an older one).
  std::uint32_t schema_version = kEdgeSchemaVersion;
  std::string build;                 // the edge's version, for central's fleet view
  EpochInfo epoch;
  // The watermark central acknowledged before this start (the store keeps it): a central
  // that reports less at the handshake lost acknowledged changes.
  std::uint64_t acked_seq = 0;
  int batch_rows = 5000;
  int window = 4;  // batches in flight
  std::chrono::milliseconds hello_timeout{3000};
  std::chrono::milliseconds ack_timeout{10000};
  // A Hello when nothing was heard for this long: it tells central the site is live (and
  // its backlog), at the price of a database transaction there, so not too often.
  std::chrono::milliseconds idle_ping{10000};
  int pull_max_changes = 2000;
  BackoffOptions backoff;
  std::uint64_t seed = 0;  // backoff jitter; 0: from the clock
  // Where the site's Curve keys live, for key rotation; null: this edge cannot rotate
  // (central's request is logged and left pending).
  SiteKeys* keys = nullptr;
  // The site backups to ship to central; null: none are shipped.
  BackupSource* backups = nullptr;
  std::size_t backup_chunk_bytes = 512 * 1024;
  int backup_window = 2;                       // chunks in flight
  std::chrono::milliseconds backup_poll{5000};  // how often Pending() is asked while idle
  // The catalog the edge's tables follow, for drift checks (who owns which table); null:
  // every check central asks for is reported failed.
  const catalog::Catalog* catalog = nullptr;
  DriftOptions drift;
};

struct SyncClientStats {
  bool connected = false;
  std::string endpoint;
  std::uint64_t acked_seq = 0;
  std::uint64_t sent_seq = 0;
  std::uint64_t feed_cursor = 0;
  std::uint64_t feed_head = 0;
  std::int64_t last_ack_ms = 0;  // wall clock, 0: never
  std::uint64_t batches_sent = 0, rows_sent = 0, batches_acked = 0;
  std::uint64_t nacks = 0, reconnects = 0, feed_batches = 0, feed_changes = 0;
  std::uint64_t rejected = 0, conflicts = 0;  // as central reported them in acks
  double feed_apply_seconds = 0;              // total time spent applying feed batches
  std::uint64_t key_rotations = 0;            // Curve key pairs replaced at central's request
  std::uint64_t backups_shipped = 0;          // site backups central took whole
  std::uint64_t backups_refused = 0;          // refusals of a backup's checksum by central
  std::uint64_t backup_bytes_sent = 0;
  std::int64_t last_backup_shipped_ms = 0;    // wall clock, 0: never
  std::string backup_shipping;                // the backup being shipped; empty: none
  std::uint64_t backup_offset = 0;            // central holds that backup up to here
  std::uint64_t drift_checks = 0;         // drift checks run to their end (failed ones too)
  std::uint64_t drift_checks_failed = 0;
  std::uint64_t drift_rows_found = 0;     // rows the two sides disagreed on
  std::uint64_t drift_rows_repaired = 0;  // of them, written from their owner's copy
  std::uint64_t drift_check = 0;          // the check running; 0: none
  std::string last_error;
  // The protocol loop's own state, for a look when a site does not catch up.
  std::string state;                 // disconnected | hello_sent | ready
  bool link_up = false;              // the transport's view of the connection
  std::uint64_t in_flight = 0;       // batches sent and not acknowledged
  std::uint64_t steps = 0;           // turns of the loop (a frozen loop stops counting)
  std::int64_t retry_in_ms = 0;      // while disconnected: until the next Hello
  std::int64_t last_heard_ago_ms = -1;  // since the last frame from central; -1: never
};

class SyncClient {
 public:
  // REQUIRES: edge, transport, clock and options.keys outlive the client. `clock` times the
  // protocol (timeouts, backoff, pings): monotonic by default, so a wall clock stepped by
  // hours neither freezes nor rushes the link. Stats stamp wall time (SystemClock).
  SyncClient(SyncClientOptions options, EdgeSide* edge, std::unique_ptr<ClientTransport> transport,
             const Clock* clock = MonotonicClock());
  ~SyncClient();  // Stop()
  SyncClient(const SyncClient&) = delete;
  SyncClient& operator=(const SyncClient&) = delete;

  void Start();
  void Stop();
  // New outbox rows were committed (or anything else worth a look): wake the loop.
  void Wake();
  SyncClientStats Stats() const;
  // Called on the client's thread after each applied feed batch (seconds, changes), e.g.
  // to feed a latency histogram. Set before Start().
  void SetFeedObserver(std::function<void(double, int)> observer) {
    feed_observer_ = std::move(observer);
  }

  // One turn of the loop: send what the window allows, wait up to `wait` for one reply
  // and handle it. Start() runs this on its thread; unit tests call it directly.
  Status Step(std::chrono::milliseconds wait);

 private:
  enum class State { kDisconnected, kHelloSent, kReady };
  struct InFlight {
    std::uint64_t batch_id, first_seq, last_seq;
    std::int64_t sent_ms;
  };

  Status SendHello();
  Status MaybeRotateKey();
  Status TryOtherKey();
  Status FillWindow();
  Status MaybePull();
  Status MaybeShipBackup();
  Status HandleBackupReply(const v1::Envelope& e);
  // Drift checks (drift_run.h): central asks with HelloReply or Ack.drift_check.
  void DriftAsked(std::uint64_t check_id);
  Status MaybeCheckDrift();
  void HandleDriftReply(const v1::DriftReply& reply);
  Status Handle(const v1::Envelope& e);
  // Drops the connection; the next Hello waits out the backoff, or goes at once.
  void Disconnect(const std::string& why, bool at_once = false);
  Status Send(v1::Envelope e);
  const v1::SiteStatus& CurrentBacklog();
  void Record(const std::function<void(SyncClientStats&)>& f);

  SyncClientOptions options_;
  EdgeSide* edge_;
  std::unique_ptr<ClientTransport> transport_;
  const Clock* clock_;
  Backoff backoff_;

  State state_ = State::kDisconnected;
  std::int64_t retry_at_ms_ = 0;
  bool retry_on_link_up_ = false;  // the backoff ends early when the transport links up
  bool link_was_up_ = false;       // the transport's LinkUp() at the last Step
  std::int64_t hello_sent_ms_ = 0;
  std::int64_t last_heard_ms_ = 0;
  std::uint64_t acked_seq_ = 0;  // central's cumulative watermark
  std::uint64_t next_seq_ = 1;   // first seq not yet sent
  std::uint64_t next_batch_id_ = 1;
  std::vector<InFlight> in_flight_;
  std::uint64_t feed_cursor_ = 0, feed_head_ = 0;
  bool pull_in_flight_ = false;
  std::int64_t pull_sent_ms_ = 0;
  std::uint64_t rewind_before_batch_ = 0;  // Nacks of batches sent before this are stale
  bool hello_unsent_ = false;
  bool rotate_wanted_ = false;  // central asked, or a rotation did not finish
  bool rotation_in_flight_ = false;
  bool using_next_key_ = false;  // connecting with the pending next pair (TryOtherKey)
  bool told_no_keys_ = false;
  std::int64_t rotation_sent_ms_ = 0;
  std::uint64_t steps_ = 0;
  // The backup being shipped (options_.backups): its offer, the first byte not yet sent,
  // what central holds, and what is waiting for central's answer.
  struct Shipment {
    v1::BackupOffer offer;
    std::uint64_t next_offset = 0, central_offset = 0;
    bool offered = false;  // central has said where its copy stands on this link
    bool offer_in_flight = false;
    int chunks_in_flight = 0;
    int refusals = 0;
  };
  std::optional<Shipment> shipment_;
  std::int64_t backup_checked_ms_ = 0;
  std::int64_t backup_sent_ms_ = 0;  // the oldest unanswered backup request
  bool backups_declined_ = false;   // central keeps no backups (until the next Hello)
  v1::SiteStatus backlog_;
  std::int64_t backlog_read_ms_ = 0;
  std::unique_ptr<DriftRun> drift_;  // the check running
  std::uint64_t drift_asked_ = 0;          // the check central asks for; 0: none
  std::uint64_t drift_finished_ = 0;       // the last check this client ran to its end
  std::int64_t drift_sent_ms_ = 0;

  std::function<void(double, int)> feed_observer_;
  mutable std::mutex stats_mu_;
  SyncClientStats stats_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace millrace::sync
