// Site key rotation at central: the site sends its new public key over the link its
// current key authenticated; central records it and retires the site's other keys after
// the grace mes-central rotate-site-key gave.
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "millrace/central/central_audit.h"
#include "millrace/central/central_store.h"
#include "millrace/central/pg_rows.h"
#include "millrace/sync/transport.h"
#include "sync_handler.h"

namespace millrace::central {

using catalog::MergePolicy;

// The site sends the public key of its new pair over the link its current key
// authenticated: central records it, gives the site's other keys `grace` more to live,
// and clears the request. Sent again (a crash midway), it is answered the same.
Result<v1::KeyRotated> SyncService::Session::RotateKey(const sync::Peer& peer,
                                                      const v1::KeyRotation& k) {
  MILLRACE_RETURN_IF_ERROR(Connect());
  MILLRACE_RETURN_IF_ERROR(BeginTenant(*conn_, peer.tenant_id));
  MILLRACE_ASSIGN_OR_RETURN(SiteRow site, Site(peer, true));
  MILLRACE_ASSIGN_OR_RETURN(
      auto owner, conn_->Query("SELECT tenant_id, site_id FROM millrace.sync_key_owner($1)",
                               {k.new_public_key()}));
  if (owner.rows() == 1 &&
      (owner.GetString(0, 0) != peer.tenant_id || owner.GetString(0, 1) != peer.site_id)) {
    MILLRACE_RETURN_IF_ERROR(Rollback(*conn_));
    return Status::AlreadyExists("key rotation: that public key belongs to another site");
  }
  MILLRACE_RETURN_IF_ERROR(
      conn_
          ->Query("INSERT INTO millrace.sync_site_key (tenant_id, site_id, public_key) VALUES "
                  "($1, $2, $3) ON CONFLICT (public_key) DO NOTHING",
                  {peer.tenant_id, peer.site_id, k.new_public_key()})
          .status());
  // The key may have been taken already by a site the lookup above cannot see (a revoked
  // one, another tenant's): only a key now recorded for this very site is answered.
  MILLRACE_ASSIGN_OR_RETURN(
      auto mine, conn_->Query("SELECT 1 FROM millrace.sync_site_key WHERE tenant_id = $1 AND "
                              "site_id = $2 AND public_key = $3",
                              {peer.tenant_id, peer.site_id, k.new_public_key()}));
  if (mine.rows() != 1) {
    MILLRACE_RETURN_IF_ERROR(Rollback(*conn_));
    return Status::AlreadyExists("key rotation: that public key is taken; make another");
  }
  MILLRACE_ASSIGN_OR_RETURN(
      auto retire,
      conn_->Query("UPDATE millrace.sync_site_key SET retire_at = now() + make_interval(secs "
                   "=> $4) WHERE tenant_id = $1 AND site_id = $2 AND public_key <> $3 AND "
                   "(retire_at IS NULL OR retire_at > now() + make_interval(secs => $4)) "
                   "RETURNING (extract(epoch FROM retire_at) * 1000)::bigint",
                   {peer.tenant_id, peer.site_id, k.new_public_key(),
                    std::to_string(site.rotation_grace_s)}));
  MILLRACE_RETURN_IF_ERROR(
      conn_
          ->Query("UPDATE millrace.sync_site SET key_rotation_requested_at = NULL, "
                  "key_rotation_grace_seconds = NULL WHERE tenant_id = $1 AND site_id = $2",
                  {peer.tenant_id, peer.site_id})
          .status());
  nlohmann::json retired = nlohmann::json::array();
  MILLRACE_ASSIGN_OR_RETURN(
      auto others, conn_->Query("SELECT public_key FROM millrace.sync_site_key WHERE tenant_id "
                                "= $1 AND site_id = $2 AND public_key <> $3",
                                {peer.tenant_id, peer.site_id, k.new_public_key()}));
  for (int i = 0; i < others.rows(); ++i) retired.push_back(others.GetString(i, 0));
  MILLRACE_RETURN_IF_ERROR(RecordCentralAudit(
      *conn_, peer.tenant_id, svc_->hlc_->Now().packed(), {"site:" + peer.site_id, ""},
      {"site.key_rotated", peer.site_id, "sync_site_key", "",
       nlohmann::json{{"public_keys", retired}},
       nlohmann::json{{"public_key", k.new_public_key()},
                      {"old_keys_refused_after_s", site.rotation_grace_s}}}));
  MILLRACE_RETURN_IF_ERROR(conn_->Exec("COMMIT"));
  spdlog::warn("sync: site {}/{} rotated its Curve key to {}; its older key(s) are refused "
               "after {} s",
               peer.tenant_id, peer.site_id, k.new_public_key(), site.rotation_grace_s);
  v1::KeyRotated e;
  e.set_new_public_key(k.new_public_key());
  e.set_old_keys_retire_at_ms(
      retire.rows() ? std::stoll(retire.GetString(0, 0))
                    : svc_->options_.clock->NowMillis() + site.rotation_grace_s * 1000LL);
  return e;
}

}  // namespace millrace::central
