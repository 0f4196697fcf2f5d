// The dashboard's files (central/web: the page, its script and styles, and the chart
// library uPlot, installed from npm by its pinned lock file at build time), compiled into
// mes-central: served on the plant LAN with no internet, nothing fetched at run time.
#pragma once

#include <string_view>
#include <vector>

#include "millrace/common/http.h"

namespace millrace::central {

struct WebAsset {
  std::string_view name;  // served at /assets/<name>; dashboard.html at /
  std::string_view content_type;
  std::string_view body;
};

const std::vector<WebAsset>& WebAssets();

// GET / (the dashboard) and GET /assets/{name}, each with an ETag (304 on If-None-Match).
void AddDashboardRoutes(Router& router);

}  // namespace millrace::central
