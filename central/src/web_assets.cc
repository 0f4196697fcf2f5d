#include "millrace/central/web_assets.h"

#include <map>
#include <string>

#include "millrace/common/digest.h"

namespace millrace::central {

void AddDashboardRoutes(Router& router) {
  // ETags once, at start: the files never change while the binary runs.
  auto etags = std::make_shared<std::map<std::string_view, std::string>>();
  for (const auto& a : WebAssets()) (*etags)[a.name] = "\"" + Sha256Hex(a.body).substr(0, 24) + "\"";
  auto serve = [etags](std::string_view name, const HttpRequest& req) {
    for (const auto& a : WebAssets()) {
      if (a.name != name) continue;
      const std::string& etag = etags->at(a.name);
      HttpResponse r;
      r.content_type = std::string(a.content_type);
      r.headers["ETag"] = etag;
      r.headers["Cache-Control"] = "no-cache";
      r.headers["X-Content-Type-Options"] = "nosniff";
      if (a.name == "dashboard.html") {
        // Scripts and styles from this server only; no frames of it elsewhere.
        r.headers["Content-Security-Policy"] =
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "frame-ancestors 'none'";
        r.headers["X-Frame-Options"] = "DENY";
      }
      if (req.Header("if-none-match") == etag) {
        r.status = 304;
        return r;
      }
      r.status = 200;
      r.body = std::string(a.body);
      return r;
    }
    return HttpResponse::Error(Status::NotFound("no asset " + std::string(name)));
  };
  router.Add("GET", "/", [serve](const HttpRequest& req) { return serve("dashboard.html", req); });
  router.Add("GET", "/favicon.ico", [](const HttpRequest&) {
    HttpResponse r;
    r.status = 204;
    r.headers["Cache-Control"] = "max-age=86400";
    return r;
  });
  router.Add("GET", "/assets/{name}",
             [serve](const HttpRequest& req) { return serve(req.path_params.at("name"), req); });
}

}  // namespace millrace::central
