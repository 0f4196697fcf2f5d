#include "millrace/central/drift_jobs.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <thread>

#include "millrace/central/central_store.h"
#include "millrace/central/job_queue.h"
#include "millrace/central/pg_pool.h"
#include "millrace/common/catalog.h"
#include "millrace/common/throttle.h"

namespace millrace::central {
namespace {

using nlohmann::json;

constexpr int kDefaultWaitSeconds = 600;

Result<json> CheckStates(PgConnection& conn, const std::string& tenant,
                         const std::vector<RequestedCheck>& checks, int* finished) {
  std::vector<std::string> ids;
  for (const auto& c : checks) ids.push_back(std::to_string(c.check_id));
  json out = json::array();
  *finished = 0;
  MILLRACE_RETURN_IF_ERROR(InTenantTransaction(conn, tenant, [&]() -> Status {
    MILLRACE_ASSIGN_OR_RETURN(
        PgResult r,
        conn.Query("SELECT site_id, check_id, state, coalesce(drifted, 0), coalesce(repaired, 0), "
                   "coalesce(left_to_sync, 0), coalesce(round_trips, 0), coalesce(error, ''), "
                   "coalesce(central_rows, 0) FROM millrace.sync_drift WHERE tenant_id = $1 AND "
                   "check_id = ANY($2::bigint[]) ORDER BY site_id",
                   {tenant, PgTextArray(ids)}));
    for (int i = 0; i < r.rows(); ++i) {
      const std::string state = r.GetString(i, 2);
      const bool over = state == "done" || state == "failed";
      if (over) ++*finished;
      json c = {{"site", r.GetString(i, 0)},
                {"check_id", std::stoll(r.GetString(i, 1))},
                {"state", over ? state : std::string("pending")}};
      if (over) {
        c["drifted"] = std::stoll(r.GetString(i, 3));
        c["repaired"] = std::stoll(r.GetString(i, 4));
        c["left_to_sync"] = std::stoll(r.GetString(i, 5));
        c["round_trips"] = std::stoll(r.GetString(i, 6));
        c["central_rows"] = std::stoll(r.GetString(i, 8));
        if (!r.GetString(i, 7).empty()) c["error"] = r.GetString(i, 7);
      }
      out.push_back(std::move(c));
    }
    return Status::Ok();
  }));
  return out;
}

Status DriftCheck(JobContext& ctx) {
  const json& p = ctx.payload();
  std::vector<std::string> sites;
  if (p.contains("site")) sites.push_back(p["site"].get<std::string>());
  const int wait_s = p.value("wait_seconds", kDefaultWaitSeconds);
  const std::string tenant = ctx.job().tenant_id;
  MILLRACE_ASSIGN_OR_RETURN(auto checks, RequestDriftChecks(ctx.conn(), tenant, sites,
                                                            "job " + std::to_string(ctx.job().id)));
  const auto total = static_cast<std::int64_t>(checks.size());
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(wait_s);
  int finished = 0;
  json states;
  while (true) {
    MILLRACE_ASSIGN_OR_RETURN(states, CheckStates(ctx.conn(), tenant, checks, &finished));
    ctx.Progress(finished, total, "sites");
    if (finished == total || ctx.Stopping() || std::chrono::steady_clock::now() >= until) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  std::int64_t drifted = 0, repaired = 0;
  for (const auto& c : states) {
    drifted += c.value("drifted", std::int64_t{0});
    repaired += c.value("repaired", std::int64_t{0});
  }
  ctx.result = {{"checks", states},
                {"finished", finished},
                {"pending", total - finished},
                {"drifted", drifted},
                {"repaired", repaired}};
  return Status::Ok();
}

Status DriftSweep(JobContext& ctx) {
  MILLRACE_ASSIGN_OR_RETURN(PgResult t, ctx.conn().Query("SELECT millrace.alert_tenants()"));
  std::int64_t requested = 0, done = 0;
  for (int i = 0; i < t.rows() && !ctx.Stopping(); ++i) {
    const std::string tenant = t.GetString(i, 0);
    auto checks = RequestDriftChecks(ctx.conn(), tenant, {}, "drift_sweep");
    if (!checks.ok()) {
      spdlog::error("drift: asking tenant {}'s sites for checks failed: {}", tenant,
                    checks.status().ToString());
    } else {
      requested += static_cast<std::int64_t>(checks->size());
    }
    MILLRACE_RETURN_IF_ERROR(InTenantTransaction(ctx.conn(), tenant, [&]() -> Status {
      return ctx.conn()
          .Query(
              "DELETE FROM millrace.sync_drift WHERE tenant_id = $1 AND requested_at < now() "
              "- interval '90 days'",
              {tenant})
          .status();
    }));
    ctx.Progress(++done, t.rows(), "tenants");
  }
  ctx.result = {{"tenants", done}, {"requested", requested}};
  return Status::Ok();
}

}  // namespace

Result<std::vector<RequestedCheck>> RequestDriftChecks(PgConnection& conn,
                                                       const std::string& tenant,
                                                       const std::vector<std::string>& sites,
                                                       const std::string& requested_by) {
  std::vector<RequestedCheck> out;
  MILLRACE_RETURN_IF_ERROR(InTenantTransaction(conn, tenant, [&]() -> Status {
    out.clear();
    std::string sql =
        "SELECT site_id, drift_check_id FROM millrace.sync_site WHERE tenant_id = $1 AND active";
    std::vector<PgParam> params = {tenant};
    if (!sites.empty()) {
      sql += " AND site_id = ANY($2::text[])";
      params.push_back(PgTextArray(sites));
    }
    MILLRACE_ASSIGN_OR_RETURN(PgResult r, conn.Query(sql + " ORDER BY site_id FOR UPDATE", params));
    if (!sites.empty() && r.rows() != static_cast<int>(sites.size()))
      return Status::NotFound("tenant " + tenant + " has no active site " + sites.front());
    for (int i = 0; i < r.rows(); ++i) {
      const std::string site = r.GetString(i, 0);
      if (!r.IsNull(i, 1)) {
        // A check the site has not begun yet (it is offline, say) stands for this one too;
        // one it is running is superseded by a new one.
        MILLRACE_ASSIGN_OR_RETURN(
            PgResult waiting,
            conn.Query("SELECT state FROM millrace.sync_drift WHERE tenant_id = $1 AND check_id "
                       "= $2",
                       {tenant, r.GetString(i, 1)}));
        if (waiting.rows() == 1 && waiting.GetString(0, 0) == "requested") {
          out.push_back({site, std::stoll(r.GetString(i, 1))});
          continue;
        }
        MILLRACE_RETURN_IF_ERROR(
            conn.Query("UPDATE millrace.sync_drift SET state = 'failed', finished_at = now(), "
                       "error = 'superseded by a newer check' WHERE tenant_id = $1 AND check_id "
                       "= $2 AND state IN ('requested', 'running')",
                       {tenant, r.GetString(i, 1)})
                .status());
      }
      MILLRACE_ASSIGN_OR_RETURN(
          PgResult c,
          conn.Query("INSERT INTO millrace.sync_drift (tenant_id, site_id, state, "
                     "requested_by) VALUES ($1, $2, 'requested', $3) RETURNING check_id",
                     {tenant, site, requested_by}));
      const std::string id = c.GetString(0, 0);
      MILLRACE_RETURN_IF_ERROR(conn.Query("UPDATE millrace.sync_site SET drift_check_id = $3 "
                                          "WHERE tenant_id = $1 AND site_id = $2",
                                          {tenant, site, id})
                                   .status());
      out.push_back({site, std::stoll(id)});
    }
    return Status::Ok();
  }));
  for (const auto& c : out)
    spdlog::info("drift: asked {}/{} to run drift check {} ({})", tenant, c.site, c.check_id,
                 requested_by);
  return out;
}

void AddDriftJobKinds(JobKinds& kinds) {
  kinds.Add(
      {"drift_check",
       "Ask one site (or every site) of the tenant to compare its tables with central's "
       "and repair what drifted; wait for the outcomes",
       false,
       {{"site", JobField::Type::kString, false, 1, 32, "the site (default: every active site)"},
        {"wait_seconds", JobField::Type::kInt, false, 0, 3600,
         "how long to wait for the sites' outcomes (default 600; 0: do not wait)"}},
       DriftCheck,
       [](const NewJob& job) {
         if (job.payload.contains("site") &&
             !catalog::IsValidSiteId(job.payload["site"].get<std::string>()))
           return Status::InvalidArgument("'site': \"" + job.payload["site"].get<std::string>() +
                                          "\" is not a site id");
         return Status::Ok();
       },
       3,
       5000});
  kinds.Add({"drift_sweep",
             "Ask every active site of every tenant for a drift check; forget checks older than "
             "90 days",
             true,
             {},
             DriftSweep,
             nullptr,
             3,
             5000});
}

JobSchedule DriftSweepSchedule() {
  return {"drift_sweep", std::chrono::hours(24), json::object()};
}

void AddDriftMetrics(MetricsRegistry& metrics, PgPool* pool, std::chrono::milliseconds refresh) {
  auto& drifted = metrics.AddGauge("mes_central_drift_rows",
                                   "Rows the site's latest drift check found differing from "
                                   "central (repaired or not)",
                                   {"tenant", "site"});
  auto& repaired = metrics.AddGauge("mes_central_drift_repaired_rows",
                                    "Of them, rows the check repaired from their owner's copy",
                                    {"tenant", "site"});
  auto& checked =
      metrics.AddGauge("mes_central_drift_checked_timestamp_seconds",
                       "When the site's latest drift check finished", {"tenant", "site"});
  auto& failed =
      metrics.AddGauge("mes_central_drift_check_failed",
                       "1 when the site's latest drift check failed", {"tenant", "site"});
  metrics.AddCollector(AtMostEvery(refresh, [&, pool] {
    auto conn = pool->Acquire();
    if (!conn.ok()) return;
    PgConnection& c = **conn;
    auto tenants = c.Query("SELECT millrace.alert_tenants()");
    if (!tenants.ok()) {
      spdlog::warn("metrics: drift checks: {}", tenants.status().ToString());
      return;
    }
    for (int t = 0; t < tenants->rows(); ++t) {
      const std::string tenant = tenants->GetString(t, 0);
      Status s = InTenantTransaction(c, tenant, [&]() -> Status {
        // Each active site's latest finished check.
        MILLRACE_ASSIGN_OR_RETURN(
            PgResult r,
            c.Query("SELECT DISTINCT ON (d.site_id) d.site_id, extract(epoch FROM "
                    "d.finished_at), coalesce(d.drifted, 0), coalesce(d.repaired, 0), d.state = "
                    "'failed' FROM millrace.sync_drift d JOIN millrace.sync_site s ON s.tenant_id "
                    "= d.tenant_id AND s.site_id = d.site_id AND s.active WHERE d.tenant_id = $1 "
                    "AND d.state IN ('done', 'failed') AND d.finished_at IS NOT NULL ORDER BY "
                    "d.site_id, d.check_id DESC",
                    {tenant}));
        for (int i = 0; i < r.rows(); ++i) {
          const std::vector<std::string> labels = {tenant, r.GetString(i, 0)};
          checked.With(labels).Set(std::stod(r.GetString(i, 1)));
          drifted.With(labels).Set(std::stod(r.GetString(i, 2)));
          repaired.With(labels).Set(std::stod(r.GetString(i, 3)));
          failed.With(labels).Set(r.Get(i, 4) == "t" ? 1 : 0);
        }
        return Status::Ok();
      });
      if (!s.ok()) spdlog::warn("metrics: drift checks of {}: {}", tenant, s.ToString());
    }
  }));
}

}  // namespace millrace::central
