// Pending<T>: a store write a service has checked and planned but not run. Either it was
// refused before touching the store (bad input, the wrong role), or it holds the body
// that runs in its own savepoint of the next group commit and makes the T the caller gets.
//
// Two ways to run it: Wait() blocks until the commit is durable (tools, tests, seeding);
// Then() returns at once and the store's writer thread hands the result over as soon as
// the commit is durable, so the terminal API answers a request without a thread waiting
// for the disk. A Pending runs once; dropping one unrun writes nothing.
//
// The body outlives the call that planned it: it captures what it needs by value.
//
// Thread-safety: a Pending is a value used by one thread; the body runs on the writer.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <utility>

#include "millrace/common/status.h"
#include "millrace/edge/store.h"

namespace millrace::edge {

template <typename T>
class [[nodiscard]] Pending {
 public:
  using Body = std::function<Result<T>(WriteTxn&)>;

  // Refused before touching the store. REQUIRES: !refused.ok() (an OK status becomes
  // Internal, as for Result).
  Pending(Status refused)  // NOLINT: implicit, so MILLRACE_RETURN_IF_ERROR works in a planner
      : refused_(refused.ok() ? Status::Internal("Pending made from an OK status")
                              : std::move(refused)) {}
  Pending(EdgeStore* store, Body body) : store_(store), body_(std::move(body)) {}
  Pending(Pending&&) noexcept = default;
  Pending& operator=(Pending&&) noexcept = default;
  Pending(const Pending&) = delete;
  Pending& operator=(const Pending&) = delete;

  // Runs the write and waits until its commit is durable.
  Result<T> Wait() && {
    if (!store_) return refused_;
    std::optional<T> out;
    Status s = store_->Write([&](WriteTxn& txn) -> Status {
      Result<T> r = body_(txn);
      if (!r.ok()) return r.status();
      out = std::move(r).value();
      return Status::Ok();
    });
    if (!s.ok()) return s;
    return std::move(*out);
  }

  // Runs the write without waiting: `done` gets the result on the store's writer thread
  // once the commit is durable (at once, on this thread, when refused up front). `done`
  // must be quick (hand the result on) and must not wait for the store.
  void Then(std::function<void(Result<T>)> done) && {
    if (!store_) return done(std::move(refused_));
    auto out = std::make_shared<std::optional<T>>();
    store_->WriteAsync(
        [body = std::move(body_), out](WriteTxn& txn) -> Status {
          Result<T> r = body(txn);
          if (!r.ok()) return r.status();
          *out = std::move(r).value();
          return Status::Ok();
        },
        [out, done = std::move(done)](Status s) {
          if (!s.ok()) return done(std::move(s));
          done(std::move(**out));
        });
  }

 private:
  EdgeStore* store_ = nullptr;
  Body body_;
  Status refused_;
};

}  // namespace millrace::edge
