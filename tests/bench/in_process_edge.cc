#include "in_process_edge.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>

#include "bench_common.h"
#include "millrace/sync/site_keys.h"

namespace millrace::bench {

void FillEvents(edge::EdgeStore& store, const std::string& site, std::int64_t first,
                std::int64_t n) {
  for (std::int64_t start = 0; start < n; start += 10000) {
    CHECK_OK(store.Write([&](edge::WriteTxn& txn) -> Status {
      for (std::int64_t i = start; i < std::min(n, start + 10000); ++i) {
        Row r = EventRow(site, first + i);
        MILLRACE_RETURN_IF_ERROR(txn.Insert(r));
      }
      return Status::Ok();
    }),
             "fill outbox");
  }
}

InProcessEdge::InProcessEdge(const std::string& site, const std::filesystem::path& dir,
                             const std::string& endpoint, const std::string& central_public_key,
                             int batch_rows, int window, int readers)
    : site_(site) {
  edge::EdgeStoreOptions so;
  so.path = (dir / "edge.db").string();
  so.site_id = site;
  so.readers = readers;
  store_ = Must(edge::EdgeStore::Open(so), "edge store " + site);
  adapter_ = std::make_unique<edge::EdgeSyncAdapter>(store_.get());
  zo_.endpoints = {endpoint};
  zo_.secret_key = Must(sync::ReadKeyFile((dir / "site.key").string(), true), "site key");
  zo_.public_key = Must(sync::CurvePublicKey(zo_.secret_key), "site public key");
  zo_.server_public_key = central_public_key;
  co_ = edge::SyncClientOptionsFor(*store_);
  co_.batch_rows = batch_rows;
  co_.window = window;
}

void InProcessEdge::Start() {
  auto transport = Must(sync::NewZmqClientTransport(zo_), "transport " + site_);
  client_ = std::make_unique<sync::SyncClient>(co_, adapter_.get(), std::move(transport));
  sync::SyncClient* c = client_.get();
  store_->SetCommitListener([c] { c->Wake(); });
  client_->Start();
}

void InProcessEdge::Stop() {
  if (!client_) return;
  store_->SetCommitListener(nullptr);
  client_->Stop();
  client_.reset();
}

sync::SyncClientStats InProcessEdge::Stats() const {
  return client_ ? client_->Stats() : sync::SyncClientStats{};
}

double WaitAcked(const Edges& edges, const std::vector<std::uint64_t>& target,
                 SteadyClock::time_point t0, double timeout_s, const std::string& what) {
  while (true) {
    bool all = true;
    for (std::size_t i = 0; i < edges.size() && all; ++i)
      all = edges[i]->Stats().acked_seq >= target[i];
    if (all) return Seconds(SteadyClock::now() - t0);
    if (Seconds(SteadyClock::now() - t0) > timeout_s) Die(Status::Timeout("not acknowledged"), what);
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

SteadyResult RunSteadyLoad(Edges& edges, const SteadyLoad& load) {
  const std::size_t n = edges.size();
  // Per site: the outbox head before the load, and when each of its commits was made.
  std::vector<std::uint64_t> base(n);
  for (std::size_t i = 0; i < n; ++i)
    base[i] = static_cast<std::uint64_t>(Must(edges[i]->store().Outbox(), "outbox").head_seq);
  std::vector<std::vector<SteadyClock::time_point>> committed(n);
  std::vector<std::mutex> mu(n);
  std::atomic<bool> stop{false};
  const auto start = SteadyClock::now();
  const std::size_t rpc = static_cast<std::size_t>(std::max(1, load.rows_per_commit));
  std::vector<std::thread> writers;
  for (int w = 0; w < load.writers; ++w) {
    writers.emplace_back([&, w] {
      std::vector<std::int64_t> done(n, 0);
      while (!stop) {
        bool wrote = false;
        const double due = Seconds(SteadyClock::now() - start) * load.commits_per_s;
        for (std::size_t i = static_cast<std::size_t>(w); i < n && !stop;
             i += static_cast<std::size_t>(load.writers)) {
          if (static_cast<double>(done[i]) >= due) continue;
          const std::int64_t first = done[i] * static_cast<std::int64_t>(rpc);
          CHECK_OK(edges[i]->store().Write([&](edge::WriteTxn& txn) -> Status {
            for (std::size_t k = 0; k < rpc; ++k) {
              Row r = EventRow(edges[i]->site(), first + static_cast<std::int64_t>(k));
              MILLRACE_RETURN_IF_ERROR(txn.Insert(r));
            }
            return Status::Ok();
          }),
                   "steady load write");
          {
            std::lock_guard lock(mu[i]);
            committed[i].push_back(SteadyClock::now());
          }
          ++done[i];
          wrote = true;
        }
        if (!wrote) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    });
  }
  SteadyResult out;
  std::vector<double> lags;
  while (Seconds(SteadyClock::now() - start) < load.seconds) {
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
    const auto now = SteadyClock::now();
    for (std::size_t i = 0; i < n; ++i) {
      const std::uint64_t acked = edges[i]->Stats().acked_seq;
      const std::uint64_t commits_acked = acked > base[i] ? (acked - base[i]) / rpc : 0;
      double lag = 0;
      {
        std::lock_guard lock(mu[i]);
        if (commits_acked < committed[i].size()) lag = Seconds(now - committed[i][commits_acked]);
      }
      lags.push_back(lag);
      if (lag > out.worst_lag_s) {
        out.worst_lag_s = lag;
        out.worst_site = edges[i]->site();
      }
    }
  }
  stop = true;
  for (auto& t : writers) t.join();
  const double load_s = Seconds(SteadyClock::now() - start);
  out.acked_target.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    out.acked_target[i] = base[i] + committed[i].size() * rpc;
    out.rows += committed[i].size() * rpc;
  }
  out.rows_per_s = static_cast<double>(out.rows) / load_s;
  out.lag_p99_s = Percentile(lags, 0.99);
  out.drained_after_s = WaitAcked(edges, out.acked_target, start, 300, "steady load");
  return out;
}

}  // namespace millrace::bench
