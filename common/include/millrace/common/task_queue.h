// TaskQueue: a few named threads running posted tasks in the order they were posted, for
// work that must not hold a server's I/O thread (a PIN hash takes 0.1 s).
//
// Thread-safety: Post from any thread. The destructor runs what is queued, then joins.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace millrace {

class TaskQueue {
 public:
  // `threads` threads named `name` (at most 15 characters show in top -H and perf).
  TaskQueue(int threads, std::string name);
  ~TaskQueue();
  TaskQueue(const TaskQueue&) = delete;
  TaskQueue& operator=(const TaskQueue&) = delete;

  void Post(std::function<void()> task);

 private:
  void Run();

  std::string name_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace millrace
