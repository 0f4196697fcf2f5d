#include "millrace/central/retention.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>

#include "millrace/central/central_store.h"
#include "millrace/central/pg_rows.h"
#include "millrace/common/ddl.h"
#include "millrace/common/digest.h"
#include "millrace/common/files.h"
#include "millrace/common/gzip.h"
#include "millrace/common/uuid.h"

namespace millrace::central {

namespace {

constexpr std::size_t kUploadChunk = 4 << 20;

// The first instant (Unix ms) of the UTC month that `ms` is in, and of the next one.
std::pair<std::int64_t, std::int64_t> MonthAround(std::int64_t ms) {
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  std::tm first{};
  first.tm_year = tm.tm_year;
  first.tm_mon = tm.tm_mon;
  first.tm_mday = 1;
  std::tm next = first;
  next.tm_mon += 1;
  return {static_cast<std::int64_t>(timegm(&first)) * 1000,
          static_cast<std::int64_t>(timegm(&next)) * 1000};
}

// "YYYY-MM-01" and "YYYYMM" of the month starting at `ms`.
std::string MonthDate(std::int64_t ms) {
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-01", tm.tm_year + 1900, tm.tm_mon + 1);
  return buf;
}
std::string MonthTag(std::int64_t ms) {
  const std::string d = MonthDate(ms);
  return d.substr(0, 4) + d.substr(5, 2);
}

Result<std::optional<int>> RetentionMonths(PgConnection& conn, const std::string& tenant_id) {
  MILLRACE_ASSIGN_OR_RETURN(
      auto r, conn.Query("SELECT fact_retention_months FROM millrace.sync_tenant WHERE tenant_id = $1",
                         {tenant_id}));
  if (r.rows() != 1) return Status::NotFound("no tenant " + tenant_id);
  if (r.IsNull(0, 0)) return std::optional<int>();
  return std::optional<int>(std::stoi(r.GetString(0, 0)));
}

// Copies the gzip file into the store under `key`, checked by its SHA-256.
Status Upload(BackupStore& store, const std::string& key, const std::string& path,
              const std::string& sha256) {
  MILLRACE_RETURN_IF_ERROR(store.DropPart(key));
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::IOError("cannot read " + path);
  std::string buf(kUploadChunk, '\0');
  std::uint64_t offset = 0;
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    const auto n = static_cast<std::size_t>(in.gcount());
    if (n == 0) break;
    MILLRACE_RETURN_IF_ERROR(store.AppendPart(key, offset, std::string_view(buf.data(), n)));
    offset += n;
  }
  MILLRACE_ASSIGN_OR_RETURN(std::string stored, store.PartSha256(key));
  if (stored != sha256) {
    (void)store.DropPart(key);
    return Status::Corruption("the backup store holds " + key + " with SHA-256 " + stored +
                              ", not " + sha256);
  }
  return store.CommitPart(key);
}

struct MonthExport {
  std::int64_t rows = 0, bytes = 0;
};

// One table-month of one tenant: exported, stored, purged and recorded in one REPEATABLE
// READ transaction of the tenant.
Result<MonthExport> ExportAndPurge(PgConnection& conn, BackupStore& store,
                                   const std::string& work_dir, const std::string& tenant_id,
                                   const catalog::TableSpec& table, std::int64_t month_ms,
                                   std::int64_t next_ms, const std::string& exported_by) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(work_dir, ec);
  if (ec) return Status::IOError("retention work directory " + work_dir + ": " + ec.message());
  const std::string tag = MonthTag(month_ms);
  const std::string base =
      (fs::path(work_dir) / ("retention-" + tenant_id + "-" + table.name + "-" + tag)).string();
  // Unique per run: a `retention run` and the job may work in one directory at once.
  const std::string unique = "-" + std::to_string(::getpid()) + "-" +
                             std::to_string(SystemClock()->NowMillis());
  const std::string csv = base + unique + ".csv", gz = base + unique + ".csv.gz";
  const std::string key = tenant_id + "/_facts/" + table.name + "/" + tag + "-" +
                          std::to_string(SystemClock()->NowMillis()) + ".csv.gz";
  MonthExport out;
  bool committed_object = false, commit_sent = false;
  const std::string lo = Uuid::FloorV7(month_ms).ToString(), hi = Uuid::FloorV7(next_ms).ToString();
  MILLRACE_RETURN_IF_ERROR(BeginTenant(conn, tenant_id, /*repeatable_read=*/true));
  Status s = [&]() -> Status {
    std::string columns;
    for (const auto& c : table.columns)
      columns += (columns.empty() ? "" : ", ") + catalog::QuoteIdent(c.name);
    std::FILE* f = std::fopen(csv.c_str(), "wb");
    if (!f) return Status::IOError("cannot write " + csv);
    auto copied = conn.CopyOut(
        "COPY (SELECT " + columns + " FROM " + PgTable(table) + " WHERE tenant_id = " +
            catalog::QuoteLiteral(tenant_id) + " AND id >= " + catalog::QuoteLiteral(lo) +
            " AND id < " + catalog::QuoteLiteral(hi) +
            " ORDER BY id) TO STDOUT WITH (FORMAT csv, HEADER true)",
        [&](std::string_view piece) -> Status {
          if (std::fwrite(piece.data(), 1, piece.size(), f) != piece.size())
            return Status::IOError("writing " + csv);
          return Status::Ok();
        });
    if (std::fclose(f) != 0 && copied.ok()) return Status::IOError("writing " + csv);
    MILLRACE_RETURN_IF_ERROR(copied.status());
    out.rows = *copied;
    MILLRACE_ASSIGN_OR_RETURN(std::uint64_t bytes, GzipFile(csv, gz));
    out.bytes = static_cast<std::int64_t>(bytes);
    MILLRACE_ASSIGN_OR_RETURN(std::string sha, FileSha256Hex(gz));
    MILLRACE_RETURN_IF_ERROR(Upload(store, key, gz, sha));
    committed_object = true;
    MILLRACE_ASSIGN_OR_RETURN(auto purged,
                              conn.Query("SELECT millrace.fact_range_purge($1, $2::uuid, $3::uuid)",
                                         {table.name, lo, hi}));
    const std::int64_t n = std::stoll(purged.GetString(0, 0));
    if (n != out.rows)
      return Status::Internal("retention of " + tenant_id + " " + table.name + " " + tag +
                              ": exported " + std::to_string(out.rows) + " rows but " +
                              std::to_string(n) + " would go");
    MILLRACE_RETURN_IF_ERROR(
        conn.Query("INSERT INTO millrace.fact_export (tenant_id, table_name, month, backup_key, "
                   "rows, bytes, sha256, exported_by) VALUES ($1, $2, $3::date, $4, $5, $6, $7, $8)",
                   {tenant_id, table.name, MonthDate(month_ms), key, std::to_string(out.rows),
                    std::to_string(out.bytes), sha, exported_by})
            .status());
    commit_sent = true;
    return conn.Exec("COMMIT");
  }();
  std::filesystem::remove(csv, ec);
  std::filesystem::remove(gz, ec);
  if (!s.ok()) {
    (void)Rollback(conn);
    // Nothing was purged, so the export goes too; unless the COMMIT was sent (its outcome
    // unknown): then the object stays, whether or not fact_export names it.
    if (committed_object && !commit_sent) {
      if (Status d = store.Delete(key); !d.ok())
        spdlog::warn("retention: the unused export {} stays in the backup store: {}", key,
                     d.ToString());
    }
    return s;
  }
  // The month's own partition goes once no tenant's rows are in it: a transaction of its
  // own, which gives up rather than wait long for its locks (tried again next run).
  auto dropped = conn.Query("SELECT millrace.fact_partition_drop_empty($1, $2::date)",
                            {table.name, MonthDate(month_ms)});
  if (!dropped.ok())
    spdlog::warn("retention: {}'s partition of {} stays for now: {}", table.name, tag,
                 dropped.status().ToString());
  else if (dropped->GetString(0, 0) == "t")
    spdlog::info("retention: {}'s partition of {} held no rows any more and was dropped",
                 table.name, tag);
  return out;
}

}  // namespace

namespace {

// The first instant of the retention as set now (0: none), and the end of the newest
// month exported so far (0: none).
Result<std::pair<std::int64_t, std::int64_t>> RetentionBounds(PgConnection& conn,
                                                              const std::string& tenant_id) {
  MILLRACE_ASSIGN_OR_RETURN(
      auto r,
      conn.Query("SELECT CASE WHEN fact_retention_months IS NULL THEN 0 ELSE (extract(epoch FROM "
                 "(date_trunc('month', now() AT TIME ZONE 'UTC') - make_interval(months => "
                 "fact_retention_months)) AT TIME ZONE 'UTC') * 1000)::bigint END, "
                 "coalesce((SELECT (extract(epoch FROM ((max(e.month) + interval '1 month')::"
                 "timestamp AT TIME ZONE 'UTC')) * 1000)::bigint FROM millrace.fact_export e "
                 "WHERE e.tenant_id = $1), 0) FROM millrace.sync_tenant WHERE tenant_id = $1",
                 {tenant_id}));
  if (r.rows() != 1) return std::make_pair(std::int64_t{0}, std::int64_t{0});
  return std::make_pair(static_cast<std::int64_t>(std::stoll(r.GetString(0, 0))),
                        static_cast<std::int64_t>(std::stoll(r.GetString(0, 1))));
}

}  // namespace

Result<std::int64_t> TenantFactHorizon(PgConnection& conn, const std::string& tenant_id) {
  // A retention lengthened after a purge does not bring the months exported back.
  MILLRACE_ASSIGN_OR_RETURN(auto bounds, RetentionBounds(conn, tenant_id));
  return std::max(bounds.first, bounds.second);
}

Status SetFactRetention(PgConnection& conn, const std::string& tenant_id,
                        std::optional<int> months, const WriteContext& who) {
  if (months && (*months < 1 || *months > 1200))
    return Status::InvalidArgument("retention months must be 1 to 1200, not " +
                                   std::to_string(*months));
  return InTenantTransaction(conn, tenant_id, [&]() -> Status {
    MILLRACE_ASSIGN_OR_RETURN(std::optional<int> before, RetentionMonths(conn, tenant_id));
    MILLRACE_RETURN_IF_ERROR(
        conn.Query("UPDATE millrace.sync_tenant SET fact_retention_months = $2 WHERE tenant_id = $1",
                   {tenant_id, months ? PgParam(std::to_string(*months)) : PgParam()})
            .status());
    auto value = [](std::optional<int> m) { return m ? nlohmann::json(*m) : nlohmann::json(nullptr); };
    return RecordCentralAudit(conn, tenant_id, WallClockHlc(), who,
                              {"tenant.retention", "", "", "",
                               {{"fact_retention_months", value(before)}},
                               {{"fact_retention_months", value(months)}}});
  });
}

Result<RetentionSettings> ShowFactRetention(PgConnection& conn, const std::string& tenant_id,
                                            int limit) {
  RetentionSettings out;
  MILLRACE_RETURN_IF_ERROR(InTenantTransaction(conn, tenant_id, [&]() -> Status {
    MILLRACE_ASSIGN_OR_RETURN(out.months, RetentionMonths(conn, tenant_id));
    MILLRACE_ASSIGN_OR_RETURN(out.horizon_ms, TenantFactHorizon(conn, tenant_id));
    MILLRACE_ASSIGN_OR_RETURN(
        auto r, conn.Query("SELECT table_name, month::text, backup_key, rows, bytes, sha256, "
                           "exported_at::text FROM millrace.fact_export WHERE tenant_id = $1 "
                           "ORDER BY export_id DESC LIMIT $2",
                           {tenant_id, std::to_string(limit)}));
    for (int i = 0; i < r.rows(); ++i)
      out.exports.push_back({{"table", r.GetString(i, 0)},
                             {"month", r.GetString(i, 1)},
                             {"key", r.GetString(i, 2)},
                             {"rows", std::stoll(r.GetString(i, 3))},
                             {"bytes", std::stoll(r.GetString(i, 4))},
                             {"sha256", r.GetString(i, 5)},
                             {"exported_at", r.GetString(i, 6)}});
    return Status::Ok();
  }));
  return out;
}

Result<RetentionOutcome> RunFactRetention(
    PgConnection& conn, BackupStore& store, const std::string& work_dir,
    const std::string& tenant_id, const std::string& exported_by,
    const std::function<void(std::int64_t, std::int64_t)>& progress,
    const std::function<bool()>& stopping) {
  std::int64_t horizon = 0;
  MILLRACE_RETURN_IF_ERROR(InTenantTransaction(conn, tenant_id, [&]() -> Status {
    MILLRACE_ASSIGN_OR_RETURN(std::optional<int> months, RetentionMonths(conn, tenant_id));
    if (!months)
      return Status::FailedPrecondition("tenant " + tenant_id + " keeps every fact (no retention set)");
    MILLRACE_ASSIGN_OR_RETURN(auto bounds, RetentionBounds(conn, tenant_id));
    horizon = bounds.first;  // what the setting keeps, whatever went before
    return Status::Ok();
  }));
  std::vector<const catalog::TableSpec*> tables;
  for (const auto& t : catalog::MesCatalog().tables())
    if (t.owner == catalog::Owner::kSite) tables.push_back(&t);
  RetentionOutcome out;
  const std::string floor = Uuid::FloorV7(horizon).ToString();
  std::int64_t done = 0;
  for (const catalog::TableSpec* t : tables) {
    for (;;) {
      if (stopping && stopping()) return out;
      std::string oldest;
      MILLRACE_RETURN_IF_ERROR(InTenantTransaction(conn, tenant_id, [&]() -> Status {
        MILLRACE_ASSIGN_OR_RETURN(
            auto r, conn.Query("SELECT id::text FROM " + PgTable(*t) +
                                   " WHERE tenant_id = $1 AND id < $2::uuid ORDER BY id LIMIT 1",
                               {tenant_id, floor}));
        if (r.rows() == 1) oldest = r.GetString(0, 0);
        return Status::Ok();
      }));
      if (oldest.empty()) break;
      MILLRACE_ASSIGN_OR_RETURN(Uuid id, Uuid::Parse(oldest));
      auto [month, next] = MonthAround(id.TimestampMillis());
      // The horizon is the first instant of a month: every month before it ends by it.
      MILLRACE_ASSIGN_OR_RETURN(MonthExport e, ExportAndPurge(conn, store, work_dir, tenant_id,
                                                              *t, month, next, exported_by));
      if (e.rows == 0)
        return Status::Internal("retention of " + tenant_id + " " + t->name + ": row " + oldest +
                                " is before the horizon but its month " + MonthTag(month) +
                                " purged nothing");
      ++out.months;
      out.rows += e.rows;
      out.bytes += e.bytes;
      spdlog::info("retention: {} {} of {} exported ({} rows, {} bytes) and purged", t->name,
                   MonthTag(month), tenant_id, e.rows, e.bytes);
    }
    if (progress) progress(++done, static_cast<std::int64_t>(tables.size()));
  }
  return out;
}

}  // namespace millrace::central
