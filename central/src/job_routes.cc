#include "millrace/central/job_routes.h"

#include "json_body.h"
#include "json_route.h"

#include <set>

#include "millrace/central/site_backups.h"
#include "millrace/common/catalog.h"
#include "millrace/common/clock.h"

namespace millrace::central {
namespace {

using nlohmann::json;

// The tenant whose jobs `who` may see or change: a tenant admin's own (another named is
// refused), or for a platform operator the one named ("" for all).
Result<std::string> Scope(const Viewer& who, const std::string& named) {
  if (who.role == Role::kPlatformOperator) return named;
  if (!RoleAtLeast(who.role, Role::kTenantAdmin))
    return Status::PermissionDenied("only a tenant_admin (or a platform_operator) sees the job queue");
  if (!named.empty() && named != who.tenant_id)
    return Status::PermissionDenied("a tenant_admin sees only the jobs of tenant " + who.tenant_id);
  return who.tenant_id;
}

Result<std::int64_t> JobId(const HttpRequest& req) {
  const std::string& text = req.path_params.at("id");
  if (text.empty() || text.size() > 18 || text.find_first_not_of("0123456789") != std::string::npos)
    return Status::InvalidArgument("job id '" + text + "' is not a number");
  return std::stoll(text);
}

Result<int> IntField(const json& body, const std::string& field, int fallback) {
  if (!body.contains(field)) return fallback;
  if (!body[field].is_number_integer()) return Status::InvalidArgument("'" + field + "': expected an integer");
  const auto v = body[field].get<std::int64_t>();
  if (v < -1'000'000 || v > 1'000'000) return Status::InvalidArgument("'" + field + "' is out of range");
  return static_cast<int>(v);
}

}  // namespace

void AddJobRoutes(Router& router, JobRoutesOptions o) {
  auto opts = std::make_shared<JobRoutesOptions>(std::move(o));
  // Runs `body` with the caller's scope and a connection, answering its JSON or its error.
  const auto handle = [opts](JsonRouteBody body) {
    return JsonRoute(opts->pool, opts->authenticate, std::move(body));
  };

  router.Add("GET", "/api/v1/jobs", handle([](const HttpRequest& req, const Viewer& who, PgConnection& conn) -> Result<json> {
    JobFilter f;
    std::string tenant;
    for (const auto& [k, v] : req.query) {
      if (k == "tenant") tenant = v;
      else if (k == "state") f.state = v;
      else if (k == "kind") f.kind = v;
      else if (k == "limit" || k == "before") {
        MILLRACE_RETURN_IF_ERROR(PageParam(k, v, 10000, &f.limit, &f.before));
      } else {
        return Status::InvalidArgument("unknown query parameter '" + k +
                                       "' (tenant, state, kind, before and limit are known)");
      }
    }
    MILLRACE_ASSIGN_OR_RETURN(f.tenant_id, Scope(who, tenant));
    MILLRACE_ASSIGN_OR_RETURN(std::vector<Job> jobs, ListJobs(conn, f));
    const std::int64_t now = SystemClock()->NowMillis();
    json items = json::array();
    for (const Job& j : jobs) items.push_back(JobJson(j, now));
    json out{{"items", std::move(items)}};
    // The keyset of the next page (?before=), when this one is full.
    if (static_cast<int>(jobs.size()) == f.limit && !jobs.empty()) out["next_before"] = jobs.back().id;
    MILLRACE_ASSIGN_OR_RETURN(std::vector<JobCount> counts, CountJobs(conn, f.tenant_id));
    json c = json::array();
    for (const JobCount& x : counts)
      c.push_back({{"kind", x.kind}, {"state", x.state}, {"jobs", x.jobs}, {"oldest_ready_s", x.oldest_ready_s}});
    out["counts"] = std::move(c);
    return out;
  }));

  router.Add("GET", "/api/v1/jobs/{id}", handle([](const HttpRequest& req, const Viewer& who, PgConnection& conn) -> Result<json> {
    MILLRACE_ASSIGN_OR_RETURN(std::int64_t id, JobId(req));
    MILLRACE_ASSIGN_OR_RETURN(std::string tenant, Scope(who, ""));
    MILLRACE_ASSIGN_OR_RETURN(std::optional<Job> job, GetJob(conn, id, tenant));
    if (!job) return Status::NotFound("no job " + std::to_string(id));
    return JobJson(*job, SystemClock()->NowMillis());
  }));

  router.Add("POST", "/api/v1/jobs", handle([opts](const HttpRequest& req, const Viewer& who, PgConnection& conn) -> Result<json> {
    MILLRACE_ASSIGN_OR_RETURN(json body, JsonObjectBody(req, {"kind", "tenant", "payload", "priority", "max_attempts"}));
    if (!body.contains("kind") || !body["kind"].is_string())
      return Status::InvalidArgument("'kind' is required: a job kind");
    NewJob job;
    job.kind = body["kind"].get<std::string>();
    const JobKind* kind = opts->kinds->Find(job.kind);
    std::string named;
    if (body.contains("tenant")) {
      if (!body["tenant"].is_string()) return Status::InvalidArgument("'tenant': expected a string");
      named = body["tenant"].get<std::string>();
    }
    if (kind && kind->platform) {
      if (who.role != Role::kPlatformOperator)
        return Status::PermissionDenied(job.kind + " is a platform job: only a platform_operator enqueues it");
      job.tenant_id = named.empty() ? kPlatformTenant : named;
    } else {
      MILLRACE_ASSIGN_OR_RETURN(job.tenant_id, Scope(who, named));
      if (job.tenant_id.empty()) return Status::InvalidArgument("'tenant' is required: " + job.kind + " is a tenant's job");
    }
    if (body.contains("payload")) job.payload = body["payload"];
    MILLRACE_ASSIGN_OR_RETURN(job.priority, IntField(body, "priority", 0));
    MILLRACE_ASSIGN_OR_RETURN(job.max_attempts, IntField(body, "max_attempts", NewJob{}.max_attempts));
    job.created_by = who.name;
    MILLRACE_ASSIGN_OR_RETURN(std::int64_t id, opts->kinds->Enqueue(conn, job));
    MILLRACE_ASSIGN_OR_RETURN(std::optional<Job> made, GetJob(conn, id, ""));
    if (!made) return Status::Internal("job " + std::to_string(id) + " vanished");
    return JobJson(*made, SystemClock()->NowMillis());
  }));

  router.Add("GET", "/api/v1/jobs/{id}/file", [opts](const HttpRequest& req) {
    auto who = opts->authenticate(req);
    if (!who.ok()) return HttpResponse::Error(who.status());
    auto id = JobId(req);
    if (!id.ok()) return HttpResponse::Error(id.status());
    auto tenant = Scope(*who, "");
    if (!tenant.ok()) return HttpResponse::Error(tenant.status());
    auto conn = opts->pool->Acquire();
    if (!conn.ok()) return HttpResponse::Error(conn.status());
    auto job = GetJob(**conn, *id, *tenant);
    if (!job.ok()) return HttpResponse::Error(job.status());
    if (!*job) return HttpResponse::Error(Status::NotFound("no job " + std::to_string(*id)));
    auto path = ExportFilePath(opts->export_dir, **job);
    if (!path.ok()) return HttpResponse::Error(path.status());
    return HttpResponse::File(*path, "text/csv; charset=utf-8", (**job).result["file"].get<std::string>());
  });

  for (const char* action : {"cancel", "retry"}) {
    const bool cancel = std::string(action) == "cancel";
    router.Add("POST", std::string("/api/v1/jobs/{id}/") + action,
               handle([cancel](const HttpRequest& req, const Viewer& who, PgConnection& conn) -> Result<json> {
                 if (!req.body.empty() && json::parse(req.body, nullptr, false) != json::object())
                   return Status::InvalidArgument("this request takes no fields (send {} or nothing)");
                 MILLRACE_ASSIGN_OR_RETURN(std::int64_t id, JobId(req));
                 MILLRACE_ASSIGN_OR_RETURN(std::string tenant, Scope(who, ""));
                 MILLRACE_ASSIGN_OR_RETURN(std::string state,
                                           cancel ? CancelJob(conn, id, tenant) : RetryJob(conn, id, tenant));
                 return json{{"id", id}, {"state", state}};
               }));
  }

  router.Add("GET", "/api/v1/backups", handle([](const HttpRequest& req, const Viewer& who, PgConnection& conn) -> Result<json> {
    std::string tenant, site;
    for (const auto& [k, v] : req.query) {
      if (k == "tenant") tenant = v;
      else if (k == "site") site = v;
      else return Status::InvalidArgument("unknown query parameter '" + k + "' (tenant and site are known)");
    }
    if (!site.empty() && !catalog::IsValidSiteId(site))
      return Status::InvalidArgument("'site': \"" + site + "\" is not a site id");
    MILLRACE_ASSIGN_OR_RETURN(std::string scope, Scope(who, tenant));
    if (scope.empty()) return Status::InvalidArgument("'tenant' is required: backups belong to a tenant's sites");
    MILLRACE_ASSIGN_OR_RETURN(std::vector<SiteBackup> list, ListSiteBackups(conn, scope, site));
    json out = json::array();
    for (const SiteBackup& b : list) out.push_back(SiteBackupJson(b));
    return json{{"tenant", scope}, {"backups", out}};
  }));
}

}  // namespace millrace::central
