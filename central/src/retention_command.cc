#include "retention_command.h"

#include <iostream>
#include <optional>

#include "millrace/central/central_config.h"
#include "millrace/central/retention.h"
#include "millrace/common/catalog.h"
#include "millrace/common/logging.h"

namespace millrace::central {
namespace {

int Fail(const Status& s) {
  std::cerr << "mes-central retention: " << s.ToString() << "\n";
  return s.code() == StatusCode::kInvalidArgument ? 2 : 1;
}

void Common(CLI::App* sub, RetentionCommand* c) {
  sub->add_option("-c,--config", c->config_path, "mes-central configuration file (TOML)")
      ->required()
      ->check(CLI::ExistingFile);
  sub->add_option("--tenant", c->tenant, "The tenant")->required();
}

}  // namespace

void AddRetentionCommand(CLI::App& app, RetentionCommand* c) {
  c->root = app.add_subcommand(
      "retention",
      "How long central keeps a tenant's raw facts: older months are exported to the backup "
      "store as gzip CSV and purged by the daily fact_retention job (the report rollups stay)");
  c->root->require_subcommand(1);
  c->show = c->root->add_subcommand(
      "show", "The tenant's retention, the first instant it keeps, and its exports newest first");
  Common(c->show, c);
  c->show->add_flag("--json", c->json, "One JSON object");
  c->set = c->root->add_subcommand("set", "Set the tenant's retention (audited)");
  Common(c->set, c);
  auto* months = c->set->add_option("--months", c->months,
                                    "Keep the facts of this many whole months before this one "
                                    "(1 to 1200)");
  auto* all = c->set->add_flag("--keep-all", c->keep_all, "Keep every fact (no retention)");
  months->excludes(all);
  c->set->add_option("--actor", c->actor, "Who, for the audit trail (default: $SUDO_USER or $USER @ host)");
  c->set->add_option("--reason", c->reason, "Why, for the audit trail");
  c->run = c->root->add_subcommand(
      "run", "Export and purge the tenant's facts past its retention now, in this process "
             "(needs [backups] dir), with progress");
  Common(c->run, c);
}

int RunRetentionCommand(const RetentionCommand& c) {
  (void)InitLogging({.level = "warn", .format = "human", .program = "mes-central"});
  if (!catalog::IsValidSiteId(c.tenant))
    return Fail(Status::InvalidArgument("--tenant \"" + c.tenant + "\" is not a tenant id"));
  auto config = LoadCentralConfig(c.config_path);
  if (!config.ok()) return Fail(config.status());
  auto conn = PgConnection::Connect(config->database_url);
  if (!conn.ok()) return Fail(conn.status());
  if (*c.set) {
    if (!c.keep_all && c.months == 0)
      return Fail(Status::InvalidArgument("give --months N or --keep-all"));
    std::optional<int> months;
    if (!c.keep_all) months = c.months;
    Status s = SetFactRetention(**conn, c.tenant, months, {CommandLineActor(c.actor), c.reason});
    if (!s.ok()) return Fail(s);
  }
  if (*c.run) {
    if (config->backups.dir.empty())
      return Fail(Status::FailedPrecondition("the config names no backup store ([backups] dir)"));
    auto store = OpenDirectoryBackupStore(config->backups.dir);
    if (!store.ok()) return Fail(store.status());
    auto outcome = RunFactRetention(
        **conn, **store, config->backups.dir + "/.work", c.tenant, CommandLineActor(""),
        [](std::int64_t done, std::int64_t total) {
          std::cerr << "\rfact tables done: " << done << " of " << total << std::flush;
        });
    std::cerr << "\n";
    if (!outcome.ok()) return Fail(outcome.status());
    std::cout << "exported and purged " << outcome->months << " table-month(s): "
              << outcome->rows << " rows, " << outcome->bytes << " bytes in the store\n";
    return 0;
  }
  auto shown = ShowFactRetention(**conn, c.tenant);
  if (!shown.ok()) return Fail(shown.status());
  if (c.json) {
    nlohmann::json j{{"tenant", c.tenant},
                     {"months", shown->months ? nlohmann::json(*shown->months) : nlohmann::json(nullptr)},
                     {"horizon_ms", shown->horizon_ms},
                     {"exports", shown->exports}};
    std::cout << j.dump() << "\n";
    return 0;
  }
  if (shown->months)
    std::cout << c.tenant << " keeps " << *shown->months << " month(s) of facts, from "
              << shown->horizon_ms << " ms (Unix)\n";
  else
    std::cout << c.tenant << " keeps every fact\n";
  for (const auto& e : shown->exports)
    std::cout << e["month"].get<std::string>() << "\t" << e["table"].get<std::string>() << "\t"
              << e["rows"] << " rows\t" << e["bytes"] << " bytes\t" << e["key"].get<std::string>()
              << "\n";
  return 0;
}

}  // namespace millrace::central
