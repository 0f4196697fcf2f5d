// TestDatabase: a fresh PostgreSQL database on the suite's throwaway server
// (tests/support/pg_fixture.sh), dropped when the object dies. The server's connection
// string arrives in MILLRACE_TEST_PG; its absence is a test failure, never a skip.
#pragma once

#include <memory>
#include <string>

#include "millrace/central/pg.h"
#include "millrace/common/status.h"

namespace millrace::testing {

class TestDatabase {
 public:
  static Result<std::unique_ptr<TestDatabase>> Create();
  ~TestDatabase();

  const std::string& name() const { return name_; }
  // Connection string for this database as `user` (trust auth on the private socket).
  std::string ConnInfo(const std::string& user = "postgres") const;
  Result<std::unique_ptr<central::PgConnection>> Connect(
      const std::string& user = "postgres") const;

 private:
  TestDatabase(std::string server, std::string name)
      : server_(std::move(server)), name_(std::move(name)) {}
  std::string server_;
  std::string name_;
};

// The server's connection string, or an error explaining how to get one.
Result<std::string> TestServerConnInfo();

// A fresh database migrated to central's newest schema, with connections as an
// administrator and as the application role (what mes-central logs in as).
struct CentralDatabase {
  std::unique_ptr<TestDatabase> db;
  std::unique_ptr<central::PgConnection> admin;
  std::unique_ptr<central::PgConnection> app;
};
Result<CentralDatabase> CreateCentralDatabase();

}  // namespace millrace::testing
