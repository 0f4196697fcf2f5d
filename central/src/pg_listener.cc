#include "millrace/central/pg_listener.h"

#include <spdlog/spdlog.h>

#include <chrono>

#include "millrace/central/pg.h"

namespace millrace::central {

PgListener::PgListener(std::string db_url, std::vector<std::string> channels,
                       Notification on_notification, std::function<void()> connected)
    : db_url_(std::move(db_url)),
      channels_(std::move(channels)),
      on_notification_(std::move(on_notification)),
      connected_(std::move(connected)),
      thread_([this] { Run(); }) {}

PgListener::~PgListener() {
  stop_ = true;
  thread_.join();
}

void PgListener::Run() {
  std::unique_ptr<PgConnection> conn;
  while (!stop_) {
    if (!conn) {
      auto c = PgConnection::Connect(db_url_);
      Status listening = c.ok() ? Status::Ok() : c.status();
      for (const auto& channel : channels_)
        if (listening.ok()) listening = (*c)->Exec("LISTEN " + channel);
      if (!listening.ok()) {
        std::this_thread::sleep_for(std::chrono::seconds(1));
        continue;
      }
      conn = std::move(*c);
      if (connected_) connected_();
    }
    auto notes = conn->WaitForNotifications(250);
    if (!notes.ok()) {
      spdlog::warn("listener: {}", notes.status().ToString());
      conn.reset();
      continue;
    }
    for (const auto& [channel, payload] : *notes) on_notification_(channel, payload);
  }
}

}  // namespace millrace::central
