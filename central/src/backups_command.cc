#include "backups_command.h"

#include <iostream>

#include "millrace/central/site_backups.h"
#include "millrace/central/central_config.h"
#include "millrace/common/catalog.h"
#include "millrace/common/logging.h"

namespace millrace::central {
namespace {

int Fail(const Status& s) {
  std::cerr << "mes-central backups: " << s.ToString() << "\n";
  return s.code() == StatusCode::kInvalidArgument ? 2 : 1;
}

}  // namespace

void AddBackupsCommand(CLI::App& app, BackupsCommand* c) {
  c->root = app.add_subcommand("backups",
                               "The site backups edges ship to central ([backups] in the config)");
  c->root->require_subcommand(1);
  c->list = c->root->add_subcommand(
      "list",
      "A tenant's site backups newest first: site, id, state (receiving, stored, verified, "
      "failed), size, when taken, and why a verification failed");
  c->list->add_option("-c,--config", c->config_path, "mes-central configuration file (TOML)")
      ->required()
      ->check(CLI::ExistingFile);
  c->list->add_option("--tenant", c->tenant, "The tenant")->required();
  c->list->add_option("--site", c->site, "Only this site's backups");
  c->list->add_flag("--json", c->json, "One JSON object per backup");
}

int RunBackupsCommand(const BackupsCommand& c) {
  (void)InitLogging({.level = "warn", .format = "human", .program = "mes-central"});
  if (!catalog::IsValidSiteId(c.tenant))
    return Fail(Status::InvalidArgument("--tenant \"" + c.tenant + "\" is not a tenant id"));
  if (!c.site.empty() && !catalog::IsValidSiteId(c.site))
    return Fail(Status::InvalidArgument("--site \"" + c.site + "\" is not a site id"));
  auto config = LoadCentralConfig(c.config_path);
  if (!config.ok()) return Fail(config.status());
  auto conn = PgConnection::Connect(config->database_url);
  if (!conn.ok()) return Fail(conn.status());
  auto list = ListSiteBackups(**conn, c.tenant, c.site);
  if (!list.ok()) return Fail(list.status());
  for (const SiteBackup& b : *list) {
    const nlohmann::json j = SiteBackupJson(b);
    if (c.json) {
      std::cout << j.dump() << "\n";
      continue;
    }
    std::cout << b.site_id << "\t" << b.backup_id << "\t" << b.state << "\t" << b.bytes
              << " bytes (" << b.raw_bytes << " expanded)\ttaken "
              << j["taken_at"].get<std::string>();
    if (!b.verify_error.empty()) std::cout << "\t" << b.verify_error;
    std::cout << "\n";
  }
  if (!c.json && list->empty()) std::cerr << "no backups\n";
  return 0;
}

}  // namespace millrace::central
