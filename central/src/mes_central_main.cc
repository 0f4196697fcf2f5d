// mes-central: the Millrace central service over multi-tenant PostgreSQL.

#include <cctype>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <tuple>

#include "millrace/central/admin_token.h"
#include "millrace/central/central_audit.h"
#include "millrace/central/central_config.h"
#include "millrace/central/central_store.h"
#include "millrace/central/enrollment.h"
#include "millrace/central/job_kinds.h"
#include "millrace/central/job_queue.h"
#include "millrace/central/people.h"
#include "millrace/central/pg.h"
#include "millrace/central/provision.h"
#include "millrace/central/restore_site.h"
#include "millrace/central/rollups.h"
#include "millrace/central/schema.h"
#include "millrace/central/tenant_map.h"
#include "millrace/common/catalog.h"
#include "millrace/common/cli.h"
#include "millrace/common/config_command.h"
#include "millrace/common/daemon_config.h"
#include "millrace/common/ddl.h"
#include "millrace/common/files.h"
#include "millrace/common/signals.h"
#include "millrace/common/version.h"
#include "millrace/sync/transport.h"
#include "alerts_command.h"
#include "backups_command.h"
#include "jobs_command.h"
#include "pg_backups_command.h"
#include "retention_command.h"
#include "rows_command.h"
#include "serve_command.h"
#include "tenant_map_command.h"

namespace millrace::central {
namespace {

int Fail(const Status& s) {
  std::cerr << "mes-central: " << s.ToString() << "\n";
  return s.code() == StatusCode::kInvalidArgument ? 2 : 1;
}

void QuietLogging() {
  (void)InitLogging({.level = "warn", .format = "human", .program = "mes-central"});
}

int Migrate(const std::string& db_url) {
  (void)InitLogging({.level = "info", .format = "human", .program = "mes-central"});
  auto conn = PgConnection::Connect(db_url);
  if (!conn.ok()) return Fail(conn.status());
  auto state = MigrateCentralSchema(**conn);
  if (!state.ok()) return Fail(state.status());
  std::cout << "central schema is at version " << state->version << " (catalog "
            << state->catalog_fingerprint << ")\n";
  return 0;
}

Result<std::unique_ptr<PgConnection>> ConnectFromConfig(const std::string& config_path,
                                                        CentralConfig* out = nullptr) {
  MILLRACE_ASSIGN_OR_RETURN(CentralConfig config, LoadCentralConfig(config_path));
  if (out) *out = config;
  return PgConnection::Connect(config.database_url);
}

int Keygen(const std::string& secret_path, const std::string& public_path) {
  auto keys = sync::GenerateCurveKeyPair();
  if (!keys.ok()) return Fail(keys.status());
  if (Status s = sync::WriteKeyFile(secret_path, keys->secret_key, true); !s.ok()) return Fail(s);
  if (!public_path.empty())
    if (Status s = sync::WriteKeyFile(public_path, keys->public_key, false); !s.ok()) return Fail(s);
  std::cout << "wrote central's Curve key pair: secret " << secret_path << " (0600)"
            << (public_path.empty() ? "" : ", public " + public_path) << "\npublic key "
            << keys->public_key << "\n";
  return 0;
}

// The central public key edges need (from [sync] secret_key_file), unless development.
Status FillCentralKey(const CentralConfig& config, ProvisionOptions& o) {
  o.insecure_development = config.sync.insecure_development;
  if (o.insecure_development) return Status::Ok();
  MILLRACE_ASSIGN_OR_RETURN(std::string secret,
                            sync::ReadKeyFile(config.sync.secret_key_file, true));
  MILLRACE_ASSIGN_OR_RETURN(o.central_public_key, sync::CurvePublicKey(secret));
  return Status::Ok();
}

int Provision(const std::string& config_path, ProvisionOptions o) {
  QuietLogging();
  CentralConfig config;
  auto conn = ConnectFromConfig(config_path, &config);
  if (!conn.ok()) return Fail(conn.status());
  if (Status s = CheckTenantHere(config, o.tenant_id, &o.endpoints); !s.ok()) return Fail(s);
  if (Status s = FillCentralKey(config, o); !s.ok()) return Fail(s);
  if (o.enroll_hours > 0 && o.enroll_url.empty() && !config.cluster.name.empty()) {
    auto map = LoadTenantMap(config.cluster.tenant_map_file);
    if (map.ok() && map->clusters.count(config.cluster.name))
      o.enroll_url = map->clusters.at(config.cluster.name).http;
  }
  auto r = ProvisionSite(**conn, o);
  if (!r.ok()) return Fail(r.status());
  std::cout << "provisioned site " << o.tenant_id << "/" << o.site_id << " into " << r->out_dir;
  if (r->enrollment_code.empty())
    std::cout << "\n  site public key " << r->public_key;
  else
    std::cout << "\n  no keys: one-time enrollment code " << r->enrollment_code << ", valid "
              << o.enroll_hours << " h; the edge registers its own key at " << o.enroll_url
              << " on first contact";
  std::cout << "\n  snapshot: " << r->snapshot_rows
            << " rows at feed position " << r->snapshot_position
            << "\n  start it with: mes-edge serve -c " << r->out_dir << "/edge.toml\n";
  return 0;
}

int RestoreSiteCommand(const std::string& config_path, RestoreSiteOptions o) {
  QuietLogging();
  CentralConfig config;
  auto conn = ConnectFromConfig(config_path, &config);
  if (!conn.ok()) return Fail(conn.status());
  if (Status s = CheckTenantHere(config, o.site.tenant_id, &o.site.endpoints); !s.ok()) return Fail(s);
  if (Status s = FillCentralKey(config, o.site); !s.ok()) return Fail(s);
  o.live_within_ms = config.sync.store_takeover_grace_ms;
  if (config.backups.dir.empty())
    return Fail(Status::FailedPrecondition(
        "[backups] dir is not set: this central keeps no site backups"));
  auto store = OpenDirectoryBackupStore(config.backups.dir);
  if (!store.ok()) return Fail(store.status());
  std::cout << "restoring site " << o.site.tenant_id << "/" << o.site.site_id << " into "
            << o.site.out_dir << "\n" << std::flush;
  auto r = RestoreSite(**conn, **store, o);
  if (!r.ok()) return Fail(r.status());
  const std::string taken = SiteBackupJson(r->backup)["taken_at"].get<std::string>();
  std::cout << "  backup " << r->backup.backup_id << " (taken " << taken
            << ", " << r->backup.raw_bytes << " bytes, verified) as edge.db\n  site public key "
            << r->public_key
            << (r->fresh_keys ? " (new; the site's " + std::to_string(r->keys_retired) +
                                    " other key(s) are refused from now on)"
                              : " (kept)")
            << "\n  start it on the new machine with: mes-edge serve -c " << r->out_dir
            << "/edge.toml\n  (it starts a new store epoch: central resumes it where the backup "
               "stood and sends back the site's rows the backup lacks)\n";
  return 0;
}

// A site-local wall time ("2026-11-10" or "2026-11-10 14:00") as Unix milliseconds.
Result<std::int64_t> SiteLocalMillis(PgConnection& conn, const std::string& tenant,
                                     const std::string& site, const std::string& wall,
                                     const char* option) {
  // YYYY-MM-DD or YYYY-MM-DD HH:MM: digits where the pattern has 9.
  const std::string shape = wall.size() == 10 ? "9999-99-99" : "9999-99-99 99:99";
  bool matches = wall.size() == shape.size();
  for (std::size_t i = 0; matches && i < wall.size(); ++i)
    matches = shape[i] == '9' ? std::isdigit(static_cast<unsigned char>(wall[i])) != 0 : wall[i] == shape[i];
  if (!matches)
    return Status::InvalidArgument(std::string(option) + " expects YYYY-MM-DD or \"YYYY-MM-DD HH:MM\" "
                                   "in the site's time zone, got \"" + wall + "\"");
  std::int64_t ms = 0;
  MILLRACE_RETURN_IF_ERROR(InTenantTransaction(conn, tenant, [&]() -> Status {
    auto r = conn.Query("SELECT (extract(epoch FROM ($3::timestamp AT TIME ZONE time_zone)) * "
                        "1000)::bigint FROM millrace.sync_site WHERE tenant_id = $1 AND site_id = $2",
                        {tenant, site, wall});
    if (!r.ok()) return Status::InvalidArgument(std::string(option) + ": " + r.status().message());
    if (r->rows() == 0) return Status::NotFound("no site " + tenant + "/" + site);
    ms = std::stoll(r->GetString(0, 0));
    return Status::Ok();
  }));
  return ms;
}

int RebuildRollupsCommand(const std::string& config_path, RebuildRange range,
                          const std::string& from, const std::string& to) {
  QuietLogging();
  auto conn = ConnectFromConfig(config_path);
  if (!conn.ok()) return Fail(conn.status());
  for (auto [wall, out, name] : {std::tuple{&from, &range.from_ms, "--from"}, {&to, &range.to_ms, "--to"}}) {
    if (wall->empty()) continue;
    auto ms = SiteLocalMillis(**conn, range.tenant_id, range.site_id, *wall, name);
    if (!ms.ok()) return Fail(ms.status());
    *out = *ms;
  }
  const auto started = std::chrono::steady_clock::now();
  Status s = RebuildRollups(**conn, range, [&](const RebuildProgress& p) {
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    const double share = static_cast<double>(p.done_ms) / static_cast<double>(p.total_ms);
    std::cerr << "\rrebuilt " << p.done_ms / 86400000 << " of " << (p.total_ms + 86399999) / 86400000
              << " days (" << static_cast<int>(share * 100) << "%), about "
              << static_cast<int>(share > 0 ? secs / share - secs : 0) << " s left   " << std::flush;
  });
  std::cerr << "\n";
  if (!s.ok()) return Fail(s);
  std::cout << "rebuilt the report rollups of " << range.tenant_id << "/" << range.site_id << "\n";
  return 0;
}

}  // namespace
}  // namespace millrace::central

int main(int argc, char** argv) {
  using namespace millrace;
  BlockShutdownSignals();
  CLI::App app{
      "mes-central: the Millrace central service. Receives every factory edge's changes into "
      "multi-tenant PostgreSQL (row-level security per tenant) and feeds master data and central "
      "edits back down to the edges."};
  ServeOptions serve_options;
  auto* serve =
      SetUpDaemonCommandLine(app, "mes-central",
                             "Run the central daemon: the sync endpoint edges connect to, and "
                             "HTTP with the dashboard (/), the reporting API (/api/v1/reports), "
                             "/health, /ready and /metrics, until SIGINT or SIGTERM",
                             &serve_options);
  std::string sync_endpoint_file;
  serve->add_option("--sync-endpoint-file", sync_endpoint_file,
                    "Write the bound sync endpoint (tcp://host:port) to this file once listening");
  std::string db_url, config_path;

  auto* migrate = app.add_subcommand("migrate",
                                     "Create or upgrade the PostgreSQL schema: roles, tables, "
                                     "row-level security (needs an admin login)");
  migrate
      ->add_option("--db", db_url, "libpq connection string of an administrator (superuser) login")
      ->required();

  auto* schema =
      app.add_subcommand("schema", "Print the PostgreSQL DDL derived from the schema catalog");

  std::string secret_path, public_path;
  auto* keygen = app.add_subcommand(
      "keygen", "Make central's CurveZMQ key pair (the secret file is written 0600)");
  keygen->add_option("--secret", secret_path, "Secret key file to write")->required();
  keygen->add_option("--public", public_path, "Public key file to write");

  // Who writes and why: every central write leaves an audit record (mes-central audit).
  central::WriteContext who;
  std::string actor;
  auto add_who = [&](CLI::App* cmd) {
    cmd->add_option("--actor", actor,
                    "Who is writing, for the audit trail (default: $SUDO_USER or $USER @ host)");
    cmd->add_option("--reason", who.reason, "Why, for the audit trail");
  };
  auto add_config = [&](CLI::App* cmd) {
    cmd->add_option("-c,--config", config_path, "mes-central configuration file (TOML)")
        ->required()
        ->check(CLI::ExistingFile);
  };
  std::string tenant, tenant_name, site;
  auto* create_tenant = app.add_subcommand("create-tenant", "Register a tenant (a company)");
  add_config(create_tenant);
  add_who(create_tenant);
  create_tenant->add_option("--tenant", tenant, "Tenant id: 1..32 of a-z, 0-9, '-'")->required();
  create_tenant->add_option("--name", tenant_name, "Display name");

  central::ProvisionOptions provision_options;
  auto* provision = app.add_subcommand(
      "provision-site",
      "Register a site and write its edge directory: edge.toml, Curve keys, central's public "
      "key and a snapshot of the tenant's master data");
  add_config(provision);
  add_who(provision);
  provision->add_option("--tenant", provision_options.tenant_id, "Tenant id")->required();
  provision->add_option("--site", provision_options.site_id, "New site id")->required();
  provision->add_option("--out", provision_options.out_dir, "Directory to create")->required();
  provision
      ->add_option("--endpoint", provision_options.endpoints,
                   "Central sync endpoint the edge connects to (repeat for failover); with a "
                   "[cluster] tenant map, the cluster's sync address when not given");
  provision->add_option("--time-zone", provision_options.time_zone,
                        "The site's IANA time zone, e.g. Europe/Paris: its shifts, production "
                        "day and report buckets (default UTC)");
  provision->add_option("--http-port", provision_options.http_port,
                        "Terminal HTTP port written into edge.toml")
      ->check(CLI::Range(1, 65535));
  provision
      ->add_option("--enroll-hours", provision_options.enroll_hours,
                   "Write no keys but a one-time enrollment code valid this many hours: the edge "
                   "makes its own key pair and registers it with the code on first contact")
      ->check(CLI::Range(1, 24 * 90));
  provision->add_option("--enroll-url", provision_options.enroll_url,
                        "Central's HTTP address the edge enrolls at, http://host:port (default with a "
                        "[cluster] tenant map: the cluster's http)");

  int enroll_hours = 72;
  auto* enrollment_code = app.add_subcommand(
      "enrollment-code",
      "Give a site that has no key in use (its enrollment code expired or was refused) a new "
      "one-time code; put it in the edge's edge.toml (enrollment_code) and restart the edge");
  add_config(enrollment_code);
  add_who(enrollment_code);
  enrollment_code->add_option("--tenant", tenant, "Tenant id")->required();
  enrollment_code->add_option("--site", site, "Site id")->required();
  enrollment_code->add_option("--hours", enroll_hours, "How long the code is valid (default 72)")
      ->check(CLI::Range(1, 24 * 90));

  central::RestoreSiteOptions restore_options;
  auto* restore = app.add_subcommand(
      "restore-site",
      "Write the directory a replacement edge starts from: the site's newest verified backup "
      "as edge.db, Curve keys (a fresh pair, the site's other keys refused from now on; or "
      "--keep-key), central's public key and edge.toml. The edge resumes syncing as a new "
      "store epoch and gets back the site's rows the backup lacks");
  add_config(restore);
  add_who(restore);
  restore->add_option("--tenant", restore_options.site.tenant_id, "Tenant id")->required();
  restore->add_option("--site", restore_options.site.site_id, "Site id")->required();
  restore->add_option("--out", restore_options.site.out_dir, "Directory to create")->required();
  restore
      ->add_option("--endpoint", restore_options.site.endpoints,
                   "Central sync endpoint the edge connects to (repeat for failover); with a "
                   "[cluster] tenant map, the cluster's sync address when not given");
  restore->add_option("--http-port", restore_options.site.http_port,
                      "Terminal HTTP port written into edge.toml")
      ->check(CLI::Range(1, 65535));
  restore->add_option("--keep-key", restore_options.keep_key_file,
                      "Keep the site's Curve key: its secret key file (site.key), which must be "
                      "one of the site's current keys")
      ->check(CLI::ExistingFile);
  restore->add_flag("--force", restore_options.force,
                    "Write the bundle though the site was heard from within [sync] "
                    "store_takeover_grace_seconds (the fresh keys lock its running edge out)");

  auto* revoke = app.add_subcommand(
      "revoke-site", "Revoke a site: its key is refused from now on, on every connection");
  add_config(revoke);
  add_who(revoke);
  revoke->add_option("--tenant", tenant, "Tenant id")->required();
  revoke->add_option("--site", site, "Site id")->required();

  central::RowsCommand rows_command;
  central::AddRowsCommands(app, &rows_command, [&](CLI::App* cmd) {
    add_config(cmd);
    add_who(cmd);
  });

  int rotate_grace = 3600, rotate_wait = 0;
  auto* rotate = app.add_subcommand(
      "rotate-site-key",
      "Give a live site a new Curve key pair: at its next Hello (within 5 s when connected) the "
      "edge makes one and sends the public key over its authenticated link; the old key is "
      "refused once the grace has passed");
  add_config(rotate);
  add_who(rotate);
  rotate->add_option("--tenant", tenant, "Tenant id")->required();
  rotate->add_option("--site", site, "Site id")->required();
  rotate->add_option("--grace-seconds", rotate_grace,
                     "How long the old key keeps working after the new one is in (default 3600)")
      ->check(CLI::Range(0, 30 * 86400));
  rotate->add_option("--wait", rotate_wait,
                     "Wait up to this many seconds for the site to rotate, showing progress "
                     "(default 0: only ask)")
      ->check(CLI::Range(0, 86400));

  std::string token_name;
  auto* token = app.add_subcommand(
      "token", "Admin tokens for central's HTTP (per-tenant metrics, content digests, the audit "
               "trail); only a hash is kept");
  token->require_subcommand(1);
  auto* token_create =
      token->add_subcommand("create", "Make a token and print it once (keep it secret)");
  add_config(token_create);
  add_who(token_create);
  token_create->add_option("--name", token_name, "A name for the token, e.g. prometheus")
      ->required();
  auto* token_revoke = token->add_subcommand("revoke", "Revoke a token: refused within 30 s");
  add_config(token_revoke);
  add_who(token_revoke);
  token_revoke->add_option("--name", token_name, "The token's name")->required();
  auto* token_list = token->add_subcommand("list", "List tokens (names and dates, never tokens)");
  add_config(token_list);

  std::vector<std::string> demo_sites;
  auto* seed_demo = app.add_subcommand(
      "seed-demo",
      "Load the demo factory's master data (materials, routings, reasons, users with PIN "
      "1234, and each site's equipment) for a tenant; it flows down to the sites");
  add_config(seed_demo);
  add_who(seed_demo);
  seed_demo->add_option("--tenant", tenant, "Tenant id")->required();
  seed_demo->add_option("--sites", demo_sites, "Site ids (comma-separated)")
      ->required()
      ->delimiter(',');

  std::string audit_tenant, audit_site, audit_row;
  int audit_limit = 50;
  bool audit_json = false;
  auto* audit = app.add_subcommand(
      "audit", "The audit trail of a tenant: the sites' supervisor and quality actions and "
               "central's own writes, newest first");
  add_config(audit);
  audit->add_option("--tenant", audit_tenant, "Tenant id ('*': the platform's own records)")
      ->required();
  audit->add_option("--site", audit_site, "Only this site's records");
  audit->add_option("--row", audit_row, "Only the records of this row (an id)");
  audit->add_option("--limit", audit_limit, "How many (1..1000)")->check(CLI::Range(1, 1000));
  audit->add_flag("--json", audit_json, "JSON lines instead of a table");

  central::NewUser new_user;
  std::string user_role = "viewer", password_file;
  std::vector<std::string> user_sites;
  auto* create_user = app.add_subcommand(
      "create-user",
      "Make a user of central's reporting API (who logs in with POST /api/v1/session): a "
      "tenant's viewer, site_manager (--sites) or "
      "tenant_admin, or without --tenant a platform_operator. The password (10+ characters) is "
      "read from --password-file or the first line of stdin and kept as an Argon2id hash");
  add_config(create_user);
  add_who(create_user);
  create_user->add_option("--tenant", new_user.tenant_id, "Tenant id (none: a platform operator)");
  create_user->add_option("--login", new_user.login, "Login: 1..64 of a-z, 0-9, '.', '_', '@', '-'")
      ->required();
  create_user->add_option("--name", new_user.name, "Display name")->required();
  create_user->add_option("--role", user_role,
                          "viewer, site_manager, tenant_admin or platform_operator (default viewer)");
  create_user->add_option("--sites", user_sites, "A site manager's sites (comma-separated)")
      ->delimiter(',');
  create_user->add_option("--password-file", password_file, "File holding the password ('-': stdin)");

  std::string api_token_tenant, api_token_name, api_token_role = "viewer";
  std::vector<std::string> api_token_sites;
  auto* api_token = app.add_subcommand(
      "api-token", "API tokens for integrations: a tenant's, with a role (and a site manager's "
                   "sites); shown once, kept as a hash, revocable");
  api_token->require_subcommand(1);
  auto* api_token_create = api_token->add_subcommand("create", "Make a token and print it once");
  auto* api_token_revoke = api_token->add_subcommand("revoke", "Revoke a token: refused at once");
  auto* api_token_list = api_token->add_subcommand("list", "List a tenant's tokens (never the tokens)");
  for (auto* cmd : {api_token_create, api_token_revoke, api_token_list}) {
    add_config(cmd);
    cmd->add_option("--tenant", api_token_tenant, "Tenant id")->required();
  }
  for (auto* cmd : {api_token_create, api_token_revoke}) {
    add_who(cmd);
    cmd->add_option("--name", api_token_name, "The token's name, e.g. erp-export")->required();
  }
  api_token_create->add_option("--role", api_token_role, "viewer, site_manager or tenant_admin (default viewer)");
  api_token_create->add_option("--sites", api_token_sites, "A site manager token's sites")->delimiter(',');

  central::RebuildRange rebuild_range;
  std::string rebuild_from, rebuild_to;
  auto* rebuild = app.add_subcommand(
      "rebuild-rollups",
      "Recompute a site's report rollups from its raw facts (all of them, or a range), a day at "
      "a time with progress: after a change of ideal cycle times, work units or an operation's "
      "product, history is restated by the new master data");
  add_config(rebuild);
  rebuild->add_option("--tenant", rebuild_range.tenant_id, "Tenant id")->required();
  rebuild->add_option("--site", rebuild_range.site_id, "Site id")->required();
  rebuild->add_option("--from", rebuild_from,
                      "First local date or time, YYYY-MM-DD or \"YYYY-MM-DD HH:MM\" in the "
                      "site's time zone (default: the site's first fact)");
  rebuild->add_option("--to", rebuild_to,
                      "Local date or time to stop before (default: after the site's last fact)");

  central::JobsCommand jobs_command;
  central::AddJobsCommand(app, &jobs_command);
  central::AlertsCommand alerts_command;
  central::AddAlertsCommand(app, &alerts_command);
  central::BackupsCommand backups_command;
  central::AddBackupsCommand(app, &backups_command);
  central::PgBackupsCommand pg_backups_command;
  central::AddPgBackupsCommand(app, &pg_backups_command);
  central::RetentionCommand retention_command;
  central::AddRetentionCommand(app, &retention_command);
  central::TenantMapCommand tenant_map_command;
  central::AddTenantMapCommand(app, &tenant_map_command);

  ConfigCommand config_command;
  AddConfigCommand(app, &config_command);

  if (auto exit_code = ParseCommandLine(app, argc, argv)) return *exit_code;
  if (*config_command.root)
    return RunConfigCommand(config_command, "mes-central", central::CheckCentralConfig,
                            central::CentralConfigReference);
  if (*jobs_command.root) return central::RunJobsCommand(jobs_command);
  if (*alerts_command.root) return central::RunAlertsCommand(alerts_command);
  if (*backups_command.root) return central::RunBackupsCommand(backups_command);
  if (*pg_backups_command.root) return central::RunPgBackupsCommand(pg_backups_command);
  if (*retention_command.root) return central::RunRetentionCommand(retention_command);
  if (*tenant_map_command.root) return central::RunTenantMapCommand(tenant_map_command);
  if (*rebuild)
    return central::RebuildRollupsCommand(config_path, rebuild_range, rebuild_from, rebuild_to);
  if (*create_user) {
    central::QuietLogging();
    auto role = central::ParseRole(user_role);
    if (!role.ok()) return central::Fail(role.status());
    new_user.role = *role;
    new_user.sites = user_sites;
    std::string password;
    if (password_file.empty() || password_file == "-") {
      std::getline(std::cin, password);
    } else {
      auto text = ReadFile(password_file);
      if (!text.ok()) return central::Fail(text.status());
      password = text->substr(0, text->find('\n'));
    }
    new_user.password = password;
    auto conn = central::ConnectFromConfig(config_path);
    if (!conn.ok()) return central::Fail(conn.status());
    auto id = central::CreateUser(**conn, new_user, who);
    if (!id.ok()) return central::Fail(id.status());
    std::cout << "created " << user_role << " " << new_user.login
              << (new_user.tenant_id.empty() ? " of the platform" : " of tenant " + new_user.tenant_id) << "\n";
    return 0;
  }
  if (*api_token) {
    central::QuietLogging();
    auto conn = central::ConnectFromConfig(config_path);
    if (!conn.ok()) return central::Fail(conn.status());
    if (*api_token_create) {
      auto role = central::ParseRole(api_token_role);
      if (!role.ok()) return central::Fail(role.status());
      auto t = central::CreateApiToken(**conn, api_token_tenant, api_token_name, *role, api_token_sites, who);
      if (!t.ok()) return central::Fail(t.status());
      std::cout << *t << "\n" << std::flush;
      std::cerr << "API token " << api_token_name << " of " << api_token_tenant
                << " made; it is shown only this once. Send it as 'Authorization: Bearer <token>'.\n";
      return 0;
    }
    if (*api_token_revoke) {
      if (Status st = central::RevokeApiToken(**conn, api_token_tenant, api_token_name, who); !st.ok())
        return central::Fail(st);
      std::cout << "revoked API token " << api_token_name << " of " << api_token_tenant << "\n";
      return 0;
    }
    auto list = central::ListApiTokens(**conn, api_token_tenant);
    if (!list.ok()) return central::Fail(list.status());
    for (const auto& t : *list) {
      std::string sites;
      for (const auto& x : t.sites) sites += (sites.empty() ? "" : ",") + x;
      std::cout << t.name << "\t" << central::RoleName(t.role) << (sites.empty() ? "" : "\t" + sites)
                << "\tcreated " << t.created_at << " by " << t.created_by
                << (t.revoked_at.empty() ? "" : "\trevoked " + t.revoked_at) << "\n";
    }
    return 0;
  }
  who.actor = central::CommandLineActor(actor);
  provision_options.who = who;
  if (*seed_demo) {
    central::QuietLogging();
    auto conn = central::ConnectFromConfig(config_path);
    if (!conn.ok()) return central::Fail(conn.status());
    auto head = central::SeedDemoTenant(**conn, tenant, demo_sites, who);
    if (!head.ok()) return central::Fail(head.status());
    std::cout << "loaded the demo factory for tenant " << tenant << " (" << demo_sites.size()
              << " site(s)); feed head " << *head << "\n";
    return 0;
  }
  if (*serve)
    return central::ServeCentral(serve_options.config_path, serve_options.http_port,
                          serve_options.port_file, sync_endpoint_file);
  if (*migrate) return central::Migrate(db_url);
  if (*keygen) return central::Keygen(secret_path, public_path);
  if (*schema) {
    catalog::PostgresDdlOptions o;
    for (const auto& sql : catalog::PostgresAdminDdl(o)) std::cout << sql << ";\n";
    for (const auto& sql : catalog::PostgresDdl(catalog::MesCatalog(), o))
      std::cout << sql << ";\n";
    return 0;
  }
  if (*create_tenant) {
    central::QuietLogging();
    central::CentralConfig config;
    auto conn = central::ConnectFromConfig(config_path, &config);
    if (!conn.ok()) return central::Fail(conn.status());
    if (Status s = central::CheckTenantHere(config, tenant); !s.ok()) return central::Fail(s);
    if (Status s = central::CreateTenant(**conn, tenant, tenant_name, who); !s.ok())
      return central::Fail(s);
    std::cout << "created tenant " << tenant << "\n";
    return 0;
  }
  if (*provision) return central::Provision(config_path, provision_options);
  if (*enrollment_code) {
    central::QuietLogging();
    auto conn = central::ConnectFromConfig(config_path);
    if (!conn.ok()) return central::Fail(conn.status());
    auto code = central::NewEnrollmentCodeFor(**conn, tenant, site, enroll_hours, who);
    if (!code.ok()) return central::Fail(code.status());
    std::cout << "site " << tenant << "/" << site << ": one-time enrollment code " << *code << ", valid "
              << enroll_hours << " h\n  put it in the edge's edge.toml ([sync] enrollment_code) and restart the edge\n";
    return 0;
  }
  if (*restore) {
    restore_options.site.who = who;
    return central::RestoreSiteCommand(config_path, restore_options);
  }
  if (*revoke) {
    central::QuietLogging();
    auto conn = central::ConnectFromConfig(config_path);
    if (!conn.ok()) return central::Fail(conn.status());
    if (Status s = central::RevokeSite(**conn, tenant, site, who); !s.ok())
      return central::Fail(s);
    std::cout << "revoked site " << tenant << "/" << site << "\n";
    return 0;
  }
  if (*rows_command.put || *rows_command.del)
    return central::RunRowsCommand(rows_command, config_path, who);
  if (*audit) {
    central::QuietLogging();
    auto conn = central::ConnectFromConfig(config_path);
    if (!conn.ok()) return central::Fail(conn.status());
    auto records = central::ListAudit(**conn, {audit_tenant, audit_site, audit_row, audit_limit});
    if (!records.ok()) return central::Fail(records.status());
    for (const auto& r : *records) {
      if (audit_json) {
        std::cout << r.dump() << "\n";
        continue;
      }
      auto str = [&](const char* k) { return r[k].is_null() ? std::string("-") : r[k].is_string() ? r[k].get<std::string>() : r[k].dump(); };
      std::cout << str("at") << "  " << str("source") << "  " << str("actor") << "  "
                << str("action") << "  " << str("site_id") << "  " << str("table_name") << " "
                << str("row_id") << "  " << str("old_value") << " -> " << str("new_value")
                << (r["reason"].is_null() ? "" : "  (" + str("reason") + ")") << "\n";
    }
    if (records->empty()) std::cerr << "no audit records\n";
    return 0;
  }
  if (*rotate) {
    central::QuietLogging();
    auto conn = central::ConnectFromConfig(config_path);
    if (!conn.ok()) return central::Fail(conn.status());
    if (Status s = central::RequestKeyRotation(**conn, tenant, site, rotate_grace, who); !s.ok())
      return central::Fail(s);
    std::cout << "asked site " << tenant << "/" << site
              << " for a new key pair; its old key works for " << rotate_grace
              << " s after the new one is in\n";
    for (int waited = 0; waited < rotate_wait; ++waited) {
      auto st = central::KeyRotationStatus(**conn, tenant, site);
      if (!st.ok()) return central::Fail(st.status());
      if (!st->pending) {
        std::cout << "rotated: the site's key is now " << st->keys.back().public_key << "\n";
        for (const auto& k : st->keys)
          if (!k.retire_at.empty()) std::cout << "  old key " << k.public_key << " refused from " << k.retire_at << "\n";
        return 0;
      }
      std::cout << "  waiting for the site (" << waited << " s)\n" << std::flush;
      std::this_thread::sleep_for(std::chrono::seconds(1));
    }
    if (rotate_wait > 0) {
      std::cerr << "mes-central: the site has not rotated within " << rotate_wait
                << " s (is it connected?); the request stays until it does\n";
      return 1;
    }
    return 0;
  }
  if (*token) {
    central::QuietLogging();
    auto conn = central::ConnectFromConfig(config_path);
    if (!conn.ok()) return central::Fail(conn.status());
    if (*token_create) {
      auto t = central::CreateAdminToken(**conn, token_name, who);
      if (!t.ok()) return central::Fail(t.status());
      std::cout << *t << "\n" << std::flush;  // the token first, then the advice
      std::cerr << "admin token " << token_name
                << " made; it is shown only this once. Send it as 'Authorization: Bearer "
                   "<token>'.\n";
      return 0;
    }
    if (*token_revoke) {
      if (Status s = central::RevokeAdminToken(**conn, token_name, who); !s.ok())
        return central::Fail(s);
      std::cout << "revoked admin token " << token_name << "\n";
      return 0;
    }
    auto list = central::ListAdminTokens(**conn);
    if (!list.ok()) return central::Fail(list.status());
    for (const auto& t : *list)
      std::cout << t.name << "\tcreated " << t.created_at
                << (t.revoked_at.empty() ? "" : "\trevoked " + t.revoked_at) << "\n";
    return 0;
  }
  return 2;
}
