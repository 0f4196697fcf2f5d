// Status and Result<T>: errors as values.
//
// A Status is either OK (no allocation, one null pointer) or carries a code and a
// message. Result<T> holds either a T or a non-OK Status. Both are [[nodiscard]] so an
// ignored failure is a compile error under -Werror. Codes map to HTTP statuses and to
// stable snake_case names used in JSON error bodies and metrics.
//
// Thread-safety: a Status/Result is a value; distinct objects may be used from different
// threads, one object needs external synchronisation like any value type.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace millrace {

enum class StatusCode : std::uint8_t {
  kOk = 0,
  kInvalidArgument,     // the caller sent something malformed or out of range
  kNotFound,            // the thing named does not exist
  kAlreadyExists,       // creating something that exists
  kConflict,            // the request clashes with the current state (state machine, version)
  kFailedPrecondition,  // a guard of a workflow is not met
  kPermissionDenied,    // authenticated, but not allowed
  kUnauthenticated,     // no or bad credentials
  kResourceExhausted,   // size or rate limit exceeded
  kClockSkew,           // a remote clock is too far ahead of ours
  kUnavailable,         // a dependency cannot be reached now; retrying may help
  kTimeout,             // a deadline passed
  kCorruption,          // stored or received data is damaged
  kIOError,             // the operating system refused an I/O
  kRateLimited,         // too many attempts: refused for a while (HTTP 429, Retry-After)
  kInternal,            // a bug or an invariant broken
};

// Stable lower-case name ("not_found", "clock_skew", ...), used on the wire and in JSON.
std::string_view StatusCodeName(StatusCode code);
// The code of a name StatusCodeName gives; nullopt for a name it never gives.
std::optional<StatusCode> StatusCodeFromName(std::string_view name);
// The HTTP status a server answers for this code (200 for OK).
int HttpStatusFor(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() noexcept = default;  // OK
  Status(StatusCode code, std::string message);
  Status(const Status& other);
  Status& operator=(const Status& other);
  Status(Status&&) noexcept = default;
  Status& operator=(Status&&) noexcept = default;
  ~Status() = default;

  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string m) {
    return {StatusCode::kInvalidArgument, std::move(m)};
  }
  static Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
  static Status AlreadyExists(std::string m) { return {StatusCode::kAlreadyExists, std::move(m)}; }
  static Status Conflict(std::string m) { return {StatusCode::kConflict, std::move(m)}; }
  static Status FailedPrecondition(std::string m) {
    return {StatusCode::kFailedPrecondition, std::move(m)};
  }
  static Status PermissionDenied(std::string m) {
    return {StatusCode::kPermissionDenied, std::move(m)};
  }
  static Status Unauthenticated(std::string m) {
    return {StatusCode::kUnauthenticated, std::move(m)};
  }
  static Status RateLimited(std::string m) { return {StatusCode::kRateLimited, std::move(m)}; }
  static Status ResourceExhausted(std::string m) {
    return {StatusCode::kResourceExhausted, std::move(m)};
  }
  static Status ClockSkew(std::string m) { return {StatusCode::kClockSkew, std::move(m)}; }
  static Status Unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
  static Status Timeout(std::string m) { return {StatusCode::kTimeout, std::move(m)}; }
  static Status Corruption(std::string m) { return {StatusCode::kCorruption, std::move(m)}; }
  static Status IOError(std::string m) { return {StatusCode::kIOError, std::move(m)}; }
  static Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

  bool ok() const { return rep_ == nullptr; }
  StatusCode code() const { return rep_ ? rep_->code : StatusCode::kOk; }
  // Empty for OK.
  const std::string& message() const;
  // The name of the rule a refusal is about ("operation_not_ready"), for programs to act
  // on; empty when the error names none.
  const std::string& rule() const;
  // "OK", "not_found: work order 42 does not exist", or with a rule
  // "conflict: operation_not_running: counts are reported on a running operation".
  std::string ToString() const;
  // Returns a copy whose message is "<context>: <message>"; OK stays OK.
  Status WithContext(std::string_view context) const;
  // Returns a copy that names the rule broken; OK stays OK.
  Status WithRule(std::string rule) const;

  bool operator==(const Status& other) const {
    return code() == other.code() && message() == other.message() && rule() == other.rule();
  }

 private:
  struct Rep {
    StatusCode code;
    std::string message;
    std::string rule;
  };
  std::unique_ptr<Rep> rep_;
};

// Either a value or a non-OK Status.
// REQUIRES: constructing from a Status requires !status.ok().
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}         // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {  // NOLINT: implicit by design
    if (status_.ok()) status_ = Status::Internal("Result constructed from an OK status");
  }

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }

  // REQUIRES: ok().
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T& operator*() & { return *value_; }
  const T& operator*() const& { return *value_; }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }

  T value_or(T fallback) const& { return value_ ? *value_ : std::move(fallback); }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace millrace

#define MILLRACE_CONCAT_INNER_(a, b) a##b
#define MILLRACE_CONCAT_(a, b) MILLRACE_CONCAT_INNER_(a, b)

// Returns the Status from the enclosing function if `expr` is not OK.
#define MILLRACE_RETURN_IF_ERROR(expr) \
  MILLRACE_RETURN_IF_ERROR_IMPL_(MILLRACE_CONCAT_(millrace_status_, __LINE__), expr)
#define MILLRACE_RETURN_IF_ERROR_IMPL_(tmp, expr) \
  do {                                            \
    ::millrace::Status tmp = (expr);              \
    if (!tmp.ok()) return tmp;                    \
  } while (0)

// `lhs = value of result`, or returns its Status. lhs may declare: auto x.
#define MILLRACE_ASSIGN_OR_RETURN(lhs, expr) \
  MILLRACE_ASSIGN_OR_RETURN_IMPL_(MILLRACE_CONCAT_(millrace_result_, __LINE__), lhs, expr)
#define MILLRACE_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                    \
  if (!tmp.ok()) return tmp.status();                   \
  lhs = std::move(tmp).value()
