// What each key of mes-edge's configuration means: the text of the configuration reference
// (config_reference.h). Types, defaults and ranges come from the loader (edge_config.cc).
#include "millrace/common/config_reference.h"
#include "millrace/common/daemon_config.h"
#include "millrace/edge/edge_config.h"

namespace millrace::edge {
namespace {

const ConfigKeyDoc kEdgeDocs[] = {
    {"site.id", "The site this edge runs: 1 to 32 characters of a-z, 0-9 and '-'. It must be "
                "the site central provisioned these keys for."},
    {"site.time_zone", "The IANA time zone of the site's shifts and production day (e.g. "
                       "\"Europe/Paris\"); provisioning writes central's record of it."},
    {"store.path", "The SQLite store (its WAL beside it). This and every other relative path "
                   "in the file is relative to the file's directory."},
    {"backup.dir", "Where the scheduled online backups of the store go.",
     "`backups/` beside the store"},
    {"backup.interval_minutes", "Minutes between scheduled online backups, 0 to 10080; 0 turns "
                                "them off."},
    {"backup.keep", "The newest backups kept in the backup directory."},
    {"backup.ship", "With [sync]: each scheduled backup also goes to central, compressed, over "
                    "the sync link (central can then rebuild the site)."},
    {"backup.ship_chunk_kib", "KiB per backup upload chunk (two are in flight)."},
    {"retention.keep_facts_days", "Days the site's own facts stay once central holds them: a "
                                  "fact made longer ago is purged when nothing open needs it. 0 "
                                  "keeps every fact; otherwise at least 7."},
    {"retention.purge_interval_minutes", "Minutes between purges, more than 0, up to 10080."},
    {"clock.offset_file", "A file holding milliseconds added to the system clock, re-read every "
                          "100 ms: steps a running edge's clock (rehearsing an NTP correction, "
                          "chaos tests). Empty: the system clock as it is."},
    {"sync.endpoints", "The central nodes (tcp://host:port), tried in order. Without a [sync] "
                       "table the edge works alone and nothing syncs."},
    {"sync.insecure_development", "true: no CurveZMQ at all (development only; central must "
                                  "say the same)."},
    {"sync.secret_key_file", "The site's Curve secret key (Z85, mode 0600: a looser file is "
                             "refused). Required unless insecure_development."},
    {"sync.central_public_key_file", "Central's Curve public key. Required unless "
                                     "insecure_development."},
    {"sync.enrollment_code", "A one-time code from provisioning (`provision-site --enroll-hours`, "
                             "or `mes-central enrollment-code`) in place of keys: while the site "
                             "is not enrolled, the edge makes its Curve key pair at secret_key_file "
                             "(if there is none) and registers the public key with this code at "
                             "enroll_url, boxed for central's key, until central proves it did; "
                             "the floor works meanwhile. Spent once; expires."},
    {"sync.enroll_url", "Central's HTTP address for enrollment (http://host:port). Required with "
                        "enrollment_code."},
    {"sync.snapshot_file", "Master data from provisioning, applied before the first sync so the "
                           "site works offline at once. Empty: none."},
    {"sync.batch_rows", "Changes per upstream batch."},
    {"sync.window", "Upstream batches in flight before the first is acknowledged."},
    {"sync.keep_acked_hours", "Hours an acknowledged change stays in the outbox after its "
                              "capture, to be sent again if central is restored from an older "
                              "backup; 0: purged once acknowledged."},
};

// A file naming every table, so the loader reads every key.
constexpr char kEveryTable[] = R"(
[site]
id = "plant-lyon"
[store]
path = "/var/lib/millrace/edge.db"
[sync]
endpoints = ["tcp://central.example:7400"]
secret_key_file = "site.key"
central_public_key_file = "central.pub"
)";

}  // namespace

Result<std::string> EdgeConfigReference() {
  MILLRACE_ASSIGN_OR_RETURN(ConfigFile file, ConfigFile::Parse(kEveryTable, "/etc/millrace/edge.toml"));
  MILLRACE_RETURN_IF_ERROR(ReadEdgeConfig(file).status());
  return ConfigReference(
      "mes-edge (`/etc/millrace/edge.toml`)",
      "The factory edge: `mes-edge serve --config FILE`; `mes-edge config check FILE` checks a "
      "file without starting anything. Unknown keys are errors.",
      file.reads(), {kEdgeDocs, DaemonSectionDocs()});
}

}  // namespace millrace::edge
