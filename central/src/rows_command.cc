#include "rows_command.h"

#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "millrace/central/central_config.h"
#include "millrace/central/pg.h"
#include "millrace/central/provision.h"
#include "millrace/central/row_deletes.h"
#include "millrace/common/clock.h"
#include "millrace/common/files.h"
#include "millrace/common/hlc.h"
#include "millrace/common/logging.h"

namespace millrace::central {
namespace {

int Fail(const Status& s) {
  std::cerr << "mes-central: " << s.ToString() << "\n";
  return s.code() == StatusCode::kInvalidArgument ? 2 : 1;
}

// The rows to put: a JSON object or array, from the file or stdin.
Result<nlohmann::json> ReadRows(const std::string& file) {
  std::string text;
  if (file.empty() || file == "-") {
    text.assign(std::istreambuf_iterator<char>(std::cin), {});
  } else {
    MILLRACE_ASSIGN_OR_RETURN(text, ReadFile(file));
  }
  auto rows = nlohmann::json::parse(text, nullptr, false);
  if (rows.is_discarded()) return Status::InvalidArgument("rows are not valid JSON");
  if (rows.is_object()) rows = nlohmann::json::array({rows});
  return rows;
}

}  // namespace

void AddRowsCommands(CLI::App& app, RowsCommand* c,
                     const std::function<void(CLI::App*)>& common) {
  c->put = app.add_subcommand(
      "put",
      "Upsert master data or shared rows (e.g. release a work order to a site) from JSON; they "
      "flow down to the edges, and each row leaves an audit record");
  common(c->put);
  c->put->add_option("--tenant", c->tenant, "Tenant id")->required();
  c->put->add_option("--table", c->table, "Catalog table")->required();
  c->put->add_option("--file", c->rows_file,
                     "JSON object or array of objects (column -> value); '-' or absent: stdin");

  c->del = app.add_subcommand(
      "delete",
      "Delete master data or shared rows by id (facts are append-only and never deleted): each "
      "leaves a tombstone that flows down to the edges, so a site's write older than the delete "
      "never brings the row back and a newer one does; each row leaves an audit record with its "
      "last value. To retire master data that facts still name, put active=false instead");
  common(c->del);
  c->del->add_option("--tenant", c->tenant, "Tenant id")->required();
  c->del->add_option("--table", c->table, "Catalog table (master data or shared rows)")->required();
  c->del->add_option("--id", c->ids, "Row id (UUID); repeat for several")->required();
}

int RunRowsCommand(const RowsCommand& c, const std::string& config_path,
                   const WriteContext& who) {
  (void)InitLogging({.level = "warn", .format = "human", .program = "mes-central"});
  nlohmann::json rows;
  if (*c.put) {
    auto read = ReadRows(c.rows_file);
    if (!read.ok()) return Fail(read.status());
    rows = std::move(*read);
  }
  auto config = LoadCentralConfig(config_path);
  if (!config.ok()) return Fail(config.status());
  auto conn = PgConnection::Connect(config->database_url);
  if (!conn.ok()) return Fail(conn.status());
  // This process's clock. Put and delete let it observe the HLCs of the rows they replace,
  // so the edit orders after them even when a site's clock runs ahead of this machine's.
  HybridClock hlc(SystemClock(), 5 * 60 * 1000);
  if (*c.put) {
    auto r = PutRows(**conn, c.tenant, c.table, rows, hlc, who);
    if (!r.ok()) return Fail(r.status());
    std::cout << nlohmann::json{{"table", c.table}, {"ids", r->ids}, {"feed_head", r->feed_head},
                                {"conflicts", r->conflicts}}
                     .dump()
              << "\n";
    return 0;
  }
  auto r = DeleteRows(**conn, c.tenant, c.table, c.ids, hlc, who);
  if (!r.ok()) return Fail(r.status());
  std::cout << nlohmann::json{{"table", c.table}, {"deleted", r->ids}, {"feed_head", r->feed_head},
                              {"conflicts", r->conflicts}}
                   .dump()
            << "\n";
  return 0;
}

}  // namespace millrace::central
