// TimeZone: a site's IANA time zone ("Europe/Paris", "America/Chicago", "UTC"), read from
// the system's zoneinfo. Shifts and the production day are in the site's local time; the
// store and the wire keep instants (Unix milliseconds, UTC).
//
// Local times that a daylight-saving change skips or repeats have one answer each:
// FromCivil maps a skipped wall time forward by the gap (02:30 on a spring-forward night is
// 03:30 summer time) and a repeated one to its first occurrence (summer time). A shift
// over a change is therefore an hour shorter or longer, as worked.
//
// Thread-safety: immutable after Load; copies are cheap and share the loaded zone.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "millrace/common/status.h"

namespace millrace {

struct CivilTime {
  int year = 1970, month = 1, day = 1, hour = 0, minute = 0, second = 0;
  int weekday = 3;  // Monday = 0 .. Sunday = 6
  std::string Date() const;  // YYYY-MM-DD
};

class TimeZone {
 public:
  // InvalidArgument naming `name` when the system has no such zone (is tzdata installed?).
  static Result<TimeZone> Load(const std::string& name);
  static TimeZone Utc();

  const std::string& name() const { return name_; }
  CivilTime ToCivil(std::int64_t unix_ms) const;
  // The instant of a local wall time; day and minute may run past their range (day 32,
  // minute 1440) and are normalised, so "the day after" needs no calendar of its own.
  std::int64_t FromCivil(int year, int month, int day, int hour, int minute, int second = 0) const;

 private:
  struct Impl;
  TimeZone(std::string name, std::shared_ptr<const Impl> impl)
      : name_(std::move(name)), impl_(std::move(impl)) {}
  std::string name_;
  std::shared_ptr<const Impl> impl_;
};

}  // namespace millrace
