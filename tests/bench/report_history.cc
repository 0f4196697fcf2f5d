// The history generator of the report benchmark (report_history.h).
#include "report_history.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <map>
#include <random>

#include "millrace/common/time_zone.h"
#include "millrace/common/uuid.h"

namespace millrace::bench {
namespace {

using central::PgConnection;
using central::PgParam;
constexpr std::int64_t kMinute = 60'000, kHour = 60 * kMinute;

// The demo's routings: ideal cycle seconds of cut, press and pack per product.
struct Product {
  const char* code;
  double cycle[3];
};
constexpr Product kBracket{"BRKT-100", {12, 20, 6}};
constexpr Product kHousing{"HOUSING-200", {30, 45, 10}};
constexpr const char* kSteps[3] = {"CUT", "PRESS", "PACK"};

struct Unit {
  std::string id;
  int line = 0;  // 1..lines
  int step = 0;  // index into kSteps
};

struct SiteData {
  HistorySite site;
  TimeZone zone = TimeZone::Utc();
  std::map<int, std::string> line_ids;
  std::vector<Unit> units;
  std::string patterns[3];  // EARLY, LATE, NIGHT
};

struct Master {
  std::map<std::string, std::string> reason, material;
  std::string hole, visual;  // the bracket's characteristics
  std::vector<SiteData> sites;
};

void AppendTs(std::string& out, std::int64_t ms) {
  const std::time_t s = static_cast<std::time_t>(ms / 1000);
  std::tm t{};
  gmtime_r(&s, &t);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d %02d:%02d:%02d.%03d+00", t.tm_year + 1900,
                t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, static_cast<int>(ms % 1000));
  out += buf;
}

// A UUIDv7 of instant `ms`, as a site would have made it then.
std::string Uuid7(std::int64_t ms, std::mt19937_64& rng) {
  Uuid::Bytes b{};
  const std::uint64_t r1 = rng(), r2 = rng();
  for (int i = 0; i < 6; ++i) b[i] = static_cast<std::uint8_t>(ms >> (40 - 8 * i));
  b[6] = static_cast<std::uint8_t>(0x70 | (r1 & 0x0f));
  b[7] = static_cast<std::uint8_t>(r1 >> 8);
  b[8] = static_cast<std::uint8_t>(0x80 | ((r1 >> 16) & 0x3f));
  for (int i = 9; i < 16; ++i) b[i] = static_cast<std::uint8_t>(r2 >> (8 * (i - 9)));
  return Uuid(b).ToString();
}

// One COPY text row: fields joined by tabs; "" is NULL.
class Rows {
 public:
  Rows& operator<<(const std::string& v) {
    Sep();
    if (v.empty()) text_ += "\\N";
    else text_ += v;
    return *this;
  }
  Rows& operator<<(const char* v) { return *this << std::string(v); }
  Rows& Num(double v) {
    Sep();
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.6g", v);
    text_ += buf;
    return *this;
  }
  Rows& Int(std::int64_t v) {
    Sep();
    text_ += std::to_string(v);
    return *this;
  }
  Rows& Ts(std::int64_t ms) {
    Sep();
    AppendTs(text_, ms);
    return *this;
  }
  void End() {
    text_ += '\n';
    fresh_ = true;
    ++rows_;
  }
  const std::string& text() const { return text_; }
  std::int64_t rows() const { return rows_; }
  void Clear() {
    text_.clear();
    rows_ = 0;
  }

 private:
  void Sep() {
    if (!fresh_) text_ += '\t';
    fresh_ = false;
  }
  std::string text_;
  bool fresh_ = true;
  std::int64_t rows_ = 0;
};

Status AddLines(PgConnection& db, const HistoryShape& shape) {
  const std::vector<PgParam> p = {shape.tenant, std::to_string(shape.lines)};
  MILLRACE_RETURN_IF_ERROR(db.Query(R"(
    INSERT INTO millrace.equipment (tenant_id, id, site_id, parent_id, level, code, name, equipment_class, ideal_cycle_time_s, active, hlc, origin)
    SELECT w.tenant_id, gen_random_uuid(), w.site_id, w.parent_id, 'work_center', 'LINE-' || n, 'Line ' || n, w.equipment_class, w.ideal_cycle_time_s, true, w.hlc, w.origin
    FROM millrace.equipment w, generate_series(3, $2::integer) n
    WHERE w.tenant_id = $1 AND w.level = 'work_center' AND w.code = 'LINE-' || (2 - n % 2)
      AND NOT EXISTS (SELECT 1 FROM millrace.equipment x WHERE x.tenant_id = w.tenant_id AND x.site_id = w.site_id AND x.code = 'LINE-' || n))",
                                    p).status());
  return db.Query(R"(
    INSERT INTO millrace.equipment (tenant_id, id, site_id, parent_id, level, code, name, equipment_class, ideal_cycle_time_s, active, hlc, origin)
    SELECT u.tenant_id, gen_random_uuid(), u.site_id, l.id, 'work_unit', 'L' || substr(l.code, 6) || substr(u.code, 3), u.name, u.equipment_class, u.ideal_cycle_time_s, true, u.hlc, u.origin
    FROM millrace.equipment l
    JOIN millrace.equipment pl ON pl.tenant_id = l.tenant_id AND pl.site_id = l.site_id AND pl.level = 'work_center'
                              AND pl.code = 'LINE-' || (2 - substr(l.code, 6)::integer % 2)
    JOIN millrace.equipment u ON u.tenant_id = l.tenant_id AND u.parent_id = pl.id AND u.level = 'work_unit'
    WHERE l.tenant_id = $1 AND l.level = 'work_center' AND substr(l.code, 6)::integer BETWEEN 3 AND $2::integer
      AND NOT EXISTS (SELECT 1 FROM millrace.equipment x WHERE x.tenant_id = l.tenant_id AND x.parent_id = l.id))",
                  p)
      .status();
}

Result<Master> LoadMaster(PgConnection& db, const HistoryShape& shape) {
  Master m;
  const std::vector<PgParam> t = {shape.tenant};
  MILLRACE_ASSIGN_OR_RETURN(auto reasons, db.Query("SELECT code, id FROM millrace.reason_code WHERE tenant_id = $1", t));
  for (int r = 0; r < reasons.rows(); ++r) m.reason[reasons.GetString(r, 0)] = reasons.GetString(r, 1);
  MILLRACE_ASSIGN_OR_RETURN(auto mats, db.Query("SELECT code, id FROM millrace.material_definition WHERE tenant_id = $1", t));
  for (int r = 0; r < mats.rows(); ++r) m.material[mats.GetString(r, 0)] = mats.GetString(r, 1);
  MILLRACE_ASSIGN_OR_RETURN(auto chars, db.Query("SELECT kind, id FROM millrace.inspection_characteristic WHERE tenant_id = $1", t));
  for (int r = 0; r < chars.rows(); ++r) (chars.GetString(r, 0) == "measured" ? m.hole : m.visual) = chars.GetString(r, 1);
  for (const char* code : {"DT-SETUP", "DT-MECH-JAM", "DT-MECH-HYD", "DT-MAT", "DT-PM", "SC-DIM", "SC-SURF", "SC-START"})
    if (!m.reason.count(code)) return Status::FailedPrecondition(std::string("no reason ") + code + ": run seed-demo first");
  if (!m.material.count(kBracket.code) || !m.material.count(kHousing.code) || m.hole.empty() || m.visual.empty())
    return Status::FailedPrecondition("the demo's products and characteristics are missing: run seed-demo first");
  for (const auto& s : shape.sites) {
    SiteData d;
    d.site = s;
    MILLRACE_ASSIGN_OR_RETURN(d.zone, TimeZone::Load(s.time_zone));
    const std::vector<PgParam> ts = {shape.tenant, s.id};
    MILLRACE_ASSIGN_OR_RETURN(auto units, db.Query(R"(
      SELECT u.id, substr(l.code, 6)::integer, substr(u.code, strpos(u.code, '-') + 1), l.id
      FROM millrace.equipment u JOIN millrace.equipment l ON l.tenant_id = u.tenant_id AND l.id = u.parent_id
      WHERE u.tenant_id = $1 AND u.site_id = $2 AND u.level = 'work_unit' AND l.code ~ '^LINE-[0-9]+$')", ts));
    for (int r = 0; r < units.rows(); ++r) {
      const int line = std::stoi(units.GetString(r, 1));
      if (line > shape.lines) continue;
      const std::string step = units.GetString(r, 2);
      const int k = step == "CUT" ? 0 : step == "PRESS" ? 1 : step == "PACK" ? 2 : -1;
      if (k < 0) continue;
      d.units.push_back({units.GetString(r, 0), line, k});
      d.line_ids[line] = units.GetString(r, 3);
    }
    std::sort(d.units.begin(), d.units.end(), [](const Unit& a, const Unit& b) {
      return a.line != b.line ? a.line < b.line : a.step < b.step;
    });
    if (static_cast<int>(d.units.size()) != 3 * shape.lines)
      return Status::FailedPrecondition("site " + s.id + " has " + std::to_string(d.units.size()) +
                                        " work units, not " + std::to_string(3 * shape.lines));
    MILLRACE_ASSIGN_OR_RETURN(auto pats, db.Query("SELECT code, id FROM millrace.shift_pattern WHERE tenant_id = $1 AND site_id = $2", ts));
    for (int r = 0; r < pats.rows(); ++r) {
      const std::string code = pats.GetString(r, 0);
      const int k = code == "EARLY" ? 0 : code == "LATE" ? 1 : code == "NIGHT" ? 2 : -1;
      if (k >= 0) d.patterns[k] = pats.GetString(r, 1);
    }
    if (d.patterns[0].empty() || d.patterns[1].empty() || d.patterns[2].empty())
      return Status::FailedPrecondition("site " + s.id + " lacks the demo's shift patterns");
    m.sites.push_back(std::move(d));
  }
  return m;
}

// The tables one week of one site goes into, in the order the rollups need them (shift
// instances and work orders before the facts that refer to them).
struct Week {
  Rows shifts, orders, operations, events, stops, measurements;
};

const char* const kCopy[6] = {
    "COPY millrace.shift_instance (tenant_id, id, site_id, shift_pattern_id, business_date, starts_at, ends_at, hlc, origin) FROM STDIN",
    "COPY millrace.work_order (tenant_id, id, site_id, number, material_id, planned_quantity, planned_start, planned_end, due_at, priority, line_id, status, actual_start, actual_end, good_quantity, scrap_quantity, hlc, origin) FROM STDIN",
    "COPY millrace.work_order_operation (tenant_id, id, site_id, work_order_id, seq, op_code, work_unit_id, status, planned_quantity, good_quantity, scrap_quantity, rework_quantity, ideal_cycle_time_s, actual_start, actual_end, hlc, origin) FROM STDIN",
    "COPY millrace.production_event (tenant_id, id, site_id, kind, at, work_order_id, operation_id, work_unit_id, shift_instance_id, good_quantity, scrap_quantity, rework_quantity, scrap_reason_id, hlc, origin) FROM STDIN",
    "COPY millrace.downtime_event (tenant_id, id, site_id, work_unit_id, started_at, ended_at, reason_id, planned, operation_id, hlc, origin) FROM STDIN",
    "COPY millrace.measurement (tenant_id, id, site_id, characteristic_id, operation_id, value, passed, in_spec, at, hlc, origin) FROM STDIN",
};

// One day of one site.
void Day(const HistoryShape& shape, const Master& m, const SiteData& s, int day, Week& w) {
  std::mt19937_64 rng(std::hash<std::string>{}(s.site.id) * 7919 + static_cast<std::uint64_t>(day));
  std::uniform_real_distribution<double> u01(0, 1);
  const std::string& tenant = shape.tenant;
  const std::string origin = "edge:" + s.site.id;
  auto hlc = [](std::int64_t ms) { return ms << 16; };
  const int d = 1 + day;
  const std::int64_t start = s.zone.FromCivil(shape.year, shape.month, d, 6, 0);
  const std::int64_t cut[4] = {start, s.zone.FromCivil(shape.year, shape.month, d, 14, 0),
                               s.zone.FromCivil(shape.year, shape.month, d, 22, 0),
                               s.zone.FromCivil(shape.year, shape.month, d + 1, 6, 0)};
  const std::string date = TimeZone::Utc().ToCivil(TimeZone::Utc().FromCivil(shape.year, shape.month, d, 12, 0)).Date();
  const int weekday = TimeZone::Utc().ToCivil(TimeZone::Utc().FromCivil(shape.year, shape.month, d, 12, 0)).weekday;
  std::string shift_ids[3];
  for (int k = 0; k < 3; ++k) {
    shift_ids[k] = Uuid7(cut[k], rng);
    w.shifts << tenant << shift_ids[k] << s.site.id << s.patterns[k] << date;
    w.shifts.Ts(cut[k]).Ts(cut[k + 1]).Int(hlc(cut[k])) << origin;
    w.shifts.End();
  }
  auto shift_of = [&](std::int64_t at) { return at < cut[1] ? 0 : at < cut[2] ? 1 : 2; };
  const std::int64_t end = cut[3];
  const double span_s = static_cast<double>(end - start) / 1000;
  const char* scrap_reasons[3] = {"SC-DIM", "SC-SURF", "SC-START"};

  for (int line = 1; line <= shape.lines; ++line) {
    const Product& product = line % 2 ? kBracket : kHousing;
    const std::string wo = Uuid7(start, rng);
    double wo_good = 0, wo_scrap = 0, planned = 0;
    for (const Unit& unit : s.units) {
      if (unit.line != line) continue;
      const double cycle = product.cycle[unit.step];
      // Each unit its own performance and scrap rate, a little different every day.
      const std::size_t unit_hash = std::hash<std::string>{}(unit.id);
      const double perf = 0.72 + 0.2 * static_cast<double>(unit_hash % 1000) / 1000 + 0.04 * (u01(rng) - 0.5);
      const double scrap_rate = 0.02 + 0.06 * static_cast<double>(unit_hash / 1000 % 1000) / 1000;
      const std::string op = Uuid7(start, rng);
      const double step_s = span_s / shape.counts;
      double good = 0, scrap = 0, rework = 0;
      auto event = [&](const char* kind, std::int64_t at, double g, double sc, double rw, const std::string& reason) {
        w.events << tenant << Uuid7(at, rng) << s.site.id << kind;
        w.events.Ts(at) << wo << op << unit.id << shift_ids[shift_of(at)];
        w.events.Num(g).Num(sc).Num(rw) << reason;
        w.events.Int(hlc(at)) << origin;
        w.events.End();
      };
      event("START", start + 30'000, 0, 0, 0, "");
      for (int j = 0; j < shape.counts; ++j) {
        const std::int64_t at = start + static_cast<std::int64_t>((j + 0.05 + 0.9 * u01(rng)) * step_s * 1000);
        const double total = std::max(1.0, std::round(perf * 0.8 * step_s / cycle * (0.85 + 0.3 * u01(rng))));
        double sc = 0, rw = 0;
        std::string reason;
        if (u01(rng) < scrap_rate) {
          sc = std::min(total, 1.0 + static_cast<double>(rng() % 2));
          const double pick = u01(rng);
          reason = m.reason.at(scrap_reasons[pick < 0.5 ? 0 : pick < 0.8 ? 1 : 2]);
        } else if (u01(rng) < 0.02) {
          rw = 1;
        }
        const double g = std::max(0.0, total - sc - rw);
        good += g, scrap += sc, rework += rw;
        event("COUNT", at, g, sc, rw, reason);
      }
      event("COMPLETE", end - 30'000, 0, 0, 0, "");
      planned = std::max(planned, std::round((good + scrap + rework) / 50) * 50);
      if (unit.step == 2) wo_good = good;
      wo_scrap += scrap;
      w.operations << tenant << op << s.site.id << wo;
      w.operations.Int(10 * (unit.step + 1)) << kSteps[unit.step] << unit.id << "Completed";
      w.operations.Num(planned).Num(good).Num(scrap).Num(rework).Num(cycle);
      w.operations.Ts(start + 30'000).Ts(end - 30'000).Int(hlc(end)) << origin;
      w.operations.End();

      // Stops: one in each four-hour window from 08:00, so some cross the 14:00 and 22:00
      // shift changes (and are split there by the rollups).
      for (int win = 0; win < 6; ++win) {
        std::string reason = "DT-MECH-JAM";
        double minutes = 2 + 6 * u01(rng);
        bool planned_stop = false;
        if (win == 0) reason = "DT-SETUP", minutes = 15 + 15 * u01(rng);
        if (win == 2 || win == 5) reason = "DT-MAT", minutes = 5 + 15 * u01(rng);
        if (win == 4) {
          if (u01(rng) > 1.0 / 3) continue;
          reason = "DT-MECH-HYD", minutes = 10 + 30 * u01(rng);
        }
        if (win == 5 && weekday == static_cast<int>(unit_hash % 7))
          reason = "DT-PM", minutes = 60, planned_stop = true;
        const std::int64_t len = static_cast<std::int64_t>(minutes * kMinute);
        const std::int64_t lo = start + 2 * kHour + win * 4 * kHour;
        const std::int64_t from = lo + static_cast<std::int64_t>(u01(rng) * static_cast<double>(4 * kHour - len));
        w.stops << tenant << Uuid7(from, rng) << s.site.id << unit.id;
        w.stops.Ts(from).Ts(from + len) << m.reason.at(reason) << (planned_stop ? "t" : "f") << op;
        w.stops.Int(hlc(from + len)) << origin;
        w.stops.End();
      }

      // The bracket's press is measured: the hole every half hour, the surface every two.
      if (line % 2 == 1 && unit.step == 1) {
        const double drift = 0.02 * (static_cast<double>(unit_hash % 100) / 100 - 0.5);
        std::normal_distribution<double> hole(8.0 + drift, 0.025);
        for (std::int64_t at = start + 15 * kMinute; at < end; at += 30 * kMinute) {
          const double v = std::round(hole(rng) * 10000) / 10000;
          w.measurements << tenant << Uuid7(at, rng) << s.site.id << m.hole << op;
          w.measurements.Num(v) << "" << (v >= 7.9 && v <= 8.1 ? "t" : "f");
          w.measurements.Ts(at).Int(hlc(at)) << origin;
          w.measurements.End();
          if ((at - start) % (2 * kHour) == 15 * kMinute) {
            const bool pass = u01(rng) < 0.99;
            w.measurements << tenant << Uuid7(at + 1000, rng) << s.site.id << m.visual << op << "";
            w.measurements << (pass ? "t" : "f") << (pass ? "t" : "f");
            w.measurements.Ts(at + 1000).Int(hlc(at + 1000)) << origin;
            w.measurements.End();
          }
        }
      }
    }
    w.orders << tenant << wo << s.site.id << ("H-" + s.site.id + "-L" + std::to_string(line) + "-" + date)
             << m.material.at(product.code);
    w.orders.Num(planned).Ts(start).Ts(end).Ts(end).Int(5) << s.line_ids.at(line) << "Closed";
    w.orders.Ts(start + 30'000).Ts(end - 30'000).Num(wo_good).Num(wo_scrap).Int(hlc(end)) << origin;
    w.orders.End();
  }
}

}  // namespace

std::string HistoryFirstDate(const HistoryShape& shape) {
  return TimeZone::Utc().ToCivil(TimeZone::Utc().FromCivil(shape.year, shape.month, 1, 12, 0)).Date();
}
std::string HistoryLastDate(const HistoryShape& shape) {
  return TimeZone::Utc().ToCivil(TimeZone::Utc().FromCivil(shape.year, shape.month, shape.days, 12, 0)).Date();
}

Result<HistoryTotals> FillHistory(PgConnection& db, const HistoryShape& shape,
                                  const std::function<void(int, int, const HistoryTotals&)>& progress) {
  MILLRACE_RETURN_IF_ERROR(AddLines(db, shape));
  MILLRACE_ASSIGN_OR_RETURN(Master m, LoadMaster(db, shape));
  HistoryTotals totals;
  const auto t0 = std::chrono::steady_clock::now();
  const int weeks = (shape.days + 6) / 7;
  for (int week = 0; week < weeks; ++week) {
    for (const SiteData& s : m.sites) {
      Week w;
      for (int day = week * 7; day < std::min(shape.days, week * 7 + 7); ++day) Day(shape, m, s, day, w);
      // One transaction per site and week, as the applier commits a batch.
      MILLRACE_RETURN_IF_ERROR(db.Exec("BEGIN"));
      const Rows* parts[6] = {&w.shifts, &w.orders, &w.operations, &w.events, &w.stops, &w.measurements};
      for (int i = 0; i < 6; ++i) {
        if (parts[i]->rows() == 0) continue;
        auto copied = db.CopyIn(kCopy[i], parts[i]->text());
        if (!copied.ok()) {
          (void)db.Exec("ROLLBACK");
          return copied.status().WithContext(std::string(kCopy[i]).substr(0, 60));
        }
      }
      MILLRACE_RETURN_IF_ERROR(db.Exec("COMMIT"));
      totals.shift_instances += w.shifts.rows();
      totals.work_orders += w.orders.rows();
      totals.production_events += w.events.rows();
      totals.downtime_events += w.stops.rows();
      totals.measurements += w.measurements.rows();
    }
    totals.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (progress) progress(week + 1, weeks, totals);
  }
  return totals;
}

}  // namespace millrace::bench
