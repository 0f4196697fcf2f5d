#include "millrace/central/provision.h"

#include "millrace/central/enrollment.h"
#include "millrace/common/http_client.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "millrace/central/central_audit.h"
#include "millrace/common/pin_hash.h"
#include "millrace/central/central_store.h"
#include "millrace/central/pg_rows.h"
#include "millrace/common/config.h"
#include "millrace/common/demo_factory.h"
#include "millrace/common/files.h"
#include "millrace/common/row_json.h"
#include "millrace/common/time_zone.h"
#include "millrace/common/uuid.h"
#include "millrace/sync/merge.h"
#include "millrace/sync/row_codec.h"
#include "millrace/sync/transport.h"

namespace millrace::central {
namespace {

namespace fs = std::filesystem;
using catalog::ColumnType;
using catalog::MergePolicy;
using json = nlohmann::json;

// One JSON value into a column. InvalidArgument names the column. (An out-parameter
// rather than Result<Value>: GCC 12 under ASan misreads the variant in a Result.)
Status ValueFromJson(const catalog::TableSpec& t, const catalog::ColumnSpec& c, const json& v,
                     Value* out) {
  auto bad = [&](const char* want) {
    return Status::InvalidArgument(t.name + "." + c.name + ": expected " + want + ", got " +
                                   v.dump());
  };
  if (v.is_null()) {
    *out = std::monostate{};
    return Status::Ok();
  }
  switch (c.type) {
    case ColumnType::kInt:
    case ColumnType::kTimestamp:
    case ColumnType::kHlc:
      if (!v.is_number_integer()) return bad("an integer");
      *out = v.get<std::int64_t>();
      return Status::Ok();
    case ColumnType::kBool:
      if (!v.is_boolean()) return bad("true or false");
      *out = std::int64_t{v.get<bool>() ? 1 : 0};
      return Status::Ok();
    case ColumnType::kReal:
      if (!v.is_number()) return bad("a number");
      *out = v.get<double>();
      return Status::Ok();
    case ColumnType::kJson:
      *out = v.dump();
      return Status::Ok();
    default:
      if (!v.is_string()) return bad("a string");
      *out = v.get<std::string>();
      return Status::Ok();
  }
}

}  // namespace

Status CreateTenant(PgConnection& conn, const std::string& tenant_id, const std::string& name,
                    const WriteContext& who) {
  if (!catalog::IsValidSiteId(tenant_id))
    return Status::InvalidArgument("tenant id must be 1..32 characters of a-z, 0-9 and '-': \"" +
                                   tenant_id + "\"");
  // The registry is behind row-level security too: a tenant is made in its own context.
  return InTenantTransaction(conn, tenant_id, [&]() -> Status {
    auto r = conn.Query("INSERT INTO millrace.sync_tenant (tenant_id, name) VALUES ($1, $2)",
                        {tenant_id, name.empty() ? tenant_id : name});
    if (r.status().code() == StatusCode::kAlreadyExists)
      return Status::AlreadyExists("tenant " + tenant_id + " already exists");
    MILLRACE_RETURN_IF_ERROR(r.status());
    return RecordCentralAudit(conn, tenant_id, WallClockHlc(), who,
                              {"tenant.create", "", "sync_tenant", tenant_id, nullptr,
                               json{{"tenant_id", tenant_id},
                                    {"name", name.empty() ? tenant_id : name}}});
  });
}

Result<sync::v1::FeedBatch> SiteSnapshot(PgConnection& conn, const std::string& tenant_id,
                                         const std::string& site_id) {
  MILLRACE_RETURN_IF_ERROR(BeginTenant(conn, tenant_id, /*repeatable_read=*/true));
  sync::v1::FeedBatch batch;
  Status s = [&]() -> Status {
    MILLRACE_ASSIGN_OR_RETURN(
        auto head, conn.Query("SELECT feed_head FROM millrace.sync_tenant WHERE tenant_id = $1",
                              {tenant_id}));
    if (head.rows() != 1) return Status::NotFound("no tenant " + tenant_id);
    batch.set_from_cursor(0);
    batch.set_to_cursor(std::stoull(head.GetString(0, 0)));
    for (const auto& t : catalog::MesCatalog().tables()) {
      if (t.merge != MergePolicy::kCentralOwned && t.merge != MergePolicy::kSharedLww) continue;
      std::string where = "tenant_id = $1";
      std::vector<PgParam> params = {tenant_id};
      if (t.scope == catalog::RoutingScope::kSite) {
        where += " AND (site_id IS NULL OR site_id = $2)";
        params.push_back(site_id);
      }
      MILLRACE_ASSIGN_OR_RETURN(auto res, conn.Query("SELECT " + PgSelectList(t) + " FROM " +
                                                         PgTable(t) + " WHERE " + where +
                                                         " ORDER BY id",
                                                     params));
      for (int r = 0; r < res.rows(); ++r) {
        MILLRACE_ASSIGN_OR_RETURN(Row row, RowFromPg(t, res, r));
        *batch.add_changes() = sync::EncodeChange(row, sync::v1::OP_UPSERT);
      }
    }
    return conn.Exec("COMMIT");
  }();
  if (!s.ok()) {
    (void)Rollback(conn);
    return s;
  }
  return batch;
}

Result<fs::path> StageSiteDirectory(const fs::path& out_dir) {
  const fs::path tmp = out_dir.string() + ".partial";
  std::error_code ec;
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp, ec);
  if (ec) return Status::IOError("cannot create " + tmp.string() + ": " + ec.message());
  ::chmod(tmp.c_str(), 0700);
  return tmp;
}

Status WriteSiteKeys(const fs::path& dir, const sync::CurveKeyPair& keys,
                     const ProvisionOptions& o) {
  MILLRACE_RETURN_IF_ERROR(sync::WriteKeyFile((dir / "site.key").string(), keys.secret_key, true));
  MILLRACE_RETURN_IF_ERROR(sync::WriteKeyFile((dir / "site.pub").string(), keys.public_key, false));
  if (o.insecure_development) return Status::Ok();
  return sync::WriteKeyFile((dir / "central.pub").string(), o.central_public_key, false);
}

std::string SiteEdgeToml(const ProvisionOptions& o, bool with_snapshot,
                         const std::string& enrollment_code) {
  std::string endpoints;
  for (const auto& e : o.endpoints) endpoints += (endpoints.empty() ? "" : ", ") + TomlQuote(e);
  std::string toml = "# Millrace edge of site " + o.site_id + " (tenant " + o.tenant_id +
                     "), written by mes-central " +
                     (with_snapshot ? "provision-site" : "restore-site") +
                     ".\n"
                     "[site]\nid = " +
                     TomlQuote(o.site_id) + "\ntime_zone = " + TomlQuote(o.time_zone) +
                     "\n\n[store]\npath = \"edge.db\"" +
                     "\n\n[sync]\nendpoints = [" + endpoints + "]\n";
  if (o.insecure_development) {
    toml += "insecure_development = true\n";
  } else {
    toml += "secret_key_file = \"site.key\"\ncentral_public_key_file = \"central.pub\"\n";
  }
  if (!enrollment_code.empty())
    toml += "# One-time: the edge makes site.key and registers it with this code on first contact.\n"
            "enrollment_code = " + TomlQuote(enrollment_code) + "\nenroll_url = " + TomlQuote(o.enroll_url) + "\n";
  if (with_snapshot) toml += "snapshot_file = \"snapshot.pb\"\n";
  toml += "\n[http]\nport = " + std::to_string(o.http_port) + "\n";
  return toml;
}

Result<ProvisionResult> ProvisionSite(PgConnection& conn, const ProvisionOptions& o) {
  if (!catalog::IsValidSiteId(o.site_id))
    return Status::InvalidArgument("site id must be 1..32 characters of a-z, 0-9 and '-': \"" +
                                   o.site_id + "\"");
  if (o.endpoints.empty()) return Status::InvalidArgument("name at least one central endpoint");
  // The edge reads the zone from this machine's kind of zoneinfo, PostgreSQL from its own;
  // both must know it (the INSERT below asks PostgreSQL).
  MILLRACE_RETURN_IF_ERROR(TimeZone::Load(o.time_zone).status());
  std::error_code ec;
  if (fs::exists(o.out_dir, ec))
    return Status::AlreadyExists(o.out_dir + " already exists; provisioning writes a new directory");
  const bool enroll = o.enroll_hours > 0;
  if (enroll) {
    if (o.insecure_development)
      return Status::InvalidArgument("enrollment codes register Curve keys: not with insecure_development");
    // The edge's HTTP client speaks plain http (a TLS-terminating proxy may stand beside it).
    if (o.enroll_url.rfind("http://", 0) != 0 || !ParseHttpUrl(o.enroll_url).ok())
      return Status::InvalidArgument("an enrollment code needs central's HTTP address (--enroll-url http://host:port), got \"" +
                                     o.enroll_url + "\"");
  }
  sync::CurveKeyPair keys;
  if (!enroll) {
    MILLRACE_ASSIGN_OR_RETURN(keys, sync::GenerateCurveKeyPair());
  }
  const std::string code = enroll ? NewEnrollmentCode() : "";

  const fs::path out = fs::absolute(o.out_dir);
  MILLRACE_ASSIGN_OR_RETURN(const fs::path tmp, StageSiteDirectory(out));
  Status keyed = enroll ? sync::WriteKeyFile((tmp / "central.pub").string(), o.central_public_key, false)
                        : WriteSiteKeys(tmp, keys, o);
  if (!keyed.ok()) {
    fs::remove_all(tmp, ec);
    return keyed;
  }

  Status inserted = InTenantTransaction(conn, o.tenant_id, [&]() -> Status {
    MILLRACE_RETURN_IF_ERROR(
        conn.Query("INSERT INTO millrace.sync_site (tenant_id, site_id, time_zone) VALUES ($1, "
                   "$2, $3)",
                   {o.tenant_id, o.site_id, o.time_zone})
            .status());
    if (enroll) {
      MILLRACE_ASSIGN_OR_RETURN(std::string hash, EnrollmentCodeHash(code));
      MILLRACE_RETURN_IF_ERROR(
          conn.Query("INSERT INTO millrace.sync_enrollment (tenant_id, site_id, code_hash, expires_at) "
                     "VALUES ($1, $2, $3, now() + make_interval(hours => $4::int))",
                     {o.tenant_id, o.site_id, hash, std::to_string(o.enroll_hours)})
              .status());
    } else {
      MILLRACE_RETURN_IF_ERROR(conn.Query("INSERT INTO millrace.sync_site_key (tenant_id, site_id, "
                                          "public_key) VALUES ($1, $2, $3)",
                                          {o.tenant_id, o.site_id, keys.public_key})
                                   .status());
    }
    return RecordCentralAudit(
        conn, o.tenant_id, WallClockHlc(), o.who,
        {"site.provision", o.site_id, "sync_site", "", nullptr,
         json{{"site_id", o.site_id},
              {"public_key", enroll ? json(nullptr) : json(keys.public_key)},
              {"enrollment_hours", enroll ? json(o.enroll_hours) : json(nullptr)},
              {"endpoints", o.endpoints},
              {"time_zone", o.time_zone}}});
  });
  if (!inserted.ok()) {
    fs::remove_all(tmp, ec);
    if (inserted.code() == StatusCode::kAlreadyExists)
      return Status::AlreadyExists("site " + o.tenant_id + "/" + o.site_id + " already exists");
    if (inserted.message().find("sync_site_tenant_id_fkey") != std::string::npos)
      return Status::NotFound("no tenant " + o.tenant_id + " (mes-central create-tenant)");
    return inserted;
  }
  auto snapshot = SiteSnapshot(conn, o.tenant_id, o.site_id);
  if (!snapshot.ok()) return snapshot.status();
  MILLRACE_RETURN_IF_ERROR(
      WriteFileAtomically((tmp / "snapshot.pb").string(), snapshot->SerializeAsString(), 0600));

  MILLRACE_RETURN_IF_ERROR(
      WriteFileAtomically((tmp / "edge.toml").string(), SiteEdgeToml(o, true, code), 0600));
  fs::rename(tmp, out, ec);
  if (ec) return Status::IOError("cannot move " + tmp.string() + " to " + out.string() + ": " + ec.message());
  MILLRACE_RETURN_IF_ERROR(FsyncParentDirectory(out.string()));
  return ProvisionResult{out.string(), keys.public_key, code, snapshot->to_cursor(),
                         static_cast<std::size_t>(snapshot->changes_size())};
}

Status RevokeSite(PgConnection& conn, const std::string& tenant_id, const std::string& site_id,
                  const WriteContext& who) {
  return InTenantTransaction(conn, tenant_id, [&]() -> Status {
    MILLRACE_ASSIGN_OR_RETURN(
        auto r, conn.Query("UPDATE millrace.sync_site SET active = false, revoked_at = "
                           "coalesce(revoked_at, now()) WHERE tenant_id = $1 AND site_id = $2",
                           {tenant_id, site_id}));
    if (r.affected() != 1) return Status::NotFound("no site " + tenant_id + "/" + site_id);
    return RecordCentralAudit(conn, tenant_id, WallClockHlc(), who,
                              {"site.revoke", site_id, "sync_site", "", json{{"active", true}},
                               json{{"active", false}}});
  });
}

Status RequestKeyRotation(PgConnection& conn, const std::string& tenant_id,
                          const std::string& site_id, int grace_seconds, const WriteContext& who) {
  if (grace_seconds < 0 || grace_seconds > 30 * 86400)
    return Status::InvalidArgument("the grace must be 0 .. 2592000 seconds (30 days)");
  return InTenantTransaction(conn, tenant_id, [&]() -> Status {
    MILLRACE_ASSIGN_OR_RETURN(
        auto r, conn.Query("UPDATE millrace.sync_site SET key_rotation_requested_at = now(), "
                           "key_rotation_grace_seconds = $3 WHERE tenant_id = $1 AND site_id = "
                           "$2 AND active",
                           {tenant_id, site_id, std::to_string(grace_seconds)}));
    if (r.affected() != 1) return Status::NotFound("no active site " + tenant_id + "/" + site_id);
    return RecordCentralAudit(conn, tenant_id, WallClockHlc(), who,
                              {"site.key_rotation_requested", site_id, "sync_site_key", "",
                               nullptr, json{{"grace_seconds", grace_seconds}}});
  });
}

Result<KeyRotationState> KeyRotationStatus(PgConnection& conn, const std::string& tenant_id,
                                           const std::string& site_id) {
  KeyRotationState st;
  Status s = InTenantTransaction(conn, tenant_id, [&]() -> Status {
    MILLRACE_ASSIGN_OR_RETURN(
        auto site, conn.Query("SELECT key_rotation_requested_at IS NOT NULL FROM "
                              "millrace.sync_site WHERE tenant_id = $1 AND site_id = $2",
                              {tenant_id, site_id}));
    if (site.rows() != 1) return Status::NotFound("no site " + tenant_id + "/" + site_id);
    st.pending = site.Get(0, 0) == "t";
    MILLRACE_ASSIGN_OR_RETURN(
        auto keys, conn.Query("SELECT public_key, coalesce(retire_at::text, '') FROM "
                              "millrace.sync_site_key WHERE tenant_id = $1 AND site_id = $2 "
                              "ORDER BY created_at",
                              {tenant_id, site_id}));
    for (int i = 0; i < keys.rows(); ++i)
      st.keys.push_back({keys.GetString(i, 0), keys.GetString(i, 1)});
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return st;
}

Result<PutResult> PutRows(PgConnection& conn, const std::string& tenant_id,
                          const std::string& table_name, const json& rows, HybridClock& hlc,
                          const WriteContext& who) {
  const catalog::TableSpec* t = catalog::MesCatalog().Find(table_name);
  if (!t) return Status::InvalidArgument("no table " + table_name + " in the catalog");
  if (t->merge != MergePolicy::kCentralOwned && t->merge != MergePolicy::kSharedLww)
    return Status::InvalidArgument(table_name +
                                   " holds site facts: only its site writes them, central never");
  if (rows.is_object()) return PutRows(conn, tenant_id, table_name, json::array({rows}), hlc, who);
  if (!rows.is_array()) return Status::InvalidArgument("rows must be a JSON object or an array of objects");
  MILLRACE_RETURN_IF_ERROR(BeginTenant(conn, tenant_id));
  PutResult result;
  Status s = [&]() -> Status {
    std::vector<Row> plain;
    std::vector<SharedChange> shared;
    std::vector<std::pair<std::uint64_t, CentralAuditRecord>> audits;
    for (const auto& obj : rows) {
      if (!obj.is_object()) return Status::InvalidArgument("each row must be a JSON object");
      for (auto it = obj.begin(); it != obj.end(); ++it)
        if (!t->Find(it.key()) || it.key() == catalog::kHlcColumn ||
            it.key() == catalog::kOriginColumn)
          return Status::InvalidArgument(table_name + " has no writable column " + it.key());
      std::string id = obj.contains("id") && obj["id"].is_string()
                           ? obj["id"].get<std::string>()
                           : Uuid::NewV7().ToString();
      // Start from the stored row, so a partial object edits only what it names.
      Row row(*t);
      MILLRACE_ASSIGN_OR_RETURN(
          auto existing, conn.Query("SELECT " + PgSelectList(*t) + " FROM " + PgTable(*t) +
                                        " WHERE tenant_id = $1 AND id = $2::uuid",
                                    {tenant_id, id}));
      std::uint64_t base_hlc = 0;
      if (existing.rows() == 1) {
        MILLRACE_ASSIGN_OR_RETURN(row, RowFromPg(*t, existing, 0));
        base_hlc = static_cast<std::uint64_t>(row.Int(catalog::kHlcColumn));
        // The edit comes after the row it replaces, whatever this process's clock says:
        // a site clock minutes ahead (inside the skew limit) stamped it, and a column of a
        // shared row may carry a later clock than the row's own.
        std::uint64_t seen = base_hlc;
        if (t->merge == MergePolicy::kSharedLww) {
          MILLRACE_ASSIGN_OR_RETURN(
              auto clocks, conn.Query("SELECT max(h) FROM millrace.sync_column_clock c, "
                                      "unnest(c.hlcs) h WHERE c.tenant_id = $1 AND "
                                      "c.table_name = $2 AND c.row_id = $3::uuid",
                                      {tenant_id, t->name, id}));
          if (clocks.rows() == 1 && !clocks.IsNull(0, 0))
            seen = std::max(seen, static_cast<std::uint64_t>(std::stoull(clocks.GetString(0, 0))));
        }
        hlc.Observe(HlcTimestamp::FromPacked(seen));
      } else {
        // A deleted row written again comes back: after its delete, whatever the clocks say,
        // and made on the row as deleted (no conflict with its delete).
        MILLRACE_ASSIGN_OR_RETURN(auto tomb, Tombstones(conn, tenant_id, *t, {id}));
        if (!tomb.empty()) {
          base_hlc = tomb.begin()->second.hlc;
          hlc.Observe(HlcTimestamp::FromPacked(base_hlc));
        }
      }
      row.Set(catalog::kIdColumn, id);
      std::vector<std::uint32_t> changed;
      const auto& cols = t->columns;
      json old_value = existing.rows() == 1 ? json::object() : json(nullptr);
      json new_value = json::object();
      for (std::size_t i = 0; i < cols.size(); ++i) {
        if (!obj.contains(cols[i].name)) continue;
        Value v;
        MILLRACE_RETURN_IF_ERROR(ValueFromJson(*t, cols[i], obj[cols[i].name], &v));
        if (existing.rows() == 1) old_value[cols[i].name] = AuditValue(cols[i], row.values()[i]);
        new_value[cols[i].name] = AuditValue(cols[i], v);
        row.Set(cols[i].name, std::move(v));
        changed.push_back(static_cast<std::uint32_t>(i));
      }
      const HlcTimestamp now = hlc.Now();
      row.Set(catalog::kHlcColumn, static_cast<std::int64_t>(now.packed()));
      row.Set(catalog::kOriginColumn, std::string(kCentralOrigin));
      MILLRACE_RETURN_IF_ERROR(row.Validate());
      result.ids.push_back(id);
      audits.push_back({now.packed(),
                        {"put", row.Text(catalog::kSiteColumn), t->name, id, old_value, new_value}});
      if (t->merge == MergePolicy::kSharedLww) {
        shared.push_back({row, {now.packed(), kCentralOrigin}, base_hlc,
                          existing.rows() == 1 ? changed : std::vector<std::uint32_t>{}});
      } else {
        plain.push_back(std::move(row));
      }
    }
    std::vector<FeedRow> feed;
    if (!plain.empty()) {
      std::vector<const Row*> ptrs;
      for (const Row& r : plain) ptrs.push_back(&r);
      MILLRACE_RETURN_IF_ERROR(UpsertRows(conn, tenant_id, *t, ptrs));
      MILLRACE_RETURN_IF_ERROR(ClearTombstones(conn, tenant_id, *t, result.ids));
      for (Row& r : plain) feed.push_back({std::move(r), false});
    }
    if (!shared.empty()) {
      MILLRACE_ASSIGN_OR_RETURN(auto m, MergeSharedChanges(conn, tenant_id, *t, shared, true));
      result.conflicts = m.conflicts;
      feed = std::move(m.feed);
    }
    MILLRACE_ASSIGN_OR_RETURN(result.feed_head, AppendFeed(conn, tenant_id, feed));
    for (const auto& [stamp, record] : audits)
      MILLRACE_RETURN_IF_ERROR(RecordCentralAudit(conn, tenant_id, stamp, who, record));
    return conn.Exec("COMMIT");
  }();
  if (!s.ok()) {
    (void)Rollback(conn);
    return s;
  }
  return result;
}

Result<std::uint64_t> PutCentralRows(PgConnection& conn, const std::string& tenant_id,
                                     const std::vector<Row>& rows, const WriteContext& who,
                                     const std::string& action) {
  std::map<const catalog::TableSpec*, std::vector<const Row*>> by_table;
  for (const Row& r : rows) {
    if (r.table().merge != MergePolicy::kCentralOwned)
      return Status::InvalidArgument(r.table().name + " is not central-owned master data");
    MILLRACE_RETURN_IF_ERROR(r.Validate());
    by_table[&r.table()].push_back(&r);
  }
  MILLRACE_RETURN_IF_ERROR(BeginTenant(conn, tenant_id));
  Result<std::uint64_t> head = [&]() -> Result<std::uint64_t> {
    for (const auto& [table, list] : by_table) {
      MILLRACE_RETURN_IF_ERROR(UpsertRows(conn, tenant_id, *table, list));
      std::vector<std::string> ids;
      for (const Row* r : list) ids.push_back(r->id());
      MILLRACE_RETURN_IF_ERROR(ClearTombstones(conn, tenant_id, *table, ids));
    }
    MILLRACE_ASSIGN_OR_RETURN(std::uint64_t h, AppendFeed(conn, tenant_id, rows));
    std::map<std::string, int> per_table;
    for (const Row& r : rows) per_table[r.table().name]++;
    MILLRACE_RETURN_IF_ERROR(RecordCentralAudit(conn, tenant_id, WallClockHlc(), who,
                                                {action, "", "", "", nullptr, json(per_table)}));
    MILLRACE_RETURN_IF_ERROR(conn.Exec("COMMIT"));
    return h;
  }();
  if (!head.ok()) (void)Rollback(conn);
  return head;
}

Result<std::uint64_t> SeedDemoTenant(PgConnection& conn, const std::string& tenant_id,
                                     const std::vector<std::string>& sites,
                                     const WriteContext& who) {
  for (const auto& s : sites)
    if (!catalog::IsValidSiteId(s)) return Status::InvalidArgument("bad site id \"" + s + "\"");
  MILLRACE_ASSIGN_OR_RETURN(std::string pin_hash, HashPin(demo::kPin));
  return PutCentralRows(conn, tenant_id, demo::MasterData(tenant_id, sites, pin_hash), who,
                        "seed-demo");
}

}  // namespace millrace::central
