// `mes-central alerts`: a tenant's alerts, their rules and webhooks, straight from the
// database (mes_central_main.cc wires it into the command line).
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>

namespace millrace::central {

struct AlertsCommand {
  CLI::App* root = nullptr;
  CLI::App *list = nullptr, *show = nullptr, *ack = nullptr, *rules = nullptr, *rule_set = nullptr,
           *rule_reset = nullptr, *webhooks = nullptr, *webhook_set = nullptr,
           *webhook_delete = nullptr;
  std::string config_path, tenant, actor;
  bool json = false;
  // list
  std::string state, kind;
  int limit = 100;
  // show, ack
  std::int64_t id = 0;
  std::string comment;
  // rule-set
  std::string severity;
  double threshold = 0, clear_threshold = 0;
  int for_s = 0;
  bool enable = false, disable = false;
  // Given on the command line (the others keep the rule's current settings).
  CLI::Option *severity_opt = nullptr, *threshold_opt = nullptr, *clear_opt = nullptr,
              *for_opt = nullptr;
  // webhook-set, webhook-delete
  std::string name, url, min_severity;  // min_severity "": the webhook's own, or warning
};

void AddAlertsCommand(CLI::App& app, AlertsCommand* cmd);
int RunAlertsCommand(const AlertsCommand& cmd);

}  // namespace millrace::central
