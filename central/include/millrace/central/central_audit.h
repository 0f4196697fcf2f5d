// Central's audit trail: every central write (put, seed-demo, tenant and site provisioning,
// revocation, key rotation, admin tokens) leaves a record in millrace.central_audit in the
// same transaction, with who, when (wall time and HLC), what, the old and the new value and
// a reason where one was given. The sites' own records (audit_record, a catalog table) sync
// up like other facts; ListAudit shows both, per site and per row. Neither table can be
// changed or deleted through the application role, nor by anyone while its trigger stands.
//
// Thread-safety: functions over one connection, used by one thread.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "millrace/central/pg.h"
#include "millrace/common/catalog.h"
#include "millrace/common/row.h"

namespace millrace::central {

// Who makes a central write and why (mes-central's --actor and --reason).
struct WriteContext {
  std::string actor = "mes-central";
  std::string reason;
};

// The HLC of a central write that no hybrid clock stamps (provisioning, revocation,
// tokens): the wall time with counter 0.
std::uint64_t WallClockHlc();

// The actor of a command-line write: `given`, else "$SUDO_USER or $USER@host".
std::string CommandLineActor(const std::string& given);

struct CentralAuditRecord {
  std::string action;  // "put", "site.provision", "site.revoke", ...
  std::string site_id, table_name, row_id;  // empty: none
  nlohmann::json old_value, new_value;      // null: none
};

// A column's value as JSON, for audit records (never the PIN hash of a user).
nlohmann::json AuditValue(const catalog::ColumnSpec& column, const Value& v);
// A whole row so (a deleted row's last value).
nlohmann::json AuditRow(const Row& row);

// REQUIRES: an open transaction whose tenant context is `tenant_id` ("*" for the platform's
// own records, such as admin tokens).
Status RecordCentralAudit(PgConnection& conn, const std::string& tenant_id, std::uint64_t hlc,
                          const WriteContext& who, const CentralAuditRecord& record);

struct AuditQuery {
  std::string tenant_id;
  std::string site_id;  // empty: every site (and central's tenant-wide records)
  std::string row_id;   // empty: every row
  int limit = 100;      // 1..1000
};

// The tenant's records from both trails, newest first: [{source: "site"|"central", at,
// actor, action, site_id, table_name, row_id, old_value, new_value, reason, hlc}, ...].
Result<nlohmann::json> ListAudit(PgConnection& conn, const AuditQuery& q);

}  // namespace millrace::central
