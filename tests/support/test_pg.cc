#include "test_pg.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>

#include "millrace/central/schema.h"
#include "millrace/common/uuid.h"

namespace millrace::testing {

Result<std::string> TestServerConnInfo() {
  const char* env = std::getenv("MILLRACE_TEST_PG");
  if (!env || !*env) {
    return Status::FailedPrecondition(
        "MILLRACE_TEST_PG is not set: run integration tests through ctest (fixture 'postgres') or "
        "tests/run");
  }
  return std::string(env);
}

Result<std::unique_ptr<TestDatabase>> TestDatabase::Create() {
  MILLRACE_ASSIGN_OR_RETURN(std::string server, TestServerConnInfo());
  MILLRACE_ASSIGN_OR_RETURN(auto admin, central::PgConnection::Connect(server));
  std::string id = Uuid::NewV7().ToString().substr(24);
  std::string name = "t_" + std::to_string(::getpid()) + "_" + id;
  MILLRACE_RETURN_IF_ERROR(admin->Exec("CREATE DATABASE " + name));
  return std::unique_ptr<TestDatabase>(new TestDatabase(server, name));
}

TestDatabase::~TestDatabase() {
  if (std::getenv("MILLRACE_KEEP_TEST_DIRS")) return;  // kept for a look after a failure
  auto admin = central::PgConnection::Connect(server_);
  if (admin.ok()) (void)(*admin)->Exec("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
}

std::string TestDatabase::ConnInfo(const std::string& user) const {
  // Later keywords win in a libpq conninfo string.
  return server_ + " dbname=" + name_ + " user=" + user;
}

Result<std::unique_ptr<central::PgConnection>> TestDatabase::Connect(
    const std::string& user) const {
  return central::PgConnection::Connect(ConnInfo(user));
}

Result<CentralDatabase> CreateCentralDatabase() {
  CentralDatabase c;
  MILLRACE_ASSIGN_OR_RETURN(c.db, TestDatabase::Create());
  MILLRACE_ASSIGN_OR_RETURN(c.admin, c.db->Connect("postgres"));
  MILLRACE_RETURN_IF_ERROR(central::MigrateCentralSchema(*c.admin).status());
  MILLRACE_ASSIGN_OR_RETURN(c.app, c.db->Connect("millrace_app"));
  return c;
}

}  // namespace millrace::testing
