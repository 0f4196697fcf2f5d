// mes-central: the Millrace central service over multi-tenant PostgreSQL.
#include <spdlog/spdlog.h>

#include <iostream>

#include "millrace/central/central_config.h"
#include "millrace/central/pg.h"
#include "millrace/central/schema.h"
#include "millrace/common/catalog.h"
#include "millrace/common/cli.h"
#include "millrace/common/daemon_config.h"
#include "millrace/common/ddl.h"
#include "millrace/common/http_server.h"
#include "millrace/common/metrics.h"
#include "millrace/common/signals.h"
#include "millrace/common/version.h"

namespace millrace::central {
namespace {

int Fail(const Status& s) {
  std::cerr << "mes-central: " << s.ToString() << "\n";
  return s.code() == StatusCode::kInvalidArgument ? 2 : 1;
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

int Serve(const std::string& config_path, int port_override, const std::string& port_file) {
  auto config = LoadCentralConfig(config_path);
  if (!config.ok()) return Fail(config.status());
  if (port_override >= 0) config->http.port = static_cast<std::uint16_t>(port_override);
  if (Status s = InitLogging(config->log); !s.ok()) return Fail(s);

  MetricsRegistry metrics;
  metrics.AddGauge("mes_central_info", "Build of this central node", {"version", "catalog"})
      .With({kVersion, catalog::MesCatalog().FingerprintHex()})
      .Set(1);
  Router router(&metrics);
  const std::string db_url = config->database_url;
  router.AddOperationalRoutes({{"postgres", [db_url] {
                                  auto conn = PgConnection::Connect(db_url + " connect_timeout=3");
                                  if (!conn.ok()) return conn.status();
                                  return CheckSchemaCurrent(**conn);
                                }}});
  Status s = ServeUntilShutdownSignal(config->http, router, port_file, "central");
  return s.ok() ? 0 : Fail(s);
}

}  // namespace
}  // namespace millrace::central

int main(int argc, char** argv) {
  using namespace millrace;
  BlockShutdownSignals();
  CLI::App app{
      "mes-central: the Millrace central service. Receives every factory edge's changes into "
      "multi-tenant PostgreSQL, feeds master data back down, and serves cross-site reporting."};
  ServeOptions serve_options;
  auto* serve =
      SetUpDaemonCommandLine(app, "mes-central",
                             "Run the central daemon: HTTP API with /health, /ready and /metrics "
                             "until SIGINT or SIGTERM",
                             &serve_options);
  std::string db_url;

  auto* migrate = app.add_subcommand("migrate",
                                     "Create or upgrade the PostgreSQL schema: roles, tables, "
                                     "row-level security (needs an admin login)");
  migrate
      ->add_option("--db", db_url, "libpq connection string of an administrator (superuser) login")
      ->required();

  auto* schema =
      app.add_subcommand("schema", "Print the PostgreSQL DDL derived from the schema catalog");

  if (auto exit_code = ParseCommandLine(app, argc, argv)) return *exit_code;
  if (*serve)
    return central::Serve(serve_options.config_path, serve_options.http_port,
                          serve_options.port_file);
  if (*migrate) return central::Migrate(db_url);
  if (*schema) {
    catalog::PostgresDdlOptions o;
    for (const auto& sql : catalog::PostgresAdminDdl(o)) std::cout << sql << ";\n";
    for (const auto& sql : catalog::PostgresDdl(catalog::MesCatalog(), o))
      std::cout << sql << ";\n";
    return 0;
  }
  return 2;
}
