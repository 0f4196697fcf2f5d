#include "millrace/common/time_zone.h"

#include <cctz/civil_time.h>
#include <cctz/time_zone.h>

#include <cctype>
#include <chrono>
#include <cstdio>

namespace millrace {

struct TimeZone::Impl {
  cctz::time_zone zone;
};

std::string CivilTime::Date() const {
  char out[16];
  std::snprintf(out, sizeof(out), "%04d-%02d-%02d", year, month, day);
  return out;
}

Result<TimeZone> TimeZone::Load(const std::string& name) {
  // An IANA name is letters, digits and "/_+-"; never a path of its own choosing.
  bool plain = !name.empty() && name.size() <= 64 && name[0] != '/' &&
               name.find("..") == std::string::npos;
  for (char ch : name)
    plain = plain && (std::isalnum(static_cast<unsigned char>(ch)) || ch == '/' || ch == '_' ||
                      ch == '+' || ch == '-');
  auto impl = std::make_shared<Impl>();
  if (!plain || !cctz::load_time_zone(name, &impl->zone)) {
    return Status::InvalidArgument("unknown time zone \"" + name +
                                   "\": expected an IANA name such as Europe/Paris or UTC "
                                   "(from the tzdata package)");
  }
  return TimeZone(name, std::move(impl));
}

TimeZone TimeZone::Utc() {
  static const auto impl = std::make_shared<const Impl>(Impl{cctz::utc_time_zone()});
  return TimeZone("UTC", impl);
}

CivilTime TimeZone::ToCivil(std::int64_t unix_ms) const {
  // Floor to the second (an instant before 1970 rounds down, not towards zero).
  const std::int64_t secs = unix_ms >= 0 ? unix_ms / 1000 : -((-unix_ms + 999) / 1000);
  const auto tp = std::chrono::time_point_cast<cctz::seconds>(
      std::chrono::system_clock::time_point{} + cctz::seconds(secs));
  const cctz::civil_second cs = cctz::convert(tp, impl_->zone);
  CivilTime c;
  c.year = static_cast<int>(cs.year());
  c.month = cs.month();
  c.day = cs.day();
  c.hour = cs.hour();
  c.minute = cs.minute();
  c.second = cs.second();
  c.weekday = static_cast<int>(cctz::get_weekday(cctz::civil_day(cs)));  // monday == 0
  return c;
}

std::int64_t TimeZone::FromCivil(int year, int month, int day, int hour, int minute,
                                 int second) const {
  const cctz::civil_second cs(year, month, day, hour, minute, second);
  const cctz::time_zone::civil_lookup look = impl_->zone.lookup(cs);
  // UNIQUE: pre == post. SKIPPED: pre is the wall time read with the offset before the
  // change, which lands after the gap. REPEATED: pre is the first occurrence.
  return std::chrono::duration_cast<std::chrono::milliseconds>(look.pre.time_since_epoch())
      .count();
}

}  // namespace millrace
