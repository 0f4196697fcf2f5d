// Replacing a dead edge: `mes-central restore-site` writes a site directory from which a
// new machine's mes-edge starts with the site's data and resumes syncing.
//
// The bundle holds the site's newest verified backup (fetched from the backup store, its
// SHA-256 checked, expanded and integrity-checked) as edge.db, the site's Curve keys
// (a fresh pair registered for the site now, the site's other keys refused from then on so
// the dead machine cannot come back; or, with keep_key_file, the key the site had), the
// central's public key, edge.toml, and bundle.json (which backup, taken when, its epoch).
// No store epoch is started here: the edge that opens edge.db on its new machine sees a
// copied store and starts a new incarnation itself (edge/store_epoch.h), so central resumes
// it where the backup stood and sends back the site's rows the backup lacks, and a new
// write is never taken for an old one.
//
// Thread-safety: one call on one connection.
#pragma once

#include <string>

#include "millrace/central/backup_store.h"
#include "millrace/central/job_runner.h"
#include "millrace/central/pg.h"
#include "millrace/central/provision.h"
#include "millrace/central/site_backups.h"

namespace millrace::central {

struct RestoreSiteOptions {
  ProvisionOptions site;      // tenant, site, out_dir (must not exist), endpoints, keys, port
  std::string keep_key_file;  // the site's current secret key to keep; empty: a fresh pair
  // A site heard from within this long is live: its edge is not dead, and a bundle (whose
  // fresh keys lock that edge out) is refused unless `force`.
  std::int64_t live_within_ms = 30'000;
  bool force = false;
};

struct RestoreSiteResult {
  std::string out_dir;
  SiteBackup backup;
  std::string public_key;
  bool fresh_keys = true;
  int keys_retired = 0;
};

// NotFound when the site has no verified backup; FailedPrecondition when the site is live
// or revoked, or keep_key_file is not one of the site's current keys; Corruption when the
// fetched backup does not check out.
Result<RestoreSiteResult> RestoreSite(PgConnection& conn, BackupStore& store,
                                      const RestoreSiteOptions& options);

// The site_restore job: the same bundle, written on the node that runs it into
// <export_dir>/<tenant>/<job id>-restore-<site>/, with fresh keys (payload: site, endpoint,
// http_port, force). Its result names the directory, the backup and the new public key.
struct RestoreJobOptions {
  BackupStore* store = nullptr;  // null: the job fails (this node keeps no backups)
  std::string export_dir;        // empty: the job fails
  std::string central_public_key;
  bool insecure_development = false;
  std::int64_t live_within_ms = 30'000;
  // [cluster]: a site of a tenant the map puts on another cluster is refused.
  std::string cluster, tenant_map_file;
};
void AddRestoreJobKind(JobKinds& kinds, const RestoreJobOptions& options);

}  // namespace millrace::central
