// `mes-central tenant-map`: the tenant -> cluster map of this node's configuration, checked
// against its database, and HAProxy's map file; and the check the tenant-creating commands
// (create-tenant, provision-site, restore-site) make before they touch anything.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "millrace/central/central_config.h"
#include "millrace/common/status.h"

namespace millrace::central {

struct TenantMapCommand {
  CLI::App* root = nullptr;
  std::string config_path;
  bool haproxy = false;
};

void AddTenantMapCommand(CLI::App& app, TenantMapCommand* cmd);
int RunTenantMapCommand(const TenantMapCommand& cmd);

// With a [cluster] table: Ok when the map puts `tenant` on this node's cluster (else
// FailedPrecondition naming its cluster), and an empty `endpoints` (when given) gets the
// cluster's sync address. Without one: every tenant is here, and `endpoints` must be given.
Status CheckTenantHere(const CentralConfig& config, const std::string& tenant,
                       std::vector<std::string>* endpoints = nullptr);

}  // namespace millrace::central
