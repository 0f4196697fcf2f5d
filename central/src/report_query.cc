// The reports' declarations and the parsing of their parameters (reports.h).
#include <algorithm>
#include <cctype>
#include <cstdio>
#include <ctime>
#include <sstream>

#include "millrace/central/reports.h"

namespace millrace::central {

const std::vector<ReportSpec>& Reports() {
  static const std::vector<ReportSpec> kReports = {
      {"oee",
       "OEE with availability, performance and quality by site, line or work unit, over time "
       "(trend) or over the range (ranking, sort=oee)",
       {"site", "line", "unit", "none"},
       {},
       {},
       true,
       true,
       {"period", "oee"}},
      {"downtime",
       "Downtime Pareto: stop time and stops by reason, loss class or OEE bucket, largest first, "
       "with the cumulative share",
       {},
       {"reason", "loss_class", "bucket"},
       {"planned"},
       true,
       false,
       {}},
      {"downtime-events",
       "The stops behind a downtime figure (closed stops that began in the range), newest first",
       {},
       {},
       {"reason", "loss_class", "bucket", "planned"},
       true,
       false,
       {}},
      {"scrap",
       "Scrap and rework Pareto by reason, product, line or site, largest first, with the "
       "cumulative share",
       {},
       {"reason", "product", "line", "site"},
       {},
       true,
       false,
       {}},
      {"scrap-events",
       "The counts behind a scrap figure (production events with scrap or rework), newest first",
       {},
       {},
       {"reason"},
       true,
       false,
       {}},
      {"yield",
       "First-pass yield (good over processed, all operations) and rolled throughput yield "
       "(the product of each operation's first-pass yield) by product and site",
       {"product_site", "product", "site"},
       {},
       {},
       true,
       false,
       {}},
      {"genealogy",
       "Lot and serial genealogy across sites: what a lot or serial was made from (backward) or "
       "went into (forward), level by level, for recall scoping",
       {},
       {"backward", "forward"},
       {"lot", "serial"},
       false,
       false,
       {},
       false},
      {"orders",
       "Plan against actual per work order due in the range, on time and in full; by=site gives "
       "schedule adherence, by=status the order count per status",
       {},
       {"order", "site", "status"},
       {},
       true,
       false,
       {},
       false},
      {"reliability",
       "MTBF and MTTR by work unit from failure stops (reasons marked as failures), worst "
       "first",
       {},
       {},
       {},
       true,
       false,
       {"mtbf", "mttr", "failures"}},
      {"quality",
       "Per characteristic: measurements, out-of-spec rate, mean, spread within hourly subgroups "
       "and overall, Cp/Cpk (within) and Pp/Ppk (overall) against its limits",
       {},
       {},
       {},
       true,
       false,
       {}},
      {"spc",
       "One characteristic's X-bar and range per hourly subgroup with its control limits "
       "(from the spread within subgroups) and its specification limits",
       {},
       {},
       {"characteristic"},
       true,
       false,
       {}},
      {"nonconformances",
       "Open non-conformances by age (by=aging: 0-7, 8-30, 31-90, over 90 days; by=defect; "
       "by=list: each, oldest first)",
       {},
       {"aging", "defect", "list"},
       {},
       false,
       false,
       {},
       false},
      {"throughput",
       "Good output per hour of run time and per hour of planned production time, by site, "
       "line or work unit, over time",
       {"site", "line", "unit", "none"},
       {},
       {},
       true,
       true,
       {}},
      {"lead-time",
       "Lead time (actual start to actual end) of the work orders completed in the range, by "
       "site or product: count, mean, median, 90th percentile",
       {},
       {"site", "product"},
       {},
       true,
       false,
       {},
       false},
      {"wip",
       "Work in progress now: quantity started and not yet good or scrap on running and paused "
       "operations, by site, line or work unit",
       {"site", "line", "unit"},
       {},
       {},
       false,
       false,
       {},
       false},
      {"sync-health",
       "Per site: online or not, last applied batch, lag, backlog, store epoch, conflicts, "
       "rejects, and the edge's schema and build (or why central refused it)",
       {},
       {},
       {},
       false,
       false,
       {},
       false},
  };
  return kReports;
}

const ReportSpec* FindReport(const std::string& name) {
  for (const auto& r : Reports())
    if (r.name == name) return &r;
  return nullptr;
}

namespace {

bool ValidDate(const std::string& s) {
  int y, m, d;
  char tail;
  if (s.size() != 10 || std::sscanf(s.c_str(), "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3) return false;
  if (s[4] != '-' || s[7] != '-' || m < 1 || m > 12 || d < 1) return false;
  static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return d <= kDays[m - 1] + (m == 2 && leap ? 1 : 0) && y >= 1970 && y <= 9999;
}

// Days since 1970-01-01 of a valid date.
long DayNumber(const std::string& s) {
  std::tm tm{};
  tm.tm_year = std::stoi(s.substr(0, 4)) - 1900;
  tm.tm_mon = std::stoi(s.substr(5, 2)) - 1;
  tm.tm_mday = std::stoi(s.substr(8, 2));
  return static_cast<long>(timegm(&tm) / 86400);
}

std::string DateOfDay(long day) {
  const std::time_t t = static_cast<std::time_t>(day) * 86400;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char out[64];
  std::snprintf(out, sizeof out, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
  return out;
}

Status Bad(const std::string& what) { return Status::InvalidArgument(what); }

Result<std::vector<std::string>> ParseList(const std::string& key, const std::string& value) {
  std::vector<std::string> out;
  std::stringstream in(value);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (item.empty()) continue;
    const bool plain = item.size() <= 64 && std::all_of(item.begin(), item.end(), [](char c) {
                         return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
                       });
    if (!plain)
      return Bad(key + ": \"" + item + "\" is not an id or code (1..64 of letters, digits, '-', '_', '.')");
    out.push_back(item);
  }
  if (out.size() > 200) return Bad(key + ": at most 200 values");
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::string Join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ",") + s;
  return out;
}

Result<std::string> OneOf(const std::string& key, const std::string& value,
                          const std::vector<std::string>& allowed) {
  if (std::find(allowed.begin(), allowed.end(), value) != allowed.end()) return value;
  return Bad(key + " must be one of " + Join(allowed) + ", got \"" + value + "\"");
}

const char* GranularityName(Granularity g) {
  switch (g) {
    case Granularity::kNone: return "none";
    case Granularity::kHour: return "hour";
    case Granularity::kShift: return "shift";
    case Granularity::kDay: return "day";
    case Granularity::kWeek: return "week";
    case Granularity::kMonth: return "month";
  }
  return "day";
}

}  // namespace

Result<ReportQuery> ParseReportQuery(const ReportSpec& spec,
                                     const std::map<std::string, std::string>& query,
                                     const std::string& accept_header, const std::string& today,
                                     const std::string& tenant_id, bool tenant_param_allowed) {
  ReportQuery q;
  q.spec = &spec;
  q.tenant_id = tenant_id;
  std::vector<std::string> known = {"sites", "lines", "units", "products", "limit", "after", "format"};
  if (tenant_param_allowed) known.push_back("tenant");
  if (spec.time_range) known.insert(known.end(), {"from", "to"});
  if (spec.granular) known.push_back("granularity");
  if (!spec.groups.empty()) known.push_back("group");
  if (!spec.bys.empty()) known.push_back("by");
  if (!spec.sorts.empty()) known.push_back("sort");
  known.insert(known.end(), spec.params.begin(), spec.params.end());
  for (const auto& [k, v] : query)
    if (std::find(known.begin(), known.end(), k) == known.end())
      return Bad("unknown parameter '" + k + "': the " + spec.name + " report takes " + Join(known));

  auto get = [&](const std::string& k) {
    auto it = query.find(k);
    return it == query.end() ? std::string() : it->second;
  };
  if (tenant_param_allowed) {
    q.tenant_id = get("tenant");
    if (q.tenant_id.empty()) return Bad("tenant= is required with a platform credential");
  }
  for (auto [key, out] : {std::pair{"sites", &q.sites}, {"lines", &q.lines}, {"units", &q.units},
                          {"products", &q.products}}) {
    MILLRACE_ASSIGN_OR_RETURN(*out, ParseList(key, get(key)));
  }
  if (spec.time_range) {
    q.to = get("to").empty() ? today : get("to");
    if (!ValidDate(q.to)) return Bad("to must be a date YYYY-MM-DD, got \"" + q.to + "\"");
    q.from = get("from").empty() ? DateOfDay(DayNumber(q.to) - 6) : get("from");
    if (!ValidDate(q.from)) return Bad("from must be a date YYYY-MM-DD, got \"" + q.from + "\"");
    const long days = DayNumber(q.to) - DayNumber(q.from) + 1;
    if (days < 1) return Bad("from (" + q.from + ") is after to (" + q.to + ")");
    if (days > 3700) return Bad("from..to spans " + std::to_string(days) + " days; at most 3700");
    if (spec.granular) {
      const std::string g = get("granularity").empty() ? "day" : get("granularity");
      MILLRACE_RETURN_IF_ERROR(
          OneOf("granularity", g, {"hour", "shift", "day", "week", "month", "none"}).status());
      for (Granularity each : {Granularity::kNone, Granularity::kHour, Granularity::kShift,
                               Granularity::kDay, Granularity::kWeek, Granularity::kMonth})
        if (g == GranularityName(each)) q.granularity = each;
      if (q.granularity == Granularity::kHour && days > 31)
        return Bad("granularity=hour covers at most 31 days; from..to spans " + std::to_string(days));
    } else {
      q.granularity = Granularity::kNone;
    }
  } else {
    q.granularity = Granularity::kNone;
  }
  if (!spec.groups.empty()) {
    MILLRACE_ASSIGN_OR_RETURN(q.group,
                              OneOf("group", get("group").empty() ? spec.groups[0] : get("group"), spec.groups));
  }
  if (!spec.bys.empty()) {
    MILLRACE_ASSIGN_OR_RETURN(q.by, OneOf("by", get("by").empty() ? spec.bys[0] : get("by"), spec.bys));
  }
  if (!spec.sorts.empty()) {
    MILLRACE_ASSIGN_OR_RETURN(q.sort,
                              OneOf("sort", get("sort").empty() ? spec.sorts[0] : get("sort"), spec.sorts));
  }
  for (const auto& p : spec.params) {
    const std::string v = get(p);
    if (v.empty()) continue;
    if (v.size() > 64 || !std::all_of(v.begin(), v.end(), [](char c) {
          return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
        }))
      return Bad(p + ": \"" + v + "\" is not an id, code or word");
    q.params[p] = v;
  }
  if (!get("limit").empty()) {
    const std::string l = get("limit");
    if (l.size() > 4 || !std::all_of(l.begin(), l.end(), ::isdigit) || std::stoi(l) < 1 || std::stoi(l) > 1000)
      return Bad("limit must be 1..1000, got \"" + l + "\"");
    q.limit = std::stoi(l);
  }
  q.after = get("after");
  if (q.after.size() > 512) return Bad("after: not a cursor this server made");
  const std::string format = get("format");
  if (!format.empty()) {
    MILLRACE_RETURN_IF_ERROR(OneOf("format", format, {"json", "csv"}).status());
    q.csv = format == "csv";
  } else {
    q.csv = accept_header.find("text/csv") != std::string::npos;
  }
  return q;
}

std::string ReportQuery::CacheKey() const {
  std::string key = spec->name + "|" + tenant_id + "|s=" + Join(sites) + "|l=" + Join(lines) +
                    "|u=" + Join(units) + "|p=" + Join(products) + "|" + from + ".." + to + "|g=" +
                    GranularityName(granularity) + "|" + group + "|" + by + "|" + sort + "|" +
                    std::to_string(limit) + "|" + after + (csv ? "|csv" : "|json");
  for (const auto& [k, v] : params) key += "|" + k + "=" + v;
  // Who may see what decides the answer too (row-level security shows a site manager less).
  std::vector<std::string> allowed = allowed_sites;
  std::sort(allowed.begin(), allowed.end());
  key += "|a=" + (allowed.empty() ? std::string("*") : Join(allowed));
  return key;
}

}  // namespace millrace::central
