// PgListener: a thread that LISTENs to PostgreSQL channels on a connection of its own and
// hands every notification to a callback: feed growth (millrace_feed) to nudge connected
// edges, changed rollups (millrace_reports) to drop cached reports. Notifications sent
// while it was disconnected are lost, so after every (re)connection it calls `connected`
// (a cache clears itself there).
//
// Thread-safety: the callbacks run on the listener's thread.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <thread>
#include <vector>

namespace millrace::central {

class PgListener {
 public:
  using Notification = std::function<void(const std::string& channel, const std::string& payload)>;
  PgListener(std::string db_url, std::vector<std::string> channels, Notification on_notification,
             std::function<void()> connected = {});
  ~PgListener();  // stops within a quarter second
  PgListener(const PgListener&) = delete;
  PgListener& operator=(const PgListener&) = delete;

 private:
  void Run();
  const std::string db_url_;
  const std::vector<std::string> channels_;
  const Notification on_notification_;
  const std::function<void()> connected_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace millrace::central
