#include "millrace/central/job_kinds.h"

#include "millrace/central/rollups.h"
#include "millrace/central/schema.h"

namespace millrace::central {
namespace {

constexpr std::int64_t kDayMs = 86'400'000;
// Unix milliseconds from 2000 to 2100: the range a rebuild may name.
constexpr std::int64_t kMinMs = 946'684'800'000, kMaxMs = 4'102'444'800'000;

Status PartitionMaintenance(JobContext& ctx) {
  const int months = ctx.payload().value("months_ahead", 3);
  MILLRACE_ASSIGN_OR_RETURN(int made, EnsureFactPartitions(ctx.conn(), months));
  ctx.result = {{"partitions_made", made}};
  return Status::Ok();
}

Status RollupRebuild(JobContext& ctx) {
  RebuildRange range;
  range.tenant_id = ctx.job().tenant_id;
  range.site_id = ctx.payload().at("site").get<std::string>();
  range.from_ms = ctx.payload().value("from_ms", std::int64_t{0});
  range.to_ms = ctx.payload().value("to_ms", std::int64_t{0});
  std::int64_t days = 0;
  MILLRACE_RETURN_IF_ERROR(RebuildRollups(
      ctx.conn(), range,
      [&](const RebuildProgress& p) {
        days = (p.done_ms + kDayMs - 1) / kDayMs;
        ctx.Progress(days, (p.total_ms + kDayMs - 1) / kDayMs, "days");
      },
      [&] { return ctx.Stopping(); }));
  ctx.result = {{"days_rebuilt", days}};
  return Status::Ok();
}

}  // namespace

JobKinds CentralJobKinds() {
  JobKinds kinds;
  kinds.Add({"partition_maintenance",
             "Make the site fact tables' monthly partitions up to months_ahead months ahead",
             true,
             {{"months_ahead", JobField::Type::kInt, false, 0, 24, "months after this one (default 3)"}},
             PartitionMaintenance});
  kinds.Add({"rollup_rebuild",
             "Recompute a site's report rollups from its raw facts over a range, a day at a time",
             false,
             {{"site", JobField::Type::kString, true, 1, 64, "the site id"},
              {"from_ms", JobField::Type::kInt, false, kMinMs, kMaxMs,
               "Unix milliseconds to start at (default: the site's first fact)"},
              {"to_ms", JobField::Type::kInt, false, kMinMs, kMaxMs,
               "Unix milliseconds to stop before (default: after the site's last fact)"}},
             RollupRebuild});
  return kinds;
}

std::vector<JobSchedule> CentralJobSchedules() {
  return {{"partition_maintenance", std::chrono::hours(6), nlohmann::json::object()}};
}

}  // namespace millrace::central
