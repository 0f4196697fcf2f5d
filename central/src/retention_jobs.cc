// The fact_retention job kind: retention.h's RunFactRetention for every tenant, daily.
#include <nlohmann/json.hpp>

#include "millrace/central/retention.h"

namespace millrace::central {

void AddRetentionJobKind(JobKinds& kinds, const BackupJobOptions& options) {
  kinds.Add({"fact_retention",
             "Export each tenant's facts older than its retention to the backup store, then "
             "purge them (the report rollups stay)",
             true,
             {},
             [options](JobContext& ctx) -> Status {
               if (!options.store)
                 return Status::FailedPrecondition("this node keeps no backup store ([backups])");
               MILLRACE_ASSIGN_OR_RETURN(
                   PgResult t, ctx.conn().Query("SELECT tenant_id FROM millrace.fact_retention_tenants()"));
               nlohmann::json tenants = nlohmann::json::object();
               Status first_error;
               for (int i = 0; i < t.rows() && !ctx.Stopping(); ++i) {
                 const std::string tenant = t.GetString(i, 0);
                 // One tenant's failure is recorded; the others' retention goes on.
                 auto o = RunFactRetention(ctx.conn(), *options.store, options.work_dir, tenant,
                                           "job:" + std::to_string(ctx.job().id), nullptr,
                                           [&] { return ctx.Stopping(); });
                 if (o.ok()) {
                   tenants[tenant] = {{"months", o->months}, {"rows", o->rows}, {"bytes", o->bytes}};
                 } else {
                   tenants[tenant] = {{"error", o.status().ToString()}};
                   if (first_error.ok()) first_error = o.status().WithContext("tenant " + tenant);
                 }
                 ctx.Progress(i + 1, t.rows(), "tenants");
               }
               ctx.result = {{"tenants", tenants}};
               return first_error;
             }});
}

JobSchedule RetentionSchedule() {
  return {"fact_retention", std::chrono::hours(24), nlohmann::json::object()};
}

}  // namespace millrace::central
