#include "millrace/common/ddl.h"

namespace millrace::catalog {

std::string QuoteIdent(const std::string& ident) {
  std::string out = "\"";
  for (char c : ident) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string QuoteLiteral(const std::string& value) {
  std::string out = "'";
  for (char c : value) {
    if (c == '\'') out += '\'';
    out += c;
  }
  return out + "'";
}

std::string SqliteType(ColumnType type) {
  switch (type) {
    case ColumnType::kUuid:
    case ColumnType::kText:
    case ColumnType::kJson:
    case ColumnType::kEnum:
      return "TEXT";
    case ColumnType::kInt:
    case ColumnType::kBool:
    case ColumnType::kTimestamp:
    case ColumnType::kHlc:
      return "INTEGER";
    case ColumnType::kReal:
      return "REAL";
  }
  return "ANY";
}

std::string PostgresType(ColumnType type) {
  switch (type) {
    case ColumnType::kUuid:
      return "uuid";
    case ColumnType::kText:
    case ColumnType::kEnum:
      return "text";
    case ColumnType::kJson:
      return "json";
    case ColumnType::kInt:
    case ColumnType::kHlc:
      return "bigint";
    case ColumnType::kBool:
      return "boolean";
    case ColumnType::kTimestamp:
      return "timestamptz";
    case ColumnType::kReal:
      return "double precision";
  }
  return "text";
}

namespace {

std::string EnumCheck(const ColumnSpec& c) {
  std::string list;
  for (const auto& v : c.values) list += (list.empty() ? "" : ", ") + QuoteLiteral(v);
  return "CHECK (" + QuoteIdent(c.name) + " IN (" + list + "))";
}

std::string IndexName(const TableSpec& t, const IndexSpec& idx) {
  std::string name = t.name;
  for (const auto& c : idx.columns) name += "_" + c;
  return name + "_idx";
}

std::string JoinIdents(const std::vector<std::string>& cols, const std::string& first = "") {
  std::string out = first.empty() ? "" : QuoteIdent(first);
  for (const auto& c : cols) out += (out.empty() ? "" : ", ") + QuoteIdent(c);
  return out;
}

}  // namespace

std::vector<std::string> SqliteDdl(const Catalog& catalog) {
  std::vector<std::string> out;
  for (const auto& t : catalog.tables()) {
    std::string sql = "CREATE TABLE IF NOT EXISTS " + QuoteIdent(t.name) + " (\n";
    for (const auto& c : t.columns) {
      std::string q = QuoteIdent(c.name);
      sql += "  " + q + " " + SqliteType(c.type);
      if (!c.nullable) sql += " NOT NULL";
      if (c.name == kIdColumn) sql += " PRIMARY KEY";
      switch (c.type) {
        case ColumnType::kUuid:
          sql += " CHECK (length(" + q + ") = 36)";
          break;
        case ColumnType::kBool:
          sql += " CHECK (" + q + " IN (0, 1))";
          break;
        // json_valid(NULL) is 0 in SQLite 3.40, so NULL needs its own arm.
        case ColumnType::kJson:
          sql += " CHECK (" + q + " IS NULL OR json_valid(" + q + "))";
          break;
        case ColumnType::kEnum:
          sql += " " + EnumCheck(c);
          break;
        default:
          break;
      }
      sql += ",\n";
    }
    sql.erase(sql.size() - 2);
    sql += "\n) STRICT";
    out.push_back(sql);
    for (const auto& idx : t.indexes) {
      if (idx.central_only) continue;
      out.push_back("CREATE INDEX IF NOT EXISTS " + QuoteIdent(IndexName(t, idx)) + " ON " +
                    QuoteIdent(t.name) + " (" + JoinIdents(idx.columns) + ")" +
                    (idx.where.empty() ? "" : " WHERE " + idx.where));
    }
    if (t.immutable) {
      for (const char* op : {"UPDATE", "DELETE"}) {
        const std::string verb = std::string(op) == "UPDATE" ? "update" : "delete";
        out.push_back("CREATE TRIGGER IF NOT EXISTS " + QuoteIdent(t.name + "_no_" + verb) +
                      " BEFORE " + op + " ON " + QuoteIdent(t.name) +
                      " BEGIN SELECT RAISE(ABORT, '" + t.name +
                      " rows are never changed or deleted'); END");
      }
    }
  }
  return out;
}

std::vector<std::string> PostgresAdminDdl(const PostgresDdlOptions& o) {
  // Roles are cluster-wide while migrations lock per database, so two databases of one
  // cluster may migrate at once: creating tolerates a concurrent creator, and attributes
  // are altered only when they differ (an unconditional ALTER ROLE races).
  auto ensure = [](const std::string& role, const std::string& attrs, const std::string& wrong_if) {
    return "DO $$ BEGIN\n"
           "  BEGIN\n"
           "    CREATE ROLE " +
           QuoteIdent(role) + " " + attrs +
           ";\n"
           "  EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;\n"
           "  END;\n"
           "  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = " +
           QuoteLiteral(role) + " AND (" + wrong_if +
           ")) THEN\n"
           "    ALTER ROLE " +
           QuoteIdent(role) + " " + attrs +
           ";\n"
           "  END IF;\n"
           "END $$";
  };
  return {
      ensure(o.owner_role, "NOLOGIN NOSUPERUSER NOBYPASSRLS",
             "rolcanlogin OR rolsuper OR rolbypassrls"),
      ensure(o.app_role,
             "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS NOINHERIT",
             "NOT rolcanlogin OR rolsuper OR rolcreatedb OR rolcreaterole OR rolreplication OR "
             "rolbypassrls OR "
             "rolinherit"),
      ensure(o.report_role, "NOLOGIN NOSUPERUSER NOBYPASSRLS", "rolcanlogin OR rolsuper OR rolbypassrls"),
      "GRANT " + QuoteIdent(o.report_role) + " TO " + QuoteIdent(o.app_role),
      "CREATE SCHEMA IF NOT EXISTS " + QuoteIdent(o.schema) + " AUTHORIZATION " +
          QuoteIdent(o.owner_role),
  };
}

std::vector<std::string> PostgresDdl(const Catalog& catalog, const PostgresDdlOptions& o) {
  const std::string schema = QuoteIdent(o.schema);
  const std::string app = QuoteIdent(o.app_role);
  const std::string report = QuoteIdent(o.report_role);
  std::vector<std::string> out = {
      "GRANT USAGE ON SCHEMA " + schema + " TO " + app,
      "GRANT USAGE ON SCHEMA " + schema + " TO " + report,
      // The sites a report's viewer may see: app.sites, '*' for all of the tenant's.
      "CREATE OR REPLACE FUNCTION " + schema +
          ".viewer_sees(p_site text) RETURNS boolean LANGUAGE sql STABLE PARALLEL SAFE AS $$ SELECT "
          "coalesce(current_setting('app.sites', true), '') = '*' OR p_site = "
          "ANY(string_to_array(nullif(current_setting('app.sites', true), ''), ',')) $$",
      "GRANT EXECUTE ON FUNCTION " + schema + ".viewer_sees(text) TO " + report,
      // The same read once per statement (so the planner can count rows: see central
      // migration 8).
      "CREATE OR REPLACE FUNCTION " + schema +
          ".viewer_sees_all() RETURNS boolean LANGUAGE sql STABLE PARALLEL SAFE AS $$ SELECT "
          "coalesce(current_setting('app.sites', true), '') = '*' $$",
      "CREATE OR REPLACE FUNCTION " + schema +
          ".viewer_site_list() RETURNS text[] LANGUAGE sql STABLE PARALLEL SAFE AS $$ SELECT "
          "coalesce(string_to_array(nullif(current_setting('app.sites', true), ''), ','), '{}') $$",
      "GRANT EXECUTE ON FUNCTION " + schema + ".viewer_sees_all(), " + schema + ".viewer_site_list() TO " + report};
  const std::string tenant_expr = "tenant_id = current_setting('app.tenant_id', true)";
  for (const auto& t : catalog.tables()) {
    const std::string table = schema + "." + QuoteIdent(t.name);
    std::string sql = "CREATE TABLE IF NOT EXISTS " + table + " (\n  tenant_id text NOT NULL,\n";
    for (const auto& c : t.columns) {
      sql += "  " + QuoteIdent(c.name) + " " + PostgresType(c.type);
      if (!c.nullable) sql += " NOT NULL";
      if (c.type == ColumnType::kEnum) sql += " " + EnumCheck(c);
      sql += ",\n";
    }
    sql += "  PRIMARY KEY (tenant_id, id)\n)";
    // Site facts grow without end: partitioned by the time in their UUIDv7 ids (monthly
    // partitions are made by central's migrations; the default one takes the rest).
    const bool partitioned = t.owner == Owner::kSite;
    if (partitioned) sql += " PARTITION BY RANGE (id)";
    out.push_back(sql);
    if (partitioned)
      out.push_back("CREATE TABLE IF NOT EXISTS " + schema + "." + QuoteIdent(t.name + "_default") +
                    " PARTITION OF " + table + " DEFAULT");
    for (const auto& idx : t.indexes) {
      out.push_back("CREATE INDEX IF NOT EXISTS " + QuoteIdent(IndexName(t, idx)) + " ON " + table +
                    " (" + JoinIdents(idx.columns, "tenant_id") + ")" +
                    (idx.where.empty() ? "" : " WHERE " + idx.where));
    }
    // Row-level security on the table and on every partition, so a partition read directly
    // shows no more than the table.
    for (const std::string& rel :
         partitioned ? std::vector<std::string>{table, schema + "." + QuoteIdent(t.name + "_default")}
                     : std::vector<std::string>{table}) {
      out.push_back("ALTER TABLE " + rel + " ENABLE ROW LEVEL SECURITY");
      out.push_back("ALTER TABLE " + rel + " FORCE ROW LEVEL SECURITY");
      out.push_back("DROP POLICY IF EXISTS tenant_isolation ON " + rel);
      out.push_back("CREATE POLICY tenant_isolation ON " + rel + " USING (" + tenant_expr +
                    ") WITH CHECK (" + tenant_expr + ")");
    }
    // Reports read as the report role, held to the viewer's sites (rows of no site are the
    // whole tenant's). The operators' PIN hashes are never a report's.
    if (t.name != "users") {
      out.push_back("GRANT SELECT ON " + table + " TO " + report);
      out.push_back("DROP POLICY IF EXISTS viewer_sites ON " + table);
      out.push_back("CREATE POLICY viewer_sites ON " + table + " AS RESTRICTIVE FOR SELECT TO " + report +
                    " USING (site_id IS NULL OR (SELECT " + schema + ".viewer_sees_all()) OR site_id = ANY ((SELECT " +
                    schema + ".viewer_site_list())::text[]))");
    }
    if (!t.immutable) {
      out.push_back("GRANT SELECT, INSERT, UPDATE, DELETE ON " + table + " TO " + app);
      continue;
    }
    // Never changed or deleted: the app role may only read and add, and a trigger refuses
    // UPDATE and DELETE to everyone else too.
    out.push_back("GRANT SELECT, INSERT ON " + table + " TO " + app);
    out.push_back("CREATE OR REPLACE FUNCTION " + schema + "." + QuoteIdent(t.name + "_immutable") +
                  "() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION '% rows are "
                  "never changed or deleted', TG_TABLE_NAME USING ERRCODE = '42501'; END $$");
    out.push_back("CREATE OR REPLACE TRIGGER " + QuoteIdent(t.name + "_immutable") +
                  " BEFORE UPDATE OR DELETE ON " + table + " FOR EACH ROW EXECUTE FUNCTION " +
                  schema + "." + QuoteIdent(t.name + "_immutable") + "()");
  }
  return out;
}

}  // namespace millrace::catalog
