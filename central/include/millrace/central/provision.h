// Tenants and sites: the registry central authenticates edges against, provisioning of a
// new site (its Curve keys, its edge config and a snapshot of its master data), revocation,
// and central's own edits of master data and shared rows (which flow down to the edges).
//
// Thread-safety: functions over one connection, used by one thread.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "millrace/central/central_audit.h"
#include "millrace/central/pg.h"
#include "millrace/common/hlc.h"
#include "millrace/common/row.h"
#include "millrace/sync/transport.h"
#include "millrace/sync/v1/sync.pb.h"

namespace millrace::central {

// InvalidArgument for a bad id (1..32 of a-z, 0-9, '-'), AlreadyExists when taken.
Status CreateTenant(PgConnection& conn, const std::string& tenant_id, const std::string& name,
                    const WriteContext& who = {});

struct ProvisionOptions {
  std::string tenant_id;
  std::string site_id;
  std::string out_dir;  // must not exist yet; written whole or not at all
  std::vector<std::string> endpoints;
  std::string central_public_key;  // Z85; empty with insecure_development
  bool insecure_development = false;
  int http_port = 8080;
  // The site's IANA time zone: its shifts and production day (reports bucket by it).
  std::string time_zone = "UTC";
  WriteContext who;  // for the audit record
  // > 0: no keys, but a one-time enrollment code valid this many hours (enrollment.h): the
  // edge makes its key pair and registers it at enroll_url (central's HTTP) on first contact.
  int enroll_hours = 0;
  std::string enroll_url;
};

struct ProvisionResult {
  std::string out_dir;
  std::string public_key;        // empty with an enrollment code
  std::string enrollment_code;   // with enroll_hours
  std::uint64_t snapshot_position = 0;
  std::size_t snapshot_rows = 0;
};

// Registers the site with a fresh Curve key pair (or, with enroll_hours, a one-time
// enrollment code in edge.toml instead of site.key and site.pub) and writes out_dir/:
// edge.toml, site.key (0600), site.pub, central.pub and snapshot.pb (the tenant's master data and the
// site's shared rows as of one consistent moment, with the feed position to resume from).
Result<ProvisionResult> ProvisionSite(PgConnection& conn, const ProvisionOptions& options);

// The edge.toml of a site directory written by provisioning (or a restore bundle), whose
// files it names relative to itself (so the directory can be moved to the edge's machine),
// with the snapshot file named when `with_snapshot`.
// With an enrollment code, edge.toml carries it and options.enroll_url.
std::string SiteEdgeToml(const ProvisionOptions& options, bool with_snapshot,
                         const std::string& enrollment_code = "");

// A site directory is written into `<out_dir>.partial` (made afresh, 0700) and renamed to
// out_dir once whole. Returns the staging directory.
Result<std::filesystem::path> StageSiteDirectory(const std::filesystem::path& out_dir);
// site.key (0600), site.pub and, unless insecure development, central.pub into `dir`.
Status WriteSiteKeys(const std::filesystem::path& dir, const sync::CurveKeyPair& keys,
                     const ProvisionOptions& options);

// Marks the site revoked: its key is refused at the next handshake and every request of
// an existing connection is refused from now on. NotFound for an unknown site.
Status RevokeSite(PgConnection& conn, const std::string& tenant_id, const std::string& site_id,
                  const WriteContext& who = {});

// Everything a site receives downstream, as of one snapshot: a FeedBatch from 0 to the
// feed head of that moment.
Result<sync::v1::FeedBatch> SiteSnapshot(PgConnection& conn, const std::string& tenant_id,
                                         const std::string& site_id);

struct PutResult {
  std::vector<std::string> ids;
  std::uint64_t feed_head = 0;
  std::size_t conflicts = 0;
};

// Asks an active site for a new Curve key pair: at its next Hello the edge makes one and
// sends the public key over its link (the secret never leaves the site); the old key works
// for `grace_seconds` more, then is refused. NotFound for an unknown or revoked site.
Status RequestKeyRotation(PgConnection& conn, const std::string& tenant_id,
                          const std::string& site_id, int grace_seconds,
                          const WriteContext& who = {});
struct KeyRotationState {
  bool pending = false;  // requested, not done yet
  struct Key {
    std::string public_key, retire_at;  // retire_at empty: no end
  };
  std::vector<Key> keys;  // oldest first
};
Result<KeyRotationState> KeyRotationStatus(PgConnection& conn, const std::string& tenant_id,
                                           const std::string& site_id);

// Central's own edit: upserts rows of one central-owned or shared table, given as JSON
// objects (column -> value; "id" optional for new rows; for an existing shared row only
// the columns given change and merge per column). Stamped with central's clock, published
// on the tenant's feed in the same transaction, with an audit record per row (its old and
// new values of the columns given; `who` names the actor and the reason).
Result<PutResult> PutRows(PgConnection& conn, const std::string& tenant_id,
                          const std::string& table, const nlohmann::json& rows, HybridClock& hlc,
                          const WriteContext& who = {});

// Upserts rows of central-owned tables as they are (already stamped) and publishes them on
// the feed, in one transaction. Returns the new feed head.
Result<std::uint64_t> PutCentralRows(PgConnection& conn, const std::string& tenant_id,
                                     const std::vector<Row>& rows,
                                     const WriteContext& who = {},
                                     const std::string& action = "put");

// Loads the demo factory's master data (common/demo_factory.h) for a tenant and its sites.
Result<std::uint64_t> SeedDemoTenant(PgConnection& conn, const std::string& tenant_id,
                                     const std::vector<std::string>& sites,
                                     const WriteContext& who = {});

}  // namespace millrace::central
