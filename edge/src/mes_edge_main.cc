// mes-edge: the Millrace factory edge daemon.
#include <spdlog/spdlog.h>

#include <iostream>
#include <mutex>

#include "millrace/common/catalog.h"
#include "millrace/common/cli.h"
#include "millrace/common/daemon_config.h"
#include "millrace/common/ddl.h"
#include "millrace/common/http_server.h"
#include "millrace/common/metrics.h"
#include "millrace/common/signals.h"
#include "millrace/common/version.h"
#include "millrace/edge/edge_config.h"
#include "millrace/edge/schema.h"
#include "millrace/edge/sqlite.h"

namespace millrace::edge {
namespace {

int Fail(const Status& s) {
  std::cerr << "mes-edge: " << s.ToString() << "\n";
  return s.code() == StatusCode::kInvalidArgument ? 2 : 1;
}

Result<SqliteDb> OpenStore(const std::string& path) {
  MILLRACE_ASSIGN_OR_RETURN(SqliteDb db, SqliteDb::Open(path));
  MILLRACE_RETURN_IF_ERROR(MigrateEdgeSchema(db));
  return db;
}

int Init(const std::string& db_path) {
  (void)InitLogging({.level = "info", .format = "human", .program = "mes-edge"});
  auto db = OpenStore(db_path);
  if (!db.ok()) return Fail(db.status());
  std::cout << "edge database " << db_path << " is at schema version " << kEdgeSchemaVersion
            << " (catalog " << catalog::MesCatalog().FingerprintHex() << ")\n";
  return 0;
}

int Serve(const std::string& config_path, int port_override, const std::string& port_file) {
  auto config = LoadEdgeConfig(config_path);
  if (!config.ok()) return Fail(config.status());
  if (port_override >= 0) config->http.port = static_cast<std::uint16_t>(port_override);
  if (Status s = InitLogging(config->log); !s.ok()) return Fail(s);

  auto db = OpenStore(config->store_path);
  if (!db.ok()) return Fail(db.status());
  std::mutex db_mu;

  MetricsRegistry metrics;
  metrics.AddGauge("mes_edge_info", "Build and site of this edge", {"version", "site", "catalog"})
      .With({kVersion, config->site_id, catalog::MesCatalog().FingerprintHex()})
      .Set(1);
  Router router(&metrics);
  router.AddOperationalRoutes({{"store", [&] {
                                  std::lock_guard lock(db_mu);
                                  return CheckEdgeSchemaCurrent(*db);
                                }}});
  Status s =
      ServeUntilShutdownSignal(config->http, router, port_file,
                               "site " + config->site_id + " (store " + config->store_path + ")");
  return s.ok() ? 0 : Fail(s);
}

}  // namespace
}  // namespace millrace::edge

int main(int argc, char** argv) {
  using namespace millrace;
  BlockShutdownSignals();
  CLI::App app{
      "mes-edge: the Millrace factory edge. Runs one site's MES on local SQLite so the shop floor "
      "keeps working with or without the WAN, and syncs with mes-central."};
  app.set_version_flag("--version", std::string("mes-edge ") + kVersion + " (catalog " +
                                        catalog::MesCatalog().FingerprintHex() + ")");
  app.require_subcommand(1);
  app.footer("Run 'mes-edge SUBCOMMAND --help' for the options of each subcommand.");

  std::string config_path, port_file, db_path;
  int port = -1;
  auto* serve =
      app.add_subcommand("serve",
                         "Run the edge daemon: open the store and serve the terminal HTTP API "
                         "with /health, /ready and /metrics until SIGINT or SIGTERM");
  serve->add_option("-c,--config", config_path, "Edge configuration file (TOML)")
      ->required()
      ->check(CLI::ExistingFile);
  serve->add_option("--http-port", port, "Override [http] port (0 picks a free port)")
      ->check(CLI::Range(0, 65535));
  serve->add_option("--port-file", port_file,
                    "Write the bound HTTP port to this file once listening");

  auto* init =
      app.add_subcommand("init", "Create the edge database, or migrate it to this build's schema");
  init->add_option("--db", db_path, "Path of the SQLite database")->required();

  auto* schema =
      app.add_subcommand("schema", "Print the SQLite DDL derived from the schema catalog");

  if (auto exit_code = ParseCommandLine(app, argc, argv)) return *exit_code;
  if (*serve) return edge::Serve(config_path, port, port_file);
  if (*init) return edge::Init(db_path);
  if (*schema) {
    for (const auto& sql : catalog::SqliteDdl(catalog::MesCatalog())) std::cout << sql << ";\n";
    return 0;
  }
  return 2;
}
